import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunbookError } from '../../src/errors.ts';
import { acquireHostLocks, forceUnlock, isAliveHere, LockError, lockPath, newLockHolder, processStartTicks, readLock, type LockHolder } from '../../src/state/locks.ts';

const CHILD = fileURLToPath(new URL('./fixtures/state-child.ts', import.meta.url));

let stateDir: string;
const children: ChildProcess[] = [];
beforeEach(async () => { stateDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'runbook-locks-')); });
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await fsp.rm(stateDir, { recursive: true, force: true });
});

/** A second process that takes the lock of `host` and keeps it until killed. */
async function holdInChild(host: string, runId: string): Promise<{ child: ChildProcess; holder: LockHolder }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'hold-lock', stateDir, host, runId], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString(); if (out.includes('\n')) resolve(out.trim()); });
    child.on('close', (code) => reject(new Error(`child exited ${code}`)));
  });
  return { child, holder: JSON.parse(line) as LockHolder };
}

const killed = (child: ChildProcess) => new Promise((resolve) => { child.on('close', resolve); child.kill('SIGKILL'); });

describe('host locks', () => {
  it('writes the holder to a 0600 lock file and removes it on release', async () => {
    const holder = newLockHolder('run-1');
    const locks = await acquireHostLocks(stateDir, ['xs-01', 'xs-02'], holder);
    expect(locks.warnings).toEqual([]);
    expect(await readLock(stateDir, 'xs-01')).toEqual(holder);
    expect((await fsp.stat(lockPath(stateDir, 'xs-01'))).mode & 0o777).toBe(0o600);
    expect((await fsp.stat(path.join(stateDir, 'locks'))).mode & 0o777).toBe(0o700);
    await locks.release();
    expect(await readLock(stateDir, 'xs-01')).toBeUndefined();
    expect(await fsp.readdir(path.join(stateDir, 'locks'))).toEqual([]);
  });

  it('refuses a host another live process holds, naming the holder', async () => {
    const { holder } = await holdInChild('xs-01', 'run-A');
    const error = await acquireHostLocks(stateDir, ['xs-01'], newLockHolder('run-B')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockError);
    expect(error).toBeInstanceOf(RunbookError);
    expect((error as LockError).holder).toEqual(holder);
    expect((error as Error).message).toMatch(new RegExp(`xs-01 is locked by run run-A by .+ on ${os.hostname()} \\(pid ${holder.pid}\\) since .+, lock id ${holder.lockId}`));
  }, 20_000);

  it('refuses in a second process too', async () => {
    await holdInChild('xs-01', 'run-A');
    const out = await new Promise<string>((resolve) => {
      let text = '';
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'try-lock', stateDir, 'xs-01', 'run-B'], { stdio: ['ignore', 'pipe', 'inherit'] });
      child.stdout.on('data', (chunk: Buffer) => { text += chunk.toString(); });
      child.on('close', () => resolve(text));
    });
    expect(out).toMatch(/xs-01 is locked by run run-A/);
  }, 20_000);

  it('is all-or-nothing: a held host releases the ones already taken', async () => {
    const other = await acquireHostLocks(stateDir, ['xs-02'], newLockHolder('run-A'));
    // Pretend run-A lives on another machine, where its pid cannot be checked.
    await fsp.writeFile(lockPath(stateDir, 'xs-02'), JSON.stringify({ ...(await readLock(stateDir, 'xs-02')), machine: 'elsewhere' }));
    await expect(acquireHostLocks(stateDir, ['xs-01', 'xs-02', 'xs-03'], newLockHolder('run-B'))).rejects.toThrow(/xs-02 is locked by run run-A .* on elsewhere/);
    expect(await readLock(stateDir, 'xs-01')).toBeUndefined();
    expect(await readLock(stateDir, 'xs-03')).toBeUndefined();
    await other.release();
  });

  it('takes over, with a warning, a lock whose process on this machine is gone', async () => {
    const { child, holder } = await holdInChild('xs-01', 'run-A');
    await killed(child);
    const mine = newLockHolder('run-B');
    const locks = await acquireHostLocks(stateDir, ['xs-01'], mine);
    expect(locks.warnings).toEqual([expect.stringMatching(new RegExp(`xs-01: took over a stale lock of run run-A .*pid ${holder.pid}.*that process is gone`))]);
    expect(await readLock(stateDir, 'xs-01')).toEqual(mine);
    await locks.release();
  }, 20_000);

  it('never takes over a lock from another machine, dead pid or not', async () => {
    const ghost = { ...newLockHolder('run-A'), machine: 'other-host', pid: 999_999 };
    await fsp.mkdir(path.join(stateDir, 'locks'), { recursive: true });
    await fsp.writeFile(lockPath(stateDir, 'xs-01'), JSON.stringify(ghost));
    await expect(acquireHostLocks(stateDir, ['xs-01'], newLockHolder('run-B'))).rejects.toThrow(LockError);
  });

  it('takes over an empty lock file a power cut left, refuses a garbled one', async () => {
    await fsp.mkdir(path.join(stateDir, 'locks'), { recursive: true });
    await fsp.writeFile(lockPath(stateDir, 'xs-01'), '');
    const anHourAgo = new Date(Date.now() - 3_600_000);
    await fsp.utimes(lockPath(stateDir, 'xs-01'), anHourAgo, anHourAgo);
    const locks = await acquireHostLocks(stateDir, ['xs-01'], newLockHolder('run-B'));
    expect(locks.warnings).toEqual([expect.stringMatching(/xs-01: took over a stale lock/)]);
    await locks.release();
    await fsp.writeFile(lockPath(stateDir, 'xs-02'), '{"lockId":');
    await expect(acquireHostLocks(stateDir, ['xs-02'], newLockHolder('run-B'))).rejects.toThrow(/xs-02 is locked by .*lock id unreadable/);
    await forceUnlock(stateDir, 'xs-02', 'unreadable');
    expect(await readLock(stateDir, 'xs-02')).toBeUndefined();
  });

  it('waits for a lock that is being written, then names its holder', async () => {
    await fsp.mkdir(path.join(stateDir, 'locks'), { recursive: true });
    const file = lockPath(stateDir, 'xs-01');
    await fsp.writeFile(file, '');
    const other = { ...newLockHolder('run-A'), machine: 'elsewhere' };
    setTimeout(() => void fsp.writeFile(file, JSON.stringify(other)), 100);
    await expect(acquireHostLocks(stateDir, ['xs-01'], newLockHolder('run-B'))).rejects.toThrow(/xs-01 is locked by run run-A/);
  });

  it('lets only one of many concurrent takers win', async () => {
    const holders = Array.from({ length: 8 }, (_, i) => newLockHolder(`run-${i}`));
    const results = await Promise.allSettled(holders.map((h) => acquireHostLocks(stateDir, ['xs-01'], h)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof LockError)).toBe(true);
  });

  it('release leaves alone a lock that was broken and taken by another run', async () => {
    const first = newLockHolder('run-A');
    const locks = await acquireHostLocks(stateDir, ['xs-01'], first);
    await forceUnlock(stateDir, 'xs-01', first.lockId, { force: true });
    const second = newLockHolder('run-B');
    await acquireHostLocks(stateDir, ['xs-01'], second);
    await locks.release();
    expect(await readLock(stateDir, 'xs-01')).toEqual(second);
  });
});

describe('forceUnlock', () => {
  it('refuses a wrong lock id, naming the holder, and removes the lock for the right one', async () => {
    const holder = { ...newLockHolder('run-A'), machine: 'elsewhere' };
    await fsp.mkdir(path.join(stateDir, 'locks'), { recursive: true });
    await fsp.writeFile(lockPath(stateDir, 'xs-01'), JSON.stringify(holder));
    await expect(forceUnlock(stateDir, 'xs-01', 'wrong')).rejects.toThrow(/lock id wrong does not match the lock held by run run-A/);
    expect(await readLock(stateDir, 'xs-01')).toEqual(holder);
    expect(await forceUnlock(stateDir, 'xs-01', holder.lockId)).toEqual(holder);
    expect(await readLock(stateDir, 'xs-01')).toBeUndefined();
  });

  it('refuses the lock of a process alive on this machine, naming its pid; --force breaks it', async () => {
    const { holder } = await holdInChild('xs-01', 'run-A');
    const error = await forceUnlock(stateDir, 'xs-01', holder.lockId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockError);
    expect((error as Error).message).toMatch(new RegExp(`xs-01: not unlocked: its holder is alive, pid ${holder.pid} on this machine`));
    expect((error as Error).message).toMatch(/--force breaks the lock anyway/);
    expect(await readLock(stateDir, 'xs-01')).toEqual(holder);
    expect(await forceUnlock(stateDir, 'xs-01', holder.lockId, { force: true })).toEqual(holder);
    expect(await readLock(stateDir, 'xs-01')).toBeUndefined();
  }, 20_000);

  it('records the holder\'s start time, so a reused pid does not keep a dead run\'s lock alive', async () => {
    const mine = newLockHolder('run-A');
    expect(mine.pidStart).toBe(processStartTicks(process.pid));
    expect(mine.pidStart).toEqual(expect.any(Number));
    expect(isAliveHere(mine)).toBe(true);
    // Our own pid, but a process that started at another time: the run that took the lock is gone.
    const reused = { ...mine, pidStart: mine.pidStart! - 1 };
    expect(isAliveHere(reused)).toBe(false);
    await fsp.mkdir(path.join(stateDir, 'locks'), { recursive: true });
    await fsp.writeFile(lockPath(stateDir, 'xs-01'), JSON.stringify(reused));
    expect(await forceUnlock(stateDir, 'xs-01', reused.lockId)).toEqual(reused);
    await fsp.writeFile(lockPath(stateDir, 'xs-01'), JSON.stringify(reused));
    const locks = await acquireHostLocks(stateDir, ['xs-01'], newLockHolder('run-B'));
    expect(locks.warnings).toEqual([expect.stringMatching(/xs-01: took over a stale lock of run run-A/)]);
    await locks.release();
  });

  it('says when there is nothing to unlock', async () => {
    await expect(forceUnlock(stateDir, 'xs-01', 'x')).rejects.toThrow(/xs-01 is not locked/);
  });

  it('keeps host names inside the locks folder', () => {
    expect(path.dirname(lockPath(stateDir, '../../etc/x'))).toBe(path.join(stateDir, 'locks'));
  });
});
