import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { RunbookError, UsageError } from '../errors.ts';
import { DIR_MODE, isErrno, makePrivateDir } from './fsutil.ts';
import type { ConfirmationEvent, JournalContents, JournalOptions, JournalWriter, TranscriptEvent } from './journal.ts';
import { appendConfirmation, journalPath, openJournal, readHostTranscript, readJournal } from './journal.ts';
import {
  acquireHostLocks, describeHolder, forceUnlock, isAliveHere, liveHolderOf, LockError, readLock, type HostLocks, type LockHolder,
} from './locks.ts';
import {
  createRunDir, findUnfinishedRunsIn, folderRunStore, listRunsIn, resolveRunIn, runDirOf, RUNS_DIR, writeRunRecord,
  type RunRecord, type RunStore, type RunSummary,
} from './runs.ts';

/**
 * Where a team's runs live: the one interface the CLI talks to, with two implementations — the
 * state folder (the embedded default, this file) and PostgreSQL (postgres.ts, for team use).
 * Both keep the same records: run.json's content, the journal's events in order, each host's
 * transcript, confirmations, host locks and the project known_hosts.
 */
export interface StateBackend {
  /** For messages: the folder, or the database URL (never with a password). */
  readonly where: string;
  /** Whether several controllers may share a run (`resume --join`): the database, not the folder. */
  readonly sharesRuns: boolean;
  /** The run queries (runs, show, resume, confirm) read through this. */
  readonly runs: RunStore;
  /** A new run under a fresh id; `dir` is what summaries show as its place. */
  createRun(runbookName: string): Promise<{ id: string; dir: string }>;
  /** A run under a given id (`state copy`); false if one with that id is already here. */
  adoptRun(runId: string, runbookName: string): Promise<boolean>;
  writeRunRecord(runId: string, record: RunRecord): Promise<void>;
  /** Removes a run that started nothing (exit 1 before its first step). */
  discardRun(runId: string): Promise<void>;
  openJournal(runId: string, options?: JournalOptions): Promise<JournalWriter>;
  readJournal(runId: string): Promise<JournalContents>;
  readHostTranscript(runId: string, host: string): Promise<JournalContents<TranscriptEvent>>;
  /** From another process than the run's (`runbook confirm`), while it runs, waits, or after it died. */
  appendConfirmation(runId: string, event: ConfirmationEvent): Promise<void>;
  listRuns(): Promise<RunSummary[]>;
  resolveRun(idOrPrefix?: string): Promise<RunSummary>;
  findUnfinishedRuns(runbookName: string, hosts: readonly string[]): Promise<RunSummary[]>;
  /**
   * Holds a run for this process (its lease) until released: a second `resume` of the run is
   * refused while it is held, naming the holder. The folder needs none: its host locks name a pid.
   */
  holdRun(runId: string, holder: LockHolder, options?: { join?: boolean }): Promise<RunLease>;
  /**
   * The run's hosts shared among controllers (`resume --join`), or undefined where runs are not
   * shared (the folder: one controller runs every host of its run).
   */
  claimTable(runId: string, holder: LockHolder): ClaimTable | undefined;
  /** The controllers working on a run in its current sitting, with the hosts each took (none on the folder). */
  controllersOf(runId: string): Promise<ControllerOfRun[]>;
  /** Locks every host for the run or none (a LockError names the holder of the one refused). */
  acquireHostLocks(hosts: readonly string[], holder: LockHolder): Promise<HostLocks>;
  /** Who runs this run now, if anyone may (see liveHolderOf in locks.ts). */
  liveHolderOf(runId: string, hosts: readonly string[]): Promise<LockHolder | undefined>;
  readLock(host: string): Promise<LockHolder | undefined>;
  /** Breaks a lock whose lock id matches; one held by a live process only with `force`. */
  forceUnlock(host: string, lockId: string, options?: { force?: boolean }): Promise<UnlockResult>;
  /** The project known_hosts as a file the SSH transport reads and appends to; `save` keeps what it added. */
  projectKnownHosts(): Promise<ProjectKnownHosts>;
  close(): Promise<void>;
}

/**
 * Which controller works on which host of a run, for the length of a sitting (from the first
 * controller that finds the run free until the last one leaves).
 */
export interface ClaimTable {
  /**
   * Takes a host for this controller: 'new' when no controller had it in this sitting,
   * 'taken-over' when one that died had it and it never ended; undefined when another live
   * controller has it or it ended already.
   */
  take(host: string): Promise<'new' | 'taken-over' | undefined>;
  /** The host ended on this controller (its host status): no controller takes it again in this sitting. */
  end(host: string, status: string): Promise<void>;
  /** How the hosts stand across controllers now. */
  view(hosts: readonly string[]): Promise<ClaimView>;
}

export interface ClaimView {
  /** Free to take: nobody took them, or their controller died before they ended. */
  free: string[];
  /** Taken by a live controller (this one or another), not ended yet. */
  running: { host: string; holder?: LockHolder }[];
  /** Ended, on whichever controller, with the host's status. */
  ended: Record<string, string>;
}

/** One controller of a run, as `runs` and `show` name it. */
export interface ControllerOfRun {
  holder: LockHolder;
  live: boolean;
  /** Hosts it took that have not ended. */
  running: string[];
  ended: string[];
}

/** A run held by this process; released by close, or by the process's death. */
export interface RunLease {
  release(): Promise<void>;
}

export interface UnlockResult {
  holder: LockHolder;
  /** The holder was a live process (on this machine, or holding its run's lease anywhere). */
  wasAlive: boolean;
}

export interface ProjectKnownHosts {
  file: string;
  /** Keeps keys the run accepted (`--accept-new-host-keys`) where every operator finds them. */
  save(): Promise<void>;
}

/** The state folder (`--state-dir`, `.runbook`): the behaviour and on-disk format of locks.ts, journal.ts and runs.ts. */
export class FolderBackend implements StateBackend {
  readonly runs: RunStore;
  readonly sharesRuns = false;
  constructor(readonly stateDir: string) {
    this.runs = folderRunStore(stateDir);
  }

  get where(): string { return this.stateDir; }
  #dir(runId: string): string { return runDirOf(this.stateDir, runId); }

  createRun(runbookName: string) { return createRunDir(this.stateDir, runbookName); }

  async adoptRun(runId: string): Promise<boolean> {
    await makePrivateDir(path.join(this.stateDir, RUNS_DIR));
    try {
      await fsp.mkdir(this.#dir(runId), { mode: DIR_MODE });
      return true;
    } catch (error) {
      if (isErrno(error, 'EEXIST')) return false;
      throw error;
    }
  }
  writeRunRecord(runId: string, record: RunRecord) { return writeRunRecord(this.#dir(runId), record); }
  async discardRun(runId: string) { await fsp.rm(this.#dir(runId), { recursive: true, force: true }); }
  openJournal(runId: string, options?: JournalOptions) { return openJournal(this.#dir(runId), options); }
  readJournal(runId: string) { return readJournal(journalPath(this.#dir(runId))); }
  readHostTranscript(runId: string, host: string) { return readHostTranscript(this.#dir(runId), host); }
  appendConfirmation(runId: string, event: ConfirmationEvent) { return appendConfirmation(this.#dir(runId), event); }
  listRuns() { return listRunsIn(this.runs); }
  resolveRun(idOrPrefix?: string) { return resolveRunIn(this.runs, idOrPrefix); }
  findUnfinishedRuns(runbookName: string, hosts: readonly string[]) { return findUnfinishedRunsIn(this.runs, runbookName, hosts); }
  async holdRun(runId: string, _holder: LockHolder, options: { join?: boolean } = {}): Promise<RunLease> {
    if (options.join) throw new UsageError(JOIN_NEEDS_DATABASE(runId));
    return { release: async () => undefined };
  }
  claimTable(): undefined { return undefined; }
  async controllersOf(): Promise<ControllerOfRun[]> { return []; }
  acquireHostLocks(hosts: readonly string[], holder: LockHolder) { return acquireHostLocks(this.stateDir, hosts, holder); }
  liveHolderOf(runId: string, hosts: readonly string[]) { return liveHolderOf(this.stateDir, runId, hosts); }
  readLock(host: string) { return readLock(this.stateDir, host); }

  async forceUnlock(host: string, lockId: string, options: { force?: boolean } = {}): Promise<UnlockResult> {
    const holder = await forceUnlock(this.stateDir, host, lockId, options);
    return { holder, wasAlive: isAliveHere(holder) };
  }

  async projectKnownHosts(): Promise<ProjectKnownHosts> {
    return { file: path.join(this.stateDir, 'known_hosts'), save: async () => undefined };
  }

  async close(): Promise<void> {}
}

/**
 * Why --join is refused on a state folder: controllers on other machines cannot see it, and on
 * one machine the folder's locks name a process per host, not a share of a run; `--forks` already
 * runs more hosts at once from one controller.
 */
export const JOIN_NEEDS_DATABASE = (runId: string): string =>
  `--join shares run ${runId} among controllers through a state database (--state postgres://… or RUNBOOK_STATE_URL); ` +
  'a state folder belongs to one machine and one controller per run (for more hosts at once from here, give --forks)';

/** The state database went away (stopped, network cut): nothing after that was recorded. */
export class StateUnavailableError extends RunbookError {
  override name = 'StateUnavailableError';
}

/** A LockError for a host held by another run, with what to do when that run's process is gone. */
export function heldBy(host: string, holder: LockHolder, alive: boolean): LockError {
  const next = alive ? '' : `; its process is gone: runbook resume ${holder.runId} continues it, or runbook unlock ${host} --lock-id ${holder.lockId} frees the host`;
  return new LockError(`${host} is locked by ${describeHolder(holder)}${next}`, host, holder);
}
