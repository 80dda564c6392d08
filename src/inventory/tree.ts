import { InventoryError } from '../errors.ts';
import { HostPatternError, expandHostPattern } from './ranges.ts';
import type { RawInventory } from './raw.ts';

/**
 * Ansible's group tree (`group: { hosts, vars, children }`), which the YAML and .ts formats
 * share, walked once here the way Ansible's `yaml` plugin walks it. Each format first turns its
 * data into `TreeNode`s so lines travel with the values.
 */
export interface TreeNode {
  /** The plain value (objects, arrays, scalars, null). */
  value: unknown;
  /** Set when the value is a mapping: its keys in file order, each with the line of the key. */
  entries?: TreeEntry[];
  line?: number;
}

export interface TreeEntry {
  key: unknown;
  node: TreeNode;
  line?: number;
}

/** Wraps a plain object tree (a .ts inventory) as TreeNodes without lines. */
export function plainTree(value: unknown): TreeNode {
  if (!isMapping(value)) return { value };
  const entries = Object.entries(value).map(([key, child]) => ({ key, node: plainTree(child) }));
  return { value, entries };
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** The top of a YAML or .ts inventory: every key is a group. */
export function addGroupTrees(inventory: RawInventory, root: TreeNode): void {
  for (const entry of root.entries ?? []) addGroupTree(inventory, entry);
}

/** Adds one group with its vars, hosts and (recursively) children; returns the group's name. */
function addGroupTree(inventory: RawInventory, { key, node, line }: TreeEntry): string {
  const group = requireString(inventory, key, 'group name', line);
  if (node.value !== null && !node.entries) {
    inventory.warnings.push(`${where(inventory, line)}: skipping '${group}': a group must be a mapping`);
    return group;
  }
  inventory.addGroup(group, line);
  for (const section of node.entries ?? []) addSection(inventory, group, section);
  return group;
}

function addSection(inventory: RawInventory, group: string, { key, node, line }: TreeEntry): void {
  const entries = sectionEntries(inventory, group, key, node, line);
  if (entries === undefined) return;
  if (key === 'vars') {
    for (const entry of entries) {
      inventory.setGroupVar(group, String(entry.key), entry.node.value, entry.line);
    }
  } else if (key === 'children') {
    for (const entry of entries) inventory.addChild(group, addGroupTree(inventory, entry), entry.line);
  } else {
    for (const entry of entries) addHosts(inventory, group, entry);
  }
}

/** The entries of a `vars`/`children`/`hosts` section; a bare string means one host or child. */
function sectionEntries(inventory: RawInventory, group: string, key: unknown, node: TreeNode, line?: number): TreeEntry[] | undefined {
  if (key !== 'vars' && key !== 'children' && key !== 'hosts') {
    inventory.warnings.push(`${where(inventory, line)}: skipping unexpected key '${String(key)}' in group ${group} (only vars, children and hosts)`);
    return undefined;
  }
  if (typeof node.value === 'string') return [{ key: node.value, node: { value: null, line }, line }];
  if (node.value === null) return undefined;
  if (!node.entries) {
    throw new InventoryError(`invalid '${key}' entry for group ${group}: it must be a mapping, found ${typeName(node.value)}`, inventory.file, line);
  }
  return node.entries;
}

function addHosts(inventory: RawInventory, group: string, { key, node, line }: TreeEntry): void {
  const pattern = requireString(inventory, key, 'host pattern (quote numbers)', line);
  const { names, port } = expandOrFail(inventory, pattern, line);
  if (node.value !== null && !node.entries) {
    throw new InventoryError(`host ${pattern}: vars must be a mapping, found ${typeName(node.value)}`, inventory.file, line);
  }
  for (const name of names) {
    inventory.addHost(name, group, { port, line });
    for (const entry of node.entries ?? []) {
      inventory.setHostVar(name, String(entry.key), entry.node.value, entry.line);
    }
  }
}

function expandOrFail(inventory: RawInventory, pattern: string, line?: number): { names: string[]; port?: number } {
  try {
    return expandHostPattern(pattern);
  } catch (error) {
    if (error instanceof HostPatternError) throw new InventoryError(`host pattern ${pattern}: ${error.message}`, inventory.file, line);
    throw error;
  }
}

function requireString(inventory: RawInventory, key: unknown, what: string, line?: number): string {
  if (typeof key !== 'string') {
    throw new InventoryError(`${what} must be a string, got ${typeName(key)} ${JSON.stringify(key)}`, inventory.file, line);
  }
  return key;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value}`;
}

function where(inventory: RawInventory, line?: number): string {
  return line ? `${inventory.file}:${line}` : inventory.file;
}
