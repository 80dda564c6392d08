/**
 * Connection failures in words an operator acts on. Every one is an UnreachableError: the engine
 * reports the host unreachable, not failed.
 */
import { RunbookError, UnreachableError } from '../../errors.ts';

/** The server's host key was refused (unknown, changed or revoked): retrying cannot help. */
export class HostKeyError extends UnreachableError {
  override name = 'HostKeyError';
}

/** The server hung up before its banner, as sshd does to connections past MaxStartups: worth a retry. */
export class HandshakeDroppedError extends UnreachableError {
  override name = 'HandshakeDroppedError';
}

/** No offered credential was accepted; `tried` lists them (never a secret, only what kind and which file). */
export class AuthenticationError extends UnreachableError {
  override name = 'AuthenticationError';
  constructor(host: string, reason: string, readonly tried: readonly string[]) {
    super(host, reason);
  }
}

/** A put/get that reached the host but failed there (no such file, permission denied): one line for the user. */
export class TransferError extends RunbookError {
  override name = 'TransferError';
  constructor(readonly host: string, message: string) {
    super(`${host}: ${message}`);
  }
}

/** What went wrong while connecting to one hop, gathered by the handshake. */
export interface HandshakeFailure {
  /** `user@host:port`, or `… (via jump host …)` for hops behind a jump. */
  where: string;
  error: { message: string; code?: string; level?: string };
  timeoutMs: number;
  hostKeyRefusal?: string;
  /** Filled in as the handshake offers credentials. */
  tried: string[];
  /** Methods the server said it accepts, when it said. */
  serverMethods?: readonly string[];
}

/**
 * Maps a failed handshake to the error the user sees.
 * @example connectError('db1', { where: 'root@10.0.0.9:22', error: { message: 'x', code: 'ECONNREFUSED' }, timeoutMs: 15000, tried: [] })
 */
export function connectError(host: string, failure: HandshakeFailure): UnreachableError {
  if (failure.hostKeyRefusal) return new HostKeyError(host, failure.hostKeyRefusal);
  if (failure.error.level === 'client-authentication') {
    const tried = failure.tried.length > 0 ? failure.tried.join(', ') : 'nothing (no agent, no key file, no password)';
    const accepts = failure.serverMethods ? `; the server accepts: ${failure.serverMethods.join(', ')}` : '';
    return new AuthenticationError(host, `authentication failed for ${failure.where}; tried ${tried}${accepts}`, failure.tried);
  }
  if (isDroppedBeforeBanner(failure.error)) {
    return new HandshakeDroppedError(host, `${failure.where} closed the connection before the handshake (sshd's MaxStartups drops bursts of new connections)`);
  }
  return new UnreachableError(host, describeNetworkError(failure));
}

const isDroppedBeforeBanner = (error: HandshakeFailure['error']): boolean =>
  error.code === 'ECONNRESET' || /Connection lost before handshake/.test(error.message);

function describeNetworkError({ where, error, timeoutMs }: HandshakeFailure): string {
  switch (error.code) {
    case 'ECONNREFUSED': return `connection refused by ${where} (is sshd listening there?)`;
    case 'ENOTFOUND': case 'EAI_AGAIN': return `cannot resolve the host name of ${where}`;
    case 'EHOSTUNREACH': case 'ENETUNREACH': return `no route to ${where}`;
    case 'ETIMEDOUT': return `timed out connecting to ${where}`;
  }
  if (error.level === 'client-timeout' || error.code === 'RUNBOOK_TIMEOUT') return `timed out after ${timeoutMs} ms connecting to ${where}`;
  return `ssh to ${where} failed: ${error.message}`;
}
