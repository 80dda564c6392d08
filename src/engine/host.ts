import type { InventoryHost } from '../inventory/types.ts';
import type { Outputs } from '../runbook/check.ts';
import type { HostInfo, InventoryView, Runbook, Step } from '../runbook/types.ts';
import type { EventBus } from './bus.ts';
import type { Connections } from './connections.ts';
import type { HostStatus, RunEventInput, StepStatus } from './events.ts';
import type { InFlightAttempt } from './ledger.ts';
import { HostOutputs } from './outputs.ts';
import type { PlanGuard } from './plan-guard.ts';
import { planFrame, sendFrame, sending, type SentFrame } from './frame.ts';
import { readAheadFor, type StepScope } from './context.ts';
import { firstReadOf } from './speculate.ts';
import { runStep, type Confirmation, type Prompter, type StepOutcome } from './step.ts';

/** What an earlier attempt of this run left for a host (from the journal). */
export interface HostResume {
  /** Steps that ended ok/changed: skipped now, their outputs restored. */
  done: Map<string, Outputs | undefined>;
  /** Confirmations recorded for manual steps. */
  confirmations: Map<string, Confirmation>;
  /** The step attempt in flight when the run died, with the commands it finished (old journals: none). */
  inFlight?: InFlightAttempt;
  /** Attempts each step has had in this run so far (step-starts); absent: none. */
  attempts?: Map<string, number>;
}

/** What every host of a run shares. */
export interface RunScope {
  runId: string;
  runbook: Runbook;
  params: unknown;
  dryRun: boolean;
  inventoryHosts: ReadonlyMap<string, InventoryHost>;
  inventory: InventoryView;
  connections: Connections;
  bus: EventBus;
  runSecrets: readonly string[];
  prompter?: Prompter;
  /** Applying a saved plan: holds each check against it. */
  guard?: PlanGuard;
  /** Set once no new step may start (Ctrl-C, max-fail-percent crossed, the change window ended). */
  shouldStop(): boolean;
  /** Aborted on a hard stop: running commands are killed. */
  hardStop: AbortSignal;
}

export type StepCounts = Record<StepStatus, number>;
export const emptyCounts = (): StepCounts => ({ ok: 0, changed: 0, 'would-change': 0, 'may-change': 0, failed: 0, skipped: 0, waiting: 0, unreachable: 0, stale: 0 });

export interface HostResult {
  host: string;
  status: HostStatus;
  counts: StepCounts;
  /** Steps skipped because an earlier attempt finished them. */
  alreadyDone: number;
}

/** Runs a host's steps in order; the first failed, unreachable or waiting step ends the host. */
export async function runHost(host: HostInfo, scope: RunScope, resume?: HostResume): Promise<HostResult> {
  const started = performance.now();
  const outputs = new HostOutputs([...(resume?.done ?? [])].filter((e): e is [string, Outputs] => e[1] !== undefined));
  const counts = emptyCounts();
  let alreadyDone = 0;
  let afterPredictedChange = false;
  const predictedChanges = new Set<string>();
  let status: HostStatus | undefined;
  await scope.bus.emit({ kind: 'host-start', host: host.name });
  const steps = scope.runbook.steps;
  let frame: SentFrame | undefined;
  let unframedBefore = 0;
  const carriedEvents = new SharedWaits();
  for (const [index, step] of steps.entries()) {
    if (resume?.done.has(step.id)) { alreadyDone++; continue; }
    // A step the frame already ran on the host is journaled even after a stop: what ran is recorded.
    if (!frame?.steps.includes(step.id)) {
      await carriedEvents.settle();
      if (scope.shouldStop()) { status = 'interrupted'; break; }
      const framing = index >= unframedBefore ? await frameFrom(steps.slice(index), host, scope, outputs, resume) : undefined;
      frame = framing?.sent;
      if (framing) unframedBefore = index + framing.unframed;
    }
    const next = steps.slice(index + 1).find((s) => !resume?.done.has(s.id));
    const carried = frame?.steps.includes(step.id) ? { frame, waits: carriedEvents } : undefined;
    const outcome = await runOneStep(step, host, scope, outputs, { afterPredictedChange, predictedChanges }, resume, next, carried);
    counts[outcome.status]++;
    if (outcome.status === 'would-change') afterPredictedChange = true;
    if (outcome.status === 'would-change' || outcome.status === 'may-change') predictedChanges.add(step.id);
    status = stopStatus(outcome);
    if (status) break;
  }
  await carriedEvents.settle();
  const final = status ?? summarize(counts);
  if (final === 'unreachable') await scope.connections.forget(host.name);
  await scope.bus.emit({ kind: 'host-end', host: host.name, status: final, durationMs: Math.round(performance.now() - started) });
  return { host: host.name, status: final, counts, alreadyDone };
}

/**
 * The journal waits of the steps a frame carried. Their events are written in order as always,
 * but not waited for one by one: the frame already ran, and nothing goes to the host between them
 * (a carried step never sends a command of its own), so one wait before the host's next command
 * gives the same guarantee as sixty. A kill before it loses at most events a resume rebuilds by
 * re-checking, as for a kill while the frame was out.
 */
class SharedWaits {
  #waits: Promise<void>[] = [];

  add(written: Promise<void>): Promise<void> {
    written.catch(() => {}); // surfaced by settle()
    this.#waits.push(written);
    return Promise.resolve();
  }

  async settle(): Promise<void> {
    const waits = this.#waits;
    this.#waits = [];
    await Promise.all(waits);
  }
}

/** A step a frame carried: the frame, and where its events' journal waits go. */
interface Carried {
  frame: SentFrame;
  waits: SharedWaits;
}

/** What a dry-run has predicted so far on this host. */
interface Predicted {
  afterPredictedChange: boolean;
  predictedChanges: ReadonlySet<string>;
}

/** What steps of this host share with each other (the step's own attempt id aside). */
function sharedScope(host: HostInfo, scope: RunScope, outputs: HostOutputs, attemptId: string): StepScope {
  return {
    host, params: scope.params, inventory: scope.inventory, inventoryHosts: scope.inventoryHosts,
    connections: scope.connections, outputs, dryRun: scope.dryRun, runSecrets: scope.runSecrets,
    emit: (event: RunEventInput) => scope.bus.post(event), attemptId,
  };
}

const stepStart = (host: HostInfo, step: Step, resume: HostResume | undefined, extra: { on?: string; framedWith?: string[] } = {}): RunEventInput => {
  const { attempt, continued } = attemptOf(step.id, resume);
  return {
    kind: 'step-start', host: host.name, step: step.id, title: step.title, attempt, ...(continued ? { resumed: true } : {}),
    ...(extra.on && extra.on !== host.name ? { on: extra.on } : {}), ...(extra.framedWith ? { framedWith: extra.framedWith } : {}),
  };
};

/**
 * Sends the steps from here that can share a frame (src/engine/frame.ts) as one script, when two
 * or more of them would send something, after the first one's start is durable: its start names
 * the others, so a run killed while the frame is out knows they may have run. No frame: `unframed`
 * says how many steps from here need not be planned again (planning from a later one of them finds
 * fewer still).
 */
async function frameFrom(candidates: readonly Step[], host: HostInfo, scope: RunScope, outputs: HostOutputs, resume?: HostResume): Promise<{ sent?: SentFrame; unframed: number }> {
  // Applying a saved plan vets each check before its apply: no frame. Nor for a Windows shell.
  const shared = sharedScope(host, scope, outputs, `${scope.runId}/frame`);
  const readAhead = scope.guard ? undefined : readAheadFor(shared, host.name);
  if (!readAhead) return { unframed: candidates.length };
  // A step done in an earlier attempt ends the frame, as does one whose apply a resume continues.
  const stop = candidates.findIndex((s) => resume?.done.has(s.id) || (resume?.inFlight?.step === s.id && resume.inFlight.ended.length > 0));
  const planned = await planFrame(stop < 0 ? candidates : candidates.slice(0, stop), shared);
  if (sending(planned) < 2) return { unframed: Math.max(1, planned.length) };
  // A frame starts with a step that sends: one skipped by its `when` runs (and is journaled) alone.
  if (!planned[0].sends) return { unframed: 1 };
  // A host that cannot be reached is found unreachable by the first step, as without a frame.
  const transport = await scope.connections.get(host.name).catch(() => undefined);
  if (!transport) return { unframed: 1 };
  const [first, ...others] = planned;
  await scope.bus.emit(stepStart(host, first.step, resume, { framedWith: others.map((f) => f.step.id) }));
  const sent = await sendFrame(planned, { transport, sudo: scope.inventoryHosts.get(host.name)?.become ?? false, signal: scope.hardStop, dryRun: scope.dryRun, readAhead, runSecrets: scope.runSecrets });
  return { sent, unframed: 0 };
}

async function runOneStep(step: Step, host: HostInfo, scope: RunScope, outputs: HostOutputs, predicted: Predicted, resume?: HostResume, next?: Step, carried?: Carried): Promise<StepOutcome> {
  const frame = carried?.frame;
  const answers = frame?.answers.get(step.id);
  const leads = frame?.steps[0] === step.id;
  const started = leads ? frame!.sentAt : performance.now();
  const journal = (event: RunEventInput): Promise<void> => carried ? carried.waits.add(scope.bus.emit(event)) : scope.bus.emit(event);
  const { attempt, continued } = attemptOf(step.id, resume);
  const roundTrips = { sent: leads ? 1 : 0 };
  const shared = { ...sharedScope(host, scope, outputs, `${scope.runId}/${attempt}`), frame: answers };
  const outcome = await runStep(step, {
    ...shared,
    nextReads: async () => { const read = next && await firstReadOf(next, shared); return read ? [read] : []; },
    emitDurable: journal,
    ...predicted, confirmation: resume?.confirmations.get(step.id), prompter: scope.prompter,
    signal: scope.hardStop, guard: scope.guard, roundTrips,
    attempt, resumed: continued ? resume?.inFlight : undefined,
    // The frame's first step was started (durably) before the frame went.
    onStart: async (on) => { if (!leads) await journal(stepStart(host, step, resume, { on })); },
  });
  // A dry-run's frame only probes: a probe a step did not ask (it waits `after` a change) changed nothing.
  const unasked = scope.dryRun ? [] : answers?.unasked ?? [];
  if (unasked.length > 0) scope.bus.post({ kind: 'warning', host: host.name, message: `step ${step.id}: its frame also ran ${unasked.map((c) => `\`${c.display}\``).join(', ')}, which the step did not ask for` });
  await journal({
    kind: 'step-result', host: host.name, step: step.id, title: step.title, status: outcome.status,
    reason: outcome.reason, durationMs: Math.round(performance.now() - started), roundTrips: roundTrips.sent,
    ...(outcome.commands ? { commands: outcome.commands } : {}),
    ...(outcome.outputs ? { outputs: outcome.outputs } : {}),
    ...(outcome.error ? { error: outcome.error } : {}),
    ...(outcome.diff ? { diff: outcome.diff } : {}),
  });
  return outcome;
}

/** A resume of the step in flight continues its attempt; any other start is a new one. */
function attemptOf(stepId: string, resume?: HostResume): { attempt: number; continued: boolean } {
  if (resume?.inFlight?.step === stepId) return { attempt: resume.inFlight.attempt, continued: true };
  return { attempt: (resume?.attempts?.get(stepId) ?? 0) + 1, continued: false };
}

function stopStatus(outcome: StepOutcome): HostStatus | undefined {
  if (outcome.status === 'failed') return 'failed';
  if (outcome.status === 'unreachable') return 'unreachable';
  if (outcome.status === 'waiting') return 'waiting';
  if (outcome.status === 'stale') return 'stale';
  return undefined;
}

function summarize(counts: StepCounts): HostStatus {
  if (counts.changed > 0 || counts['would-change'] > 0 || counts['may-change'] > 0) return 'changed';
  if (counts.ok === 0 && counts.skipped > 0) return 'skipped';
  return 'ok';
}
