import { Alias, LineCounter, YAMLMap, isAlias, isMap, isScalar, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { InventoryError } from '../errors.ts';
import { PYYAML_RULES } from './pyyaml.ts';
import { RawInventory } from './raw.ts';
import type { RawVar } from './raw.ts';
import { addGroupTrees, isMapping } from './tree.ts';
import type { TreeEntry, TreeNode } from './tree.ts';

/**
 * Ansible's YAML inventory (`all: { hosts, vars, children }`, nested), read as YAML 1.1 the way
 * Ansible's loader, PyYAML, reads it (pyyaml.ts): `yes`/`no`/`on`/`off` are booleans but `y` is
 * text, `0755` is octal, `1e3` is text, a timestamp is the text Ansible prints for it.
 * The only module that imports `yaml` in src/inventory.
 */

/**
 * Parses YAML inventory text; `file` names it in errors and var sources.
 * @example parseYamlInventory('all:\n  hosts:\n    xs-[01:02]:\n', 'inventory/lab.yaml')
 */
export function parseYamlInventory(text: string, file: string): RawInventory {
  const root = readYamlTree(text, file);
  if (root.value === null || root.value === undefined) throw new InventoryError('empty YAML inventory', file);
  if (!root.entries) throw new InventoryError(`a YAML inventory must be a mapping of groups, found ${typeof root.value}`, file, root.line);
  if (isMapping(root.value) && root.value.plugin) {
    throw new InventoryError('this is an inventory plugin configuration, not a YAML inventory', file, root.line);
  }
  const inventory = new RawInventory(file);
  addGroupTrees(inventory, root);
  return inventory;
}

/**
 * A `group_vars/` or `host_vars/` file: a mapping of vars (or nothing), each with its line.
 * @example readYamlVars('ntp: 198.51.100.1\n', 'inventory/group_vars/all.yml') // Map { 'ntp' => { value: '198.51.100.1', line: 1, file } }
 */
export function readYamlVars(text: string, file: string): Map<string, RawVar> {
  const root = readYamlTree(text, file);
  const vars = new Map<string, RawVar>();
  if (root.value === null || root.value === undefined) return vars;
  if (!root.entries) throw new InventoryError(`vars file must be a mapping of names to values, found ${typeof root.value}`, file, root.line);
  for (const { key, node, line } of root.entries) vars.set(String(key), { value: node.value, line, file });
  return vars;
}

/** True when the text is a YAML mapping: how a file without an extension is told from INI. */
export function looksLikeYamlInventory(text: string): boolean {
  try {
    const document = parseDocument(text, yamlOptions(new LineCounter()));
    return document.errors.length === 0 && isMap(document.contents);
  } catch {
    return false;
  }
}

/** Ansible's own tags: `!unsafe` is plain text here (nothing is templated); `!vault` cannot be read. */
const ANSIBLE_TAGS = [
  { tag: '!unsafe', resolve: (value: string) => value },
  {
    tag: '!vault',
    resolve: (_value: string, onError: (message: string) => void) => {
      onError('ansible-vault encrypted values are not supported; pass secrets as params or environment instead');
      return '';
    },
  },
];

/** PyYAML's scalar rules in place of the `yaml` package's YAML 1.1 ones, which differ (`y`, `1e3`, `+.5`, `0089`). */
const SCALAR_TAGS = PYYAML_RULES.map(({ tag, test, resolve }) => ({
  tag,
  test,
  default: true,
  resolve: (text: string, onError: (message: string) => void) => {
    try {
      return resolve(text);
    } catch (error) {
      onError(`cannot read ${JSON.stringify(text)} as ${tag.split(':').at(-1)}: ${(error as Error).message}`);
      return text;
    }
  },
}));
const REPLACED = new Set(PYYAML_RULES.map(({ tag }) => tag));

function yamlOptions(lineCounter: LineCounter) {
  return {
    version: '1.1' as const,
    merge: true,
    // PyYAML keeps the last of duplicate keys rather than refusing the file.
    uniqueKeys: false,
    // Ints beyond 2^53 arrive as text (pyyaml.ts), never as a rounded number.
    intAsBigInt: false,
    lineCounter,
    customTags: (tags: unknown[]) => [
      ...SCALAR_TAGS,
      ...tags.filter((tag) => !REPLACED.has((tag as { tag?: string }).tag ?? '')),
      ...ANSIBLE_TAGS,
    ],
  } as Parameters<typeof parseDocument>[1];
}

/** Parses the text into TreeNodes carrying the line of every mapping key. */
export function readYamlTree(text: string, file: string): TreeNode {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { ...yamlOptions(lineCounter), prettyErrors: false });
  const [error] = document.errors;
  if (error) {
    const line = error.linePos?.[0].line ?? lineCounter.linePos(error.pos[0]).line;
    throw new InventoryError(`invalid YAML: ${error.message.split('\n')[0]}`, file, line);
  }
  const lineOf = (node: YamlNode | null | undefined) => (node?.range ? lineCounter.linePos(node.range[0]).line : undefined);
  return toTree(document, document.contents, lineOf);
}

type LineOf = (node: YamlNode | null | undefined) => number | undefined;

function toTree(document: Document, node: YamlNode | null, lineOf: LineOf): TreeNode {
  const resolved = resolveAlias(document, node);
  const value = resolved ? resolved.toJS(document) : null;
  if (!isMap(resolved)) return { value: value ?? null, line: lineOf(node) };
  return { value, entries: mapEntries(document, resolved, lineOf), line: lineOf(node) };
}

/** A mapping's entries in order; a repeated key keeps its first place and its last value. */
function mapEntries(document: Document, map: YAMLMap, lineOf: LineOf): TreeEntry[] {
  const entries: TreeEntry[] = [];
  for (const pair of map.items) {
    const keyNode = pair.key as YamlNode | null;
    const key = isScalar(keyNode) ? keyNode.value : keyNode;
    if (key === '<<' || (isScalar(keyNode) && keyNode.source === '<<')) {
      addMerged(document, pair.value as YamlNode, entries, lineOf);
      continue;
    }
    const entry = { key, node: toTree(document, pair.value as YamlNode | null, lineOf), line: lineOf(keyNode) };
    const existing = entries.findIndex((candidate) => candidate.key === key);
    if (existing >= 0) entries[existing] = { ...entry, line: entries[existing].line };
    else entries.push(entry);
  }
  return entries;
}

/** `<<: *defaults` adds the keys the mapping does not set itself. */
function addMerged(document: Document, source: YamlNode, entries: TreeEntry[], lineOf: LineOf): void {
  const resolved = resolveAlias(document, source);
  const maps = resolved && 'items' in resolved && !isMap(resolved) ? (resolved.items as YamlNode[]) : [resolved];
  for (const map of maps) {
    const target = resolveAlias(document, map);
    if (!isMap(target)) continue;
    for (const entry of mapEntries(document, target, lineOf)) {
      if (!entries.some((candidate) => candidate.key === entry.key)) entries.push(entry);
    }
  }
}

function resolveAlias(document: Document, node: YamlNode | null): YamlNode | null {
  return isAlias(node) ? ((node as Alias).resolve(document) as YamlNode | undefined) ?? null : node;
}
