/**
 * A frame: one command and the reads expected after it, sent to a host as one POSIX script, so
 * they cost one round trip instead of one each. The script runs each part in its own subshell
 * (an `exit` or `cd` in one never reaches the next), the reads with stdin from /dev/null (only the
 * command may consume what the caller feeds it), and after each part prints a marker with a
 * per-frame random nonce, the part's index and its status on stdout, and the nonce and index on
 * stderr. A part never sees the nonce, so its output cannot forge another part's end.
 */
import { randomBytes } from 'node:crypto';
import { quotePosix } from './quote.ts';

/** One part's share of the frame's output. */
export interface FramePart {
  stdout: string;
  stderr: string;
  code: number;
}

const stdoutMark = (nonce: string, index: number) => `${nonce}:${index} `;
const stderrMark = (nonce: string, index: number) => `${nonce}:${index}\n`;

/** A fresh nonce for one frame. */
export const frameNonce = (): string => randomBytes(12).toString('hex');

/**
 * The script for a command followed by reads; parts are finished POSIX command lines.
 * @example frameScript('ab12', 'touch -- /tmp/m', ["if test -e /tmp/m; then stat …; fi"])
 */
export function frameScript(nonce: string, command: string, reads: readonly string[]): string {
  const part = (text: string, index: number, stdin: string) =>
    `( eval ${quotePosix(text)} )${stdin}\nprintf '%s %s\\n' ${nonce}:${index} "$?"; printf '%s\\n' ${nonce}:${index} >&2\n`;
  return [part(command, 0, ''), ...reads.map((text, i) => part(text, i + 1, ' </dev/null'))].join('');
}

/**
 * Cuts a frame's output into its parts, in order, up to the first part whose end markers are not
 * both there (the frame was stopped or lost there): that part and every later one are left out.
 * @example splitFrame(nonce, 2, result.stdout, result.stderr) // [{ stdout, stderr, code }, …]
 */
export function splitFrame(nonce: string, parts: number, stdout: string, stderr: string): FramePart[] {
  const found: FramePart[] = [];
  let out = 0;
  let err = 0;
  for (let index = 0; index < parts; index++) {
    const outMark = stdoutMark(nonce, index);
    const outAt = stdout.indexOf(outMark, out);
    const errAt = stderr.indexOf(stderrMark(nonce, index), err);
    if (outAt < 0 || errAt < 0) break;
    const lineEnd = stdout.indexOf('\n', outAt);
    if (lineEnd < 0) break;
    const code = Number(stdout.slice(outAt + outMark.length, lineEnd));
    if (!Number.isInteger(code)) break;
    found.push({ stdout: stdout.slice(out, outAt), stderr: stderr.slice(err, errAt), code });
    out = lineEnd + 1;
    err = errAt + stderrMark(nonce, index).length;
  }
  return found;
}
