import { InventoryError } from '../errors.ts';

/**
 * The inventory as a parser leaves it, before reconciliation and var merging: the shape of
 * Ansible's InventoryData (groups, hosts, vars per entity), plus the line each thing came from.
 * Every format (INI, YAML, .ts) fills one of these through the same few methods, so the
 * Ansible rules for adding hosts, children and vars live in one place.
 */
export interface RawVar {
  value: unknown;
  /** 1-based line of the definition, when the format has lines. */
  line?: number;
  /** The file it came from, when not the inventory file itself (a `group_vars/` file). */
  file?: string;
}

export interface RawGroup {
  name: string;
  hosts: string[];
  children: string[];
  parents: string[];
  vars: Map<string, RawVar>;
  /** `ansible_group_priority`: Ansible keeps it out of the vars and sorts groups by it. */
  priority: number;
  /** From `group_vars/NAME*` beside the inventory, which Ansible merges after every file group var. */
  dirVars: Map<string, RawVar>;
}

export interface RawHost {
  name: string;
  vars: Map<string, RawVar>;
  /** From `host_vars/NAME*` beside the inventory: they beat the inventory file's host vars. */
  dirVars: Map<string, RawVar>;
  line?: number;
}

export class RawInventory {
  readonly groups = new Map<string, RawGroup>();
  readonly hosts = new Map<string, RawHost>();
  /** What Ansible would warn about and skip (a group that is not a mapping, an unknown key). */
  readonly warnings: string[] = [];

  /** `file` is how errors and var sources name the inventory (a path relative to cwd, usually). */
  constructor(readonly file: string) {
    // Ansible creates these two first, so they lead every listing.
    this.addGroup('all');
    this.addGroup('ungrouped');
    this.addChild('all', 'ungrouped');
  }

  addGroup(name: string, line?: number): RawGroup {
    if (!name) throw new InventoryError('empty group name', this.file, line);
    let group = this.groups.get(name);
    if (!group) {
      group = { name, hosts: [], children: [], parents: [], vars: new Map(), priority: 1, dirVars: new Map() };
      this.groups.set(name, group);
    }
    return group;
  }

  /** Adds a host (once) and puts it in `group`; a `port` counts only where the host first appears, as in Ansible. */
  addHost(name: string, group: string | undefined, opts: { port?: number; line?: number } = {}): RawHost {
    if (!name) throw new InventoryError('empty host name', this.file, opts.line);
    let host = this.hosts.get(name);
    if (!host) {
      host = { name, vars: new Map(), dirVars: new Map(), line: opts.line };
      this.hosts.set(name, host);
      if (opts.port !== undefined) host.vars.set('ansible_port', { value: opts.port, line: opts.line });
    }
    if (group !== undefined) {
      const members = this.requireGroup(group, opts.line).hosts;
      if (!members.includes(name)) members.push(name);
    }
    return host;
  }

  setGroupVar(group: string, key: string, value: unknown, line?: number): void {
    const target = this.requireGroup(group, line);
    if (key === 'ansible_group_priority') target.priority = this.toPriority(value, line);
    else target.vars.set(key, { value, line });
  }

  setHostVar(host: string, key: string, value: unknown, line?: number): void {
    const target = this.hosts.get(host);
    if (!target) throw new InventoryError(`unknown host ${host}`, this.file, line);
    target.vars.set(key, { value, line });
  }

  /** Makes `child` a child group of `parent`; refuses a cycle at the edge that would close it. */
  addChild(parent: string, child: string, line?: number): void {
    const from = this.requireGroup(parent, line);
    const to = this.requireGroup(child, line);
    if (parent === child) throw new InventoryError(`group ${parent} cannot be its own child`, this.file, line);
    if (from.children.includes(child)) return;
    if (this.ancestorsOf(parent).has(child)) {
      throw new InventoryError(
        `adding group ${child} as a child of ${parent} creates a cycle (${child} is already an ancestor of ${parent})`,
        this.file,
        line,
      );
    }
    from.children.push(child);
    to.parents.push(parent);
  }

  /** Every group above `name` (parents, their parents, …), not `name` itself. */
  ancestorsOf(name: string): Set<string> {
    const seen = new Set<string>();
    const queue = [...(this.groups.get(name)?.parents ?? [])];
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      if (seen.has(next)) continue;
      seen.add(next);
      queue.push(...(this.groups.get(next)?.parents ?? []));
    }
    return seen;
  }

  private requireGroup(name: string, line?: number): RawGroup {
    const group = this.groups.get(name);
    if (!group) throw new InventoryError(`unknown group ${name}`, this.file, line);
    return group;
  }

  private toPriority(value: unknown, line?: number): number {
    // Python's int(): floats truncate, strings must be whole numbers.
    const priority = typeof value === 'number' ? Math.trunc(value) : /^\s*[-+]?\d+\s*$/.test(String(value)) ? Number(value) : NaN;
    if (!Number.isInteger(priority)) {
      throw new InventoryError(`ansible_group_priority must be an integer, got ${JSON.stringify(value)}`, this.file, line);
    }
    return priority;
  }
}
