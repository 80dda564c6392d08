/**
 * Building `xe` command lines: class, selector and parameter names checked against what the CLI
 * accepts, every value quoted by `cmd` so a value can never become another argument.
 */
import { cmd, type Command } from '../../shell/command.ts';

/** Field filters for `<class>-list`: `{ 'name-label': 'xs-01', 'other-config:foo': 'bar' }`. */
export type Selectors = Readonly<Record<string, string>>;

export const CLASS = /^[a-z][a-z-]*$/;

// A selector or param name: `name-label`, `other-config:multipathing`, `HVM-boot-policy`, `MTU`.
export const PARAM = /^[A-Za-z][A-Za-z0-9_-]*(?::[A-Za-z0-9_.-]+)?$/;

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a XenServer uuid (the CLI's `8-4-4-4-12` hex form). */
export const isUuid = (text: string): boolean => UUID.test(text);

export function checkName(kind: string, name: string, pattern: RegExp): string {
  if (!pattern.test(name)) throw new TypeError(`not an xe ${kind}: ${JSON.stringify(name)}`);
  return name;
}

/** `key=value` words, each quoted whole by `cmd` so a value can never become another argument. */
export function selectorWords(selectors: Selectors): string[] {
  return Object.entries(selectors).map(([key, value]) => `${checkName('selector', key, PARAM)}=${value}`);
}

/** `xe <sub> <words…>`; the words are quoted one by one. */
export function xeCommand(sub: string, words: readonly string[]): Command {
  return words.length === 0 ? cmd`xe ${sub}` : cmd`xe ${sub} ${words}`;
}
