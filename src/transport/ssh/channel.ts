/**
 * One SSH exec channel's life as the transport sees it: output gathered until the channel closes,
 * the command stopped at its timeout or on abort. Shared by exec channels (transport.ts) and the
 * long-lived shell session (session.ts).
 */
import type { ClientChannel } from 'ssh2';

/** What one channel produced, as bytes. */
export interface RawResult {
  stdout: Buffer;
  stderr: Buffer;
  code: number | null;
  signal: string | null;
  timedOut: boolean;
}

/** How a running command is bounded, and what its channel closing under it means. */
export interface ChannelLimits {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** After TERM, how long before KILL and closing the channel. */
  killGraceMs: number;
  /** Called when the channel closes without a status: an UnreachableError if the connection is gone. */
  lost: () => Error | undefined;
  /** Sees each chunk of output as it arrives (ExecOptions.onOutput). */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
}

/**
 * Gathers a channel's output until it closes; stops the command at the timeout or on abort.
 * A channel that closes without an exit status or signal reports `code: null` ("unknown").
 * Exported for tests that drive it with a fake channel; not part of the public API.
 * @internal
 * @example await collect(channel, undefined, { killGraceMs: 2000, lost: () => undefined })
 */
export function collect(
  channel: ClientChannel, stdin: Buffer | undefined,
  limits: ChannelLimits,
): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const result = { code: null as number | null, signal: null as string | null, timedOut: false };
    const timers: NodeJS.Timeout[] = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      limits.signal?.removeEventListener('abort', abort);
      const lost = result.code === null && result.signal === null && !result.timedOut ? limits.lost() : undefined;
      if (lost) reject(lost);
      // A timed-out command's status is whatever killing it produced (timeout(1) exits 124): not its own.
      else resolve({ stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), ...result, ...(result.timedOut && { code: null }) });
    };
    const stop = () => stopChannel(channel, limits.killGraceMs, timers, finish);
    const abort = () => stop();
    channel.on('data', (chunk: Buffer) => { stdout.push(chunk); limits.onOutput?.('stdout', chunk); });
    channel.stderr.on('data', (chunk: Buffer) => { stderr.push(chunk); limits.onOutput?.('stderr', chunk); });
    channel.on('exit', (code: number | null, signal?: string) => {
      if (typeof code === 'number') result.code = code;
      else if (signal) result.signal = signal.replace(/^SIG/, '');
    });
    channel.on('error', () => { /* a write after the far side closed; the close event follows */ });
    channel.on('close', finish);
    if (limits.timeoutMs !== undefined) timers.push(setTimeout(() => { result.timedOut = true; stop(); }, limits.timeoutMs));
    if (limits.signal?.aborted) stop();
    else limits.signal?.addEventListener('abort', abort, { once: true });
    channel.end(stdin);
  });
}

/** What a command that never started produced: nothing, and no status. */
export const notStarted = (): RawResult => ({ stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), code: null, signal: null, timedOut: false });

/**
 * Stops what runs on a channel: TERM, then after `killGraceMs` KILL and a close, then `finish`
 * a second later if the server never confirms the close. Timers go into `timers` for the caller
 * to clear when the command ends on its own first.
 */
export function stopChannel(channel: ClientChannel, killGraceMs: number, timers: NodeJS.Timeout[], finish: () => void): void {
  trySignal(channel, 'TERM');
  timers.push(setTimeout(() => {
    trySignal(channel, 'KILL');
    channel.close();
    timers.push(setTimeout(finish, 1000));
  }, killGraceMs));
}

/** The parts of an ssh2 channel that Channel.signal() guards too tightly (see trySignal). */
interface ChannelInternals {
  outgoing: { id: number; state: string };
  _client: { _protocol: { signal(id: number, name: string): void } };
}

/**
 * Sends a "signal" channel request (RFC 4254 6.9); OpenSSH killpg()s the session's processes.
 * ssh2's Channel.signal() does nothing once our stdin is closed (it checks `writable`), yet the
 * RFC allows signals until the channel closes, and every exec'd command here has its stdin closed.
 */
function trySignal(channel: ClientChannel, name: string): void {
  const internals = channel as unknown as ChannelInternals;
  if (internals.outgoing.state !== 'open' && internals.outgoing.state !== 'eof') return;
  try {
    internals._client._protocol.signal(internals.outgoing.id, name);
  } catch {
    // the connection is already gone; the close event follows
  }
}
