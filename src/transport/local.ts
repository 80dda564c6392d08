import { readFile, writeFile, chmod } from 'node:fs/promises';
import type { ProcessPromise } from 'zx';
import { quotePosix } from '../shell/quote.ts';
import type { ExecOptions, ExecResult, Transport } from './types.ts';

/** zx takes template pieces; a finished command line goes in as one literal piece, unquoted. */
const asPieces = (text: string): TemplateStringsArray => Object.assign([text], { raw: [text] });

/**
 * Runs commands on the controller through zx (`ansible_connection=local`). Output is captured,
 * never echoed. A timeout sends SIGTERM to the command's process tree and SIGKILL after a grace.
 */
export class LocalTransport implements Transport {
  readonly kind = 'local' as const;
  constructor(readonly host: string, private readonly options: { killGraceMs?: number; becomeUser?: string } = {}) {}

  async connect(): Promise<void> {}

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const started = performance.now();
    // zx is loaded on the first local command: runs over SSH only never pay its start-up (~0.5 s).
    const { $ } = await import('zx');
    const shell = $({
      shell: '/bin/sh', prefix: '', postfix: '', quote: quotePosix,
      quiet: true, verbose: false, nothrow: true,
      input: options.stdin, env: { ...process.env, ...options.env }, signal: options.signal,
    });
    const asUser = this.options.becomeUser === undefined ? '' : `-u ${quotePosix(this.options.becomeUser)} `;
    const line = options.sudo ? `sudo -n ${asUser}-- sh -c ${quotePosix(command)}` : command;
    const child = shell(asPieces(line));
    let timedOut = false;
    const timers = this.armTimeout(child, options.timeoutMs, () => { timedOut = true; });
    const output = await child;
    timers.forEach(clearTimeout);
    return {
      stdout: output.stdout,
      stderr: output.stderr,
      code: output.exitCode,
      signal: output.signal ? output.signal.replace(/^SIG/, '') : null,
      durationMs: Math.round(performance.now() - started),
      timedOut,
    };
  }

  /** SIGTERM at the limit; a command that ignores it gets SIGKILL after the grace period. */
  private armTimeout(child: ProcessPromise, timeoutMs: number | undefined, onTimeout: () => void): NodeJS.Timeout[] {
    if (timeoutMs === undefined) return [];
    const kill = (signal: NodeJS.Signals) => child.kill(signal).catch(() => { /* already gone */ });
    const term = setTimeout(() => { onTimeout(); void kill('SIGTERM'); }, timeoutMs);
    const hard = setTimeout(() => void kill('SIGKILL'), timeoutMs + (this.options.killGraceMs ?? 2000));
    return [term, hard];
  }

  async put(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
    await writeFile(path, data, { mode });
    await chmod(path, mode);
  }

  async get(path: string): Promise<Buffer> {
    return readFile(path);
  }

  async reconnect(): Promise<void> {}
  async close(): Promise<void> {}
}
