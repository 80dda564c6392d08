import { resolve } from 'node:path';
import type { EventSink, RunEvent } from '../engine/events.ts';
import { EXIT, type RunSummary } from '../engine/run.ts';
import { parseLength } from '../engine/window.ts';
import { UsageError } from '../errors.ts';
import { loadInventory } from '../inventory/load.ts';
import { planAuthor, planOutlook, readPlan, sealPlan, snapshotHosts, planText, type Plan, type PlanBody, type PlannedHost } from '../plan/file.ts';
import { planGuard } from '../plan/guard.ts';
import { renderPlan } from '../report/plan.ts';
import { redactSecrets } from '../runbook/params.ts';
import { Secret } from '../shell/command.ts';
import { writeFileAtomic } from '../state/fsutil.ts';
import { inventoryChanges, maskSecretKeys, type RunRecord } from '../state/runs.ts';
import { checkConnections } from '../transport/index.ts';
import { detailedExitCode, runPrepared, sshConfigOption, windowEndOf, type ApplyArgs, type RunFlags } from './apply.ts';
import { stateDirOf, terminalNotice, withState, type Io } from './options.ts';
import { StateUnavailableError } from '../state/index.ts';
import { preparedFrom, prepareRun, recordedHosts, recordedParams, wantsTypecheck, type PreparedRun } from './prepare.ts';
import { checkRunFlags } from './run-flags.ts';
import { stat } from 'node:fs/promises';
import { discardIfNothingStarted, openSession, refuseIfUnfinished } from './session.ts';
import { loadRunbook } from './load-runbook.ts';
import { typecheckRunbook } from '../runbook/typecheck.ts';

export interface PlanArgs extends Omit<ApplyArgs, 'dryRun' | 'fresh'> {
  /** `-o FILE`: where the plan is written. */
  out: string;
  /** `--valid-for 8h`: the plan is refused after this long. */
  validFor?: string;
}

/**
 * `runbook plan NAME -i INV -o FILE`: a dry-run written down. The dry-run is journaled like any;
 * the plan holds what a reviewer needs and what `runbook apply FILE` holds the hosts to.
 */
export async function planCommand(args: PlanArgs, io: Io): Promise<number> {
  const stateDir = stateDirOf(args, io.env, io.cwd);
  const out = resolve(io.cwd, args.out);
  const validForMs = validForOf(args.validFor);
  const prepared = await prepareRun({ runbook: args.name, inventory: args.inventory, limit: args.limit, param: args.param, typecheck: args.typecheck, notice: terminalNotice(io), stateDir }, io.cwd, io.env);
  checkRunFlags(args, prepared.hosts.length, args.serial);
  await checkConnections(prepared.hosts, sshConfigOption(args, io));
  const collector = new PlanCollector();
  const summary = await withState(args, io, async (state) => {
    const session = await openSession(state, prepared, { dryRun: true, argv: process.argv.slice(2), inventoryRef: args.inventory, serial: args.serial, maxFailPercent: args.maxFailPercent });
    try {
      return await runPrepared(prepared, state, session, { ...args, dryRun: true }, io, { serial: args.serial, sinks: [collector] });
    } catch (error) {
      if (!(error instanceof StateUnavailableError)) await discardIfNothingStarted(state, session);
      throw error;
    }
  });
  if (summary.exitCode === EXIT.interrupted) { io.stderr.write('plan not written: the dry-run was interrupted\n'); return summary.exitCode; }
  const plan = sealPlan(await planBody(prepared, args, collector, summary.runId, validForMs));
  await writeFileAtomic(out, planText(plan));
  io.stderr.write(planWritten(plan, args.out));
  return args.detailedExitcode ? detailedExitCode(summary) : summary.exitCode;
}

function validForOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseLength(text);
  if (!ms) throw new UsageError(`--valid-for ${JSON.stringify(text)}: expected a length like 8h, 90m or 2d`);
  return ms;
}

/** The dry-run's step results per host, in order, as they arrive. */
class PlanCollector implements EventSink {
  readonly hosts = new Map<string, PlannedHost>();

  emit(event: RunEvent): void {
    if (event.kind === 'step-result') {
      const host = this.host(event.host);
      host.steps.push({
        id: event.step, title: event.title, status: event.status, reason: event.reason,
        ...(event.commands ? { commands: event.commands } : {}), ...(event.diff ? { diff: event.diff } : {}),
      });
    } else if (event.kind === 'host-end') this.host(event.host).status = event.status;
  }

  private host(name: string): PlannedHost {
    let host = this.hosts.get(name);
    if (!host) this.hosts.set(name, (host = { status: 'ok', steps: [] }));
    return host;
  }
}

async function planBody(prepared: PreparedRun, args: PlanArgs, collector: PlanCollector, dryRunId: string, validForMs?: number): Promise<PlanBody> {
  const now = new Date();
  return {
    kind: 'runbook-plan', version: 1,
    runbook: { name: prepared.runbook.name, file: prepared.runbook.file, sha256: prepared.runbook.hash },
    inventory: { ref: args.inventory, source: prepared.inventory.source, hosts: snapshotHosts(prepared.hosts) },
    ...(args.limit ? { limit: args.limit } : {}),
    params: maskedParams(prepared.params),
    policy: { ...(args.serial ? { serial: args.serial } : {}), ...(args.maxFailPercent !== undefined ? { maxFailPercent: args.maxFailPercent } : {}) },
    ...planAuthor(), createdAt: now.toISOString(),
    ...(validForMs ? { expiresAt: new Date(now.getTime() + validForMs).toISOString() } : {}),
    dryRunId, hostOrder: prepared.hosts.map((h) => h.name),
    hosts: Object.fromEntries(prepared.hosts.map((h) => [h.name, collector.hosts.get(h.name) ?? { status: 'interrupted', steps: [] }])),
  };
}

/** Params as run.json keeps them: a Secret is the mask, a secret-looking key too. */
function maskedParams(params: unknown): Record<string, unknown> {
  const values = (params ?? {}) as Record<string, unknown>;
  const secretKeys = new Set(Object.keys(values).filter((k) => values[k] instanceof Secret));
  return maskSecretKeys(redactSecrets(values), secretKeys) as Record<string, unknown>;
}

function planWritten(plan: Plan, file: string): string {
  const { changes, failures } = planOutlook(plan);
  const expiry = plan.expiresAt ? `, valid until ${plan.expiresAt}` : '';
  const outlook = `${plan.hostOrder.length} host(s), ${changes} change(s) pending${failures ? `, ${failures} step(s) would fail` : ''}`;
  return `plan written: ${file} (sha256 ${plan.sha256.slice(0, 12)}…${expiry}): ${outlook}\n` +
    `  review:  runbook plan show ${file} --format md\n  apply:   runbook apply ${file}\n`;
}

/** `runbook plan show FILE [--format md]`: the plan for a reader; an expired plan still shows, marked. */
export async function planShowCommand(args: { file: string; format: 'text' | 'md' }, io: Io): Promise<number> {
  const plan = await readPlan(resolve(io.cwd, args.file), new Date(0));
  io.stdout.write(renderPlan(plan, args.format, new Date()));
  return 0;
}

export interface ApplyPlanArgs extends RunFlags {
  file: string;
  param: string[];
  /** `--refresh-stale`: a step planned as a change goes on with what its check finds now. */
  refreshStale?: boolean;
  fresh: boolean;
  inventory?: string;
  limit?: string;
}

/**
 * `runbook apply PLAN`: refuses (exit 1, nothing touched) a plan that is expired, edited, or made
 * for another runbook file, other hosts or other params; otherwise runs it with each check held
 * against the plan (a host whose check differs stops as stale, exit 6).
 */
export async function applyPlanCommand(args: ApplyPlanArgs, io: Io): Promise<number> {
  if (args.inventory !== undefined || args.limit !== undefined) throw new UsageError('a plan holds its inventory and hosts: apply it without --inventory/--limit (or make a new plan)');
  const stateDir = stateDirOf(args, io.env, io.cwd);
  const file = resolve(io.cwd, args.file);
  const plan = await readPlan(file);
  const prepared = await preparePlanned(plan, args, io, stateDir);
  checkRunFlags(args, prepared.hosts.length, plan.policy.serial);
  const windowEnd = windowEndOf(args.windowEnd, prepared.runbook);
  return withState(args, io, async (state) => {
    if (!args.fresh) await refuseIfUnfinished(state, prepared);
    await checkConnections(prepared.hosts, sshConfigOption(args, io));
    const session = await openSession(state, prepared, { dryRun: false, argv: process.argv.slice(2), inventoryRef: plan.inventory.ref, serial: plan.policy.serial, maxFailPercent: args.maxFailPercent ?? plan.policy.maxFailPercent });
    try {
      const flags = { ...args, dryRun: false, maxFailPercent: args.maxFailPercent ?? plan.policy.maxFailPercent };
      const guard = planGuard(plan, { refreshStale: args.refreshStale ?? false });
      return (await runPrepared(prepared, state, session, flags, io, { serial: plan.policy.serial, windowEnd, guard, plan: { sha256: plan.sha256, file } })).exitCode;
    } catch (error) {
      if (!(error instanceof StateUnavailableError)) await discardIfNothingStarted(state, session);
      throw error;
    }
  });
}

/** The plan's runbook, hosts and params again, each refused if it is not what was planned. */
async function preparePlanned(plan: Plan, args: ApplyPlanArgs, io: Io, stateDir: string): Promise<PreparedRun> {
  const runbook = await loadRunbook(plan.runbook.file, io.cwd);
  if (runbook.hash !== plan.runbook.sha256) throw new UsageError(`the runbook file ${runbook.file} changed since the plan was made (sha256 ${plan.runbook.sha256.slice(0, 12)}… → ${runbook.hash.slice(0, 12)}…): refused. Make a new plan`);
  if (wantsTypecheck(args.typecheck, io.env)) await typecheckRunbook(runbook.file, stateDir, terminalNotice(io));
  const inventory = await loadInventory(plan.inventory.source, { cwd: io.cwd, stateDir });
  const hosts = recordedHosts(plan.hostOrder, inventory, (name) => `host ${name} of the plan is no longer in ${plan.inventory.source}: refused. Make a new plan`);
  const drift = inventoryChanges(asRecord(plan), hosts);
  if (drift.length) throw new UsageError(`the inventory changed since the plan was made: refused. Make a new plan\n  ${drift.join('\n  ')}`);
  return preparedFrom(runbook, inventory, hosts, plannedParams(plan, runbook, args.param, io.env));
}

/** What inventoryChanges compares: the plan's host snapshots in run.json's shape. */
function asRecord(plan: Plan): RunRecord {
  return { hosts: plan.hostOrder, inventory: { source: plan.inventory.source, hosts: plan.inventory.hosts } } as unknown as RunRecord;
}

/**
 * The plan's params, with secrets from the environment (or --param) as they are never stored.
 * A --param that differs from the plan's value is refused, as is anything that validates to other params.
 */
function plannedParams(plan: Plan, runbook: PreparedRun['runbook'], extra: string[], env: NodeJS.ProcessEnv): unknown {
  const params = recordedParams(runbook, plan.params, extra, env,
    (names) => `secret params are never stored in a plan: give ${names} in the environment to apply it`);
  const masked = maskedParams(params);
  const differ = [...new Set([...Object.keys(masked), ...Object.keys(plan.params)])].filter((k) => JSON.stringify(masked[k]) !== JSON.stringify(plan.params[k]));
  if (differ.length) throw new UsageError(`params differ from the plan's (${differ.map((k) => `${k}: planned ${JSON.stringify(plan.params[k])}, now ${JSON.stringify(masked[k])}`).join('; ')}): refused. Make a new plan`);
  return params;
}

/** `apply NAME`: a path to an existing file that is not a runbook's .ts is a plan. */
export async function isPlanFile(name: string, cwd: string): Promise<boolean> {
  if (/\.[cm]?ts$/.test(name)) return false;
  return stat(resolve(cwd, name)).then((s) => s.isFile(), () => false);
}
