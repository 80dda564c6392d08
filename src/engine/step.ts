import { TimeoutError, UnreachableError } from '../errors.ts';
import type { CheckResult, Outputs } from '../runbook/check.ts';
import type { ActionStep, ManualStep, Step, StepContext } from '../runbook/types.ts';
import { maskSecrets } from '../shell/command.ts';
import { afterReason, changedBefore } from './after.ts';
import { buildContext, type StepScope } from './context.ts';
import type { RunEventInput, StepStatus } from './events.ts';
import { CommandLedger, type InFlightAttempt } from './ledger.ts';
import { MissingOutputError } from './outputs.ts';
import { unifiedDiff } from './content-diff.ts';
import type { PlanGuard } from './plan-guard.ts';
import type { AheadRead } from './read-ahead.ts';

/** How one step ended on one host: a value, never an exception (STYLE.md §4). */
export interface StepOutcome {
  status: StepStatus;
  reason: string;
  /** The commands apply ran, or in a dry-run would run (secrets masked). */
  commands?: string[];
  outputs?: Outputs;
  error?: string;
  /** Unified diff of the content the step writes (never for a sensitive step; secrets masked). */
  diff?: string;
}

/** A manual step's confirmation, from the prompt or from `runbook confirm` via the journal. */
export interface Confirmation {
  by: string;
  note?: string;
  evidence?: Outputs;
}

/** Asks the operator at a terminal; null when they decline (the host then waits). */
export interface Prompter {
  confirm(step: ManualStep, host: string): Promise<Confirmation | null>;
}

export interface StepRun extends StepScope {
  /** A step earlier on this host would change (dry-run): later checks may not know yet. */
  afterPredictedChange: boolean;
  /** Ids of the steps on this host a dry-run found would (or may) change, for `after`. */
  predictedChanges?: ReadonlySet<string>;
  /** A confirmation already recorded for this manual step. */
  confirmation?: Confirmation;
  prompter?: Prompter;
  /** Aborted when the run is interrupted hard. */
  signal: AbortSignal;
  onStart?: (on: string | undefined) => Promise<void>;
  /** This step's attempt on this host in this run (1 first; a resume of the attempt in flight keeps it). */
  attempt: number;
  /** The attempt in flight when the run died, from the journal: its ended commands are not sent again. */
  resumed?: InFlightAttempt;
  /** Resolves once the event is durable (command-end). */
  emitDurable(event: RunEventInput): Promise<void>;
  /** Applying a saved plan: each check is held against what the plan recorded (a stale host stops). */
  guard?: PlanGuard;
  /** The first read the next step on this host is expected to send (src/engine/speculate.ts). */
  nextReads?: () => Promise<AheadRead[]>;
}

/**
 * Runs one step: when → check → (dry-run: stop and say what would change) → apply → re-check.
 * The step's whole time is bounded by its `timeoutMs`.
 */
export async function runStep(step: Step, given: StepRun): Promise<StepOutcome> {
  const run = withReadsExpected(step, given);
  const limit = stepSignal(run.signal, step);
  try {
    return await raceAbort(runStepBody(step, run, limit.signal), limit.signal);
  } catch (error) {
    return classify(error, run);
  } finally {
    limit.dispose();
  }
}

/**
 * Notes the reads the step sends; after its apply the re-check is expected to ask them again (when
 * the engine re-checks), then the next step its first: the apply's last command carries them.
 */
function withReadsExpected(step: Step, run: StepRun): StepRun {
  const reads: AheadRead[] = [];
  const rechecked = step.kind === 'action' && step.verify !== false;
  const expectedReads = async () => {
    const expected = [...(rechecked ? reads : []), ...(await run.nextReads?.() ?? [])];
    return expected.filter((read, i) => expected.findIndex((r) => r.command.text === read.command.text && r.on === read.on) === i);
  };
  return { ...run, reads, expectedReads };
}

async function runStepBody(step: Step, run: StepRun, signal: AbortSignal): Promise<StepOutcome> {
  // `when` and `on` see the host lazily: a step that runs on another host, or a manual step, must
  // not need its own host up (a dead host being rebuilt, a host whose new key is not trusted yet).
  const lazyCtx = buildContext(run, step.id, step.sensitive ?? false, run.connections.lazy(run.host.name), signal);
  if (step.when && !(await step.when(lazyCtx))) return { status: 'skipped', reason: 'condition (when) is false' };
  const onName = typeof step.on === 'function' ? await step.on(lazyCtx) : step.on;
  const elsewhere = onName !== undefined && onName !== run.host.name;
  const ledger = step.kind === 'action' && !run.dryRun ? ledgerFor(step, run) : undefined;
  // A step on its own host connects first, so a host that is down is unreachable before any check.
  const ctx = elsewhere ? await contextOn(onName, step, run, signal, ledger) : step.kind === 'manual' ? lazyCtx : await contextOn(run.host.name, step, run, signal, ledger);
  await run.onStart?.(onName);
  const waitsOn = run.dryRun ? changedBefore(step, run.predictedChanges ?? new Set()) : undefined;
  if (waitsOn) return { status: 'may-change', reason: afterReason(waitsOn), commands: step.kind === 'action' ? await plannedCommands(step, ctx, 'after a change') : undefined };
  if (step.kind === 'assert') return runAssert(await step.check(ctx), run, ctx);
  if (step.kind === 'manual') return runManual(step, ctx, run);
  let reachable = true;
  try {
    return await runAction(step, ctx, run, ledger!, onName);
  } catch (error) {
    reachable = !(error instanceof UnreachableError);
    throw error;
  } finally {
    // A host that is gone, or a step stopped by its time limit or a hard stop, gets no cleanup.
    if (step.cleanup && !run.dryRun && reachable && !signal.aborted) await cleanUp(step, ctx);
  }
}

function ledgerFor(step: ActionStep, run: StepRun): CommandLedger {
  return new CommandLedger({
    host: run.host.name, step: step.id, attempt: run.attempt, readsOutput: step.apply !== undefined,
    sensitive: step.sensitive ?? false, emitDurable: run.emitDurable, post: run.emit,
    log: (message) => run.emit({ kind: 'log', host: run.host.name, step: step.id, message }),
  }, run.resumed);
}

/** A cleanup that fails is logged: the step's outcome stands (and the cleanup runs again next time). */
async function cleanUp(step: ActionStep, ctx: StepContext): Promise<void> {
  try {
    await step.cleanup!(ctx);
  } catch (error) {
    ctx.log(`cleanup failed: ${(error as Error).message}`);
  }
}

async function contextOn(name: string, step: Step, run: StepRun, signal: AbortSignal, ledger?: CommandLedger): Promise<StepContext> {
  const transport = await run.connections.get(name);
  return buildContext(run, step.id, step.sensitive ?? false, transport, signal, ledger);
}

function runAssert(result: CheckResult, run: StepRun, ctx: StepContext): StepOutcome {
  const outputs = run.outputs.record(ctx.stepId, result.outputs);
  if (result.done) return { status: 'ok', reason: result.reason, outputs };
  if (run.dryRun && run.afterPredictedChange) return { status: 'may-change', reason: `cannot be known before earlier changes are applied: ${result.reason}` };
  return { status: 'failed', reason: `assertion failed: ${result.reason}` };
}

async function runAction(step: ActionStep, ctx: StepContext, run: StepRun, ledger: CommandLedger | undefined, on?: string): Promise<StepOutcome> {
  const before = await step.check(ctx);
  run.outputs.record(step.id, before.outputs);
  const diff = diffOf(step, before, run);
  const stale = run.guard && (await vetAgainstPlan(run.guard, step, ctx, run, before, diff, on));
  if (stale) return stale;
  if (before.done) return { status: 'ok', reason: before.reason, outputs: run.outputs.of(step.id) };
  if (run.dryRun) return { status: 'would-change', reason: before.reason, commands: await plannedCommands(step, ctx), ...(diff ? { diff } : {}) };
  const applied = await applyWithRetries(step, ctx, ledger!);
  run.outputs.record(step.id, applied.outputs);
  const changed = { status: 'changed' as const, reason: before.reason, commands: applied.commands, ...(diff ? { diff } : {}) };
  if (step.verify === false) return { ...changed, outputs: run.outputs.of(step.id) };
  const after = await step.check(ctx);
  run.outputs.record(step.id, after.outputs);
  if (!after.done) return { status: 'failed', reason: `still needs a change after apply: ${after.reason}`, commands: applied.commands };
  return { ...changed, outputs: run.outputs.of(step.id) };
}

/** Applying a saved plan: the check's answer now (with the commands apply would send) against the plan's; a stale outcome stops the host. */
async function vetAgainstPlan(guard: PlanGuard, step: ActionStep, ctx: StepContext, run: StepRun, before: CheckResult, diff?: string, on?: string): Promise<StepOutcome | undefined> {
  const commands = before.done ? undefined : await plannedCommands(step, ctx);
  return guard.vet(run.host.name, step.id, { done: before.done, reason: before.reason, ...(commands ? { commands } : {}), diff, ...(on ? { on } : {}) });
}

/** The diff of the content a check says the step would write; a sensitive step shows none. */
function diffOf(step: ActionStep, result: CheckResult, run: StepRun): string | undefined {
  if (result.done || !result.content || step.sensitive) return undefined;
  return maskSecrets(unifiedDiff(result.content), run.runSecrets);
}

/**
 * Dry-run's list of commands; "unknown" when they depend on values only an apply would produce.
 * For a step waiting on an earlier change, what the step says the changed host will need.
 */
async function plannedCommands(step: ActionStep, ctx: StepContext, when: 'now' | 'after a change' = 'now'): Promise<string[] | undefined> {
  const planned = when === 'after a change' ? step.commandsAfterChange ?? step.commands : step.commands;
  if (!planned) return undefined;
  try {
    return (await planned.call(step, ctx)).map((c) => c.display);
  } catch (error) {
    if (error instanceof MissingOutputError) return [`(commands depend on earlier steps: ${error.message})`];
    throw error;
  }
}

async function applyWithRetries(step: ActionStep, ctx: StepContext, ledger: CommandLedger): Promise<{ outputs?: Outputs; commands?: string[] }> {
  const attempts = (step.retries ?? 0) + 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await applyOnce(step, ctx, ledger);
    } catch (error) {
      if (attempt >= attempts || error instanceof UnreachableError || ctx.signal.aborted) throw error;
      ctx.log(`attempt ${attempt}/${attempts} failed, retrying in ${step.retryDelayMs ?? 1000} ms: ${(error as Error).message}`);
      await delay(step.retryDelayMs ?? 1000, ctx.signal);
      ledger.nextTry();
    }
  }
}

/**
 * One try of apply. Only the commands apply sends are recorded in the ledger: the reads that
 * build a commands list (or its display) are not, so a resume builds the list from the host as
 * it is now, and sends only what the interrupted attempt did not finish.
 */
async function applyOnce(step: ActionStep, ctx: StepContext, ledger: CommandLedger): Promise<{ outputs?: Outputs; commands?: string[] }> {
  if (step.apply) {
    const outputs = (await recorded(ledger, async () => step.apply!(ctx))) ?? undefined;
    const commands = step.commands ? (await step.commands(ctx)).map((c) => c.display) : undefined;
    return { outputs, commands };
  }
  const commands = await step.commands!(ctx);
  await recorded(ledger, async () => {
    for (const [i, command] of commands.entries()) await ctx.sh.run(command, { readAhead: i === commands.length - 1 });
  });
  return { commands: commands.map((c) => c.display) };
}

async function recorded<T>(ledger: CommandLedger, work: () => Promise<T>): Promise<T> {
  ledger.applying = true;
  try {
    return await work();
  } finally {
    ledger.applying = false;
  }
}

async function runManual(step: ManualStep, ctx: StepContext, run: StepRun): Promise<StepOutcome> {
  if (step.check) {
    const state = await step.check(ctx);
    run.outputs.record(step.id, state.outputs);
    if (state.done) return { status: 'ok', reason: state.reason, outputs: run.outputs.of(step.id) };
  }
  if (run.dryRun) return { status: 'would-change', reason: `manual step: an operator must confirm "${step.title}"` };
  const confirmation = run.confirmation ?? (await promptFor(step, run));
  if (!confirmation) return { status: 'waiting', reason: `waiting for an operator to confirm "${step.title}" (runbook confirm)` };
  const outputs = run.outputs.record(step.id, { confirmedBy: confirmation.by, ...(confirmation.evidence ?? {}) });
  const note = confirmation.note ? `: ${confirmation.note}` : '';
  return { status: 'changed', reason: `confirmed by ${confirmation.by}${note}`, outputs };
}

/** Asks at the terminal; a confirmation given there is journaled like one from `runbook confirm`. */
async function promptFor(step: ManualStep, run: StepRun): Promise<Confirmation | null> {
  const answer = (await run.prompter?.confirm(step, run.host.name)) ?? null;
  if (answer) run.emit({ kind: 'confirmation', host: run.host.name, step: step.id, by: answer.by, ...(answer.note ? { note: answer.note } : {}), ...(answer.evidence ? { evidence: answer.evidence } : {}) });
  return answer;
}

function classify(error: unknown, run: StepRun): StepOutcome {
  const message = maskSecrets(error instanceof Error ? error.message : String(error), run.runSecrets);
  if (error instanceof UnreachableError) return { status: 'unreachable', reason: error.reason, error: message };
  if (error instanceof MissingOutputError && run.dryRun && run.afterPredictedChange) {
    return { status: 'may-change', reason: `depends on earlier changes: ${message}` };
  }
  if (run.dryRun && run.afterPredictedChange) {
    return { status: 'may-change', reason: `check cannot run before earlier changes are applied: ${message}` };
  }
  return { status: 'failed', reason: message.split('\n')[0], error: message };
}

/** The step's own signal: aborted by the run's hard stop or by the step's time limit. */
function stepSignal(runSignal: AbortSignal, step: Step): { signal: AbortSignal; dispose(): void } {
  if (!step.timeoutMs) return { signal: runSignal, dispose() {} };
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new TimeoutError(`step ${step.id}`, step.timeoutMs!)), step.timeoutMs);
  const onRunAbort = () => controller.abort(runSignal.reason);
  runSignal.addEventListener('abort', onRunAbort, { once: true });
  return {
    signal: controller.signal,
    dispose() { clearTimeout(timer); runSignal.removeEventListener('abort', onRunAbort); },
  };
}

/** JS code in a step that ignores its signal still cannot hold the host past the limit. */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return; }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(timer); reject(signal!.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
