import os from 'node:os';
import { afterEach, expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.ts';
import { foldProgress, LockError, newLockHolder, type LockHolder, type RunRecord, type StateBackend } from '../../src/state/index.ts';
import { eachBackend } from '../helpers/state-backends.ts';

const time = () => new Date().toISOString();
const record = (id: string, hosts: string[]): RunRecord => ({
  version: 1, id, runbook: { name: 'gate', file: '/nowhere/gate.ts', sha256: 'x' }, inventory: { source: 'i.ini', hosts: {} },
  params: {}, user: 'ana', machine: os.hostname(), pid: process.pid, argv: [], startedAt: time(), dryRun: false, hosts,
});

/** A run with a journal that waits at a manual step on h1. */
async function waitingRun(state: StateBackend): Promise<string> {
  const { id } = await state.createRun('gate');
  await state.writeRunRecord(id, record(id, ['h1', 'h2']));
  const journal = await state.openJournal(id);
  const events: RunEvent[] = [
    { kind: 'run-start', time: time(), runId: id, runbook: 'gate', hosts: ['h1', 'h2'], dryRun: false },
    { kind: 'step-start', time: time(), host: 'h1', step: 'reinstall', title: 'reinstall', attempt: 1 },
    { kind: 'log', time: time(), host: 'h1', message: 'console says hi' },
    { kind: 'step-result', time: time(), host: 'h1', step: 'reinstall', status: 'waiting', durationMs: 1, attempt: 1 },
  ] as RunEvent[];
  await Promise.all(events.map((event) => journal.append(event)));
  await journal.close();
  return id;
}

eachBackend('state backend', (backend) => {
  const opened: StateBackend[] = [];
  const open = async () => { const state = await backend.open(); opened.push(state); return state; };
  afterEach(async () => { await Promise.all(opened.splice(0).map((state) => state.close())); });

  it('keeps a run: its record, its journal in order, each host\'s transcript apart', async () => {
    const state = await open();
    const id = await waitingRun(state);
    const { events, warnings } = await state.readJournal(id);
    expect(warnings).toEqual([]);
    expect(events.map((e) => e.kind)).toEqual(['run-start', 'step-start', 'step-result']);
    expect((await state.readHostTranscript(id, 'h1')).events.map((e) => e.kind)).toEqual(['log']);
    expect((await state.readHostTranscript(id, 'h2')).events).toEqual([]);
    const run = await state.resolveRun(id.slice(0, 20));
    expect(run.record?.hosts).toEqual(['h1', 'h2']);
    expect(run.progress?.byHost.h1.steps.reinstall.status).toBe('waiting');
    expect(run.resumable).toBe(true);
  });

  it('a confirmation from another process (another backend object) reaches the next fold', async () => {
    const id = await waitingRun(await open());
    const elsewhere = await open();
    await elsewhere.appendConfirmation(id, { kind: 'confirmation', time: time(), host: 'h1', step: 'reinstall', by: 'ben', note: 'done', evidence: { version: '8.2' } });
    const progress = foldProgress((await (await open()).readJournal(id)).events);
    expect(progress.byHost.h1.steps.reinstall.confirmation).toMatchObject({ by: 'ben', note: 'done', evidence: { version: '8.2' } });
  });

  it('lists runs newest first, and finds the unfinished one holding a host', async () => {
    const state = await open();
    const first = await waitingRun(state);
    const second = await waitingRun(state);
    expect((await state.listRuns()).map((r) => r.id)).toEqual([second, first]);
    expect((await state.findUnfinishedRuns('gate', ['h1'])).map((r) => r.id)).toContain(first);
    await state.discardRun(second);
    expect((await state.listRuns()).map((r) => r.id)).toEqual([first]);
    await expect(state.resolveRun('nope')).rejects.toThrow(/no run nope in/);
  });

  it('locks every host or none, and names the holder of a refused one', async () => {
    const state = await open();
    const a = newLockHolder('run-A');
    const locks = await state.acquireHostLocks(['xs-01', 'xs-02'], a);
    const error = await state.acquireHostLocks(['xs-03', 'xs-02'], newLockHolder('run-B')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockError);
    expect((error as Error).message).toMatch(new RegExp(`xs-02 is locked by run run-A by .+ on ${os.hostname()} \\(pid ${process.pid}\\) since .+, lock id ${a.lockId}`));
    expect(await state.readLock('xs-03')).toBeUndefined(); // none: the refused call kept nothing
    await locks.release();
    expect(await state.readLock('xs-01')).toBeUndefined();
    const b = await state.acquireHostLocks(['xs-03', 'xs-02'], newLockHolder('run-B'));
    await b.release();
  });

  it('unlock needs the lock id, and then frees the host of a holder that is gone', async () => {
    const state = await open();
    const gone: LockHolder = { ...newLockHolder('run-gone'), machine: 'laptop-that-died', pid: 4242 };
    await state.acquireHostLocks(['xs-01'], gone);
    await expect(state.forceUnlock('xs-01', 'not-the-id')).rejects.toThrow(/does not match the lock held by run run-gone/);
    const { holder, wasAlive } = await state.forceUnlock('xs-01', gone.lockId);
    expect(holder.runId).toBe('run-gone');
    expect(wasAlive).toBe(false);
    expect(await state.readLock('xs-01')).toBeUndefined();
    await expect(state.forceUnlock('xs-01', gone.lockId)).rejects.toThrow(/is not locked/);
  });

  it('a resume of the run takes back the locks its dead process left', async () => {
    if (backend.name === 'folder') return; // the folder proves a holder dead by its pid instead (locks.test.ts)
    const state = await open();
    const first: LockHolder = { ...newLockHolder('run-A'), machine: 'laptop-that-died', pid: 4242 };
    await state.acquireHostLocks(['xs-01', 'xs-02'], first);
    const other = await state.acquireHostLocks(['xs-01'], newLockHolder('run-B')).catch((e: unknown) => e);
    expect((other as Error).message).toMatch(/its process is gone: runbook resume run-A continues it, or runbook unlock xs-01 --lock-id/);
    const again = newLockHolder('run-A');
    const locks = await state.acquireHostLocks(['xs-01', 'xs-02'], again);
    expect((await state.readLock('xs-02'))?.lockId).toBe(again.lockId);
    await locks.release();
  });

  it('one live process holds a run: a second hold is refused naming user, machine and pid; released, it is free', async () => {
    if (backend.name === 'folder') return; // the folder's holder of a run is its host locks' pid
    const state = await open();
    const holder = newLockHolder('run-A');
    const lease = await state.holdRun('run-A', holder);
    const elsewhere = await open();
    const refused = await elsewhere.holdRun('run-A', newLockHolder('run-A')).catch((e: unknown) => e);
    expect((refused as Error).message).toMatch(new RegExp(`run run-A is held by run run-A by ${holder.user} on ${os.hostname()} \\(pid ${process.pid}\\)`));
    expect((await elsewhere.liveHolderOf('run-A', []))?.lockId).toBe(holder.lockId);
    // A live holder's host lock is not broken by unlock without --force, from any machine.
    await state.acquireHostLocks(['xs-01'], holder);
    await expect(elsewhere.forceUnlock('xs-01', holder.lockId)).rejects.toThrow(/its run is alive/);
    await lease.release();
    expect(await elsewhere.liveHolderOf('run-A', [])).toBeUndefined();
    const second = await elsewhere.holdRun('run-A', newLockHolder('run-A'));
    await second.release();
  });

  it('controllers sharing a run: a host is one controller\'s at a time; a gone one\'s unended host goes to exactly one taker', async () => {
    const state = await open();
    if (backend.name === 'folder') {
      // The folder shares no run: --join is refused, and its one controller takes every host.
      await expect(state.holdRun('run-A', newLockHolder('run-A'), { join: true })).rejects.toThrow(/--join shares run run-A among controllers through a state database/);
      expect(state.claimTable('run-A', newLockHolder('run-A'))).toBeUndefined();
      return;
    }
    const [ana, ben, cem] = [newLockHolder('run-A'), newLockHolder('run-A'), newLockHolder('run-A')];
    const anaLease = await state.holdRun('run-A', ana);
    const elsewhere = await open();
    await expect(elsewhere.holdRun('run-A', ben)).rejects.toThrow(/run run-A is held by .+ share it: runbook resume run-A --join/);
    const benLease = await elsewhere.holdRun('run-A', ben, { join: true });
    const [byAna, byBen, byCem] = [state.claimTable('run-A', ana)!, elsewhere.claimTable('run-A', ben)!, elsewhere.claimTable('run-A', cem)!];
    expect(await byAna.take('h1')).toBe('new');
    expect(await byAna.take('h2')).toBe('new');
    expect(await byBen.take('h1')).toBeUndefined(); // ana is live
    expect(await byBen.take('h3')).toBe('new');
    await byAna.end('h2', 'failed');
    expect(await byBen.view(['h1', 'h2', 'h3', 'h4'])).toMatchObject({ free: ['h4'], running: [{ host: 'h1', holder: { lockId: ana.lockId } }, { host: 'h3' }], ended: { h2: 'failed' } });
    expect((await elsewhere.controllersOf('run-A')).map((c) => [c.holder.lockId, c.live, c.running, c.ended])).toEqual([
      [ana.lockId, true, ['h1'], ['h2']], [ben.lockId, true, ['h3'], []]]);
    // Ana's controller goes (its lease with it): h1, which never ended, is taken over once; h2 ended, by nobody.
    await anaLease.release();
    const cemLease = await elsewhere.holdRun('run-A', cem, { join: true });
    const takers = await Promise.all([byBen.take('h1'), byCem.take('h1')]);
    expect(takers.sort()).toEqual(['taken-over', undefined]);
    expect(await byCem.take('h2')).toBeUndefined();
    await benLease.release();
    await cemLease.release();
    // The next controller to find the run free starts a new sitting: every host is free again.
    const again = await state.holdRun('run-A', ana);
    expect((await state.claimTable('run-A', ana)!.view(['h1', 'h2'])).free).toEqual(['h1', 'h2']);
    await again.release();
  });

  it('keeps the project known_hosts: a key one run accepted is there for the next', async () => {
    const state = await open();
    const first = await state.projectKnownHosts();
    const { appendFile, readFile } = await import('node:fs/promises');
    const line = '[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
    await appendFile(first.file, `${line}\n`);
    await first.save();
    const next = await (await open()).projectKnownHosts();
    expect(await readFile(next.file, 'utf8')).toContain(line);
    await next.save();
  });
});
