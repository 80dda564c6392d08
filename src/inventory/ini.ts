import { InventoryError } from '../errors.ts';
import { PythonSyntaxError, pythonValue, shlexSplit } from './python.ts';
import { HostPatternError, expandHostPattern } from './ranges.ts';
import { RawInventory } from './raw.ts';

/**
 * Ansible's INI inventory format, read the way its `ini` plugin reads it: hosts before any
 * section are ungrouped; `[g]` lists hosts with inline `key=value` vars (shlex-split, values
 * typed by Python's literal_eval); `[g:vars]` one `key=value` a line; `[g:children]` group
 * names, which may be declared later in the file.
 */

type SectionKind = 'hosts' | 'vars' | 'children';

/** A `[g:vars]` or `[g:children]` mention waiting for the group's own `[g]` section. */
interface Pending {
  kind: 'vars' | 'children';
  line: number;
  parents: string[];
}

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;
const GROUP_NAME = /^([^:\]\s]+)\s*(?:#.*)?$/;

/**
 * Parses INI inventory text; `file` names it in errors and var sources.
 * @example parseIni('[pool_a]\nxs-[01:02] ansible_user=root\n', 'inventory/lab.ini')
 */
export function parseIni(text: string, file: string): RawInventory {
  return new IniReader(file).read(text);
}

class IniReader {
  private readonly inventory: RawInventory;
  private readonly pending = new Map<string, Pending>();
  private group = 'ungrouped';
  private kind: SectionKind = 'hosts';
  private line = 0;

  constructor(private readonly file: string) {
    this.inventory = new RawInventory(file);
  }

  read(text: string): RawInventory {
    for (const rawLine of text.split(/\r\n|\r|\n/)) {
      this.line++;
      const line = rawLine.trim();
      if (line && line[0] !== '#' && line[0] !== ';') this.readLine(line);
    }
    this.reportUnresolved();
    return this.inventory;
  }

  private readLine(line: string): void {
    const section = SECTION.exec(line);
    if (section) return this.enterSection(section[1], section[2] ?? 'hosts');
    if (line.startsWith('[') && line.endsWith(']')) {
      this.fail(`invalid section entry ${line}: no spaces or other characters are allowed in a section name`);
    }
    if (this.kind === 'hosts') this.readHostLine(line);
    else if (this.kind === 'vars') this.readVarLine(line);
    else this.readChildLine(line);
  }

  private enterSection(group: string, kind: string): void {
    if (kind !== 'hosts' && kind !== 'vars' && kind !== 'children') {
      this.fail(`section [${group}:${kind}] has unknown type: ${kind}`);
    }
    this.group = group;
    this.kind = kind;
    if (!this.inventory.groups.has(group)) {
      // [g:vars] alone does not declare g; Ansible checks at the end that something else did.
      if (kind === 'vars' && !this.pending.has(group)) this.pending.set(group, { kind, line: this.line, parents: [] });
      this.inventory.addGroup(group, this.line);
    }
    const waiting = this.pending.get(group);
    if (waiting && kind !== 'vars') {
      if (waiting.kind === 'children') this.addPendingChildren(group);
      else this.pending.delete(group);
    }
  }

  private addPendingChildren(group: string): void {
    const waiting = this.pending.get(group)!;
    this.pending.delete(group);
    for (const parent of waiting.parents) {
      this.inventory.addChild(parent, group, waiting.line);
      if (this.pending.get(parent)?.kind === 'children') this.addPendingChildren(parent);
    }
  }

  private readHostLine(line: string): void {
    const tokens = this.attempt(() => shlexSplit(line), (message) => `cannot parse host definition '${line}': ${message}`);
    const [pattern, ...assignments] = tokens;
    if (pattern === undefined) this.fail(`expected a host, got: ${line}`);
    const { names, port } = this.expand(pattern);
    const vars = assignments.map((assignment) => this.splitAssignment(assignment));
    for (const name of names) {
      this.inventory.addHost(name, this.group, { port, line: this.line });
      for (const [key, value] of vars) this.inventory.setHostVar(name, key, value, this.line);
    }
  }

  private expand(pattern: string): { names: string[]; port?: number } {
    const expanded = this.attempt(() => expandHostPattern(pattern), (message) => `host pattern ${pattern}: ${message}`);
    if (pattern.trim().endsWith(':') && expanded.port === undefined) {
      this.fail(`invalid host pattern '${pattern}': a trailing ':' is reserved for a port`);
    }
    if (expanded.names.some((name) => name.trim() === '---')) {
      this.fail(`invalid host pattern '${pattern}': '---' is normally a sign this is a YAML file`);
    }
    return expanded;
  }

  private splitAssignment(assignment: string): [string, unknown] {
    const equals = assignment.indexOf('=');
    if (equals < 0) this.fail(`expected key=value host variable assignment, got: ${assignment}`);
    return [assignment.slice(0, equals), pythonValue(assignment.slice(equals + 1))];
  }

  private readVarLine(line: string): void {
    const equals = line.indexOf('=');
    if (equals < 0) this.fail(`expected key=value, got: ${line}`);
    const key = line.slice(0, equals).trim();
    this.inventory.setGroupVar(this.group, key, pythonValue(line.slice(equals + 1).trim()), this.line);
  }

  private readChildLine(line: string): void {
    const match = GROUP_NAME.exec(line);
    if (!match) this.fail(`expected group name, got: ${line}`);
    const child = match[1];
    if (this.inventory.groups.has(child)) return this.inventory.addChild(this.group, child, this.line);
    const waiting = this.pending.get(child);
    if (waiting) waiting.parents.push(this.group);
    else this.pending.set(child, { kind: 'children', line: this.line, parents: [this.group] });
  }

  /** Ansible reports only the first unresolved mention, at the line where it was made. */
  private reportUnresolved(): void {
    for (const [name, waiting] of this.pending) {
      if (waiting.kind === 'vars') {
        throw new InventoryError(`section [${name}:vars] is for an undefined group: ${name}`, this.file, waiting.line);
      }
      const parent = waiting.parents[waiting.parents.length - 1];
      throw new InventoryError(`section [${parent}:children] includes undefined group: ${name}`, this.file, waiting.line);
    }
  }

  private attempt<T>(work: () => T, describe: (message: string) => string): T {
    try {
      return work();
    } catch (error) {
      if (error instanceof PythonSyntaxError || error instanceof HostPatternError) this.fail(describe(error.message));
      throw error;
    }
  }

  private fail(message: string): never {
    throw new InventoryError(message, this.file, this.line);
  }
}
