import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.ts';
import { UsageError } from '../../src/errors.ts';
import type { InventoryHost } from '../../src/inventory/types.ts';
import { secret } from '../../src/shell/command.ts';
import { stateDirFrom } from '../../src/state/index.ts';
import { openJournal } from '../../src/state/journal.ts';
import {
  buildRunRecord, createRunDir, findUnfinishedRuns, inventoryChanges, isSecretKey, maskArgv, listRuns, newRunId, readRunRecord, resolveRun, runDirOf, snapshotHost, writeRunRecord, type RunRecord,
} from '../../src/state/runs.ts';

const CHILD = fileURLToPath(new URL('./fixtures/state-child.ts', import.meta.url));

let stateDir: string;
beforeEach(async () => { stateDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'runbook-runs-')); });
afterEach(async () => { await fsp.rm(stateDir, { recursive: true, force: true }); });

const host = (name: string, vars: Record<string, unknown> = {}): InventoryHost => ({
  name, address: `10.0.0.${name.length}`, port: 22, user: 'root', connection: 'ssh', become: false, groups: ['all'], vars, varSources: {},
});

async function recordFor(id: string, over: Partial<RunRecord> = {}): Promise<RunRecord> {
  const runbookFile = path.join(stateDir, 'rb.ts');
  await fsp.writeFile(runbookFile, 'export default 1;\n');
  const record = await buildRunRecord({ id, runbookName: 'rb', runbookFile, inventorySource: 'inv.yaml', hosts: [host('h1'), host('h2')], params: {}, dryRun: false });
  return { ...record, ...over };
}

/** A run folder with a record and a journal of these events. */
async function makeRun(id: string, events: RunEvent[], over: Partial<RunRecord> = {}): Promise<void> {
  const dir = runDirOf(stateDir, id);
  await fsp.mkdir(dir, { recursive: true });
  await writeRunRecord(dir, await recordFor(id, over));
  const journal = await openJournal(dir);
  for (const event of events) await journal.append(event);
  await journal.close();
}

const time = '2026-11-21T23:00:00.000Z';
const started: RunEvent = { kind: 'run-start', time, runId: 'x', runbook: 'rb', hosts: ['h1', 'h2'], dryRun: false };
const ended = (status: 'ok' | 'failed' | 'waiting'): RunEvent => ({ kind: 'run-end', time, runId: 'x', status, exitCode: 0, durationMs: 1, hosts: { h1: 'ok', h2: status === 'ok' ? 'ok' : 'failed' } });
const hostStarted: RunEvent = { kind: 'host-start', time, host: 'h1' };

describe('run ids and folders', () => {
  it('makes sortable ids from the UTC time and the runbook name', () => {
    const id = newRunId('Leap Second!', new Date('2026-11-21T23:25:00.123Z'));
    expect(id).toMatch(/^20261121T232500Z-leap-second-[0-9a-f]{4}$/);
    expect(newRunId('rb', new Date('2026-11-21T23:25:01Z')) > id).toBe(true);
  });

  it('creates unique 0700 folders even when ids are drawn in the same second', async () => {
    const runs = await Promise.all(Array.from({ length: 40 }, () => createRunDir(stateDir, 'rb')));
    expect(new Set(runs.map((r) => r.id)).size).toBe(40);
    expect((await fsp.stat(runs[0].dir)).mode & 0o777).toBe(0o700);
  });
});

describe('run records', () => {
  it('snapshots hosts and params without any secret', async () => {
    const vars = { ansible_password: 'hunter2', ansible_become_pass: 'B3come!', ansible_ssh_private_key_file: '/keys/id', api_token: 'T0K3N-value', nested: { db_secret: 's3cr3t', port: 5432 }, ntp: 'pool.ntp.org' };
    const runbookFile = path.join(stateDir, 'rb.ts');
    await fsp.writeFile(runbookFile, 'x');
    const record = await buildRunRecord({
      id: 'r', runbookName: 'rb', runbookFile, inventorySource: 'inv.yaml', hosts: [host('xs-01', vars)],
      params: { marker: '/tmp/m', vault: 'v4ult', password: 'pw' }, secretParamKeys: ['vault'], dryRun: true, argv: ['node', 'runbook', 'apply'],
    });
    const text = JSON.stringify(record);
    for (const secret of ['hunter2', 'B3come!', 'T0K3N-value', 's3cr3t', 'v4ult', '"pw"']) expect(text).not.toContain(secret);
    expect(record.inventory.hosts['xs-01'].vars).toMatchObject({ ansible_ssh_private_key_file: '/keys/id', ntp: 'pool.ntp.org', nested: { port: 5432 } });
    expect(record.params).toEqual({ marker: '/tmp/m', vault: '********', password: '********' });
    expect(record).toMatchObject({ machine: os.hostname(), pid: process.pid, dryRun: true, hosts: ['xs-01'], argv: ['node', 'runbook', 'apply'] });
    expect(record.runbook.sha256).toBe('2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881');
  });

  it('masks secrets typed on the command line and Secret values in params', async () => {
    const runbookFile = path.join(stateDir, 'rb.ts');
    await fsp.writeFile(runbookFile, 'x');
    const record = await buildRunRecord({
      id: 'r', runbookName: 'rb', runbookFile, inventorySource: 'i', hosts: [], dryRun: false, secretParamKeys: ['vault'],
      params: { pw: secret('S3cret-in-class'), when: new Date('2026-01-01T00:00:00Z') },
      argv: ['node', 'runbook', 'apply', '--param', 'password=hunter2', '--param=vault=V4ult', '-p', 'marker=/tmp/x', '--param', 'api_token=T0k=with=equals'],
    });
    expect(record.argv).toEqual(['node', 'runbook', 'apply', '--param', 'password=********', '--param=vault=********', '-p', 'marker=/tmp/x', '--param', 'api_token=********']);
    expect(record.params).toEqual({ pw: '********', when: '2026-01-01T00:00:00.000Z' });
    expect(maskArgv(['--limit', 'xs-01'], [])).toEqual(['--limit', 'xs-01']);
  });

  it('lists inventory changes since the run started, secrets aside', () => {
    const before = { ...host('h1', { ntp: 'a', password: 'x', keep: 1 }) };
    const record = { hosts: ['h1', 'h2'], inventory: { source: 'i', hosts: { h1: snapshotHost(before), h2: snapshotHost(host('h2')) } } } as unknown as RunRecord;
    expect(inventoryChanges(record, [before, host('h2')])).toEqual([]);
    const after = { ...before, port: 2222, vars: { ntp: 'b', password: 'y', added: true, keep: 1 } };
    expect(inventoryChanges(record, [after])).toEqual(['h1: changed since the run started: port, vars.added, vars.ntp', 'h2: no longer in the inventory']);
  });

  it.each([
    ['ansible_password', true], ['ansible_become_pass', true], ['api_token', true], ['client_secret', true], ['ssh_key', true],
    ['ansible_ssh_private_key_file', false], ['key_path', false], ['ntp_server', false], ['port', false],
  ])('isSecretKey(%s) is %s', (key, secret) => expect(isSecretKey(key)).toBe(secret));

  it('hashes vars independent of key order, blind to secret values', () => {
    const hash = (vars: Record<string, unknown>) => snapshotHost(host('h', vars)).varsHash;
    expect(hash({ a: 1, b: { c: 2, d: 3 } })).toBe(hash({ b: { d: 3, c: 2 }, a: 1 }));
    expect(hash({ a: 1 })).not.toBe(hash({ a: 2 }));
    expect(hash({ a: 1, password: 'x' })).toBe(hash({ a: 1, password: 'y' }));
  });

  it('writes run.json 0600 and reads it back', async () => {
    const dir = runDirOf(stateDir, 'r1');
    await fsp.mkdir(dir, { recursive: true });
    const record = await recordFor('r1');
    await writeRunRecord(dir, record);
    expect(await readRunRecord(dir)).toEqual(record);
    expect((await fsp.stat(path.join(dir, 'run.json'))).mode & 0o777).toBe(0o600);
  });

  it('keeps the old run.json when the writer dies between the temp write and the rename', async () => {
    const dir = runDirOf(stateDir, 'r1');
    await fsp.mkdir(dir, { recursive: true });
    const old = await recordFor('r1');
    await writeRunRecord(dir, old);
    const updated = { ...old, hosts: ['changed'] };
    const signal = await new Promise((resolve) => {
      spawn(process.execPath, ['--import', 'tsx', CHILD, 'die-before-rename', dir, JSON.stringify(updated)], { stdio: 'inherit' })
        .on('close', (_code, sig) => resolve(sig));
    });
    expect(signal).toBe('SIGKILL');
    expect(await readRunRecord(dir)).toEqual(old);
    // The temp file the crash left is hidden and does not disturb the next write.
    await writeRunRecord(dir, updated);
    expect(await readRunRecord(dir)).toEqual(updated);
  }, 20_000);

  it('says which folder is not a run', async () => {
    await expect(readRunRecord(path.join(stateDir, 'nope'))).rejects.toThrow(UsageError);
  });
});

describe('listRuns and resolveRun', () => {
  const ids = { old: '20261120T100000Z-rb-aaaa', done: '20261121T100000Z-rb-bbbb', paused: '20261121T110000Z-rb-cccc', dry: '20261121T120000Z-rb-dddd', crashed: '20261121T090000Z-rb-eeee' };

  beforeEach(async () => {
    await makeRun(ids.old, [started, hostStarted, ended('failed')]);
    await makeRun(ids.done, [started, ended('ok')]);
    await makeRun(ids.paused, [started, ended('waiting'), { kind: 'confirmation', time, host: 'h2', step: 'm', by: 'ana' }]);
    await makeRun(ids.dry, [started], { dryRun: true });
    await makeRun(ids.crashed, [started, hostStarted]);
    await fsp.mkdir(runDirOf(stateDir, '20261121T130000Z-broken-ffff'));
  });

  it('lists runs newest first with state and host counts', async () => {
    const runs = await listRuns(stateDir);
    expect(runs.map((r) => [r.id.slice(0, 15), r.state, r.resumable])).toEqual([
      ['20261121T130000', 'unfinished', false],
      ['20261121T120000', 'unfinished', false],
      ['20261121T110000', 'waiting', true],
      ['20261121T100000', 'ok', false],
      ['20261121T090000', 'unfinished', true],
      ['20261120T100000', 'failed', true],
    ]);
    expect(runs[0].problem).toMatch(/no run\.json/);
    expect(runs.find((r) => r.id === ids.crashed)?.counts).toEqual({ unfinished: 1, 'not-started': 1 });
    expect(runs.find((r) => r.id === ids.paused)?.counts).toEqual({ ok: 1, failed: 1 });
  });

  it('summarises an unfinished run with a torn journal, saying what it skipped', async () => {
    await fsp.appendFile(path.join(runDirOf(stateDir, ids.crashed), 'journal.jsonl'), '{"crc":"00');
    const run = await resolveRun(stateDir, ids.crashed);
    expect(run).toMatchObject({ state: 'unfinished', resumable: true, counts: { unfinished: 1, 'not-started': 1 } });
    expect(run.journalWarnings).toEqual([expect.stringMatching(/:3: torn or corrupt last line/)]);
    expect(run.progress?.byHost.h1.state).toBe('unfinished');
  });

  it('resolves no id to the newest resumable run, with its fold', async () => {
    const run = await resolveRun(stateDir);
    expect(run.id).toBe(ids.paused);
    expect(run.progress?.byHost.h2.steps.m.confirmations).toEqual([expect.objectContaining({ by: 'ana' })]);
  });

  it('resolves an exact id or a unique prefix, and explains the rest', async () => {
    expect((await resolveRun(stateDir, ids.done)).id).toBe(ids.done);
    expect((await resolveRun(stateDir, '20261120')).id).toBe(ids.old);
    await expect(resolveRun(stateDir, '20261121T1')).rejects.toThrow(/4 runs start with 20261121T1; give more of the id/);
    await expect(resolveRun(stateDir, 'zzz')).rejects.toThrow(/no run zzz/);
  });

  it('resolves latest to the newest run, finished or not, with its fold', async () => {
    expect((await resolveRun(stateDir, 'latest')).id).toBe('20261121T130000Z-broken-ffff');
    await fsp.rm(runDirOf(stateDir, '20261121T130000Z-broken-ffff'), { recursive: true });
    const latest = await resolveRun(stateDir, 'latest');
    expect(latest.id).toBe(ids.dry);
    expect(latest.progress?.hosts).toEqual(['h1', 'h2']);
    await expect(resolveRun(path.join(stateDir, 'empty'), 'latest')).rejects.toThrow(/no runs yet in/);
  });

  it('says so when nothing is resumable', async () => {
    const empty = path.join(stateDir, 'empty');
    await expect(resolveRun(empty)).rejects.toThrow(/no unfinished run/);
  });

  it('finds no unfinished run that started no step, nor one a newer run ended ok after', async () => {
    // paused and crashed never started a step; old did not either, and done (ok, newer) took its hosts.
    expect(await findUnfinishedRuns(stateDir, 'rb', ['h2'])).toEqual([]);
  });
});

describe('findUnfinishedRuns: which runs still hold a host', () => {
  const stepStart = (h: string): RunEvent => ({ kind: 'step-start', time, host: h, step: 's', title: 'S', attempt: 1 });
  const unreachable = (h: string): RunEvent => ({ kind: 'step-result', time, host: h, step: 's', title: 'S', status: 'unreachable', reason: 'connection refused', durationMs: 1 });
  const find = async (hosts: string[], runbook = 'rb') => (await findUnfinishedRuns(stateDir, runbook, hosts)).map((r) => r.id);

  it('holds the hosts it started a step on, newest first, until a newer run ends ok there', async () => {
    await makeRun('20261119T100000Z-rb-aaaa', [started, stepStart('h1'), ended('failed')]);
    await makeRun('20261120T100000Z-rb-bbbb', [started, stepStart('h2')]);
    await makeRun('20261120T110000Z-rb-cccc', [started, unreachable('h1'), unreachable('h2'), ended('failed')]);
    await makeRun('20261120T120000Z-rb-dddd', [started, stepStart('h1'), ended('ok')], { dryRun: true });
    expect(await find(['h1'])).toEqual(['20261119T100000Z-rb-aaaa']);
    expect(await find(['h2'])).toEqual(['20261120T100000Z-rb-bbbb']);
    expect(await find(['h1', 'h2'])).toEqual(['20261120T100000Z-rb-bbbb', '20261119T100000Z-rb-aaaa']);
    expect(await find(['other'])).toEqual([]);
    expect(await find(['h1'], 'other')).toEqual([]);
    // A --fresh run that ended ok on h1 and h2 releases both.
    await makeRun('20261121T100000Z-rb-eeee', [started, stepStart('h1'), stepStart('h2'), ended('ok')]);
    expect(await find(['h1', 'h2'])).toEqual([]);
  });
});

describe('stateDirFrom', () => {
  it.each([
    ['/flag', { RUNBOOK_STATE_DIR: '/env' }, '/flag'],
    [undefined, { RUNBOOK_STATE_DIR: '/env' }, '/env'],
    [undefined, {}, '/cwd/.runbook'],
    ['rel', {}, '/cwd/rel'],
  ])('flag %s, env %o → %s', (flag, env, expected) => {
    expect(stateDirFrom(flag, env, '/cwd')).toBe(expected);
  });
});
