import { UsageError } from '../errors.ts';
import { loadInventory } from '../inventory/load.ts';
import {
  foldProgress, hashFile, inventoryChanges, JOIN_NEEDS_DATABASE, resumePlan, stateDirFrom, type ResumePlan, type RunRecord, type RunSummary, type StateBackend,
} from '../state/index.ts';
import { checkConnections } from '../transport/index.ts';
import { runPrepared, sshConfigOption, windowEndOf, type RunExtras, type RunFlags } from './apply.ts';
import { readPlan } from '../plan/file.ts';
import { planGuard } from '../plan/guard.ts';
import { loadRunbook } from './load-runbook.ts';
import { terminalNotice, withState, type Io } from './options.ts';
import { preparedFrom, recordedHosts, recordedParams, wantsTypecheck, type PreparedRun } from './prepare.ts';
import { typecheckRunbook } from '../runbook/typecheck.ts';
import { checkRunFlags } from './run-flags.ts';
import { openSession, runningNow } from './session.ts';
import { resumeMap } from './claims.ts';

export interface ResumeArgs extends RunFlags {
  run?: string;
  force: boolean;
  param?: string[];
  /** A run that applies a saved plan: see `apply PLANFILE --refresh-stale`. */
  refreshStale?: boolean;
  /** Share the run with the controllers already on it (state database only): take the hosts none of them holds. */
  join?: boolean;
}

/**
 * `runbook resume [RUN]`: reload the run's runbook (refusing a changed file unless --force), its
 * inventory and params, fold the journal into a plan, and run each host from where it stopped.
 */
export async function resumeCommand(args: ResumeArgs, io: Io): Promise<number> {
  return withState(args, io, (state) => resumeIn(state, args, io));
}

async function resumeIn(state: StateBackend, args: ResumeArgs, io: Io): Promise<number> {
  const stateDir = stateDirFrom(args.stateDir, io.env, io.cwd);
  if (args.join && !state.sharesRuns) throw new UsageError(JOIN_NEEDS_DATABASE(args.run ?? 'latest'));
  const run = await state.resolveRun(args.run);
  const record = usableRecord(run);
  checkRunFlags(args, record.hosts.length);
  const holder = args.join ? undefined : await state.liveHolderOf(run.id, record.hosts);
  if (holder) throw new UsageError(`run ${run.id} is running: ${runningNow(holder)}\n  or share it from here: runbook resume ${run.id} --join (with the same state database)`);
  await refuseChangedRunbook(record, args.force);
  const prepared = await reloadRun(record, args.param ?? [], io);
  if (wantsTypecheck(args.typecheck, io.env)) await typecheckRunbook(prepared.runbook.file, stateDir, terminalNotice(io));
  const progress = run.progress ?? foldProgress((await state.readJournal(run.id)).events);
  const plan = resumePlan(progress, prepared.runbook.steps.map((s) => s.id));
  const warnings = [...(run.journalWarnings ?? []), ...inventoryChanges(record, prepared.hosts), ...unknownSteps(plan)];
  for (const warning of warnings) io.stderr.write(`[WARNING] ${warning}\n`);
  if (!args.json) io.stderr.write(describePlan(plan));
  const windowEnd = windowEndOf(args.windowEnd, prepared.runbook);
  const planned = await planOfRun(state, run.id, args.refreshStale ?? false);
  await checkConnections(prepared.hosts, sshConfigOption(args, io));
  const session = await openSession(state, prepared, { dryRun: false, argv: process.argv.slice(2), inventoryRef: record.inventory.source, resumeOf: run, join: args.join });
  // The rolling policy the run was started with holds for its rest: a resume of a --serial 1
  // rebuild must not take the remaining hosts all at once.
  const policy = record.policy ?? {};
  const flags = { ...args, dryRun: false, maxFailPercent: args.maxFailPercent ?? policy.maxFailPercent };
  return (await runPrepared(prepared, state, session, flags, io, { serial: policy.serial, resume: resumeMap(plan), windowEnd, ...planned })).exitCode;
}

/**
 * A run that applied a saved plan goes on under that plan (a resume must not run what nobody
 * reviewed): the plan file must still be there, sealed as it was, and not expired.
 */
async function planOfRun(state: StateBackend, runId: string, refreshStale: boolean): Promise<Pick<RunExtras, 'guard' | 'plan'>> {
  const { events } = await state.readJournal(runId);
  const start = events.find((e) => e.kind === 'run-start' && e.plan !== undefined);
  if (start?.kind !== 'run-start' || !start.plan) return {};
  const plan = await readPlan(start.plan.file);
  if (plan.sha256 !== start.plan.sha256) throw new UsageError(`run ${runId} applied the plan ${start.plan.file} (sha256 ${start.plan.sha256.slice(0, 12)}…), which now holds another plan (sha256 ${plan.sha256.slice(0, 12)}…): refused`);
  return { plan: start.plan, guard: planGuard(plan, { refreshStale }) };
}

function usableRecord(run: RunSummary): RunRecord {
  if (!run.record) throw new UsageError(`run ${run.id} cannot be resumed: ${run.problem ?? 'run.json is missing'}`);
  if (run.record.dryRun) throw new UsageError(`run ${run.id} was a dry-run: there is nothing to resume (run apply without --dry-run)`);
  if (run.state === 'ok') throw new UsageError(`run ${run.id} finished ok: there is nothing to resume`);
  return run.record;
}

async function refuseChangedRunbook(record: RunRecord, force: boolean): Promise<void> {
  const now = await hashFile(record.runbook.file).catch(() => 'missing');
  if (now === record.runbook.sha256 || force) return;
  const what = now === 'missing' ? 'is gone' : 'changed since the run started';
  throw new UsageError(`the runbook file ${record.runbook.file} ${what} (sha256 ${record.runbook.sha256.slice(0, 12)}… → ${now.slice(0, 12)}…).\n` +
    '  Steps already done were done by the old version. Review the change (step ids, order, checks), then: runbook resume --force');
}

/** The run's runbook, inventory and params again, validated as at the start. Secret params come from the environment or --param. */
async function reloadRun(record: RunRecord, extraParams: string[], io: Io): Promise<PreparedRun> {
  const runbook = await loadRunbook(record.runbook.file, io.cwd);
  const inventory = await loadInventory(record.inventory.source, { cwd: io.cwd });
  const hosts = recordedHosts(record.hosts, inventory, (name) => `host ${name} of run ${record.id} is no longer in ${record.inventory.source}`);
  const params = recordedParams(runbook, record.params, extraParams, io.env,
    (names) => `secret params are never stored: give ${names} in the environment (or --param) to resume`);
  return preparedFrom(runbook, inventory, hosts, params);
}

function unknownSteps(plan: ResumePlan): string[] {
  return plan.unknownSteps.length ? [`the journal has steps the runbook no longer has: ${plan.unknownSteps.join(', ')}`] : [];
}

function describePlan(plan: ResumePlan): string {
  const why: Record<string, string> = { 'in-flight': 're-check (was in flight)', failed: 'retry (failed)', unreachable: 'retry (was unreachable)', confirmed: 'continue (confirmed)', waiting: 'still waiting for confirmation', 'not-run': 'start' };
  const confirmed = (h: ResumePlan['hosts'][number]) => (h.confirmation && h.why !== 'confirmed' ? `, confirmed by ${h.confirmation.by}` : '');
  const lines = plan.hosts.map((h) => `  ${h.host}: ${h.startAt ? `${h.done.length} step(s) done; ${why[h.why ?? 'not-run']} at ${h.startAt}${confirmed(h)}` : 'all steps done'}`);
  return `resume plan:\n${lines.join('\n')}\n`;
}
