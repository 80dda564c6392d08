import type { EventSink } from '../engine/events.ts';
import { Secret } from '../shell/command.ts';
import { redactSecrets } from '../runbook/params.ts';
import {
  buildRunRecord, isAliveHere, newLockHolder, type ClaimTable, type HostLocks, type JournalWriter, type LockHolder, type RunLease, type RunSummary, type StateBackend,
} from '../state/index.ts';
import { UsageError } from '../errors.ts';
import type { PreparedRun } from './prepare.ts';

/** A run's durable side: its record, journal, lease and host locks, open for the length of one invocation. */
export interface Session {
  runId: string;
  runDir: string;
  /** The journal as an event sink: each event resolves once fsync'd. */
  sinks: EventSink[];
  /** Things to tell the operator (a stale lock taken over, a torn journal tail repaired). */
  warnings: string[];
  /** The hosts this run shares with other controllers, where the state backend shares runs (not on a dry-run). */
  claimTable?: ClaimTable;
  close(): Promise<void>;
}

export interface SessionOptions {
  dryRun: boolean;
  argv: string[];
  inventoryRef: string;
  serial?: string;
  maxFailPercent?: number;
  /** Continue this run (resume) instead of starting a new one. */
  resumeOf?: RunSummary;
  /** Share the run with the live controllers on it (`resume --join`). */
  join?: boolean;
}

/**
 * Opens a new run (or reopens one to resume): the run's record, the journal, the run's lease and a
 * lock on every target host — all or nothing, so a refused lock leaves no half-made run behind.
 * A dry-run changes nothing and takes no lock, but is journaled like any run.
 */
export async function openSession(state: StateBackend, prepared: PreparedRun, options: SessionOptions): Promise<Session> {
  const { id, dir, fresh } = options.resumeOf
    ? { id: options.resumeOf.id, dir: options.resumeOf.dir, fresh: false }
    : { ...(await state.createRun(prepared.runbook.name)), fresh: true };
  let lease: RunLease | undefined;
  let locks: HostLocks | undefined;
  const holder = newLockHolder(id);
  try {
    // The lease first: of two resumes of one run, the second is refused before it touches a lock.
    if (!options.dryRun) lease = await state.holdRun(id, holder, { join: options.join });
    if (!options.dryRun) locks = await state.acquireHostLocks(prepared.hosts.map((h) => h.name), holder);
    if (fresh) await state.writeRunRecord(id, await buildRunRecord(recordInput(id, prepared, options)));
  } catch (error) {
    await locks?.release();
    await lease?.release();
    if (fresh) await state.discardRun(id);
    throw error;
  }
  // Transcripts are written before the engine goes on (a kill -9 loses none) and fsync'd in the
  // background every second: at a thousand hosts a per-batch fsync of every host file costs more
  // than the journal itself. The journal's own lines are always fsync'd before the engine moves on.
  const journal = await state.openJournal(id, { transcriptSync: 'background' });
  return {
    runId: id, runDir: dir, sinks: [journalSink(journal)],
    claimTable: options.dryRun ? undefined : state.claimTable(id, holder),
    warnings: [...(locks?.warnings ?? []), ...journal.warnings],
    close: async () => {
      try { await journal.close(); } finally { try { await locks?.release(); } finally { await lease?.release(); } }
    },
  };
}

/**
 * Removes a new run that failed (exit 1) before it started any step: exit 1 means nothing was
 * recorded, and a run left behind would ask every later apply for `resume` or `--fresh`.
 * Called after the session closed, so its locks are already released.
 */
export async function discardIfNothingStarted(state: StateBackend, session: Session): Promise<void> {
  const { events } = await state.readJournal(session.runId);
  if (events.some((event) => event.kind === 'step-start')) return;
  await state.discardRun(session.runId);
}

function recordInput(id: string, prepared: PreparedRun, options: SessionOptions) {
  const params = (prepared.params ?? {}) as Record<string, unknown>;
  return {
    id, runbookName: prepared.runbook.name, runbookFile: prepared.runbook.file,
    inventorySource: prepared.inventory.source, hosts: prepared.hosts,
    params: redactSecrets(params) as Record<string, unknown>,
    secretParamKeys: Object.keys(params).filter((k) => params[k] instanceof Secret),
    dryRun: options.dryRun, argv: options.argv,
    policy: { serial: options.serial, maxFailPercent: options.maxFailPercent },
  };
}

function journalSink(journal: JournalWriter): EventSink {
  return { emit: (event) => journal.append(event) };
}

/** `apply` on hosts an unfinished run of the same runbook still holds: ask for resume or --fresh, or say it is running. */
export async function refuseIfUnfinished(state: StateBackend, prepared: PreparedRun): Promise<void> {
  const pending = await state.findUnfinishedRuns(prepared.runbook.name, prepared.hosts.map((h) => h.name));
  if (pending.length === 0) return;
  const run = pending[0];
  const hosts = run.record!.hosts.filter((h) => prepared.hosts.some((p) => p.name === h));
  const where = `${hosts.slice(0, 5).join(', ')}${hosts.length > 5 ? ', …' : ''}`;
  const holder = await state.liveHolderOf(run.id, hosts);
  if (holder) throw new UsageError(`run ${run.id} of ${prepared.runbook.name} is running on ${where}: ${runningNow(holder)}`);
  throw new UsageError(
    `run ${run.id} of ${prepared.runbook.name} is unfinished (${run.state}) on ${where}.\n` +
    `  continue it:     runbook resume ${run.id}\n  or start anew:   add --fresh (the unfinished run stays in \`runbook runs\`)`);
}

/**
 * Who runs a run now, from its lock, and what to do: wait, or stop it. A holder on another machine
 * may have died there; only the operator can tell, and `runbook unlock` is then theirs to use.
 */
export function runningNow(holder: LockHolder): string {
  const who = `pid ${holder.pid}, user ${holder.user}, machine ${holder.machine}, since ${holder.since}`;
  if (isAliveHere(holder)) return `${who}.\n  Wait for it to end, or stop it (Ctrl-C in its terminal, or kill ${holder.pid}).`;
  return `${who}, as far as its lock tells.\n  Wait for it to end; if it died on ${holder.machine}: runbook unlock HOST --lock-id ${holder.lockId}, then runbook resume ${holder.runId}.`;
}
