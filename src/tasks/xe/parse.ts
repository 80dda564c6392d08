/**
 * Pure parsers of the XenServer `xe` CLI's output. No host access here: facts in facts.ts run the
 * command and hand its stdout to these functions, and tests feed them recorded output.
 *
 * The format is taken from the CLI server that prints it (xapi-project/xen-api,
 * ocaml/xapi-cli-server/cli_printer.ml `multi_line_record`, cli_operations.ml `print_field`,
 * records.ml `get_from_map`/`map_and_concat`) and checked against samples from the XenServer
 * administrator's guides and forums (test/fixtures/tasks/xe/SOURCES.md):
 *  - a record is one `name (XYZ): value` line per field; the first name is padded on the right,
 *    the others on the left, so the colons line up; records end with two blank lines;
 *  - XYZ is ` RO`/` RW` (one value), `MRO`/`MRW` (map: `k: v; k2: v2`), `SRO`/`SRW` (set: `a; b`),
 *    optionally followed by ` [DEPRECATED]`;
 *  - `--minimal` prints the first field of every record joined by `,`, escaping `,` as `\,` and
 *    `\` as `\\`; nothing matched prints an empty line;
 *  - `param-get` prints the bare value.
 */

export type XeAccess = 'RO' | 'RW';
export type XeKind = 'value' | 'map' | 'set';

/** One field of a record as printed: its text and what the marker says about it. */
export interface XeField {
  name: string;
  raw: string;
  kind: XeKind;
  access: XeAccess;
  deprecated: boolean;
}

/** xe's placeholder for a reference to a deleted object (records.ml `nid`). */
export const NOT_IN_DATABASE = '<not in database>';

/** Thrown when output does not have the shape a parser expects: the CLI changed or the wrong command ran. */
export class XeParseError extends Error {
  override name = 'XeParseError';
}

/**
 * One `xe <class>-list` record; typed accessors so callers never split strings themselves.
 * @example record.text('name-label'); record.map('other-config').multipathing; record.bool('enabled')
 */
export class XeRecord {
  readonly #fields: ReadonlyMap<string, XeField>;
  constructor(fields: readonly XeField[]) {
    this.#fields = new Map(fields.map((f) => [f.name, f]));
  }

  get uuid(): string { return this.text('uuid'); }
  get names(): string[] { return [...this.#fields.keys()]; }
  has(name: string): boolean { return this.#fields.has(name); }
  field(name: string): XeField {
    const field = this.#fields.get(name);
    if (!field) throw new XeParseError(`xe record has no field "${name}" (it has: ${this.names.join(', ')}); add it to params=`);
    return field;
  }
  /** The value as printed (maps and sets unparsed). */
  text(name: string): string { return this.field(name).raw; }
  map(name: string): Record<string, string> { return parseXeMap(this.text(name)); }
  set(name: string): string[] { return parseXeSet(this.text(name)); }
  bool(name: string): boolean { return parseXeBool(this.text(name), name); }
  /** A plain object for logs and step outputs. */
  toJSON(): Record<string, string> {
    return Object.fromEntries([...this.#fields.values()].map((f) => [f.name, f.raw]));
  }
}

// `name ( RO): value`, `name (MRW) [DEPRECATED]: value`. The name never holds a space or a paren.
const FIELD_LINE = /^\s*([^\s()]+) \(([ MS])(RO|RW)\)( \[DEPRECATED\])?\s*:(?: (.*))?$/;

function toField(match: RegExpExecArray): XeField {
  const [, name, kindMark, access, deprecated, raw] = match;
  const kind: XeKind = kindMark === 'M' ? 'map' : kindMark === 'S' ? 'set' : 'value';
  return { name, raw: (raw ?? '').replace(/\s+$/, ''), kind, access: access as XeAccess, deprecated: Boolean(deprecated) };
}

/**
 * Parses `xe <class>-list` / `<class>-param-list` output into records.
 * Blank lines end a record; a line that is not a field continues the previous value (a
 * name-description with a newline in it is printed as is).
 * @example parseXeRecords(await sh`xe host-list params=uuid,name-label`.text())
 */
export function parseXeRecords(output: string): XeRecord[] {
  const records: XeRecord[] = [];
  let current: XeField[] = [];
  let blankRun = 0;
  const flush = () => { if (current.length > 0) records.push(new XeRecord(current)); current = []; };
  for (const line of output.replace(/\r\n/g, '\n').split('\n')) {
    if (line.trim() === '') { blankRun++; continue; }
    const match = FIELD_LINE.exec(line);
    if (match) {
      const field = toField(match);
      // A record's fields are unique, so a repeated name (or any field after a blank line) starts the next record.
      if (blankRun > 0 || current.some((f) => f.name === field.name)) flush();
      current.push(field);
    } else if (current.length > 0) {
      const last = current[current.length - 1];
      last.raw += '\n'.repeat(blankRun + 1) + line;
    } else {
      throw new XeParseError(`not an xe record line: ${JSON.stringify(line)}`);
    }
    blankRun = 0;
  }
  flush();
  return records;
}

/**
 * Parses `--minimal` output: comma-separated, `\,` and `\\` escaped (cli_printer.ml `escape_commas`).
 * @example parseXeMinimal('a,b\\,c\n') // ['a', 'b,c']
 */
export function parseXeMinimal(output: string): string[] {
  const text = output.replace(/\r?\n$/, '');
  if (text === '') return [];
  const values: string[] = [];
  let value = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\' && i + 1 < text.length) { value += text[++i]; continue; }
    if (ch === ',') { values.push(value); value = ''; continue; }
    value += ch;
  }
  values.push(value);
  return values;
}

/** `param-get` prints one value and a newline. */
export function parseXeParamGet(output: string): string {
  return output.replace(/\r?\n$/, '');
}

/**
 * A map value `k: v; k2: v2` (records.ml `get_from_map`). Keys hold no `: `; values may hold `:`
 * (an IQN, `SCSIid`), so each pair splits at its first `: `.
 * @example parseXeMap('target: 10.0.0.1; targetIQN: iqn.2006-01.com.example:storage')
 */
export function parseXeMap(raw: string): Record<string, string> {
  const map: Record<string, string> = {};
  if (raw.trim() === '') return map;
  for (const pair of raw.split('; ')) {
    const at = pair.indexOf(': ');
    if (at < 0) {
      if (pair.endsWith(':')) { map[pair.slice(0, -1)] = ''; continue; }
      throw new XeParseError(`not a map entry "key: value": ${JSON.stringify(pair)} in ${JSON.stringify(raw)}`);
    }
    map[pair.slice(0, at)] = pair.slice(at + 2);
  }
  return map;
}

/**
 * A set value `a; b` (records.ml `concat_with_semi`); empty text is the empty set. Some fields
 * (host `capabilities`) print a trailing `; `, which the record parser's end-trim leaves as `;`.
 */
export function parseXeSet(raw: string): string[] {
  const text = raw.trim().replace(/;$/, '');
  return text === '' ? [] : text.split('; ');
}

/** xe prints OCaml's `string_of_bool`; the seeds quote "True", so case is ignored. */
export function parseXeBool(raw: string, what = 'value'): boolean {
  const text = raw.trim().toLowerCase();
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new XeParseError(`${what}: expected true or false, got ${JSON.stringify(raw)}`);
}

/** A reference field that may point at a deleted object; undefined for `<not in database>` or empty. */
export function xeRef(raw: string): string | undefined {
  return raw === '' || raw === NOT_IN_DATABASE ? undefined : raw;
}

/** One disk of `xe vm-disk-list`: the VBD record and, unless it is an empty CD, its VDI record. */
export interface XeDisk {
  kind: 'Disk' | 'CD';
  index: number;
  vbd: XeRecord;
  vdi?: XeRecord;
}

const DISK_HEADER = /^(Disk|CD) (\d+) (VBD|VDI):\s*$/;

/**
 * Parses `xe vm-disk-list` (cli_operations.ml `vm_disk_list_aux`): a `Disk N VBD:` line and a
 * record, then `Disk N VDI:` and a record, per disk.
 * @example parseVmDiskList(await sh`xe vm-disk-list uuid=${vm}`.text())[0].vbd.uuid
 */
export function parseVmDiskList(output: string): XeDisk[] {
  const disks: XeDisk[] = [];
  const sections = splitDiskSections(output);
  for (const { kind, index, part, body } of sections) {
    const [record] = parseXeRecords(body);
    if (!record) throw new XeParseError(`vm-disk-list: ${kind} ${index} ${part} has no record`);
    if (part === 'VBD') { disks.push({ kind, index, vbd: record }); continue; }
    const disk = disks.find((d) => d.kind === kind && d.index === index);
    if (!disk) throw new XeParseError(`vm-disk-list: ${kind} ${index} VDI comes before its VBD`);
    disk.vdi = record;
  }
  return disks;
}

function splitDiskSections(output: string) {
  const sections: { kind: 'Disk' | 'CD'; index: number; part: 'VBD' | 'VDI'; body: string }[] = [];
  for (const line of output.replace(/\r\n/g, '\n').split('\n')) {
    const header = DISK_HEADER.exec(line);
    if (header) {
      sections.push({ kind: header[1] as 'Disk' | 'CD', index: Number(header[2]), part: header[3] as 'VBD' | 'VDI', body: '' });
    } else if (sections.length > 0) {
      sections[sections.length - 1].body += `${line}\n`;
    } else if (line.trim() !== '') {
      throw new XeParseError(`vm-disk-list: expected "Disk N VBD:", got ${JSON.stringify(line)}`);
    }
  }
  return sections;
}
