import type { HostStatus, RunEvent, RunStatus, StepStatus } from '../engine/events.ts';
import type { EndedCommand, InFlightAttempt } from '../engine/ledger.ts';
import type { Outputs } from '../runbook/check.ts';

/** Who confirmed a manual step, when, and what they attested. */
export interface Confirmation {
  by: string;
  time: string;
  note?: string;
  evidence?: Outputs;
}

/** One step on one host, as far as the journal knows it. */
export interface StepProgress {
  step: string;
  title: string;
  /** The latest result; undefined if the step started but never ended (see `HostProgress.inFlight`). */
  status?: StepStatus;
  reason?: string;
  error?: string;
  /** What the latest result handed on to later steps. */
  outputs?: Outputs;
  /** Duration of the latest result. */
  durationMs?: number;
  /** Step-starts seen, across resumes. */
  attempts: number;
  startedAt?: string;
  endedAt?: string;
  /** Every confirmation recorded for this step, oldest first. */
  confirmations: Confirmation[];
  /**
   * The confirmation that releases the wait: recorded once the step had started, and valid until
   * the step ends done (ok, changed, skipped). A new attempt does not void it: a resume killed
   * while it checks the confirmed step (on another host, say) must not ask again.
   */
  confirmation?: Confirmation;
}

/** A step that started and has no result: the crash window resume must re-check. */
export interface InFlight {
  step: string;
  title: string;
  attempt: number;
  since: string;
  on?: string;
  /** The apply try whose commands `ended` holds (the latest that sent one). */
  applyTry: number;
  /** Commands the attempt's apply finished (command-end): a resume does not send them again. */
  ended: EndedCommand[];
  /** A command sent whose end is not recorded: it may or may not have run (re-checked, then sent again if needed). */
  unconfirmed?: { on: string; command: string };
  /** Steps sent to the host in the same script after this one: they may have run too (resume re-checks them). */
  framedWith?: string[];
}

/** A host's state: how it ended, or `not-started` / `unfinished` (running now, or the run died). */
export type HostState = HostStatus | 'not-started' | 'unfinished';

export interface HostProgress {
  host: string;
  state: HostState;
  /** Steps by id, in the order they first appeared. */
  steps: Record<string, StepProgress>;
  inFlight?: InFlight;
  startedAt?: string;
  endedAt?: string;
  /** From the last host-end. */
  durationMs?: number;
}

/** A run's state: how its last segment ended, or `unfinished` (running now, or it died: no run-end). */
export type RunState = RunStatus | 'unfinished';

export interface RunProgress {
  runId?: string;
  runbook?: string;
  dryRun: boolean;
  /** Target hosts in run order (then any other host an event named). */
  hosts: string[];
  byHost: Record<string, HostProgress>;
  state: RunState;
  /** A run-end follows the last run-start. A run that ended `waiting` or `failed` is finished yet resumable. */
  finished: boolean;
  exitCode?: number;
  startedAt?: string;
  endedAt?: string;
  /** Of the last segment, from its run-end. */
  durationMs?: number;
  /** How many times the run was started: 1, plus one per resume. */
  segments: number;
  /** Hosts by state, for `runbook runs`. */
  counts: Partial<Record<HostState, number>>;
}

/** Step results that end a step for good: resume skips it, and its confirmation is used up. */
const DONE: ReadonlySet<StepStatus | undefined> = new Set<StepStatus | undefined>(['ok', 'changed', 'skipped']);

/**
 * Folds journal events into the state of a run: per host, per step. Pure; O(events).
 * @example const progress = foldProgress((await readJournal(journalPath(runDir))).events);
 */
export function foldProgress(events: readonly RunEvent[]): RunProgress {
  const progress: RunProgress = { dryRun: false, hosts: [], byHost: {}, state: 'unfinished', finished: false, segments: 0, counts: {} };
  for (const event of events) applyEvent(progress, event);
  progress.counts = countHostStates(progress);
  return progress;
}

function applyEvent(progress: RunProgress, event: RunEvent): void {
  switch (event.kind) {
    case 'run-start': return startRun(progress, event);
    case 'run-end': return endRun(progress, event);
    case 'host-start': return startHost(hostOf(progress, event.host), event.time);
    case 'host-end': return endHost(hostOf(progress, event.host), event);
    case 'step-start': return startStep(hostOf(progress, event.host), event);
    case 'step-result': return endStep(hostOf(progress, event.host), event);
    case 'confirmation': return confirm(hostOf(progress, event.host), event);
    case 'command-start': return startCommand(hostOf(progress, event.host), event);
    case 'command-end': return endCommand(hostOf(progress, event.host), event);
    case 'command': case 'log': case 'warning': return;
  }
}

function startRun(progress: RunProgress, event: Extract<RunEvent, { kind: 'run-start' }>): void {
  progress.runId ??= event.runId;
  progress.runbook ??= event.runbook;
  progress.dryRun = event.dryRun;
  progress.startedAt ??= event.time;
  progress.segments++;
  progress.state = 'unfinished';
  progress.finished = false;
  progress.exitCode = undefined;
  progress.endedAt = undefined;
  progress.durationMs = undefined;
  for (const host of event.hosts) hostOf(progress, host);
}

function endRun(progress: RunProgress, event: Extract<RunEvent, { kind: 'run-end' }>): void {
  progress.state = event.status;
  progress.finished = true;
  progress.exitCode = event.exitCode;
  progress.endedAt = event.time;
  progress.durationMs = event.durationMs;
}

function hostOf(progress: RunProgress, host: string): HostProgress {
  let found = progress.byHost[host];
  if (!found) {
    found = progress.byHost[host] = { host, state: 'not-started', steps: {} };
    progress.hosts.push(host);
  }
  return found;
}

function startHost(host: HostProgress, time: string): void {
  host.state = 'unfinished';
  host.startedAt ??= time;
  host.endedAt = undefined;
}

function endHost(host: HostProgress, event: Extract<RunEvent, { kind: 'host-end' }>): void {
  host.state = event.status;
  host.endedAt = event.time;
  host.durationMs = event.durationMs;
}

function stepOf(host: HostProgress, step: string, title: string): StepProgress {
  return (host.steps[step] ??= { step, title, attempts: 0, confirmations: [] });
}

function startStep(host: HostProgress, event: Extract<RunEvent, { kind: 'step-start' }>): void {
  const step = stepOf(host, event.step, event.title);
  step.attempts++;
  step.startedAt = event.time;
  const continued = event.resumed && host.inFlight?.step === event.step && host.inFlight.attempt === event.attempt;
  const commands = continued ? { applyTry: host.inFlight!.applyTry, ended: host.inFlight!.ended } : { applyTry: 1, ended: [] };
  host.inFlight = { step: event.step, title: event.title, attempt: event.attempt, since: event.time, on: event.on, ...commands, ...(event.framedWith ? { framedWith: event.framedWith } : {}) };
  if (host.state === 'not-started') host.state = 'unfinished';
}

function endStep(host: HostProgress, event: Extract<RunEvent, { kind: 'step-result' }>): void {
  const step = stepOf(host, event.step, event.title);
  Object.assign(step, { status: event.status, reason: event.reason, error: event.error, outputs: event.outputs, durationMs: event.durationMs, endedAt: event.time });
  // The step is over: a later attempt (a forced resume that runs it again) needs a new confirmation.
  if (DONE.has(event.status)) step.confirmation = undefined;
  if (host.inFlight?.step === event.step) host.inFlight = undefined;
}

/** The in-flight attempt this command event belongs to, switched to its apply try; undefined if none. */
function attemptOf(host: HostProgress, event: Extract<RunEvent, { kind: 'command-start' | 'command-end' }>): InFlight | undefined {
  const inFlight = host.inFlight;
  if (inFlight?.step !== event.step || inFlight.attempt !== event.attempt) return undefined;
  // A later try of apply runs live (a retry is meant to repeat): only the latest try's ends count.
  if (event.applyTry > inFlight.applyTry) Object.assign(inFlight, { applyTry: event.applyTry, ended: [], unconfirmed: undefined });
  return inFlight;
}

function startCommand(host: HostProgress, event: Extract<RunEvent, { kind: 'command-start' }>): void {
  const inFlight = attemptOf(host, event);
  if (inFlight) inFlight.unconfirmed = { on: event.on, command: event.command };
}

function endCommand(host: HostProgress, event: Extract<RunEvent, { kind: 'command-end' }>): void {
  const inFlight = attemptOf(host, event);
  if (!inFlight) return;
  const { on, command, code, signal, timedOut, stdout, stderr, outputKept } = event;
  inFlight.ended.push({ on, command, code, signal, timedOut, stdout, stderr, outputKept });
  inFlight.unconfirmed = undefined;
}

function confirm(host: HostProgress, event: Extract<RunEvent, { kind: 'confirmation' }>): void {
  const step = stepOf(host, event.step, event.step);
  const confirmation: Confirmation = { by: event.by, time: event.time, note: event.note, evidence: event.evidence };
  step.confirmations.push(confirmation);
  if (step.attempts > 0) step.confirmation = confirmation;
}

function countHostStates(progress: RunProgress): Partial<Record<HostState, number>> {
  const counts: Partial<Record<HostState, number>> = {};
  for (const host of progress.hosts) {
    const state = progress.byHost[host].state;
    counts[state] = (counts[state] ?? 0) + 1;
  }
  return counts;
}

/** Why resume starts a host at a step. */
export type StartReason =
  | 'in-flight' // started, never ended: re-check (check-before-apply makes a crash after apply safe)
  | 'failed' // retry
  | 'unreachable' // retry
  | 'confirmed' // a waiting manual step someone confirmed: continue past it
  | 'waiting' // a waiting manual step nobody confirmed yet: the host will wait again
  | 'not-run'; // never ran (or only in a dry-run)

/** What resume does on one host. */
export interface HostResumePlan {
  host: string;
  /** Steps that are done (ok, changed, skipped) up to the first that is not: resume skips them. */
  done: string[];
  /** What the done steps handed on, by step id: restored so later steps see them as in the first run. */
  outputs: Record<string, Outputs>;
  /** The first step to run; undefined when every step is done. Every step after it runs too. */
  startAt?: string;
  why?: StartReason;
  /** For `confirmed`, and for an in-flight, failed or unreachable step confirmed before: the confirmation to record as the manual step's outcome. */
  confirmation?: Confirmation;
  /** For `in-flight`: the attempt to continue, with the commands it finished (not sent again). */
  inFlight?: InFlightAttempt;
  /** Step-starts per step so far: a step that starts again (not in flight) is a new attempt. */
  attempts: Record<string, number>;
}

export interface ResumePlan {
  hosts: HostResumePlan[];
  /** Step ids the journal knows but the runbook no longer has (it changed, and resume was forced). */
  unknownSteps: string[];
}

/**
 * Where resume picks each host up: skip the leading steps that are done, start at the first that
 * is not (in flight → re-check, failed → retry, waiting → continue only if confirmed).
 * @example resumePlan(foldProgress(events), runbook.steps.map((s) => s.id)).hosts[0] // { host, done, outputs, startAt: 'reboot', why: 'in-flight' }
 */
export function resumePlan(progress: RunProgress, stepIds: readonly string[]): ResumePlan {
  const hosts = progress.hosts.map((host) => planHost(progress.byHost[host], stepIds));
  return { hosts, unknownSteps: unknownSteps(progress, stepIds) };
}

function planHost(host: HostProgress, stepIds: readonly string[]): HostResumePlan {
  const attempts = Object.fromEntries(Object.values(host.steps).map((s) => [s.step, s.attempts]));
  const plan: HostResumePlan = { host: host.host, done: [], outputs: {}, attempts };
  for (const id of stepIds) {
    const step = host.steps[id];
    const why = host.inFlight?.step === id ? 'in-flight' : startReason(step);
    if (why === 'in-flight') return { ...plan, startAt: id, why, inFlight: inFlightAttempt(host.inFlight!), confirmation: step?.confirmation };
    if (why) return { ...plan, startAt: id, why, confirmation: step?.confirmation };
    plan.done.push(id);
    if (step?.outputs) plan.outputs[id] = step.outputs;
  }
  return plan;
}

function inFlightAttempt(inFlight: InFlight): InFlightAttempt {
  return { step: inFlight.step, attempt: inFlight.attempt, applyTry: inFlight.applyTry, ended: inFlight.ended };
}

/** Undefined if the step is done. */
function startReason(step: StepProgress | undefined): StartReason | undefined {
  if (DONE.has(step?.status)) return undefined;
  switch (step?.status) {
    case 'failed': return 'failed';
    case 'unreachable': return 'unreachable';
    case 'waiting': return step.confirmation ? 'confirmed' : 'waiting';
    default: return 'not-run';
  }
}

function unknownSteps(progress: RunProgress, stepIds: readonly string[]): string[] {
  const known = new Set(stepIds);
  const unknown = new Set<string>();
  for (const host of progress.hosts) {
    for (const id of Object.keys(progress.byHost[host].steps)) if (!known.has(id)) unknown.add(id);
  }
  return [...unknown];
}
