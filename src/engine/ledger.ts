import type { Command } from '../shell/command.ts';
import type { ShellResult } from '../shell/shell.ts';
import type { CommandEndEvent, RunEventInput } from './events.ts';

/** How much output a command-end keeps for a resumed apply (beyond it the output is not kept). */
export const LEDGER_OUTPUT_LIMIT = 16 * 1024;

/** A command the interrupted attempt journaled as ended: what a resume must not send again. */
export type EndedCommand = Pick<CommandEndEvent, 'on' | 'command' | 'code' | 'signal' | 'timedOut' | 'stdout' | 'stderr' | 'outputKept'>;

/** The step attempt a resume continues: the one in flight when the run died. */
export interface InFlightAttempt {
  step: string;
  attempt: number;
  /** The apply try the commands below belong to (the latest one that sent a command). */
  applyTry: number;
  ended: EndedCommand[];
}

export interface LedgerScope {
  host: string;
  step: string;
  attempt: number;
  /** Whether the step's own apply function reads what its commands print (a commands list does not). */
  readsOutput: boolean;
  sensitive: boolean;
  /** Resolves once the event is durable (the journal has fsync'd it). */
  emitDurable(event: RunEventInput): Promise<void>;
  /** Queues the event (written in order, not waited for). */
  post(event: RunEventInput): void;
  log(message: string): void;
}

/**
 * The per-command record of one step attempt: every command sent while apply runs is journaled as
 * `command-start` before it goes out and `command-end` (durable) before the next one may go, so "a
 * completed action is never repeated" holds per command, not just per step. On the resume of an
 * attempt in flight, a command identical (same host, same displayed text) to one that attempt
 * journaled as ended is not sent again: its journaled result stands in, each ended command once,
 * in the order they ended. Checks are not recorded: they only read, and a resume must read afresh.
 */
export class CommandLedger {
  /** Set while apply runs: only then are commands recorded and matched. */
  applying = false;
  applyTry: number;
  #unreplayed: EndedCommand[];

  constructor(private readonly scope: LedgerScope, resumed?: InFlightAttempt) {
    const continues = resumed && resumed.step === scope.step && resumed.attempt === scope.attempt;
    this.#unreplayed = continues ? [...resumed.ended] : [];
    this.applyTry = continues ? Math.max(1, resumed.applyTry) : 1;
  }

  /** A later try of apply (after a failure, `retries`) runs live: its commands were meant to repeat. */
  nextTry(): void {
    this.applyTry++;
    this.#unreplayed = [];
  }

  /** The result the interrupted attempt got for this command, if it ended there; consumed once. */
  replay(command: Command, on: string): ShellResult | undefined {
    if (!this.applying) return undefined;
    const index = this.#unreplayed.findIndex((e) => e.on === on && e.command === command.display);
    if (index < 0) return undefined;
    const [ended] = this.#unreplayed.splice(index, 1);
    if (this.scope.readsOutput && !ended.outputKept) {
      throw new Error(`"${command.display}" on ${on} ended in the interrupted attempt but its output was not kept (sensitive step, or over ${LEDGER_OUTPUT_LIMIT} bytes): it is not sent again; finish this step by hand, then resume`);
    }
    this.scope.log(`not sent again: "${command.display}" on ${on} ended (exit ${ended.code ?? ended.signal}) in the interrupted attempt`);
    return {
      command, code: ended.code, signal: ended.signal, stdout: ended.stdout, stderr: ended.stderr,
      durationMs: 0, timedOut: ended.timedOut, ok: ended.code === 0,
    };
  }

  /**
   * Not waited for: a resume treats a command whose start it finds and one whose start was lost
   * alike (not confirmed: re-check, then send), so only the end must be durable before going on.
   */
  started(command: Command, on: string): void {
    if (!this.applying) return;
    const { host, step, attempt } = this.scope;
    this.scope.post({ kind: 'command-start', host, step, attempt, applyTry: this.applyTry, on, command: command.display });
  }

  async ended(command: Command, on: string, result: Pick<ShellResult, 'code' | 'signal' | 'timedOut'>, masked: { stdout: string; stderr: string }): Promise<void> {
    if (!this.applying) return;
    const { host, step, attempt, sensitive } = this.scope;
    const kept = !sensitive && masked.stdout.length + masked.stderr.length <= LEDGER_OUTPUT_LIMIT;
    await this.scope.emitDurable({
      kind: 'command-end', host, step, attempt, applyTry: this.applyTry, on, command: command.display,
      code: result.code, signal: result.signal, timedOut: result.timedOut,
      stdout: kept ? masked.stdout : '', stderr: kept ? masked.stderr : '', outputKept: kept,
    });
  }
}
