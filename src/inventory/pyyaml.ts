/**
 * How PyYAML (Ansible's YAML loader) types a plain scalar: its implicit resolvers' regexes and its
 * SafeConstructor's conversions, copied rule for rule. YAML 1.1 as PyYAML reads it is narrower
 * than the spec: `y`/`n` stay text, a float needs a dot and a signed exponent (`1e3`, `1.0e3`,
 * `+.5` stay text), `0089` is text. Pure: yaml.ts plugs these into the `yaml` package as tags.
 */

/** A resolver: the tag it stands for, its regex, and the value it makes (or an error message). */
export interface ScalarRule {
  tag: string;
  test: RegExp;
  resolve: (text: string) => unknown;
}

const BOOL = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const FLOAT =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const INT = /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const NULL = /^(?:~|null|Null|NULL|)$/;
const TIMESTAMP =
  /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/;
const TIMESTAMP_PARTS =
  /^([0-9]{4})-([0-9][0-9]?)-([0-9][0-9]?)(?:(?:[Tt]|[ \t]+)([0-9][0-9]?):([0-9][0-9]):([0-9][0-9])(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9][0-9]?)(?::([0-9][0-9]))?))?)?$/;

/** Thrown for a scalar PyYAML matches but cannot construct (`2012-13-45`); yaml.ts reports it with the line. */
export class ScalarError extends Error {}

/** In PyYAML's order (bool, float, int, null, timestamp); a plain scalar none of them matches is text. */
export const PYYAML_RULES: ScalarRule[] = [
  { tag: 'tag:yaml.org,2002:bool', test: BOOL, resolve: (text) => /^(?:yes|true|on)$/i.test(text) },
  { tag: 'tag:yaml.org,2002:float', test: FLOAT, resolve: pythonFloat },
  { tag: 'tag:yaml.org,2002:int', test: INT, resolve: pythonInt },
  { tag: 'tag:yaml.org,2002:null', test: NULL, resolve: () => null },
  { tag: 'tag:yaml.org,2002:timestamp', test: TIMESTAMP, resolve: isoTimestamp },
];

/** SafeConstructor.construct_yaml_int: `_` dropped, 0b binary, 0x hex, a leading 0 octal, `a:b` base 60. */
export function pythonInt(text: string): number | string {
  let value = text.replaceAll('_', '');
  const sign = value[0] === '-' ? -1n : 1n;
  if (value[0] === '-' || value[0] === '+') value = value.slice(1);
  let result: bigint;
  if (value === '0') result = 0n;
  else if (value.startsWith('0b')) result = BigInt(`0b${value.slice(2)}`);
  else if (value.startsWith('0x')) result = BigInt(`0x${value.slice(2)}`);
  else if (value[0] === '0') result = BigInt(`0o${value.slice(1)}`);
  else if (value.includes(':')) result = value.split(':').reduce((sum, digits) => sum * 60n + BigInt(digits), 0n);
  else result = BigInt(value);
  return exactInteger(sign * result);
}

/**
 * Python ints have no size limit. One a JS number would round (a WWN or serial in decimal) is kept
 * as its exact decimal text, as the INI reader (python.ts) keeps it: such a value is an identifier,
 * compared and passed on, never added to; text survives the journal's JSON, a BigInt would not.
 */
function exactInteger(value: bigint): number | string {
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : value.toString();
}

/** SafeConstructor.construct_yaml_float: `.inf`, `.nan`, base 60, else Python's float(). */
export function pythonFloat(text: string): number {
  let value = text.replaceAll('_', '').toLowerCase();
  const sign = value[0] === '-' ? -1 : 1;
  if (value[0] === '-' || value[0] === '+') value = value.slice(1);
  if (value === '.inf') return sign * Infinity;
  if (value === '.nan') return NaN;
  if (value.includes(':')) return sign * value.split(':').reduce((sum, part) => sum * 60 + Number(part), 0);
  return sign * Number(value);
}

/**
 * A YAML timestamp as Ansible prints it: PyYAML makes a date or datetime, and Ansible's JSON
 * encoder writes `isoformat()`: `2001-12-14T21:59:43.100000-05:00`, `2012-06-30`. Kept as that
 * text, so `runbook inventory` shows what `ansible-inventory --list` shows.
 */
export function isoTimestamp(text: string): string {
  const [, year, month, day, hour, minute, second, fraction, tz, tzSign, tzHour, tzMinute] = TIMESTAMP_PARTS.exec(text)!;
  const date = `${year}-${pad(month)}-${pad(day)}`;
  checkDate(Number(year), Number(month), Number(day), text);
  if (hour === undefined) return date;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) throw new ScalarError(`invalid time in timestamp ${text}`);
  const micro = fraction ? fraction.slice(0, 6).padEnd(6, '0') : '';
  const time = `${pad(hour)}:${minute}:${second}${micro && Number(micro) !== 0 ? `.${micro}` : ''}`;
  return `${date}T${time}${tz ? offset(tzSign, tzHour, tzMinute, text) : ''}`;
}

function offset(sign: string | undefined, hours: string | undefined, minutes: string | undefined, text: string): string {
  if (!sign) return '+00:00';
  const total = Number(hours) * 60 + Number(minutes ?? 0);
  if (total >= 24 * 60) throw new ScalarError(`invalid time zone offset in timestamp ${text}`);
  // Python's timezone(-0) prints +00:00.
  const printed = total === 0 ? '+' : sign;
  return `${printed}${pad(String(Math.floor(total / 60)))}:${pad(String(total % 60))}`;
}

function checkDate(year: number, month: number, day: number, text: string): void {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (year < 1 || days === undefined || day < 1 || day > days) throw new ScalarError(`invalid date in timestamp ${text}`);
}

function pad(digits: string): string {
  return digits.padStart(2, '0');
}
