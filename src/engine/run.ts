import type { Inventory, InventoryHost } from '../inventory/types.ts';
import type { Runbook } from '../runbook/types.ts';
import { EventBus } from './bus.ts';
import { Connections, type TransportFactory } from './connections.ts';
import { hostInfo, inventoryView } from './context.ts';
import type { EventSink, HostStatus, PlanRef, RunStatus } from './events.ts';
import type { PlanGuard } from './plan-guard.ts';
import { emptyCounts, runHost, type HostResult, type HostResume, type RunScope } from './host.ts';
import { Interrupt } from './interrupt.ts';
import { failedIn, soleClaims, type BatchView, type HostClaims } from './claims.ts';
import { batches, failLimitCrossed, pool } from './schedule.ts';
import type { Prompter } from './step.ts';

export interface RunRequest {
  runId: string;
  runbook: Runbook;
  inventory: Inventory;
  /** Target hosts, in order (runbook pattern ∩ --limit). */
  hosts: InventoryHost[];
  params: unknown;
  /** Validated vars per host name. */
  hostVars: Map<string, unknown>;
  dryRun: boolean;
  forks: number;
  serial?: number | string;
  maxFailPercent?: number;
  transports: TransportFactory;
  sinks: EventSink[];
  runSecrets: readonly string[];
  prompter?: Prompter;
  resume?: Map<string, HostResume>;
  /** Which hosts this controller takes, when several share the run; every host, by default. */
  claims?: HostClaims;
  interrupt?: Interrupt;
  /** Applying a saved plan: each check is held against it (src/plan/guard.ts). */
  guard?: PlanGuard;
  /** The change window's end: no step starts after it; the run stops resumable (exit 7). */
  windowEnd?: Date;
  /** The plan applied, for the journal's run-start. */
  plan?: PlanRef;
  /** Milliseconds now; a test's fake clock moves the window's end past without waiting. */
  clock?: () => number;
}

export interface RunSummary {
  runId: string;
  status: RunStatus;
  exitCode: number;
  hosts: HostResult[];
  durationMs: number;
}

/**
 * Exit codes, documented in the README: worst condition wins. `changesPending` and `wouldFail`
 * only with `--detailed-exitcode` on a dry-run or plan (Terraform's convention: 2 = changes pending).
 */
export const EXIT = { ok: 0, usage: 1, failed: 2, changesPending: 2, waiting: 3, unreachable: 4, wouldFail: 5, stale: 6, windowClosed: 7, interrupted: 130 } as const;

/** Runs a validated runbook over its hosts: batches of `serial`, `forks` hosts at a time. */
export async function executeRun(request: RunRequest): Promise<RunSummary> {
  const started = performance.now();
  const interrupt = request.interrupt ?? new Interrupt();
  const bus = new EventBus(request.sinks);
  const connections = new Connections(request.inventory.hosts, request.transports);
  const toInfo = (h: InventoryHost) => hostInfo(h, request.hostVars.get(h.name) ?? h.vars);
  let failLimitHit = false;
  const window = windowWatch(request);
  const scope: RunScope = {
    runId: request.runId, runbook: request.runbook, params: request.params, dryRun: request.dryRun,
    inventoryHosts: request.inventory.hosts, inventory: inventoryView(request.inventory.hosts, toInfo),
    connections, bus, runSecrets: request.runSecrets, prompter: request.prompter, guard: request.guard,
    shouldStop: () => interrupt.requested || failLimitHit || window.closed(), hardStop: interrupt.hardSignal,
  };
  await bus.emit({
    kind: 'run-start', runId: request.runId, runbook: request.runbook.name, hosts: request.hosts.map((h) => h.name), dryRun: request.dryRun,
    ...(request.resume ? { resumed: true } : {}), ...(request.plan ? { plan: request.plan } : {}), ...(request.windowEnd ? { windowEnd: request.windowEnd.toISOString() } : {}),
  });
  const results: HostResult[] = [];
  /** Hosts other controllers of a shared run ran, as they ended: the run's status counts them too. */
  const elsewhere: HostResult[] = [];
  try {
    const claims = request.claims ?? soleClaims(request.resume);
    const noteFailures = (view: BatchView, size: number) => {
      if (failLimitCrossed(failedIn(view), size, request.maxFailPercent)) failLimitHit = true;
    };
    for (const batch of batches(request.hosts, request.serial ?? request.runbook.serial)) {
      if (scope.shouldStop()) { results.push(...batch.map((h) => notRun(h.name))); continue; }
      const ran = await runBatch(batch, { claims, forks: request.forks, scope, noteFailures, failLimitSet: request.maxFailPercent !== undefined, run: (host, resume) => runHost(toInfo(host), scope, resume) });
      results.push(...ran.mine);
      elsewhere.push(...ran.elsewhere);
      if (failLimitHit) await bus.emit({ kind: 'warning', message: `more than ${request.maxFailPercent}% of the hosts in a batch failed: no further steps were started` });
    }
  } finally {
    await connections.closeAll();
  }
  const windowHit = window.hit() && !interrupt.requested;
  if (windowHit) await bus.emit({ kind: 'warning', message: `the change window ended at ${request.windowEnd!.toISOString()}: no step started after it; runbook resume ${request.runId} continues the run` });
  const status = runStatus([...results, ...elsewhere], interrupt.requested || windowHit);
  const exitCode = windowHit ? EXIT.windowClosed : exitCodeFor(status);
  const durationMs = Math.round(performance.now() - started);
  await bus.emit({ kind: 'run-end', runId: request.runId, status, exitCode, durationMs, hosts: Object.fromEntries([...elsewhere, ...results].map((r) => [r.host, r.status])) });
  interrupt.dispose();
  await bus.close();
  return { runId: request.runId, status, exitCode, hosts: results, durationMs };
}

interface BatchRunner {
  claims: HostClaims;
  forks: number;
  scope: RunScope;
  noteFailures(view: BatchView, size: number): void;
  failLimitSet: boolean;
  run(host: InventoryHost, resume?: HostResume): Promise<HostResult>;
}

/**
 * One batch: take its free hosts and run them, `forks` at a time; then, while other controllers
 * still run hosts of it, wait and take any their controller left behind (it died). Returns this
 * controller's results in batch order (`interrupted` for the hosts nobody ran), and how the hosts
 * other controllers ran ended.
 */
async function runBatch(batch: readonly InventoryHost[], runner: BatchRunner): Promise<{ mine: HostResult[]; elsewhere: HostResult[] }> {
  const { claims, scope } = runner;
  const names = batch.map((h) => h.name);
  const mine = new Map<string, HostResult>();
  let todo = batch;
  for (;;) {
    let tookAny = false;
    await pool(todo, runner.forks, async (host) => {
      if (scope.shouldStop()) return;
      const taken = await claims.take(host.name);
      if (!taken) return;
      tookAny = true;
      const result = await runner.run(host, taken.resume);
      mine.set(host.name, result);
      await claims.ended(host.name, result.status);
      // The failure share across controllers: asked after each host only when a limit is set.
      if (runner.failLimitSet) runner.noteFailures(await claims.view(names), batch.length);
    });
    const view = await claims.view(names);
    runner.noteFailures(view, batch.length);
    if (scope.shouldStop() || (view.free.length === 0 && view.running.length === 0)) {
      const elsewhere = Object.entries(view.ended).filter(([host]) => !mine.has(host)).map(([host, status]) => ({ ...notRun(host), status: status as HostStatus }));
      return { mine: batch.filter((h) => mine.has(h.name) || view.free.includes(h.name)).map((h) => mine.get(h.name) ?? notRun(h.name)), elsewhere };
    }
    todo = batch.filter((h) => view.free.includes(h.name));
    // Another controller took what looked free (or nothing is free): pause rather than spin.
    if (todo.length === 0 || !tookAny) await claims.wait(view.running);
  }
}

function notRun(host: string): HostResult {
  return { host, status: 'interrupted', counts: emptyCounts(), alreadyDone: 0 };
}

/** Whether the change window has closed (checked before each step), and whether that stopped anything. */
function windowWatch(request: RunRequest): { closed(): boolean; hit(): boolean } {
  const now = request.clock ?? Date.now;
  let hit = false;
  return {
    closed: () => {
      if (!request.windowEnd || now() < request.windowEnd.getTime()) return false;
      hit = true;
      return true;
    },
    hit: () => hit,
  };
}

/** The worst host decides: failed > unreachable > waiting; an interrupt overrides them all. */
export function runStatus(results: readonly HostResult[], interrupted: boolean): RunStatus {
  const has = (s: HostStatus) => results.some((r) => r.status === s);
  if (interrupted) return 'interrupted';
  if (has('failed') || has('interrupted')) return 'failed';
  if (has('unreachable')) return 'unreachable';
  if (has('stale')) return 'stale';
  if (has('waiting')) return 'waiting';
  return 'ok';
}

export function exitCodeFor(status: RunStatus): number {
  return { ok: EXIT.ok, failed: EXIT.failed, unreachable: EXIT.unreachable, waiting: EXIT.waiting, interrupted: EXIT.interrupted, stale: EXIT.stale }[status];
}
