import { quoters, type Dialect } from './quote.ts';

/** A value that must never be shown: it is quoted into the command but masked everywhere else. */
export class Secret {
  readonly #value: string;
  constructor(value: string) { this.#value = value; }
  reveal(): string { return this.#value; }
  toString(): string { return MASK; }
  toJSON(): string { return MASK; }
  [Symbol.for('nodejs.util.inspect.custom')](): string { return MASK; }
}

/** Shell text inserted as is. Use only for fixed operators (`|`, `&&`, `2>&1`); it is visible in review. */
export class Raw {
  constructor(readonly text: string) {}
}

export const MASK = '********';

/** Marks a value as secret: `sh\`xe pool-join password=${secret(pw)}\`` shows `password=********`. */
export const secret = (value: string): Secret => new Secret(value);
/** Inserts shell text unquoted: `sh\`cat /proc/cpuinfo ${raw('|')} grep vmx\``. */
export const raw = (text: string): Raw => new Raw(text);

export type Interpolation = string | number | boolean | bigint | Secret | Raw | Command | readonly Interpolation[];

/**
 * A command line built from a template: `text` is what runs, `display` is what humans and the
 * journal see (secrets masked). Commands nest: a Command inside a template is inserted as built.
 */
export class Command {
  constructor(
    readonly text: string,
    readonly display: string,
    readonly secrets: readonly string[] = [],
    readonly dialect: Dialect = 'posix',
  ) {}
  toString(): string { return this.display; }
  toJSON(): string { return this.display; }
  get hasSecrets(): boolean { return this.secrets.length > 0; }
}

type Parts = { text: string; display: string; secrets: string[] };

function render(value: Interpolation, dialect: Dialect, out: Parts): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      if (i > 0) { out.text += ' '; out.display += ' '; }
      render(item, dialect, out);
    });
    return;
  }
  if (value instanceof Raw) { out.text += value.text; out.display += value.text; return; }
  if (value instanceof Command) {
    if (value.dialect !== dialect) throw new TypeError(`cannot nest a ${value.dialect} command inside a ${dialect} one`);
    out.text += value.text; out.display += value.display; out.secrets.push(...value.secrets);
    return;
  }
  if (value instanceof Secret) {
    const quoted = quoters[dialect](value.reveal());
    out.text += quoted;
    out.display += MASK;
    // The quoted form too: a shell that echoes the command line back (a syntax error, `set -x`)
    // shows it quoted, and masking it whole keeps the mask from leaving quote debris around.
    out.secrets.push(...(quoted === value.reveal() ? [quoted] : [quoted, value.reveal()]));
    return;
  }
  if (value === null || value === undefined || typeof value === 'object' || typeof value === 'function' || typeof value === 'symbol') {
    // A stray object or undefined in a command is always a bug; refusing beats running `rm -rf undefined`.
    throw new TypeError(`cannot interpolate ${value === null ? 'null' : typeof value} into a command`);
  }
  const quoted = quoters[dialect](String(value));
  out.text += quoted;
  out.display += quoted;
}

/** Builds a Command from a template in the given shell dialect; every interpolated value is quoted. */
export function buildCommand(dialect: Dialect, strings: TemplateStringsArray, values: readonly Interpolation[]): Command {
  const out: Parts = { text: strings[0], display: strings[0], secrets: [] };
  values.forEach((value, i) => {
    render(value, dialect, out);
    out.text += strings[i + 1];
    out.display += strings[i + 1];
  });
  return new Command(out.text, out.display, out.secrets, dialect);
}

/**
 * Builds a POSIX command without running it (for a step's plan).
 * @example cmd`touch ${marker}`
 */
export const cmd = (strings: TemplateStringsArray, ...values: Interpolation[]): Command =>
  buildCommand('posix', strings, values);

/** Builds a Windows `cmd.exe` command: `winCmd\`hostname\``. */
export const winCmd = (strings: TemplateStringsArray, ...values: Interpolation[]): Command =>
  buildCommand('cmd', strings, values);

/** Builds a PowerShell command: `psCmd\`Get-Service ${name}\``. */
export const psCmd = (strings: TemplateStringsArray, ...values: Interpolation[]): Command =>
  buildCommand('powershell', strings, values);

/** Replaces every secret's text in free output (stdout, an error message) by the mask. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let masked = text;
  // Longest first: a secret that contains another (or its own quoted form) must go whole.
  const longestFirst = [...secrets].sort((a, b) => b.length - a.length);
  for (const s of longestFirst) if (s.length > 0) masked = masked.split(s).join(MASK);
  return masked;
}
