import type { Outputs } from '../runbook/check.ts';

/** What a step ended as. "would-change"/"may-change" exist only in dry-runs. */
export type StepStatus = 'ok' | 'changed' | 'would-change' | 'may-change' | 'failed' | 'skipped' | 'waiting' | 'unreachable';
/** What a host ended as, worst step first. */
export type HostStatus = 'ok' | 'changed' | 'failed' | 'unreachable' | 'waiting' | 'skipped' | 'interrupted';
export type RunStatus = 'ok' | 'failed' | 'unreachable' | 'waiting' | 'interrupted';

/**
 * The run as a typed stream of events, keyed by `kind`. Reporters print them; the journal stores
 * them (secrets already masked: nothing here ever holds a secret's text).
 */
export type RunEvent =
  | { kind: 'run-start'; time: string; runId: string; runbook: string; hosts: string[]; dryRun: boolean; resumed?: boolean }
  | { kind: 'host-start'; time: string; host: string }
  | { kind: 'step-start'; time: string; host: string; step: string; title: string; attempt: number; on?: string; resumed?: boolean }
  | CommandStartEvent
  | CommandEndEvent
  | { kind: 'command'; time: string; host: string; step: string; on: string; command: string; code: number | null; signal: string | null; stdout: string; stderr: string; durationMs: number; timedOut: boolean }
  | { kind: 'step-result'; time: string; host: string; step: string; title: string; status: StepStatus; reason: string; durationMs: number; commands?: string[]; outputs?: Outputs; error?: string }
  | { kind: 'confirmation'; time: string; host: string; step: string; by: string; note?: string; evidence?: Outputs }
  | { kind: 'log'; time: string; host: string; step?: string; message: string }
  | { kind: 'warning'; time: string; host?: string; message: string }
  | { kind: 'host-end'; time: string; host: string; status: HostStatus; durationMs: number }
  | { kind: 'run-end'; time: string; runId: string; status: RunStatus; exitCode: number; durationMs: number; hosts: Record<string, HostStatus> };

/**
 * A command an apply is about to send (journaled, in order, before it goes out). `attempt` is the
 * step's attempt on this host in this run (a resume of a step in flight continues its attempt);
 * `applyTry` counts the tries of apply within the attempt (`retries`).
 */
export interface CommandStartEvent { kind: 'command-start'; time: string; host: string; step: string; attempt: number; applyTry: number; on: string; command: string }

/**
 * A command an apply sent has ended: durable before the next command goes out, so a resume never
 * sends it again within the same attempt. `stdout`/`stderr` (masked) let a resumed apply function
 * see the answer it got the first time; `outputKept: false` when they could not be kept (sensitive
 * step, or more than the journal keeps).
 */
export interface CommandEndEvent {
  kind: 'command-end'; time: string; host: string; step: string; attempt: number; applyTry: number; on: string; command: string;
  code: number | null; signal: string | null; timedOut: boolean; stdout: string; stderr: string; outputKept: boolean;
}

export type RunEventKind = RunEvent['kind'];
type DistributiveOmit<T, K extends keyof any> = T extends unknown ? Omit<T, K> : never;
/** An event before the engine stamps it with the time. */
export type RunEventInput = DistributiveOmit<RunEvent, 'time'>;

/** Anything that consumes events; `emit` resolves once the event is durable (journal) or shown. */
export interface EventSink {
  emit(event: RunEvent): void | Promise<void>;
  close?(): void | Promise<void>;
}
