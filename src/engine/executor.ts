import { UnreachableError } from '../errors.ts';
import { maskSecrets, type Command } from '../shell/command.ts';
import type { Executor, RunOptions, ShellResult } from '../shell/shell.ts';
import type { Transport } from '../transport/types.ts';
import type { RunEventInput } from './events.ts';
import type { CommandLedger } from './ledger.ts';

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
}

/** What a step sent to hosts, one after another or not: each command (or frame) is a round trip. */
export interface RoundTrips { sent: number }

/**
 * Runs a built command on a transport and writes its transcript: command as displayed (secrets
 * masked), exit status, output masked and bounded; a sensitive step's output is not kept at all.
 */
export function createExecutor(scope: ExecutorScope): Executor {
  return async (command: Command, options: RunOptions): Promise<ShellResult> => {
    if (scope.signal.aborted) throw scope.signal.reason;
    const replayed = scope.ledger?.replay(command, scope.transport.host);
    if (replayed) return replayed;
    scope.ledger?.started(command, scope.transport.host);
    if (scope.roundTrips) scope.roundTrips.sent++;
    const result = await scope.transport.exec(command.text, {
      stdin: options.stdin,
      timeoutMs: options.timeoutMs,
      sudo: options.sudo ?? scope.become,
      signal: scope.signal,
    });
    const shellResult: ShellResult = { command, ...result, timedOut: result.timedOut ?? false, ok: result.code === 0 };
    const masked = { stdout: transcript(result.stdout, command, scope), stderr: transcript(result.stderr, command, scope) };
    scope.emit({
      kind: 'command', host: scope.host, step: scope.stepId, on: scope.transport.host,
      command: command.display, code: result.code, signal: result.signal,
      ...masked, durationMs: result.durationMs, timedOut: shellResult.timedOut,
    });
    await scope.ledger?.ended(command, scope.transport.host, shellResult, masked);
    if (scope.signal.aborted && !shellResult.ok) throw scope.signal.reason;
    return shellResult;
  };
}

function transcript(text: string, command: Command, scope: ExecutorScope): string {
  if (scope.sensitive) return text.length > 0 ? '<redacted: sensitive step>' : '';
  const masked = maskSecrets(maskSecrets(text, command.secrets), scope.runSecrets);
  return masked.length > TRANSCRIPT_LIMIT ? `${masked.slice(0, TRANSCRIPT_LIMIT)}\n… (${masked.length - TRANSCRIPT_LIMIT} more bytes not kept)` : masked;
}

export const isUnreachable = (error: unknown): error is UnreachableError => error instanceof UnreachableError;
