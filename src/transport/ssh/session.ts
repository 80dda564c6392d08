/**
 * A long-lived `/bin/sh` per SSH connection, fed one command at a time on its stdin: a command
 * then costs one write and a fork on the host instead of a new SSH channel (open, exec request,
 * sshd's session set-up, a fresh login shell, close: several round trips and the bulk of the
 * controller's socket work in the fan-out benchmark, bench/results/ANALYSIS.md).
 *
 * Each command is `eval`ed in a subshell reading /dev/null, so `exit`, `cd`, `set -e` or a
 * variable never leak into the next command, and a command cannot swallow the protocol from
 * stdin. After it, the shell prints a marker with a per-command random nonce and `$?` on stdout,
 * and the nonce alone on stderr; the output before the markers is the command's. A command never
 * sees its nonce, so its output cannot forge an end.
 *
 * Commands run under `/bin/sh`, as pyinfra and Ansible's shell module run theirs, not under the
 * login shell (bash's fork costs more, and it reads a script from a pipe one byte per syscall):
 * command text here is POSIX (src/shell quotes for POSIX). Also unlike an exec channel: an exit
 * status only (a command killed by a signal shows as 128+N), `$$` is the session's shell, and
 * output a command leaves running in the background after its end would be read as the next
 * command's. A host without a Unix shell (Windows) never says it is ready, and gets exec
 * channels (see {@link openShellSession}).
 */
import { randomBytes } from 'node:crypto';
import type { ClientChannel } from 'ssh2';
import { quotePosix } from '../../shell/quote.ts';
import { notStarted, stopChannel, type ChannelLimits, type RawResult } from './channel.ts';

/**
 * The exec request that starts a session: `/bin/sh` says ready (with the nonce, so a banner or an
 * error message cannot pass for it), then replaces itself with a `/bin/sh` reading commands from
 * stdin. Written so any Unix login shell runs it (sh, bash, csh, fish all know `exec`); under
 * cmd.exe or PowerShell it is an error, which is the point: no ready line, so exec channels.
 * @example link.target.exec(sessionStartCommand(nonce), …) // then openShellSession(channel, nonce, …)
 */
export function sessionStartCommand(nonce: string): string {
  return `exec /bin/sh -c 'echo ${nonce}; exec /bin/sh'`;
}

/**
 * One command as the session's shell reads it: the text is quoted whole and `eval`ed in a
 * subshell, so a syntax error in it fails that command alone, never the session's parser. The
 * text is what an exec channel would run (wrapCommand: env, sudo, `timeout(1)`), so both paths
 * bound a command on the host the same way.
 * @example commandFrame('ab12', 'uptime') // "( eval 'uptime' ) </dev/null; printf '%s %s\\n' ab12 \"$?\"; printf '%s\\n' ab12 >&2\n"
 */
export function commandFrame(nonce: string, text: string): string {
  return `( eval ${quotePosix(text)} ) </dev/null; printf '%s %s\\n' ${nonce} "$?"; printf '%s\\n' ${nonce} >&2\n`;
}

/**
 * Finds a command's end in the two streams: on stdout, the nonce, a space, the status and a
 * newline; on stderr, the nonce and a newline. Searches only the bytes that arrived since the
 * last look (plus a marker's length) and joins the chunks once, so megabytes of output stay linear.
 */
export class FrameReader {
  readonly #stdoutMark: Buffer;
  readonly #stderrMark: Buffer;
  readonly #out = new Stream();
  readonly #err = new Stream();
  code: number | null = null;

  constructor(nonce: string) {
    this.#stdoutMark = Buffer.from(`${nonce} `);
    this.#stderrMark = Buffer.from(`${nonce}\n`);
  }

  get done(): boolean { return this.#out.end !== undefined && this.#err.end !== undefined; }

  stdout(chunk: Buffer): void {
    if (this.#out.end !== undefined) return;
    const at = this.#out.push(chunk, this.#stdoutMark);
    if (at === undefined) return;
    // The status line is short: once its newline is in, the command's output ends at `at`.
    const rest = this.#out.bytes().subarray(at + this.#stdoutMark.length);
    const newline = rest.indexOf(0x0a);
    if (newline < 0) { this.#out.pending = at; return; }
    this.#out.end = at;
    this.code = Number(rest.subarray(0, newline).toString('ascii'));
  }

  stderr(chunk: Buffer): void {
    if (this.#err.end !== undefined) return;
    const at = this.#err.push(chunk, this.#stderrMark);
    if (at !== undefined) this.#err.end = at;
  }

  /** The command's own output, without the markers. */
  result(): { stdout: Buffer; stderr: Buffer } {
    return { stdout: this.#out.bytes().subarray(0, this.#out.end), stderr: this.#err.bytes().subarray(0, this.#err.end) };
  }
}

/** One stream's bytes so far, searched for a marker in each new chunk plus the few bytes before it. */
class Stream {
  #chunks: Buffer[] = [];
  #length = 0;
  /** The last bytes seen, one short of a marker: a marker cut between two chunks is found whole. */
  #tail = Buffer.alloc(0);
  /** Where a stdout marker was found whose status line is still arriving. */
  pending?: number;
  end?: number;

  /** Adds a chunk; returns where the marker starts (counted from the stream's first byte), once seen. */
  push(chunk: Buffer, mark: Buffer): number | undefined {
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    if (this.pending !== undefined) return this.pending;
    const window = Buffer.concat([this.#tail, chunk]);
    const at = window.indexOf(mark);
    const windowStart = this.#length - window.length;
    this.#tail = Buffer.from(window.subarray(Math.max(0, window.length - mark.length + 1)));
    return at < 0 ? undefined : windowStart + at;
  }

  /** Every byte so far, joined once per call (only at a command's end, or while its status line arrives). */
  bytes(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks, this.#length)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }
}

/** A channel's limits, plus when the host's own timeout(1) fires (so the shell waits for it). */
export interface SessionLimits extends ChannelLimits {
  serverTimeoutMs?: number;
}

/**
 * A shell on one exec channel that runs commands one at a time. A command that times out on the
 * host (timeout(1) answers with the marker) leaves the session usable; one that must be stopped
 * from here, or is aborted, ends the session: `alive` turns false and the next command gets a new one.
 */
export class ShellSession {
  #busy = false;
  #alive = true;
  /** Ends the running command's wait when the channel closes under it. */
  #current?: () => void;
  readonly #closed: Promise<void>;

  constructor(private readonly channel: ClientChannel, private readonly release: () => void) {
    this.#closed = new Promise((resolve) => channel.on('close', () => {
      this.#alive = false;
      this.release();
      this.#current?.();
      resolve();
    }));
    channel.on('error', () => { /* a write after the far side closed; the close event follows */ });
  }

  get alive(): boolean { return this.#alive; }
  /** True while a command runs; a second command meanwhile takes an exec channel instead. */
  get busy(): boolean { return this.#busy; }

  /** Runs one command; resolves like an exec channel would (code null when it never reported one). */
  run(text: string, limits: SessionLimits): Promise<RawResult> {
    if (this.#busy || !this.#alive) throw new Error('shell session is busy or closed');
    // Aborted before it started: nothing to stop, and the shell stays good for the next command.
    if (limits.signal?.aborted) return Promise.resolve(notStarted());
    this.#busy = true;
    const nonce = randomBytes(12).toString('hex');
    const reader = new FrameReader(nonce);
    return new Promise<RawResult>((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      let timedOut = false;
      const onOut = (chunk: Buffer) => { limits.onOutput?.('stdout', chunk); reader.stdout(chunk); if (reader.done) finish(); };
      const onErr = (chunk: Buffer) => { limits.onOutput?.('stderr', chunk); reader.stderr(chunk); if (reader.done) finish(); };
      const finish = () => {
        timers.forEach(clearTimeout);
        this.channel.off('data', onOut);
        this.channel.stderr.off('data', onErr);
        limits.signal?.removeEventListener('abort', stop);
        this.#current = undefined;
        this.#busy = false;
        const { stdout, stderr } = reader.result();
        if (!reader.done) this.#alive = false;
        if (!this.#alive) this.channel.close(); // a stopped shell must not keep its channel slot
        if (!reader.done) {
          const lost = timedOut ? undefined : limits.lost();
          if (lost) { reject(lost); return; }
        }
        // A timed-out command's status is whatever stopping it produced (timeout(1) exits 124): not its own.
        resolve({ stdout, stderr, code: timedOut || !reader.done ? null : reader.code, signal: null, timedOut });
      };
      const stop = () => {
        this.#alive = false; // whatever happens next, this shell is not trusted with another command
        stopChannel(this.channel, limits.killGraceMs, timers, finish);
      };
      this.#current = finish;
      this.channel.on('data', onOut);
      this.channel.stderr.on('data', onErr);
      if (limits.timeoutMs !== undefined) {
        timers.push(setTimeout(() => {
          timedOut = true;
          // The host's timeout(1) fires a little later and ends the command with a marker; only
          // if that never comes is the whole shell stopped from here.
          const margin = (limits.serverTimeoutMs ?? limits.timeoutMs!) - limits.timeoutMs!;
          timers.push(setTimeout(stop, margin + limits.killGraceMs));
        }, limits.timeoutMs));
      }
      limits.signal?.addEventListener('abort', stop, { once: true });
      this.channel.write(commandFrame(nonce, text));
    });
  }

  /** Ends the shell (EOF on its stdin, then the channel); resolves once the channel closed. */
  async close(): Promise<void> {
    if (this.#alive) {
      this.#alive = false;
      this.channel.end();
      this.channel.close();
    }
    await this.#closed;
  }
}

/**
 * Starts a session on an open exec channel: resolves once the shell said ready, or null when it
 * did not within `readyTimeoutMs` or the channel closed first (no Unix shell: cmd.exe, PowerShell).
 */
export function openShellSession(
  channel: ClientChannel, nonce: string, readyTimeoutMs: number, release: () => void,
): Promise<ShellSession | null> {
  return new Promise((resolve) => {
    const ready = Buffer.from(`${nonce}\n`);
    let seen = Buffer.alloc(0);
    const give = (session: ShellSession | null) => {
      clearTimeout(timer);
      channel.off('data', onData);
      channel.off('close', onClose);
      if (!session) { channel.close(); release(); }
      resolve(session);
    };
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const at = seen.indexOf(ready);
      if (at < 0) return;
      const session = new ShellSession(channel, release);
      give(session);
      // Bytes after the ready line would be output nobody asked for (a login script's echo); dropped.
    };
    const onClose = () => give(null);
    const timer = setTimeout(() => give(null), readyTimeoutMs);
    channel.on('data', onData);
    channel.on('close', onClose);
    // Keeps stderr flowing between commands: a login script's chatter, or a stray write, must not stall the channel.
    channel.stderr.on('data', ignore);
  });
}

const ignore = (): void => {};
