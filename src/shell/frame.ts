/**
 * A frame: commands sent to a host as one POSIX script, so they cost one round trip instead of one
 * each. Two shapes: one command and the reads expected after it (`frameScript`), and a run of
 * host-judged steps, each probe → commands and probe again only if the probe failed
 * (`stepsScript`). The script runs each part so that an `exit` or `cd` in one never reaches the
 * next (in a subshell, unless it is a simple command that cannot: `contained`), with stdin from
 * /dev/null unless it is the lone command the caller feeds, and
 * after each part prints a marker with a per-frame random nonce, the part's label and its status
 * on stdout, and the nonce and label on stderr. A part never sees the nonce, so its output cannot
 * forge another part's end.
 */
import { randomBytes } from 'node:crypto';
import { quotePosix } from './quote.ts';

/** One part's share of the frame's output. */
export interface FramePart {
  stdout: string;
  stderr: string;
  code: number;
}

const stderrMark = (nonce: string, label: string) => `${nonce}:${label}\n`;

/**
 * A part's text and, after it, the lines that report its end (its status in `$s`). A part that
 * cannot reach the ones after it (`contained`) runs in the frame's own shell; any other in a
 * subshell, which costs the host a fork per part: on a loaded host, most of a frame's time.
 */
const partText = (nonce: string, label: string, text: string, stdin: string) => {
  const run = contained(text) ? `{ eval ${quotePosix(text)}; }${stdin}` : `( eval ${quotePosix(text)} )${stdin}`;
  return `${run}\ns=$?; printf '%s %s\\n' ${nonce}:${label} "$s"; printf '%s\\n' ${nonce}:${label} >&2\n`;
};

/** Words that change the shell itself, run text as shell, or open a compound command: such a part gets a subshell. */
const SHELL_WORDS = new Set([
  'exit', 'cd', 'set', 'export', 'unset', 'readonly', 'exec', 'trap', 'eval', '.', 'source', 'return', 'shift', 'alias', 'unalias',
  'umask', 'ulimit', 'local', 'read', 'getopts', 'hash', 'command', 'builtin', 'pushd', 'popd', 'typeset', 'declare', 'let',
  'break', 'continue', 'wait', 'fg', 'bg', 'if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'case', 'esac', 'while', 'until',
  'for', 'in', 'function', 'select', '[[', ']]', '{', '}',
]);

/**
 * Whether a part can run in the frame's own shell and still not reach the parts after it, nor end
 * the frame: one simple command (`!` allowed), whose words are plain or quoted, with redirections
 * and `$NAME` expansions at most, and whose first word is a plain name that is not a builtin that
 * changes the shell or a reserved word. No `;`, `&&`, `|`, `(`, `{`, command substitution,
 * `${…}`, here-document or newline: those, and any text a lexer this small could misread
 * (an unclosed quote), get a subshell.
 * @example contained('grep -qx value=1 "$DIR"/conf 2>/dev/null') // true
 * @example contained('cd /tmp && rm x') // false
 */
export function contained(text: string): boolean {
  const words: string[] = [];
  let word = '';
  let quote = '';
  const plainDollar = (i: number) => /[A-Za-z_0-9]/.test(text[i + 1] ?? '');
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote === "'") { if (c === "'") quote = ''; word += c; continue; }
    if (c === '\\') {
      if (i + 1 >= text.length || text[i + 1] === '\n') return false;
      word += c + text[++i];
      continue;
    }
    if (quote === '"') {
      if (c === '`' || (c === '$' && !plainDollar(i))) return false;
      if (c === '"') quote = '';
      word += c;
      continue;
    }
    if (c === "'" || c === '"') { quote = c; word += c; continue; }
    if (c === '`' || c === '\n' || ';|(){}'.includes(c) || (c === '$' && !plainDollar(i))) return false;
    if (c === '&' && text[i - 1] !== '>' && text[i - 1] !== '<') return false;
    if (c === '<' && text[i + 1] === '<') return false;
    if (c === ' ' || c === '\t') { if (word) words.push(word); word = ''; continue; }
    word += c;
  }
  if (quote) return false;
  if (word) words.push(word);
  const first = words[0] === '!' ? words[1] : words[0];
  return first === undefined || (/^[A-Za-z0-9_./+-][A-Za-z0-9_./+-]*$/.test(first) && !SHELL_WORDS.has(first)) || /^[0-9]*[<>]/.test(first);
}

/** A fresh nonce for one frame. */
export const frameNonce = (): string => randomBytes(12).toString('hex');

/**
 * The script for a command followed by reads; parts are finished POSIX command lines.
 * @example frameScript('ab12', 'touch -- /tmp/m', ["if test -e /tmp/m; then stat …; fi"])
 */
export function frameScript(nonce: string, command: string, reads: readonly string[]): string {
  return [partText(nonce, '0', command, ''), ...reads.map((text, i) => partText(nonce, String(i + 1), text, ' </dev/null'))].join('');
}

/** One host-judged step of a steps frame, as finished command lines. */
export interface ScriptedStep {
  /** Exits 0 when the step is done; absent: it always applies. */
  probe?: string;
  commands: readonly string[];
  /** Whether the probe runs again after the commands (the re-check). */
  recheck: boolean;
}

/** The label after which a steps frame has nothing more to say (it ran to its end, or stopped at a failure). */
export const FRAME_END = 'end';

/**
 * The script for consecutive host-judged steps. Step i's parts are labelled `i.c` (probe), `i.aJ`
 * (command J) and `i.r` (re-check). It stops, with the end mark, at the first command or re-check
 * that fails, as the engine stops a host at its first failed step. `checkOnly` (a dry-run): the
 * probes alone, all of them, since nothing changes between them.
 * @example stepsScript('ab12', [{ probe: 'grep -qx v=1 /etc/a', commands: ['echo v=1 > /etc/a'], recheck: true }])
 */
export function stepsScript(nonce: string, steps: readonly ScriptedStep[], checkOnly = false): string {
  const end = `printf '%s %s\\n' ${nonce}:${FRAME_END} 0; printf '%s\\n' ${nonce}:${FRAME_END} >&2`;
  const stopUnlessOk = `if [ "$s" -ne 0 ]; then ${end}; exit 0; fi\n`;
  const part = (label: string, text: string) => partText(nonce, label, text, ' </dev/null');
  const applied = (step: ScriptedStep, i: number) => [
    ...step.commands.map((text, j) => part(`${i}.a${j}`, text) + stopUnlessOk),
    ...(step.recheck && step.probe !== undefined ? [part(`${i}.r`, step.probe) + stopUnlessOk] : []),
  ].join('');
  const body = steps.map((step, i) => {
    if (step.probe === undefined) return checkOnly ? '' : applied(step, i);
    if (checkOnly) return part(`${i}.c`, step.probe);
    return `${part(`${i}.c`, step.probe)}if [ "$s" -ne 0 ]; then\n${applied(step, i)}fi\n`;
  });
  return `${body.join('')}${end}\n`;
}

/** One part of a frame's output, with the label it was sent under. */
export interface LabelledPart extends FramePart {
  label: string;
}

/**
 * Cuts a frame's output into the parts that reported their end, in the order they ran, up to the
 * first whose end markers are not both there (the frame was stopped or lost there).
 * @example readParts(nonce, result.stdout, result.stderr) // [{ label: '0.c', stdout, stderr, code }, …]
 */
export function readParts(nonce: string, stdout: string, stderr: string): LabelledPart[] {
  const found: LabelledPart[] = [];
  const prefix = `${nonce}:`;
  let out = 0;
  let err = 0;
  for (;;) {
    const outAt = stdout.indexOf(prefix, out);
    if (outAt < 0) break;
    const lineEnd = stdout.indexOf('\n', outAt);
    if (lineEnd < 0) break;
    const [label, status] = stdout.slice(outAt + prefix.length, lineEnd).split(' ');
    const code = Number(status);
    const errAt = stderr.indexOf(stderrMark(nonce, label), err);
    if (!label || !Number.isInteger(code) || errAt < 0) break;
    found.push({ label, stdout: stdout.slice(out, outAt), stderr: stderr.slice(err, errAt), code });
    out = lineEnd + 1;
    err = errAt + stderrMark(nonce, label).length;
  }
  return found;
}

/**
 * The parts of a `frameScript` frame, in order, up to the first that did not report its end: that
 * part and every later one are left out.
 * @example splitFrame(nonce, 2, result.stdout, result.stderr) // [{ stdout, stderr, code }, …]
 */
export function splitFrame(nonce: string, parts: number, stdout: string, stderr: string): FramePart[] {
  const found = readParts(nonce, stdout, stderr);
  const inOrder = found.findIndex((part, index) => part.label !== String(index));
  return (inOrder < 0 ? found : found.slice(0, inOrder)).slice(0, parts).map(({ stdout: o, stderr: e, code }) => ({ stdout: o, stderr: e, code }));
}
