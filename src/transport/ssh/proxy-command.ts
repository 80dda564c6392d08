/**
 * ProxyCommand: a local process whose stdin and stdout carry the SSH connection, run the way
 * OpenSSH runs it (`$SHELL -c "exec COMMAND"`, tokens already expanded). The command text is the
 * operator's own ssh config; what gets substituted into it (host and user names from the
 * inventory) is checked first, as OpenSSH checks names given on its command line, so an
 * inventory value can never add shell syntax. node:child_process rather than zx (local.ts): this
 * is a long-lived duplex byte stream, not a command whose output is collected.
 */
import { spawn } from 'node:child_process';
import { Duplex } from 'node:stream';

/** The values OpenSSH substitutes into ProxyCommand. */
export interface ProxyTokens {
  /** %h: the HostName. */
  host: string;
  /** %p */
  port: number;
  /** %r: the remote user. */
  user: string;
  /** %n: the name as typed (inventory address or jump host). */
  alias: string;
}

/**
 * OpenSSH's valid_hostname (ssh.c): no shell metacharacters, spaces or control characters, no leading `-`.
 * @example isValidHostName('db;reboot') // false
 */
export const isValidHostName = (name: string): boolean => !name.startsWith('-') && !/['`"$\\;&<>|(){}\s\p{Cc}]/u.test(name);

/**
 * OpenSSH's valid_ruser: `$` and spaces are allowed (machine accounts, AD names), but no quote,
 * `;&<>|(){}` or control character, no `-` first or after a space, no `\` at the end.
 * @example isValidRemoteUser('ops') // true
 */
export const isValidRemoteUser = (name: string): boolean =>
  !name.startsWith('-') && !/['`";&<>|(){}\p{Cc}]/u.test(name) && !/\s-/.test(name) && !name.endsWith('\\');

/**
 * The ProxyCommand with %h %p %r %n %% expanded; an unknown token or a name with shell syntax is refused.
 * @example proxyCommandLine('nc %h %p', { host: '10.0.0.9', port: 22, user: 'ops', alias: 'db' }, fail) // 'nc 10.0.0.9 22'
 */
export function proxyCommandLine(command: string, tokens: ProxyTokens, refuse: (message: string) => Error): string {
  for (const [what, name] of [['host name', tokens.host], ['host name', tokens.alias]] as const) {
    if (!isValidHostName(name)) throw refuse(`${what} ${JSON.stringify(name)} contains characters a shell would interpret; ssh refuses it too`);
  }
  if (!isValidRemoteUser(tokens.user)) throw refuse(`user ${JSON.stringify(tokens.user)} contains characters a shell would interpret; ssh refuses it too`);
  const values: Record<string, string> = { '%': '%', h: tokens.host, p: String(tokens.port), r: tokens.user, n: tokens.alias };
  return command.replace(/%(.?)/g, (whole, letter: string) => {
    const value = values[letter];
    if (value === undefined) throw refuse(`unknown token ${whole} (runbook expands %h %p %r %n %%)`);
    return value;
  });
}

/** A running proxy command as ssh2's `sock`, and what it said on stderr (for the error message). */
export interface ProxyProcess {
  sock: Duplex;
  /** The last 2 kB of stderr and the exit status, once it ended. */
  describe(): string;
  /** Resolves when the process has exited (its stderr read), or after `ms`, then stops it if it still runs. */
  ended(ms: number): Promise<void>;
}

/**
 * Starts the proxy command; ending the stream kills it.
 * @example const proxy = openProxyCommand('nc 10.0.0.9 22'); client.connect({ sock: proxy.sock, … })
 */
export function openProxyCommand(line: string): ProxyProcess {
  const child = spawn(process.env.SHELL || '/bin/sh', ['-c', `exec ${line}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let exit = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString('utf8')).slice(-2048); });
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => { markClosed = resolve; });
  child.on('exit', (code, signal) => { exit = signal ? `killed by ${signal}` : `exited with ${code}`; });
  child.on('close', () => markClosed()); // after exit and after stderr is fully read
  child.on('error', (error) => { exit = error.message; markClosed(); });
  const sock = Duplex.from({ readable: child.stdout, writable: child.stdin });
  const stop = () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM'); };
  sock.on('close', stop).on('error', stop);
  return {
    sock,
    describe: () => `proxy command ${JSON.stringify(line)}${exit ? ` ${exit}` : ''}${stderr.trim() ? `: ${stderr.trim()}` : ''}`,
    ended: (ms) => {
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); });
      return Promise.race([closed, waited]).finally(() => { clearTimeout(timer); stop(); });
    },
  };
}
