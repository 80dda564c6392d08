import { z } from 'zod';
import type { Json, Outputs } from '../runbook/check.ts';

/**
 * What a step ended as. "would-change"/"may-change" exist only in dry-runs; "stale" only when a
 * saved plan is applied and the step's check no longer answers what the plan recorded.
 */
export type StepStatus = 'ok' | 'changed' | 'would-change' | 'may-change' | 'failed' | 'skipped' | 'waiting' | 'unreachable' | 'stale';
/** What a host ended as, worst step first. */
export type HostStatus = 'ok' | 'changed' | 'failed' | 'unreachable' | 'waiting' | 'skipped' | 'interrupted' | 'stale';
export type RunStatus = 'ok' | 'failed' | 'unreachable' | 'waiting' | 'interrupted' | 'stale';

/** The saved plan a run applies: its integrity hash and the file it was read from. */
export interface PlanRef { sha256: string; file: string }

/**
 * The run as a typed stream of events, keyed by `kind`. Reporters print them; the journal stores
 * them (secrets already masked: nothing here ever holds a secret's text).
 */
export type RunEvent =
  | { kind: 'run-start'; time: string; runId: string; runbook: string; hosts: string[]; dryRun: boolean; resumed?: boolean; plan?: PlanRef; windowEnd?: string }
  | { kind: 'host-start'; time: string; host: string }
  | StepStartEvent
  | CommandStartEvent
  | CommandEndEvent
  | { kind: 'command'; time: string; host: string; step: string; on: string; command: string; code: number | null; signal: string | null; stdout: string; stderr: string; durationMs: number; timedOut: boolean }
  | StepResultEvent
  | { kind: 'confirmation'; time: string; host: string; step: string; by: string; note?: string; evidence?: Outputs }
  | { kind: 'log'; time: string; host: string; step?: string; message: string }
  | { kind: 'warning'; time: string; host?: string; message: string }
  | { kind: 'host-end'; time: string; host: string; status: HostStatus; durationMs: number }
  | { kind: 'run-end'; time: string; runId: string; status: RunStatus; exitCode: number; durationMs: number; hosts: Record<string, HostStatus> };

/**
 * A step starts on a host. `framedWith`: the steps sent to the host in the same script after this
 * one (src/engine/frame.ts); their starts are journaled when the script returns, so until then this
 * start is the record that they may have run.
 */
export interface StepStartEvent {
  kind: 'step-start'; time: string; host: string; step: string; title: string; attempt: number; on?: string; resumed?: boolean; framedWith?: string[];
}

/**
 * How a step ended on a host. `roundTrips`: the round trips the step waited for (commands or frames
 * sent while none of its others was on its way); absent in journals written before it was counted.
 */
export interface StepResultEvent {
  kind: 'step-result'; time: string; host: string; step: string; title: string; status: StepStatus; reason: string; durationMs: number;
  roundTrips?: number; commands?: string[]; outputs?: Outputs; error?: string; diff?: string;
}

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

/*
 * The same events as zod schemas: `--json` consumers get a published JSON Schema generated from
 * them (docs/events.schema.json), and tests parse real output with them. The hand-written types
 * above stay the source the engine reads; the assertion at the end fails to compile when the two
 * drift apart (a new kind or field added to one and not the other).
 */
const jsonValue: z.ZodType<Json> = z.lazy(() => z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)]));
const outputs = z.record(z.string(), jsonValue);
const time = z.string().describe('ISO 8601, UTC');
export const stepStatusSchema = z.enum(['ok', 'changed', 'would-change', 'may-change', 'failed', 'skipped', 'waiting', 'unreachable', 'stale']);
export const hostStatusSchema = z.enum(['ok', 'changed', 'failed', 'unreachable', 'waiting', 'skipped', 'interrupted', 'stale']);
export const runStatusSchema = z.enum(['ok', 'failed', 'unreachable', 'waiting', 'interrupted', 'stale']);
const planRef = z.object({ sha256: z.string().describe('the plan\'s integrity hash'), file: z.string() });

/** Each kind of event by its `kind`, in the order a run emits them. */
export const runEventSchemas = {
  'run-start': z.object({ kind: z.literal('run-start'), time, runId: z.string(), runbook: z.string(), hosts: z.array(z.string()), dryRun: z.boolean(), resumed: z.boolean().optional(),
    plan: planRef.optional(), windowEnd: time.optional() }),
  'host-start': z.object({ kind: z.literal('host-start'), time, host: z.string() }),
  'step-start': z.object({
    kind: z.literal('step-start'), time, host: z.string(), step: z.string(), title: z.string(), attempt: z.number().int(), on: z.string().optional(), resumed: z.boolean().optional(),
    framedWith: z.array(z.string()).optional().describe('the steps sent to the host in the same script after this one; their starts follow when it returns'),
  }),
  'command-start': z.object({
    kind: z.literal('command-start'), time, host: z.string(), step: z.string(), attempt: z.number().int(), applyTry: z.number().int(), on: z.string(), command: z.string(),
  }),
  'command-end': z.object({
    kind: z.literal('command-end'), time, host: z.string(), step: z.string(), attempt: z.number().int(), applyTry: z.number().int(), on: z.string(), command: z.string(),
    code: z.number().int().nullable(), signal: z.string().nullable(), timedOut: z.boolean(), stdout: z.string(), stderr: z.string(), outputKept: z.boolean(),
  }),
  command: z.object({
    kind: z.literal('command'), time, host: z.string(), step: z.string(), on: z.string(), command: z.string(),
    code: z.number().int().nullable(), signal: z.string().nullable(), stdout: z.string(), stderr: z.string(), durationMs: z.number(), timedOut: z.boolean(),
  }),
  'step-result': z.object({
    kind: z.literal('step-result'), time, host: z.string(), step: z.string(), title: z.string(), status: stepStatusSchema, reason: z.string(),
    durationMs: z.number(), roundTrips: z.number().int().optional().describe('round trips the step waited for: commands or frames sent while none of its others was on its way'),
    commands: z.array(z.string()).optional(), outputs: outputs.optional(), error: z.string().optional(),
    diff: z.string().optional().describe('unified diff of the content the step changes (none for a sensitive step)'),
  }),
  confirmation: z.object({ kind: z.literal('confirmation'), time, host: z.string(), step: z.string(), by: z.string(), note: z.string().optional(), evidence: outputs.optional() }),
  log: z.object({ kind: z.literal('log'), time, host: z.string(), step: z.string().optional(), message: z.string() }),
  warning: z.object({ kind: z.literal('warning'), time, host: z.string().optional(), message: z.string() }),
  'host-end': z.object({ kind: z.literal('host-end'), time, host: z.string(), status: hostStatusSchema, durationMs: z.number() }),
  'run-end': z.object({ kind: z.literal('run-end'), time, runId: z.string(), status: runStatusSchema, exitCode: z.number().int(), durationMs: z.number(), hosts: z.record(z.string(), hostStatusSchema) }),
} satisfies { [K in RunEventKind]: z.ZodObject };

export const runEventSchema = z.discriminatedUnion('kind', Object.values(runEventSchemas) as unknown as [typeof runEventSchemas['run-start'], ...z.ZodObject[]]);

// Identity, not mutual assignability: an optional field on one side only must count as drift.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
type SchemaOf<K extends RunEventKind> = z.infer<(typeof runEventSchemas)[K]>;
type Drift = { [K in RunEventKind]: Same<SchemaOf<K>, Extract<RunEvent, { kind: K }>> extends true ? never : K }[RunEventKind];
/** Compiles only while every kind's schema and type agree; otherwise names the kinds that drifted. */
export const schemasMatchTypes: [Drift] extends [never] ? true : { drifted: Drift } = true;
