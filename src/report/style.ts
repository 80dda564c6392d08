/** ANSI colour: on at a terminal, unless the flag, FORCE_COLOR or NO_COLOR (no-color.org) say otherwise. */
export interface Style {
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  cyan(s: string): string;
  magenta(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

export function makeStyle(stream: NodeJS.WriteStream | { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env, flag?: boolean): Style {
  const enabled = wantsColor(stream, env, flag);
  const wrap = (open: number, close: number) => (s: string) => (enabled ? `\u001b[${open}m${s}\u001b[${close}m` : s);
  return {
    green: wrap(32, 39), yellow: wrap(33, 39), red: wrap(31, 39), cyan: wrap(36, 39),
    magenta: wrap(35, 39), dim: wrap(2, 22), bold: wrap(1, 22),
  };
}

/**
 * Strongest first: `--color`/`--no-color`; FORCE_COLOR (`0` or `false` off, anything else on, as
 * Node reads it); NO_COLOR set and not empty; TERM=dumb; else whether the stream is a terminal.
 * @example wantsColor(process.stdout, { FORCE_COLOR: '1', NO_COLOR: '1' }) // true: FORCE_COLOR beats NO_COLOR
 */
export function wantsColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, flag?: boolean): boolean {
  if (flag !== undefined) return flag;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return Boolean(stream.isTTY) && env.TERM !== 'dumb';
}

export const pad = (s: string, width: number): string => (s.length >= width ? s : s + ' '.repeat(width - s.length));

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}
