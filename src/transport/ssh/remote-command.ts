/**
 * Turns a finished command line into what an SSH exec channel runs: env exports and `become`.
 * Pure, so the sudo wrapping can be read and tested without a server.
 */
import { randomBytes } from 'node:crypto';
import { quotePosix } from '../../shell/quote.ts';

/** The exec request's text and the bytes to write to its stdin. */
export interface RemoteCommand {
  text: string;
  stdin?: Buffer;
}

export interface WrapOptions {
  sudo?: boolean;
  env?: Record<string, string>;
  stdin?: string | Buffer;
  /** sudo's `-u` (ansible_become_user); default root. */
  becomeUser?: string;
  /** sudo's password; given, it travels only on stdin, never in the command text. */
  becomePassword?: string;
  /** Also bound the command on the server (see {@link withServerTimeout}). */
  serverTimeoutMs?: number;
  /** The shell that runs a timed command (withServerTimeout); default the login shell. */
  timeoutShell?: string;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Env vars become `export` statements because sshd drops exec-request env outside its AcceptEnv
 * list, and because sudo resets the environment: they must be set inside sudo's shell.
 * @example envPrefix({ LC_ALL: 'C' }) // 'export LC_ALL=C; '
 */
export function envPrefix(env: Record<string, string> = {}): string {
  return Object.entries(env).map(([name, value]) => {
    if (!ENV_NAME.test(name)) throw new TypeError(`not a shell variable name: ${JSON.stringify(name)}`);
    return `export ${name}=${quotePosix(value)}; `;
  }).join('');
}

/**
 * `sudo -n` unless a password is known. With one, the remote shell reads the password line off
 * stdin first, so it can never reach the command: if sudo needs no password (NOPASSWD, cached)
 * it is dropped; otherwise it is handed to `sudo -S -p '' -k` (no prompt text in the output, no
 * pty, no reliance on cached credentials), followed by the caller's stdin. `printf` is a shell
 * builtin in dash and bash, so the password never appears in a process list.
 * @example wrapCommand('id -u', { sudo: true }).text // "sudo -n -- sh -c 'id -u'"
 */
export function wrapCommand(command: string, options: WrapOptions = {}): RemoteCommand {
  const become = wrapBecome(command, options);
  if (options.serverTimeoutMs === undefined) return become;
  return { ...become, text: withServerTimeout(become.text, options.serverTimeoutMs, options.timeoutShell) };
}

function wrapBecome(command: string, options: WrapOptions): RemoteCommand {
  const inner = envPrefix(options.env) + command;
  const stdin = options.stdin === undefined ? undefined : Buffer.from(options.stdin);
  if (!options.sudo) return { text: inner, stdin };
  const asUser = options.becomeUser === undefined ? '' : `-u ${quotePosix(options.becomeUser)} `;
  const target = `${asUser}-- sh -c ${quotePosix(inner)}`;
  if (options.becomePassword === undefined) return { text: `sudo -n ${target}`, stdin };
  if (/[\r\n]/.test(options.becomePassword)) throw new TypeError('a become password cannot contain a newline');
  const script = [
    'IFS= read -r RUNBOOK_BECOME_PASS || exit 1',
    `if sudo -n ${asUser}true 2>/dev/null; then unset RUNBOOK_BECOME_PASS; exec sudo -n ${target}; fi`,
    `{ printf '%s\\n' "$RUNBOOK_BECOME_PASS"; unset RUNBOOK_BECOME_PASS; exec cat; } | sudo -S -p '' -k ${target}`,
  ].join('\n');
  const passwordLine = Buffer.from(`${options.becomePassword}\n`);
  return { text: `sh -c ${quotePosix(script)}`, stdin: stdin ? Buffer.concat([passwordLine, stdin]) : passwordLine };
}

/**
 * Runs the command under `timeout(1)` when the server has it. The client closes the channel at
 * its own deadline, but OpenSSH refuses "signal" requests on root logins (no privilege separation
 * there), and closing a channel does not stop a process that never writes: this is what makes
 * a timed-out `sleep` actually end on the server. The command still runs in the login shell
 * (`$SHELL`, as sshd runs it), so a timeout never changes which shell interprets it; the shell
 * session passes `/bin/sh`, the shell its other commands run in.
 * @example withServerTimeout('sleep 9', 1450) // `if command -v timeout …; then exec timeout 1.5 "${SHELL:-/bin/sh}" -c 'sleep 9'; …`
 */
export function withServerTimeout(text: string, timeoutMs: number, shell = '"${SHELL:-/bin/sh}"'): string {
  const seconds = (Math.ceil(timeoutMs / 100) / 10).toFixed(1);
  const run = `${shell} -c ${quotePosix(text)}`;
  return `if command -v timeout >/dev/null 2>&1; then exec timeout ${seconds} ${run}; else exec ${run}; fi`;
}

/**
 * Where a file is written before it is renamed over the target: the same directory (so the
 * rename is atomic), hidden, and unique per write.
 * @example stagingPath('/boot/grub/menu.lst') // '/boot/grub/.menu.lst.runbook-3f9a…'
 */
export function stagingPath(path: string): string {
  const slash = path.lastIndexOf('/');
  return `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.runbook-${randomBytes(6).toString('hex')}`;
}

/**
 * Writes stdin to a file without sftp, atomically: into a staging file (`umask 077` keeps it
 * private until the chmod), then `mv -f` over the target; a failure removes the staging file.
 * @example catToFileCommand('/etc/motd', 0o644, '/etc/.motd.runbook-1a2b')
 */
export function catToFileCommand(path: string, mode: number, staging: string): string {
  const [file, temp] = [quotePosix(path), quotePosix(staging)];
  return `umask 077 && { cat > ${temp} && chmod ${mode.toString(8)} ${temp} && mv -f ${temp} ${file}; } || { rm -f ${temp}; exit 1; }`;
}

/** @example catFileCommand('/etc/hosts') // 'cat -- /etc/hosts' */
export function catFileCommand(path: string): string {
  return `cat -- ${quotePosix(path)}`;
}
