import { UnreachableError } from '../errors.ts';
import { maskSecrets, type Command } from '../shell/command.ts';
import { frameNonce, frameScript, splitFrame } from '../shell/frame.ts';
import type { Executor, RunOptions, ShellResult } from '../shell/shell.ts';
import type { ExecResult, Transport } from '../transport/types.ts';
import type { RunEventInput } from './events.ts';
import type { FrameAnswers } from './frame.ts';
import type { CommandLedger } from './ledger.ts';
import type { AheadRead, ReadAhead } from './read-ahead.ts';

/** How much of a command's output the transcript keeps (the step still sees all of it). */
const TRANSCRIPT_LIMIT = 64 * 1024;

export interface ExecutorScope {
  transport: Transport;
  /** The host the step is for; the command may run `on` another. */
  host: string;
  stepId: string;
  become: boolean;
  sensitive: boolean;
  /** Secret texts of the run (params, vars) masked in every transcript. */
  runSecrets: readonly string[];
  signal: AbortSignal;
  emit(event: RunEventInput): void;
  /** The step attempt's per-command record (apply only): skips what an interrupted attempt finished. */
  ledger?: CommandLedger;
  /** Counts what this step sends to a host (one round trip each), for the step's result. */
  roundTrips?: RoundTrips;
  /** Reads sent ahead to this transport's host (absent: none are sent or taken, e.g. Windows). */
  readAhead?: ReadAhead;
  /** The reads expected after the last command of an apply, to send in its frame. */
  expectedReads?: () => Promise<AheadRead[]>;
  /** Where the reads this step sends are noted (the re-check will ask them again). */
  reads?: AheadRead[];
  /** The answers a frame of several steps got for this step (src/engine/frame.ts): taken, not sent. */
  frame?: FrameAnswers;
}

/**
 * The round trips a step waited for: a command (or a frame) sent while none of the step's other
 * commands is on its way counts one; commands sent side by side share it, and an answer read ahead
 * costs none.
 */
export interface RoundTrips { sent: number; inFlight?: number }

/**
 * Runs a built command on a transport and writes its transcript: command as displayed (secrets
 * masked), exit status, output masked and bounded; a sensitive step's output is not kept at all.
 */
export function createExecutor(scope: ExecutorScope): Executor {
  return async (command: Command, options: RunOptions): Promise<ShellResult> => {
    if (scope.signal.aborted) throw scope.signal.reason;
    const replayed = scope.ledger?.replay(command, scope.transport.host);
    if (replayed) return replayed;
    const sudo = options.sudo ?? scope.become;
    // Ran in the frame that carried this step: journaled now as if sent now; it cost no round trip of its own.
    if (scope.frame?.on === scope.transport.host) {
      const framed = scope.frame.take(command, sudo);
      scope.ledger?.started(command, scope.transport.host);
      return finish(command, framed, scope);
    }
    const read = isPlainRead(options, scope) ? { command, on: scope.transport.host, sudo } : undefined;
    if (read) scope.reads?.push(read);
    const ahead = read && scope.readAhead?.take(command.text, sudo);
    // Answered in the round trip of the command before: it cost this step no time of its own.
    if (ahead) return finish(command, { ...ahead, signal: null, durationMs: 0 }, scope);
    const sentAt = scope.readAhead?.sending();
    scope.ledger?.started(command, scope.transport.host);
    const trips = scope.roundTrips;
    if (trips && !trips.inFlight) trips.sent++;
    if (trips) trips.inFlight = (trips.inFlight ?? 0) + 1;
    try {
      const result = await send(command, options, sudo, scope, sentAt);
      const shellResult = await finish(command, result, scope);
      if (scope.signal.aborted && !shellResult.ok) throw scope.signal.reason;
      return shellResult;
    } finally {
      if (trips) trips.inFlight!--;
    }
  };
}

/** A fact read that may be sent ahead or answered from one: no stdin, no time limit, not part of an apply. */
const isPlainRead = (options: RunOptions, scope: ExecutorScope): boolean =>
  options.read === true && options.stdin === undefined && options.timeoutMs === undefined && !scope.ledger?.applying;

/** Sends the command alone, or, as the last of an apply, in a frame with the reads expected next. */
async function send(command: Command, options: RunOptions, sudo: boolean, scope: ExecutorScope, sentAt?: number): Promise<ExecResult> {
  const exec = { stdin: options.stdin, timeoutMs: options.timeoutMs, sudo, signal: scope.signal };
  const framed = options.readAhead && scope.ledger?.applying && scope.readAhead && options.timeoutMs === undefined;
  const reads = framed ? (await scope.expectedReads?.() ?? []).filter((r) => r.on === scope.transport.host && r.sudo === sudo) : [];
  if (reads.length === 0 && isPlainRead(options, scope) && scope.readAhead) {
    return scope.readAhead.batch.submit(command.text, sudo, (text, asRoot) => scope.transport.exec(text, { ...exec, sudo: asRoot }));
  }
  if (reads.length === 0) return scope.transport.exec(command.text, exec);
  const nonce = frameNonce();
  const arrived = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const onOutput = (stream: 'stdout' | 'stderr', chunk: Buffer) => { arrived[stream].push(chunk); };
  let result: ExecResult;
  try {
    result = await scope.transport.exec(frameScript(nonce, command.text, reads.map((r) => r.command.text)), { ...exec, onOutput });
  } catch (error) {
    // The connection went while the reads ran (the command rebooted the host?): the command's end
    // had come, and is what it did.
    const [own] = splitFrame(nonce, 1, Buffer.concat(arrived.stdout).toString('utf8'), Buffer.concat(arrived.stderr).toString('utf8'));
    if (!own) throw error;
    return { stdout: own.stdout, stderr: own.stderr, code: own.code, signal: null, durationMs: 0, timedOut: false };
  }
  const [own, ...answers] = splitFrame(nonce, reads.length + 1, result.stdout, result.stderr);
  // The command never reported its end (stopped, lost): what came back is all there is to say.
  if (!own) return result;
  scope.readAhead!.keep(reads, answers, sentAt);
  return { stdout: own.stdout, stderr: own.stderr, code: own.code, signal: null, durationMs: result.durationMs, timedOut: false };
}

/** The command's transcript event and, during an apply, its durable end in the ledger. */
async function finish(command: Command, result: ExecResult, scope: ExecutorScope): Promise<ShellResult> {
  const shellResult: ShellResult = { command, ...result, timedOut: result.timedOut ?? false, ok: result.code === 0 };
  const masked = { stdout: transcript(result.stdout, command, scope), stderr: transcript(result.stderr, command, scope) };
  scope.emit({
    kind: 'command', host: scope.host, step: scope.stepId, on: scope.transport.host,
    command: command.display, code: result.code, signal: result.signal,
    ...masked, durationMs: result.durationMs, timedOut: shellResult.timedOut,
  });
  await scope.ledger?.ended(command, scope.transport.host, shellResult, masked);
  return shellResult;
}

function transcript(text: string, command: Command, scope: ExecutorScope): string {
  if (scope.sensitive) return text.length > 0 ? '<redacted: sensitive step>' : '';
  const masked = maskSecrets(maskSecrets(text, command.secrets), scope.runSecrets);
  return masked.length > TRANSCRIPT_LIMIT ? `${masked.slice(0, TRANSCRIPT_LIMIT)}\n… (${masked.length - TRANSCRIPT_LIMIT} more bytes not kept)` : masked;
}

export const isUnreachable = (error: unknown): error is UnreachableError => error instanceof UnreachableError;
