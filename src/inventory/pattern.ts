import { UsageError } from '../errors.ts';
import { didYouMean } from '../suggest.ts';
import type { Inventory, InventoryHost } from './types.ts';

/**
 * Ansible's host patterns, as `--limit` and a runbook's `hosts` take them: `all` or `*`, group
 * and host names, globs (`xs-0*`), regexes (`~xs-0[12]`), subscripts (`pool_a[0]`, `pool_a[1:]`),
 * lists joined by `,` or `:` (union), `:&g` (intersection) and `:!g` (exclusion). Like Ansible,
 * unions apply first, then intersections, then exclusions, whatever order they were written in.
 */

/**
 * The hosts a pattern selects, in inventory order; throws UsageError when it selects none.
 * @example selectHosts(inventory, 'pool_a:!xs-03').map((host) => host.name) // ['xs-01', 'xs-02']
 */
export function selectHosts(inventory: Inventory, pattern: string): InventoryHost[] {
  const parts = splitPattern(pattern);
  const selected = new Set<string>();
  for (const part of orderParts(parts)) applyPart(inventory, part, selected);
  if (selected.size === 0) throw new UsageError(noMatchMessage(inventory, pattern, parts));
  return [...inventory.hosts.values()].filter((host) => selected.has(host.name));
}

/**
 * Ansible's split_host_pattern: `a,b` splits on commas; a pattern its parse_address accepts as one
 * host (`db[0:2]`, `fe80::1%eth0`, `web:8080`) stays whole; anything else splits on colons outside `[…]`.
 */
export function splitPattern(pattern: string): string[] {
  let parts: string[];
  if (pattern.includes(',')) parts = pattern.split(',');
  else if (isOneAddress(pattern)) parts = [pattern];
  else parts = pattern.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? [];
  return parts.map((part) => part.trim()).filter(Boolean);
}

// ansible/parsing/utils/addresses.py, with its quirks: the IPv6 regex's `^…|…|…$` anchors only the
// first and last alternatives, so any text that merely starts like an IPv6 address passes.
const HEX = '(?:[0-9a-f]{1,4}|\\[[0-9a-f]+:[0-9a-f]+(?::[0-9]+)?\\])';
const OCTET = '(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|\\[[0-9]+:[0-9]+(?::[0-9]+)?\\])';
const RANGE = '\\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\\]';
const LABEL = `(?:[\\p{L}\\p{N}_]|${RANGE})(?:[\\p{L}\\p{N}_-]|${RANGE})*(?<![_-])`;
const ADDRESS_FORMS = [
  new RegExp(`^(?:${OCTET}\\.){3}${OCTET}$`, 'i'),
  new RegExp(
    `^(?:(?:${HEX}:){7}${HEX}|(?:${HEX}:){1,6}:|(?:${HEX}:)(?::${HEX}){1,6}|(?:${HEX}:){2}(?::${HEX}){1,5}|(?:${HEX}:){3}(?::${HEX}){1,4}|` +
      `(?:${HEX}:){4}(?::${HEX}){1,3}|(?:${HEX}:){5}(?::${HEX}){1,2}|(?:${HEX}:){6}(?::${HEX})|:(?::${HEX}){1,6}|${HEX}?::|` +
      `(?:0:){6}(?:${HEX}\\.){3}${HEX}|::(?:ffff:)?(?:${HEX}\\.){3}${HEX}|(?:0:){5}ffff:(?:${HEX}\\.){3}${HEX}$)`,
    'i',
  ),
  new RegExp(`^${LABEL}(?:\\.${LABEL})*$`, 'iu'),
];

/** parse_address(pattern, allow_ranges=True) succeeds: an optional `:port` off, then an IPv4, IPv6 or host name. */
function isOneAddress(pattern: string): boolean {
  let address = pattern;
  for (const withPort of [/^\[(.+)\]:([0-9]+)$/, /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/]) {
    const match = withPort.exec(address);
    if (match) address = match[1];
  }
  return ADDRESS_FORMS.some((form) => form.test(address));
}

function orderParts(parts: string[]): string[] {
  const unions = parts.filter((part) => part[0] !== '&' && part[0] !== '!');
  const intersections = parts.filter((part) => part[0] === '&');
  const exclusions = parts.filter((part) => part[0] === '!');
  // Only `&x` or `!x` given: Ansible starts from all hosts.
  return [...(unions.length ? unions : ['all']), ...intersections, ...exclusions];
}

function applyPart(inventory: Inventory, part: string, selected: Set<string>): void {
  const matched = inventory.hosts.has(part) ? [part] : matchOne(inventory, part.replace(/^[&!]/, ''));
  if (part[0] === '&') {
    const keep = new Set(matched);
    for (const name of selected) if (!keep.has(name)) selected.delete(name);
  } else if (part[0] === '!') {
    for (const name of matched) selected.delete(name);
  } else {
    for (const name of matched) selected.add(name);
  }
}

/** One pattern without its `&`/`!`: groups it names (with their hosts), else or also hosts. */
function matchOne(inventory: Inventory, part: string): string[] {
  const { expression, subscript } = splitSubscript(part);
  const matches = compileMatcher(expression);
  const groups = [...inventory.groups.keys()].filter(matches);
  const hosts = groups.flatMap((group) => hostsOfGroup(inventory, group));
  // A plain word that names a group means the group; globs and regexes also match host names.
  if (groups.length === 0 || expression[0] === '~' || /[.?*[]/.test(expression)) {
    hosts.push(...[...inventory.hosts.keys()].filter(matches));
  }
  return subscript ? applySubscript(hosts, subscript, part) : hosts;
}

interface Subscript {
  start: number;
  end?: number;
}

/** `name[1]`, `name[1:3]` or `name[1:]`; a regex never has one (its brackets are its own). */
function splitSubscript(part: string): { expression: string; subscript?: Subscript } {
  const match = part[0] === '~' ? null : /^(.+)\[(?:(-?\d+)|(\d+)([:-])(\d*))\]$/.exec(part);
  if (!match) return { expression: part };
  if (match[2] !== undefined) return { expression: match[1], subscript: { start: Number(match[2]) } };
  return { expression: match[1], subscript: { start: Number(match[3]), end: match[5] ? Number(match[5]) : -1 } };
}

function applySubscript(hosts: string[], { start, end }: Subscript, part: string): string[] {
  if (hosts.length === 0) return hosts;
  if (end === undefined) {
    const host = hosts.at(start);
    if (host === undefined) throw new UsageError(`no hosts matched the subscripted pattern '${part}'`);
    return [host];
  }
  const last = end === -1 ? hosts.length - 1 : end;
  return hosts.slice(start, last + 1);
}

/** Every host under a group: its own first, then its children's, breadth first. */
export function hostsOfGroup(inventory: Inventory, group: string): string[] {
  const hosts = new Set<string>();
  const seen = new Set<string>();
  const queue = [group];
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    if (seen.has(name)) continue;
    seen.add(name);
    const entry = inventory.groups.get(name);
    for (const host of entry?.hosts ?? []) hosts.add(host);
    queue.push(...(entry?.children ?? []));
  }
  return [...hosts];
}

/** `~regex` matches from the start (Python's re.match); anything else is an fnmatch glob. */
function compileMatcher(expression: string): (name: string) => boolean {
  let regex: RegExp;
  try {
    regex = expression[0] === '~' ? new RegExp(`^(?:${expression.slice(1)})`) : globToRegExp(expression);
  } catch {
    throw new UsageError(`invalid host pattern: ${expression}`);
  }
  return (name) => regex.test(name);
}

/** Python's fnmatch.translate: `*`, `?`, `[abc]`, `[!abc]`; case-sensitive, whole name. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i];
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else if (char === '[') {
      const close = glob.indexOf(']', glob[i + 1] === '!' || glob[i + 1] === ']' ? i + 2 : i + 1);
      if (close < 0) {
        source += '\\[';
        continue;
      }
      source += charClass(glob.slice(i + 1, close));
      i = close;
    } else source += char.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
  }
  return new RegExp(`^(?:${source})$`, 's');
}

function charClass(body: string): string {
  const negated = body.startsWith('!');
  const inner = (negated ? body.slice(1) : body).replace(/[\\\]^]/g, '\\$&');
  return `[${negated ? '^' : ''}${inner}]`;
}

function noMatchMessage(inventory: Inventory, pattern: string, parts: string[]): string {
  const groups = [...inventory.groups.keys()].filter((name) => name !== 'all' && name !== 'ungrouped');
  const names = [...groups, ...inventory.hosts.keys()];
  const hints = parts.map((part) => part.replace(/^[&!]/, '')).filter((part) => !/[*?[~]/.test(part) && !names.includes(part)).map((part) => didYouMean(part, names, `${part}: `)).filter(Boolean);
  return `no hosts match the pattern '${pattern}'${parts.length > 1 ? ` (parts: ${parts.join(', ')})` : ''}; groups in ${inventory.source}: ${groups.join(', ') || 'none'}${hints.length ? `; ${hints.join('; ')}` : ''}`;
}
