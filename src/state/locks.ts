import { randomUUID } from 'node:crypto';
import { closeSync, openSync, promises as fsp, readFileSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RunbookError } from '../errors.ts';
import { FILE_MODE, fileNameFor, isErrno, makePrivateDir, mapLimited, openIfExists } from './fsutil.ts';
import { currentUser } from './runs.ts';

export const LOCKS_DIR = 'locks';

/** Who holds a host: the content of `<stateDir>/locks/<host>.lock`. */
export interface LockHolder {
  /** Random; `runbook unlock HOST --lock-id ID` must quote it, so nobody breaks a lock by accident (Terraform's nonce). */
  lockId: string;
  runId: string;
  user: string;
  machine: string;
  pid: number;
  /**
   * When the holder process started, in clock ticks after boot (/proc/PID/stat, Linux only): a pid
   * reused by a later process does not keep a dead run's lock alive. Absent in older locks.
   */
  pidStart?: number;
  since: string;
}

/** A host is locked by another run (or the lock id given to unlock does not match). */
export class LockError extends RunbookError {
  override name = 'LockError';
  constructor(message: string, readonly host: string, readonly holder?: LockHolder) {
    super(message);
  }
}

/** The lock file of a host. */
export const lockPath = (stateDir: string, host: string): string => path.join(stateDir, LOCKS_DIR, `${fileNameFor(host)}.lock`);

/**
 * A holder for this process.
 * @example await acquireHostLocks(stateDir, hosts, newLockHolder(runId))
 */
export function newLockHolder(runId: string): LockHolder {
  const pidStart = processStartTicks(process.pid);
  return { lockId: randomUUID(), runId, user: currentUser(), machine: os.hostname(), pid: process.pid, ...(pidStart === undefined ? {} : { pidStart }), since: new Date().toISOString() };
}

/**
 * A process's start time in clock ticks after boot (field 22 of /proc/PID/stat), or undefined where
 * there is no /proc or no such process. Together with the pid it names one process for good.
 */
export function processStartTicks(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[22 - 3]);
  return Number.isSafeInteger(ticks) ? ticks : undefined;
}

/** "run R by ana on ops-1 (pid 4242) since 2026-11-21T23:25:00Z, lock id …" */
export function describeHolder(holder: LockHolder): string {
  return `run ${holder.runId} by ${holder.user} on ${holder.machine} (pid ${holder.pid}) since ${holder.since}, lock id ${holder.lockId}`;
}

/**
 * The holder of a host's lock, or undefined if nobody holds it.
 * @example const holder = await readLock('.runbook', 'xs-01');
 */
export async function readLock(stateDir: string, host: string): Promise<LockHolder | undefined> {
  return (await readLockFile(lockPath(stateDir, host)))?.holder;
}

/** A lock file as found: its holder, and what tells one file from its replacement (the inode). */
interface LockFile {
  holder: LockHolder;
  ino: number;
  /** Empty: its creator is between open and write — or died there. */
  empty: boolean;
  ageMs: number;
}

const EMPTY_HOLDER: LockHolder = { lockId: 'empty', runId: '?', user: '?', machine: os.hostname(), pid: 0, since: '?' };
/** Garbled content (a damaged disk): refused, and `runbook unlock HOST --lock-id unreadable` removes it. */
const UNREADABLE_HOLDER: LockHolder = { lockId: 'unreadable', runId: '?', user: '?', machine: '?', pid: 0, since: '?' };
/** How long an empty lock file counts as being written by a live process. */
const EMPTY_GRACE_MS = 2000;

async function readLockFile(file: string): Promise<LockFile | undefined> {
  const handle = await openIfExists(file, 'r');
  if (!handle) return undefined;
  try {
    const stat = await handle.stat();
    const text = await handle.readFile('utf8');
    return { holder: parseHolder(text), ino: stat.ino, empty: text === '', ageMs: Date.now() - stat.mtimeMs };
  } finally {
    await handle.close();
  }
}

function parseHolder(text: string): LockHolder {
  if (text === '') return EMPTY_HOLDER;
  try {
    return JSON.parse(text) as LockHolder;
  } catch {
    return UNREADABLE_HOLDER;
  }
}

export interface HostLocks {
  /** Removes the locks this call took (only those still carrying our lock id). */
  release(): Promise<void>;
  /** Stale locks that were taken over, one line each. */
  warnings: string[];
}

/**
 * Locks every host or none: if one is held, the locks already taken are released and a LockError
 * names the holder. A lock left by a dead process on this machine is taken over with a warning.
 * @example const locks = await acquireHostLocks('.runbook', ['xs-01', 'xs-02'], newLockHolder(runId)); … await locks.release();
 */
export async function acquireHostLocks(stateDir: string, hosts: readonly string[], holder: LockHolder): Promise<HostLocks> {
  await makePrivateDir(path.join(stateDir, LOCKS_DIR));
  const taken: string[] = [];
  const warnings: string[] = [];
  const release = () => releaseLocks(stateDir, taken, holder.lockId);
  // A few at a time: 1,000 hosts one by one would make resume wait on 1,000 round trips to the disk.
  const results = await mapLimited(hosts, 16, async (host) => {
    await acquireHostLock(stateDir, host, holder, warnings);
    taken.push(host);
  });
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) {
    await release();
    throw failure.reason;
  }
  return { release, warnings };
}

async function acquireHostLock(stateDir: string, host: string, holder: LockHolder, warnings: string[]): Promise<void> {
  const file = lockPath(stateDir, host);
  const giveUp = Date.now() + EMPTY_GRACE_MS + 3000;
  // Each turn creates the lock, fails on a live holder, waits out a lock being written, or removes a dead one.
  while (Date.now() < giveUp) {
    if (createLockFile(file, holder)) return;
    const current = await readLockFile(file);
    if (!current) continue; // released between our create and our read
    if (current.empty && current.ageMs < EMPTY_GRACE_MS) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      continue;
    }
    if (!current.empty && !isDeadHere(current.holder)) throw new LockError(`${host} is locked by ${describeHolder(current.holder)}`, host, current.holder);
    if (await removeStaleLock(file, current)) {
      warnings.push(`${host}: took over a stale lock of ${describeHolder(current.holder)}: that process is gone`);
    }
  }
  throw new LockError(`${host}: could not take the lock at ${file}; other runs keep racing for it`, host);
}

/**
 * O_EXCL create: of several racing processes exactly one creates the file. Its holder is written
 * right after; a reader that finds it still empty waits (EMPTY_GRACE_MS) before calling it dead.
 * One directory operation per lock, since resume takes a thousand of them, and synchronous:
 * three small syscalls are cheaper than three hops through libuv's four-thread pool, which made
 * 1,000 locks take ~1 s on a loaded machine. No fsync: a lock guards against live processes, and
 * after a power cut none is alive.
 */
function createLockFile(file: string, holder: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', FILE_MODE);
  } catch (error) {
    if (isErrno(error, 'EEXIST')) return false;
    throw error;
  }
  try {
    writeSync(fd, `${JSON.stringify(holder)}\n`);
  } catch (error) {
    rmSync(file, { force: true });
    throw error;
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Only a holder on this machine can be proven dead; a pid on another machine means nothing here. */
function isDeadHere(holder: LockHolder): boolean {
  if (holder.machine !== os.hostname()) return false;
  return processEnded(holder.pid, holder.pidStart);
}

/**
 * Whether the process named by pid (and, when known, its start time) has ended on this machine:
 * no such pid, or the pid now belongs to a later process.
 * @example if (processEnded(owner.pid, owner.startTicks)) stop()
 */
export function processEnded(pid: number, startTicks: number | undefined): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: the process exists under another user.
    if (isErrno(error, 'ESRCH')) return true;
  }
  // The pid lives, but it may be a later process that reused it.
  const started = processStartTicks(pid);
  return startTicks !== undefined && started !== undefined && started !== startTicks;
}

/**
 * Whether the holder is a process alive on this machine (its pid runs, and is not a reused one).
 * @example if (isAliveHere(holder)) refuse(`pid ${holder.pid} still runs`)
 */
export function isAliveHere(holder: LockHolder): boolean {
  return holder.machine === os.hostname() && holder.pid > 0 && !isDeadHere(holder);
}

/**
 * Removes a dead holder's lock without ever removing a live one: the file is renamed aside first
 * (atomic), then compared by inode; if a racing process had already replaced it with its own
 * lock, that lock is put back with link(), which fails rather than overwrite a third one.
 */
async function removeStaleLock(file: string, stale: LockFile): Promise<boolean> {
  const aside = `${file}.stale-${randomUUID()}`;
  try {
    await fsp.rename(file, aside);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
  const moved = await fsp.stat(aside);
  const wasStale = moved.ino === stale.ino;
  if (!wasStale) await fsp.link(aside, file).catch(() => undefined);
  await fsp.rm(aside, { force: true });
  return wasStale;
}

async function releaseLocks(stateDir: string, hosts: readonly string[], lockId: string): Promise<void> {
  const results = await mapLimited(hosts, 16, async (host) => {
    // Never remove a lock someone else took after `runbook unlock` broke ours.
    if ((await readLock(stateDir, host))?.lockId === lockId) await fsp.rm(lockPath(stateDir, host), { force: true });
  });
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
}

/**
 * Breaks a host's lock, but only if `lockId` is the one it holds (as printed in the LockError), and
 * never the lock of a process alive on this machine unless `force` says so: that run is working
 * on the host, and a second run would then work on it at the same time.
 * @example await forceUnlock('.runbook', 'xs-01', '6f1c…') // returns the holder it removed
 */
export async function forceUnlock(stateDir: string, host: string, lockId: string, options: { force?: boolean } = {}): Promise<LockHolder> {
  const file = lockPath(stateDir, host);
  const current = await readLock(stateDir, host);
  if (!current) throw new LockError(`${host} is not locked`, host);
  if (current.lockId !== lockId) {
    throw new LockError(`${host}: lock id ${lockId} does not match the lock held by ${describeHolder(current)}`, host, current);
  }
  if (isAliveHere(current) && !options.force) {
    throw new LockError(`${host}: not unlocked: its holder is alive, pid ${current.pid} on this machine (${describeHolder(current)}).\n` +
      `  Stop that run instead (Ctrl-C in its terminal, or kill ${current.pid}); its lock goes with it.\n` +
      '  --force breaks the lock anyway, and a second run may then work on the host at the same time.', host, current);
  }
  await fsp.rm(file, { force: true });
  return current;
}

/**
 * The lock a run holds on one of these hosts, if its holder may still be running (alive on this
 * machine, or on another machine, where nothing tells): `apply` and `resume` say "it is running".
 * @example const holder = await liveHolderOf('.runbook', run.id, run.record.hosts);
 */
export async function liveHolderOf(stateDir: string, runId: string, hosts: readonly string[]): Promise<LockHolder | undefined> {
  for (const host of hosts) {
    const holder = await readLock(stateDir, host);
    if (holder?.runId === runId && !isDeadHere(holder)) return holder;
  }
  return undefined;
}
