/**
 * Host names with ranges and ports, as Ansible's inventory plugins read them:
 * `xs-[01:04]`, `db-[a:c]`, `node[0:10:2]`, `xs-01:2222`, `[2001:db8::1]:22`.
 */

/** A host key that Ansible would refuse; the caller adds file and line. */
export class HostPatternError extends Error {}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * Splits an optional `:port` off and expands every `[a:b(:step)]` range.
 * @example expandHostPattern('xs-[01:03]:2222') // { names: ['xs-01', 'xs-02', 'xs-03'], port: 2222 }
 */
export function expandHostPattern(pattern: string): { names: string[]; port?: number } {
  const { host, port } = splitPort(pattern.trim());
  const names = host.includes('[') ? expandRanges(host) : [host];
  return port === undefined ? { names } : { names, port };
}

/** `name:22` has a port; `fe80::1` and `xs-[01:04]` do not (their colons are not a port). */
function splitPort(pattern: string): { host: string; port?: number } {
  const bracketed = /^\[([0-9A-Fa-f:.%]+:[0-9A-Fa-f:.%]*)\](?::(\d+))?$/.exec(pattern);
  if (bracketed) return withPort(bracketed[1], bracketed[2]);
  const named = /^(.*?)(?::(\d+))?$/.exec(pattern)!;
  if (!hasColonOutsideBrackets(named[1])) return withPort(named[1], named[2]);
  return { host: pattern };
}

function withPort(host: string, port: string | undefined): { host: string; port?: number } {
  return port === undefined ? { host } : { host, port: Number(port) };
}

function hasColonOutsideBrackets(text: string): boolean {
  return text.replace(/\[[^\]]*\]/g, '').includes(':');
}

/** Expands the first range, then recurses on each result for the ones after it. */
export function expandRanges(name: string): string[] {
  const open = name.indexOf('[');
  const close = name.indexOf(']', open);
  if (open < 0) return [name];
  if (close < 0) throw new HostPatternError(`host range in ${name} has no closing ]`);
  const head = name.slice(0, open);
  const tail = name.slice(close + 1);
  return rangeValues(name.slice(open + 1, close)).flatMap((value) => expandRanges(head + value + tail));
}

/** `01:04` → 01 02 03 04; `a:c` → a b c; `0:10:2` → 0 2 4 6 8 10. */
function rangeValues(range: string): string[] {
  const bounds = range.split(':');
  if (bounds.length !== 2 && bounds.length !== 3) throw new HostPatternError('host range must be begin:end or begin:end:step');
  const begin = bounds[0] || '0';
  const end = bounds[1];
  const step = bounds[2] === undefined ? 1 : toInteger(bounds[2], 'step');
  if (!end) throw new HostPatternError('host range must specify end value');
  if (step <= 0) throw new HostPatternError(`host range step must be positive, got ${step}`);
  if (begin.length === 1 && LETTERS.includes(begin) && end.length === 1 && LETTERS.includes(end)) {
    return letterRange(begin, end, step);
  }
  return numberRange(begin, end, step);
}

function letterRange(begin: string, end: string, step: number): string[] {
  const from = LETTERS.indexOf(begin);
  const to = LETTERS.indexOf(end);
  if (from > to) throw new HostPatternError('host range must have begin <= end');
  return [...LETTERS.slice(from, to + 1)].filter((_, index) => index % step === 0);
}

function numberRange(begin: string, end: string, step: number): string[] {
  // A leading zero asks for zero-padding to that width, and then both ends must have it.
  const width = begin.length > 1 && begin.startsWith('0') ? begin.length : 0;
  if (width && width !== end.length) throw new HostPatternError('host range must specify equal-length begin and end formats');
  const values: string[] = [];
  for (let value = toInteger(begin, 'begin'); value <= toInteger(end, 'end'); value += step) {
    values.push(String(value).padStart(width, '0'));
  }
  return values;
}

function toInteger(text: string, what: string): number {
  if (!/^\s*[-+]?\d+\s*$/.test(text)) throw new HostPatternError(`host range ${what} is not a number: ${text}`);
  return Number(text);
}
