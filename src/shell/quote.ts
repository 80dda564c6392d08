/**
 * Quoting for the far side's shell. POSIX single quotes are the one quoting every `sh` agrees on
 * (dash, bash, busybox ash): nothing inside them is special, so the only character to handle is the
 * single quote itself. zx's `$'…'` form is bash-only and would break on dash.
 */

/** Words that need no quotes at all; kept bare so dry-run output reads like a human wrote it. */
const BARE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quotes one value as a single POSIX shell word.
 * @example quotePosix("it's") // 'it'\''s'
 */
export function quotePosix(value: string): string {
  if (value.includes('\0')) throw new Error('a shell argument cannot hold a NUL byte: the command would be cut short there');
  if (value === '') return "''";
  if (BARE_WORD.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Quotes one value as a single argument for a Windows program started by `cmd.exe`, following the
 * MSVCRT argv rules (backslashes double only before a quote) and escaping cmd's own metacharacters
 * with `^` so that `&`, `|`, `%`, `<`, `>` and `^` reach the program literally.
 * @example quoteWindowsCmd('C:\\Program Files\\x') // ^"C:\Program Files\x^"
 */
export function quoteWindowsCmd(value: string): string {
  if (/[\r\n\0]/.test(value)) {
    throw new Error('a Windows cmd argument cannot hold a newline or NUL: cmd.exe would end the command there');
  }
  if (value !== '' && /^[A-Za-z0-9_:.\\/=,+-]+$/.test(value)) return value;
  let quoted = '"';
  let backslashes = 0;
  for (const ch of value) {
    if (ch === '\\') { backslashes++; continue; }
    if (ch === '"') { quoted += '\\'.repeat(backslashes * 2 + 1) + '"'; backslashes = 0; continue; }
    quoted += '\\'.repeat(backslashes) + ch;
    backslashes = 0;
  }
  quoted += '\\'.repeat(backslashes * 2) + '"';
  // Every cmd metacharacter, the quotes included, is caret-escaped so cmd's quote tracking cannot
  // be desynchronised by a value; the program still receives the MSVCRT-quoted text above.
  return quoted.replace(/[()%!^"<>&|]/g, '^$&');
}

/**
 * Quotes one value as a PowerShell single-quoted string literal (only `'` is special; it doubles).
 * @example quotePowerShell("it's") // 'it''s'
 */
export function quotePowerShell(value: string): string {
  if (value.includes('\0')) throw new Error('a PowerShell argument cannot hold a NUL byte: the command would be cut short there');
  return `'${value.replace(/['\u2018\u2019\u201a\u201b]/g, '$&$&')}'`;
}

export type Dialect = 'posix' | 'cmd' | 'powershell';

export const quoters: Record<Dialect, (value: string) => string> = {
  posix: quotePosix,
  cmd: quoteWindowsCmd,
  powershell: quotePowerShell,
};
