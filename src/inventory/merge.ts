import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { InventoryError } from '../errors.ts';
import type { RawGroup, RawInventory, RawVar } from './raw.ts';
import type { Inventory, InventoryGroup, InventoryHost } from './types.ts';

/**
 * Turns a parsed inventory into the engine's `Inventory` by Ansible's rules: every group hangs
 * under `all`, hosts in no group go to `ungrouped`, and a host's vars merge as
 * all < groups by (depth, ansible_group_priority, name) < host, the later winning.
 */
export interface ResolveOptions {
  /** Absolute path of the inventory file (becomes `Inventory.source`). */
  source: string;
  /** Folder relative key paths are resolved against (the inventory file's folder). */
  baseDir: string;
}

/**
 * @example const inventory = resolveInventory(parseIni(text, 'inv.ini'), { source: '/abs/inv.ini', baseDir: '/abs' });
 */
export function resolveInventory(raw: RawInventory, options: ResolveOptions): Inventory {
  reconcile(raw);
  const depths = groupDepths(raw);
  const membership = directMembership(raw);
  const hosts = new Map<string, InventoryHost>();
  for (const name of raw.hosts.keys()) {
    hosts.set(name, resolveHost(raw, name, hostGroups(raw, membership.get(name) ?? []), depths, options));
  }
  const groups = new Map<string, InventoryGroup>();
  for (const group of raw.groups.values()) groups.set(group.name, toInventoryGroup(group));
  return { source: options.source, hosts, groups, warnings: [...raw.warnings] };
}

/** Ansible's `reconcile_inventory`: tie loose groups to `all`, loose hosts to `ungrouped`. */
function reconcile(raw: RawInventory): void {
  for (const group of raw.groups.values()) {
    if (group.name !== 'all' && group.parents.length === 0) raw.addChild('all', group.name);
  }
  const ungrouped = raw.groups.get('ungrouped')!;
  const membership = directMembership(raw);
  for (const host of raw.hosts.keys()) {
    const direct = (membership.get(host) ?? []).filter((name) => name !== 'all' && name !== 'ungrouped');
    const isUngrouped = ungrouped.hosts.includes(host);
    if (isUngrouped && direct.length > 0) ungrouped.hosts.splice(ungrouped.hosts.indexOf(host), 1);
    if (!isUngrouped && direct.length === 0) ungrouped.hosts.push(host);
  }
}

/** Host → the groups that list it directly, in inventory order. */
function directMembership(raw: RawInventory): Map<string, string[]> {
  const membership = new Map<string, string[]>();
  for (const group of raw.groups.values()) {
    for (const host of group.hosts) membership.set(host, [...(membership.get(host) ?? []), group.name]);
  }
  return membership;
}

/** Longest path from `all`, which is how Ansible ranks a group's depth. */
function groupDepths(raw: RawInventory): Map<string, number> {
  const depths = new Map<string, number>([['all', 0]]);
  const depthOf = (name: string): number => {
    const known = depths.get(name);
    if (known !== undefined) return known;
    const parents = raw.groups.get(name)?.parents ?? [];
    const depth = parents.length ? Math.max(...parents.map(depthOf)) + 1 : 0;
    depths.set(name, depth);
    return depth;
  };
  for (const name of raw.groups.keys()) depthOf(name);
  return depths;
}

function resolveHost(raw: RawInventory, name: string, memberOf: string[], depths: Map<string, number>, options: ResolveOptions): InventoryHost {
  const { vars, varSources } = mergeVars(raw, name, memberOf, depths);
  const sourceOf = (key: string) => varSources[key] ?? raw.file;
  refuseTemplates(name, vars, sourceOf);
  refuseNul(name, vars, sourceOf);
  return {
    name,
    address: String(vars.ansible_ssh_host ?? vars.ansible_host ?? name),
    port: toPort(vars.ansible_ssh_port ?? vars.ansible_port, name, sourceOf),
    ...optional('user', vars.ansible_ssh_user ?? vars.ansible_user),
    connection: toConnection(vars.ansible_connection, name, sourceOf('ansible_connection')),
    become: isTruthy(vars.ansible_become),
    ...optional('privateKeyFile', keyPath(vars.ansible_ssh_private_key_file ?? vars.ansible_private_key_file, options.baseDir)),
    groups: memberOf,
    vars,
    varSources,
  };
}

const CONNECTION_VARS = [
  'ansible_host', 'ansible_ssh_host', 'ansible_port', 'ansible_ssh_port', 'ansible_user', 'ansible_ssh_user',
  'ansible_connection', 'ansible_become', 'ansible_ssh_private_key_file', 'ansible_private_key_file',
];

/** Ansible would render `{{ … }}` at run time; nothing renders it here, so connecting to it literally is refused. */
function refuseTemplates(host: string, vars: Record<string, unknown>, sourceOf: (key: string) => string): void {
  for (const key of CONNECTION_VARS) {
    const value = vars[key];
    if (typeof value === 'string' && /{{|{%/.test(value)) {
      throw new InventoryError(`host ${host}: ${key} is a Jinja template (${value}), which runbook does not render (from ${sourceOf(key)})`);
    }
  }
}

/**
 * No command argument, path or file name can carry a NUL byte (YAML `"\0"`, INI `"\x00"`); Ansible
 * reads one and fails only when a task uses it, perhaps after earlier steps changed the host.
 * Refused here, before any host is touched.
 */
function refuseNul(host: string, vars: Record<string, unknown>, sourceOf: (key: string) => string): void {
  if (host.includes('\0')) throw new InventoryError(`host name ${JSON.stringify(host)} holds a NUL byte (from ${sourceOf('')})`);
  for (const [key, value] of Object.entries(vars)) {
    if (holdsNul(key) || holdsNul(value)) {
      throw new InventoryError(`host ${host}: var ${JSON.stringify(key)} holds a NUL byte, which no command, path or file can carry (from ${sourceOf(key)})`);
    }
  }
}

function holdsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (Array.isArray(value)) return value.some(holdsNul);
  if (typeof value === 'object' && value !== null) return Object.entries(value).some(([key, item]) => holdsNul(key) || holdsNul(item));
  return false;
}

/** The host's groups and all their ancestors: `all` first, then in inventory order. */
function hostGroups(raw: RawInventory, direct: string[]): string[] {
  const member = new Set<string>(['all']);
  for (const group of direct) {
    member.add(group);
    for (const ancestor of raw.ancestorsOf(group)) member.add(ancestor);
  }
  return [...raw.groups.keys()].filter((name) => member.has(name));
}

/**
 * Ansible's order, later winning: the inventory file's vars for `all`, then for the groups by
 * (depth, priority, name); then the same again from `group_vars/`; then the host's own vars from
 * the file, then from `host_vars/`. So `group_vars/all.yml` beats a group's vars in the file.
 */
function mergeVars(raw: RawInventory, host: string, memberOf: string[], depths: Map<string, number>) {
  const vars: Record<string, unknown> = {};
  const varSources: Record<string, string> = {};
  const apply = (entries: Map<string, RawVar>, owner: string) => {
    for (const [key, { value, line, file }] of entries) {
      vars[key] = value;
      varSources[key] = `${file ?? raw.file}${line ? `:${line}` : ''} (${owner})`;
    }
  };
  const all = raw.groups.get('all')!;
  const groups = memberOf.filter((name) => name !== 'all').map((name) => raw.groups.get(name)!).sort(byMergeOrder(depths));
  const entry = raw.hosts.get(host)!;
  apply(all.vars, 'group all');
  for (const group of groups) apply(group.vars, `group ${group.name}`);
  apply(all.dirVars, 'group all');
  for (const group of groups) apply(group.dirVars, `group ${group.name}`);
  apply(entry.vars, `host ${host}`);
  apply(entry.dirVars, `host ${host}`);
  return { vars, varSources };
}

function byMergeOrder(depths: Map<string, number>) {
  return (a: RawGroup, b: RawGroup) =>
    depths.get(a.name)! - depths.get(b.name)! || a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

function toInventoryGroup(group: RawGroup): InventoryGroup {
  const vars = Object.fromEntries([...group.vars, ...group.dirVars].map(([key, { value }]) => [key, value]));
  return { name: group.name, hosts: [...group.hosts], children: [...group.children], vars, priority: group.priority };
}

function toPort(value: unknown, host: string, sourceOf: (key: string) => string): number {
  if (value === undefined || value === null) return 22;
  const port = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InventoryError(`host ${host}: ansible_port must be a port number, got ${JSON.stringify(value)} (from ${sourceOf('ansible_port')})`);
  }
  return port;
}

const SSH_CONNECTIONS = new Set(['ssh', 'paramiko', 'paramiko_ssh', 'smart', 'ansible.builtin.ssh', 'ansible.builtin.paramiko_ssh']);
const LOCAL_CONNECTIONS = new Set(['local', 'ansible.builtin.local']);

/** Only ssh and local exist here; a winrm or docker host is refused rather than tried over ssh. */
function toConnection(value: unknown, host: string, source: string): 'ssh' | 'local' {
  if (value === undefined || value === null) return 'ssh';
  const name = String(value);
  if (LOCAL_CONNECTIONS.has(name)) return 'local';
  if (SSH_CONNECTIONS.has(name)) return 'ssh';
  throw new InventoryError(`host ${host}: ansible_connection '${name}' is not supported (ssh or local) (from ${source})`);
}

const TRUE_VALUES = new Set(['y', 'yes', 'on', '1', 'true', 't']);

/** Ansible's `boolean()`: true, 1, and the strings yes/on/true/y/t/1 in any case. */
export function isTruthy(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value === 1;
  return typeof value === 'string' && TRUE_VALUES.has(value.trim().toLowerCase());
}

/** `~/x` is in the home folder; a relative path is relative to the inventory file's folder. */
function keyPath(value: unknown, baseDir: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const path = String(value).replace(/^~(?=$|\/)/, homedir());
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

function optional<K extends string>(key: K, value: unknown): { [P in K]?: string } {
  return value === undefined || value === null ? {} : ({ [key]: String(value) } as { [P in K]?: string });
}
