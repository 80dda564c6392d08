/**
 * The command-level kill -9 torture (issue 13, item 2), shared by the command-torture*.test.ts
 * files: for a lab scenario of a runbook in runbooks/, an uninterrupted reference run finds every
 * step whose apply sent several commands; then ONE tortured run goes through the same scenario and
 * is SIGKILLed between every pair of commands of every such step, in order: the next command hangs
 * on its host (the lab's `hang` fault, on a word only that command uses; --no-reuse-shell makes
 * each command its own exec request), the test sees its `command-start` in the journal and kills,
 * lifts the fault and resumes. Manual gates are confirmed as an operator would (`runbook confirm`,
 * after the scenario's console work), so the kills reach the steps after them. The tortured run
 * must end like the reference: the same exit codes, the same estate, and no mutating call in the
 * lab's log more often than in the reference (no command ran twice).
 *
 * Nothing is hand-listed: the kill points come from the reference run's own journal, so a runbook
 * rewrite that keeps its step ids keeps the torture honest. A kill point right after a read (a
 * command sent before word for word: a status, a poll) is left out: a read repeated is harmless,
 * and the boundary before it left the same estate and was killed at already.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { usesCommand } from '../../lab/server/faults.ts';
import type { RunEvent } from '../../src/engine/events.ts';
import { runUntil, type KilledRun } from './kill-at-event.ts';
import { readJournal } from '../../src/state/index.ts';
import { stepResults, type RunbookLab } from './lab-helpers.ts';
import { poolView } from './pool-view.ts';

/**
 * A kill point: the (k+1)th command of a step, held on `on` either by a hang on words only it uses,
 * or by a `hang-after` on words only the kth uses (the (k+1)th then hangs whatever its words).
 */
export interface Boundary {
  host: string; step: string; on: string; index: number; command: string;
  hold: { hang: string } | { after: string; armOn: string };
  /** The kth command, where it ran, uuids blanked: a kill once it ended and before the step did is at this boundary. */
  previous: { on: string; command: string };
}

/** Where a run waits: its id, the host and the manual step. */
export interface Gate { runId: string; host: string; step: string }

/** One `apply` of the scenario, resumed until it ends. */
export interface Leg {
  /** The runbook this leg applies, when not the scenario's (a procedure in two runbooks: a gold image, then its clones). */
  runbook?: string;
  /** Secret params of this leg's runbook (with the scenario's): a runbook refuses a RUNBOOK_PARAM_* it does not take. */
  env?: NodeJS.ProcessEnv;
  args: (lab: RunbookLab) => string[];
  /** Lab work before this leg's apply (after the previous leg ended). */
  before?: (lab: RunbookLab) => Promise<void> | void;
  /**
   * The manual steps this leg is confirmed past, by step id: the operator's work and `runbook
   * confirm`. Each gate is met once per drive: a second wait there is a lost confirmation.
   */
  gates?: Record<string, (lab: RunbookLab, at: Gate) => Promise<void> | void>;
  /** Where the leg ends: 0, or 3 when it stops at a manual gate it is not confirmed past. */
  exitCode?: number;
}

export interface Scenario {
  name: string;
  runbook: string;
  /** Lab work after the reset, before the first leg (faults). */
  prepare?: (lab: RunbookLab) => Promise<void> | void;
  legs: Leg[];
  /** What the runbook changes, read off the lab: must be the same after the tortured run. */
  estate: (lab: RunbookLab) => unknown;
  /** Secret params, from the environment as a resume needs them. */
  env?: NodeJS.ProcessEnv;
}

export const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const RUN_ID = /\d{8}T\d{6}Z-/;

type CommandEnd = Extract<RunEvent, { kind: 'command-end' }>;
type CommandSent = Extract<RunEvent, { kind: 'command' }>;
type CommandStart = Extract<RunEvent, { kind: 'command-start' }>;

interface Drive { runs: KilledRun[]; missed: Boundary[]; unreachableRetries: number }

/**
 * Where the runs keep their state: the lab's state folder (the default), or a state backend the
 * CLI is pointed at through `env()` (e.g. RUNBOOK_STATE_URL and PGPASSWORD for PostgreSQL), made
 * fresh by `reset` after each lab reset, whose journal the driver reads through `events`.
 */
export interface TortureState {
  reset?(lab: RunbookLab): Promise<void>;
  env(): NodeJS.ProcessEnv;
  events(runId: string): Promise<RunEvent[]>;
}

const folderState = (lab: RunbookLab): TortureState => ({ env: () => ({}), events: async (runId) => (await readJournal(journalOf(lab, runId))).events });

/**
 * Runs a scenario from a clean lab to its end, killing at each boundary in turn; returns the runs.
 * A boundary whose command never shows up is left in `missed`.
 */
export async function drive(lab: RunbookLab, scenario: Scenario, boundaries: Boundary[] = [], where: TortureState = folderState(lab)): Promise<Drive> {
  await lab.reset();
  await where.reset?.(lab);
  await scenario.prepare?.(lab);
  const state: Drive = { runs: [], missed: [...boundaries], unreachableRetries: 0 };
  for (const leg of scenario.legs) await driveLeg(lab, scenario, leg, state, where);
  return state;
}

/** Sets the fault that holds the boundary's later command. */
async function hold(lab: RunbookLab, target: Boundary): Promise<void> {
  if ('hang' in target.hold) await lab.fault(target.on, 'hang', [target.hold.hang]);
  else await lab.fault(target.hold.armOn, 'hang-after', [target.hold.after, target.on]);
}

/** Lifts it: `hang --off` without a word lifts every hang, hang-after's included. */
async function release(lab: RunbookLab, target: Boundary): Promise<void> {
  await lab.fault(target.on, 'hang', [], true);
  if ('armOn' in target.hold && target.hold.armOn !== target.on) await lab.fault(target.hold.armOn, 'hang', [], true);
}

/**
 * The kill test: the held command's `command-start`. For `hang-after`, the first command on the held
 * host after the one that armed it, whatever its words (a re-read's uuids differ after a reset) and
 * whatever its step: a poll the reference run repeated may not come again, and then what hangs is
 * the next step's first command, a kill point just as good (the step's commands all ended).
 */
function reached(target: Boundary): (event: RunEvent) => boolean {
  const ours = (e: RunEvent): e is CommandStart => e.kind === 'command-start' && e.step === target.step && e.host === target.host && e.on === target.on;
  const hold = target.hold;
  if ('hang' in hold) return (e) => ours(e) && usesCommand(e.command, hold.hang);
  let armed = false;
  return (e) => {
    if (e.kind !== 'command-start') return false;
    if (armed) return e.on === target.on;
    armed = e.step === target.step && e.host === target.host && e.on === hold.armOn && usesCommand(e.command, hold.after);
    return false;
  };
}

/**
 * The kill points to hold in the next run: each target host's first one still queued (hosts run
 * side by side, so one held alone would let the others pass theirs), at most one per lab host
 * whose faults it sets.
 */
function nextPerHost(queue: Boundary[]): Boundary[] {
  const chosen: Boundary[] = [];
  const faulted = (b: Boundary) => ['armOn' in b.hold ? b.hold.armOn : b.on, b.on];
  for (const b of queue) {
    if (chosen.some((c) => c.host === b.host || faulted(c).some((h) => faulted(b).includes(h)))) continue;
    chosen.push(b);
  }
  return chosen;
}

const journalOf = (lab: RunbookLab, runId: string) => join(lab.stateDir, 'runs', runId, 'journal.jsonl');
const blank = (command: string) => command.replace(UUID, '<uuid>');

/**
 * Whether the killed process died at `target`, by its journal: the held command had started, or
 * the command before it had ended and the step had not (the held one not sent yet).
 */
function killedAt(target: Boundary, events: RunEvent[]): boolean {
  if (events.some(reached(target))) return true;
  const ours = events.filter((e) => 'step' in e && e.step === target.step && 'host' in e && e.host === target.host);
  const ended = ours.findLastIndex((e) => e.kind === 'command-end' && e.on === target.previous.on && blank(e.command) === target.previous.command);
  return ended >= 0 && !ours.slice(ended).some((e) => e.kind === 'step-result');
}

/** Which step a run that exited 3 waits at, on which host. */
function waitingStep(run: KilledRun): Omit<Gate, 'runId'> | undefined {
  const waiting = stepResults(run.events).filter((r) => r.status === 'waiting').at(-1);
  return waiting && { host: waiting.host, step: waiting.step };
}

async function driveLeg(lab: RunbookLab, scenario: Scenario, leg: Leg, state: Drive, where: TortureState): Promise<void> {
  await leg.before?.(lab);
  const queue = state.missed;
  const met = new Set<string>();
  let args = ['apply', leg.runbook ?? scenario.runbook, '-i', lab.inventory, ...leg.args(lab)];
  let runId: string | undefined;
  const cap = queue.length + Object.keys(leg.gates ?? {}).length + 8;
  // (a loop of runs: each either killed at a kill point, stopped at a gate, or the leg's end)
  for (let i = 0; i < cap; i++) {
    const targets = nextPerHost(queue);
    for (const target of targets) await hold(lab, target);
    const tests = targets.map(reached);
    const journaled = runId ? (await where.events(runId)).length : 0;
    // every test sees every event (a hang-after test arms itself on one)
    const run = await runUntil(lab, [...args, '--no-reuse-shell'], (e) => tests.filter((reachedBy) => reachedBy(e)).length > 0, { ...scenario.env, ...leg.env, ...where.env() });
    state.runs.push(run);
    for (const target of targets) await release(lab, target);
    runId ??= run.events.find((e) => e.kind === 'run-start')?.runId;
    expect(runId, `${scenario.name}: no run-start\n${run.stdout}\n${run.stderr}`).toBeTruthy();
    args = ['resume', runId!];
    if (run.killed) {
      // Hosts run side by side: the kill that one reached may find others at theirs too.
      const events = (await where.events(runId!)).slice(journaled);
      for (const target of targets.filter((t) => killedAt(t, events))) queue.splice(queue.indexOf(target), 1);
      continue;
    }
    // A host that reboots (netdom join, reboot steps) may not answer yet when the resume starts.
    if (run.code === 4) { state.unreachableRetries++; continue; }
    const waiting = run.code === 3 ? waitingStep(run) : undefined;
    const gate = waiting && leg.gates?.[waiting.step];
    if (waiting && gate) {
      expect(met.has(waiting.step), `${scenario.name}: waits at ${waiting.step} a second time: its confirmation was lost\n${run.stdout.slice(-3000)}`).toBe(false);
      met.add(waiting.step);
      await gate(lab, { runId: runId!, ...waiting });
      continue;
    }
    expect(run.code, `${scenario.name}: exit ${run.code}\n${run.stdout.slice(-3000)}\n${run.stderr}`).toBe(leg.exitCode ?? 0);
    return;
  }
  throw new Error(`${scenario.name}: still not finished after ${state.runs.length} runs`);
}

/**
 * Every step (per host) whose apply sent two commands or more, as kill points before each later
 * one. The later command is held by a hang on words only it uses; when it has none (a re-read of a
 * status, sent before word for word) the command before it arms `hang-after` on words only that
 * one uses, so whatever comes next on the later command's host hangs.
 */
export function boundariesOf(runs: KilledRun[]): { boundaries: Boundary[]; unaimable: string[]; afterReads: string[] } {
  const events = runs.flatMap((r) => r.events);
  const applied = new Map<string, CommandEnd[]>();
  for (const e of events) if (e.kind === 'command-end') applied.set(`${e.host}\0${e.step}`, [...(applied.get(`${e.host}\0${e.step}`) ?? []), e]);
  const out = { boundaries: [] as Boundary[], unaimable: [] as string[], afterReads: [] as string[] };
  for (const ends of applied.values()) {
    for (let index = 1; index < ends.length; index++) {
      const [previous, next] = [ends[index - 1], ends[index]];
      const label = `${next.host} ${next.step} #${index + 1}: ${next.command}`;
      const sentBefore = (end: CommandEnd) => events.slice(0, events.indexOf(end)).filter((e): e is CommandSent => e.kind === 'command' && e.on === end.on).map((e) => e.command).slice(0, -1);
      // After a command sent before word for word (a read: a status, the boot id, a poll) the
      // estate is the one of the boundary before it, already killed at; a read repeated is harmless.
      if (sentBefore(previous).includes(previous.command)) { out.afterReads.push(label); continue; }
      const word = wordOnlyIn(next.command, sentBefore(next));
      const after = word ? undefined : wordOnlyIn(previous.command, sentBefore(previous));
      const at = { host: next.host, step: next.step, on: next.on, index, command: next.command, previous: { on: previous.on, command: blank(previous.command) } };
      if (word) out.boundaries.push({ ...at, hold: { hang: word } });
      else if (after) out.boundaries.push({ ...at, hold: { after, armOn: previous.on } });
      else out.unaimable.push(label);
    }
  }
  return out;
}

/**
 * The longest run of whole words of `command` that no earlier command on the host uses, and that
 * holds nothing run-specific (uuids differ after a lab reset, the run id in every run).
 */
function wordOnlyIn(command: string, earlier: string[]): string | undefined {
  const words = command.split(/\s+/);
  const spans: string[] = [];
  for (let from = 0; from < words.length; from++) {
    for (let to = words.length; to > from; to--) {
      const span = words.slice(from, to);
      if (span.some((w) => UUID.test(w) || RUN_ID.test(w))) { UUID.lastIndex = 0; continue; }
      spans.push(span.join(' '));
    }
  }
  spans.sort((a, b) => b.length - a.length);
  return spans.find((span) => usesCommand(command, span) && !earlier.some((c) => usesCommand(c, span)));
}

/** The lab's mutating calls, uuids and clock values blanked, counted per host and call: what happened, not when. */
export function mutationCounts(lab: RunbookLab): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [host, list] of Object.entries(lab.mutations())) {
    for (const m of list) {
      const argv = m.argv[0] === 'date' && m.argv[1] === '-s' ? ['date', '-s', '<now>'] : m.argv;
      const key = `${host}: ${argv.join(' ').replace(UUID, '<uuid>')}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
  }
  return counts;
}

/**
 * The whole torture of one scenario: reference, kill points, tortured run, comparison. Returns
 * what it aimed at, and how often a resume skipped a command that had ended (its ledger at work).
 */
export async function torture(lab: RunbookLab, scenario: Scenario, where: TortureState = folderState(lab)): Promise<{ boundaries: Boundary[]; afterReads: string[]; notSentAgain: number; runs: KilledRun[]; expected: Reference }> {
  const reference = await drive(lab, scenario, [], where);
  const expected: Reference = { mutations: mutationCounts(lab), estate: scenario.estate(lab) };
  const { boundaries, unaimable, afterReads } = boundariesOf(reference.runs);
  expect(unaimable, 'commands no hang can single out').toEqual([]);
  console.log(`${scenario.name}: ${boundaries.length} kill points${afterReads.length ? `; not aimed (after a read): ${afterReads.join('; ')}` : ''}`);
  if (boundaries.length === 0) return { boundaries, afterReads, notSentAgain: 0, runs: [], expected };

  const tortured = await drive(lab, scenario, boundaries, where);
  expect(tortured.missed.map((b) => `${b.host} ${b.step} #${b.index + 1}`), 'kill points never reached').toEqual([]);
  expect(tortured.runs.filter((r) => r.killed).length).toBe(boundaries.length);
  expect(scenario.estate(lab)).toEqual(expected.estate);
  // No call ran more often than in the uninterrupted run (one may run less: a resume whose
  // re-check finds a command's effect already there does not send it).
  const more = Object.entries(mutationCounts(lab)).filter(([call, n]) => n > (expected.mutations[call] ?? 0));
  expect(more, 'calls run more often than without the kills').toEqual([]);
  // Each resume re-checks first: one whose check is done sends nothing; the others skip what ended.
  const notSentAgain = tortured.runs.flatMap((r) => r.events).filter((e) => e.kind === 'log' && e.message.startsWith('not sent again')).length;
  console.log(`${scenario.name}: ${boundaries.length} kills resumed; ${notSentAgain} commands not sent again; ${tortured.unreachableRetries} resumes retried while a host rebooted`);
  return { boundaries, afterReads, notSentAgain, runs: tortured.runs, expected };
}

/** What the uninterrupted run left: the lab's mutating calls (counted) and the scenario's estate. */
export interface Reference { mutations: Record<string, number>; estate: unknown }

/** What the XenServer runbooks change, as the lab's pool database and host states hold it. */
export function poolEstate(lab: RunbookLab) {
  const db = JSON.parse(readFileSync(join(lab.lab.labRoot, 'pools', 'pool-a.json'), 'utf8'));
  const multipathing = Object.fromEntries(Object.values<any>(db.host).map((h) => [h['name-label'], [h['other-config']?.multipathing, h['other-config']?.multipathhandle]]));
  const members = Object.values<any>(db.host).map((h) => h['name-label'] as string).sort();
  const paths = Object.fromEntries(members.map((h) => [h, lab.onHost(h, 'multipath', ['-ll']).stdout.split('\n').filter((l) => / sd[a-z] /.test(l)).map((l) => l.replace(/.* \d+:\d+ +/, '').replace(/ +/g, ' '))]));
  return { pool: poolView(lab), multipathing, paths };
}
