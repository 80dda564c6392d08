import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, makeProject, runMain } from '../e2e/helpers.ts';
import { PG_MISSING, PG_PASSWORD, startPostgres, type PgServer } from '../helpers/postgres.ts';

const RACE_CHILD = fileURLToPath(new URL('./fixtures/lock-race-child.ts', import.meta.url));
const APPEND_CHILD = fileURLToPath(new URL('./fixtures/pg-append-child.ts', import.meta.url));

const RUNBOOK = `
import { defineRunbook, command, cmd, z } from '${API}';
export default defineRunbook({
  name: 'touch', summary: 'creates a marker (test)', vars: z.object({ root: z.string() }),
}).steps([command({ id: 'mark', title: 'mark', creates: (c) => c.host.vars.root + '/marker', run: (c) => cmd\`touch \${c.host.vars.root + '/marker'}\` })]);
`;

describe.skipIf(PG_MISSING !== undefined)(`PostgreSQL state: set-up and bad input${PG_MISSING ? ` (skipped: ${PG_MISSING})` : ''}`, () => {
  let pg: PgServer;
  let project: string;
  beforeAll(async () => {
    pg = await startPostgres();
    project = makeProject({ 'package.json': '{ "type": "module" }\n', 'runbooks/touch.ts': RUNBOOK });
    mkdirSync(join(project, 'inventory'));
    mkdirSync(join(project, 'h1'));
    writeFileSync(join(project, 'inventory/i.ini'), `h1 ansible_connection=local root=${project}/h1\n`);
  });
  afterAll(() => pg?.destroy());
  const cli = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
    runMain([...argv, '--state-dir', join(project, 'local')], { cwd: project, env: { ...process.env, RUNBOOK_TYPECHECK: '0', NO_COLOR: '1', ...pg.env, ...env } });

  it('state init creates the schema, then finds it up to date; runs work from then on', async () => {
    const url = pg.url(pg.createDatabase('init_twice'));
    const before = await cli(['runs', '--state', url]);
    expect(before.code).toBe(1);
    expect(before.stderr).toMatch(/has no runbook schema yet: run runbook state init --state postgres:\/\/runbook@127\.0\.0\.1:\d+\/init_twice/);
    expect(await cli(['state', 'init', '--state', url])).toMatchObject({ code: 0, stdout: expect.stringMatching(/schema version 0 → 2/) });
    expect(await cli(['state', 'init'], { RUNBOOK_STATE_URL: url })).toMatchObject({ code: 0, stdout: expect.stringMatching(/schema version 2, up to date/) });
    expect(await cli(['runs', '--state', url])).toMatchObject({ code: 0, stdout: 'no runs yet\n' });
  });

  it('refuses a schema newer than it knows, and changes nothing', async () => {
    const db = pg.createDatabase('newer');
    const url = pg.url(db);
    await cli(['state', 'init', '--state', url]);
    pg.sql('INSERT INTO runbook_schema (version) VALUES (99)', db);
    for (const argv of [['runs'], ['state', 'init']]) {
      const refused = await cli([...argv, '--state', url]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/has schema version 99, newer than this runbook knows \(2\): upgrade runbook/);
    }
    expect(pg.sql('SELECT max(version) FROM runbook_schema', db).trim()).toBe('99');
  });

  it('bad URL, a password in the URL, wrong password, missing database, no server: exit 1, a clear error, nothing touched', async () => {
    const url = pg.url(pg.createDatabase('bad_input'));
    await cli(['state', 'init', '--state', url]);
    const closedPort = `postgres://runbook@127.0.0.1:1/bad_input`;
    const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [['--state', 'mysql://db/x'], {}, /mysql:\/\/ is not a state backend/],
      [['--state', 'not a url'], {}, /--state: not a URL/],
      [['--state', url.replace('runbook@', 'runbook:hunter2@')], {}, /the URL holds a password.*PGPASSWORD or ~\/\.pgpass/],
      [['--state', url], { PGPASSWORD: 'wrong-password' }, /refused the login: password authentication failed for user "runbook"/],
      [['--state', pg.url('no_such_db')], {}, /state database postgres:\/\/runbook@127\.0\.0\.1:\d+\/no_such_db does not exist/],
      [['--state', closedPort], {}, /cannot reach the state database postgres:\/\/runbook@127\.0\.0\.1:1\/bad_input/],
    ];
    for (const [flags, env, message] of cases) {
      const result = await cli(['apply', 'touch', '-i', 'i', ...flags], env);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr + result.stdout).not.toMatch(/hunter2|wrong-password/);
      expect(result.stderr).not.toMatch(/internal error/);
    }
    expect(existsSync(join(project, 'h1/marker'))).toBe(false);
    expect(pg.sql('SELECT count(*) FROM runbook_runs', 'bad_input').trim()).toBe('0');
  });

  it('two controllers in two processes race for one host, 50 times: exactly one wins each', async () => {
    const db = pg.createDatabase('race');
    const url = pg.url(db);
    await cli(['state', 'init', '--state', url]);
    const go = join(project, 'race-go');
    const trials = 50;
    const controllers = [0, 1].map(() => startController(url, trials, go));
    await Promise.all(controllers.map((c) => c.ready));
    writeFileSync(go, '');
    const outputs = await Promise.all(controllers.map((c) => c.done));
    for (let i = 0; i < trials; i++) {
      // Whole lines: "10 won" must not count as a win of trial 0.
      const winners = outputs.filter((out) => out.split('\n').includes(`${i} won`));
      const losers = outputs.filter((out) => out.split('\n').includes(`${i} lost`));
      expect([winners.length, losers.length], `trial ${i}`).toEqual([1, 1]);
    }
    expect(pg.sql('SELECT count(*), count(DISTINCT host) FROM runbook_host_locks', db).trim()).toBe(`${trials}|${trials}`);
  });

  it('state copy moves every run, its journal, transcripts and known_hosts from a folder to the database, and back', async () => {
    const { FolderBackend } = await import('../../src/state/index.ts');
    const folderDir = join(project, 'copy-from');
    const folder = new FolderBackend(folderDir);
    const ids: string[] = [];
    for (const host of ['h1', 'h2']) {
      const { id } = await folder.createRun('gate');
      await folder.writeRunRecord(id, { version: 1, id, runbook: { name: 'gate', file: '/x/gate.ts', sha256: 'x' }, inventory: { source: 'i', hosts: {} }, params: {}, user: 'ana', machine: 'laptop', pid: 1, argv: [], startedAt: new Date().toISOString(), dryRun: false, hosts: [host] });
      const journal = await folder.openJournal(id);
      const time = new Date().toISOString();
      await Promise.all([
        journal.append({ kind: 'run-start', time, runId: id, runbook: 'gate', hosts: [host], dryRun: false }),
        journal.append({ kind: 'step-start', time, host, step: 'before', title: 'before', attempt: 1 }),
        journal.append({ kind: 'log', time, host, message: `hello from ${host}` }),
        journal.append({ kind: 'step-result', time, host, step: 'before', status: 'changed', durationMs: 3, attempt: 1 } as never),
      ]);
      await journal.close();
      ids.push(id);
    }
    writeFileSync(join(folderDir, 'known_hosts'), '[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n');
    const url = pg.url(pg.createDatabase('copy'));
    await cli(['state', 'init', '--state', url]);

    const there = await cli(['state', 'copy', '--from', folderDir, '--to', url]);
    expect(there.stdout).toMatch(/copied 2 run\(s\), 8 event\(s\), from .*copy-from to postgres:\/\/runbook@127\.0\.0\.1:\d+\/copy; known_hosts: 1 key\(s\) added/);
    expect((await cli(['state', 'copy', '--from', folderDir, '--to', url])).stdout).toMatch(/copied 0 run\(s\).*2 already there/);
    const back = join(project, 'copy-back');
    expect((await cli(['state', 'copy', '--from', url, '--to', back])).stdout).toMatch(/copied 2 run\(s\), 8 event\(s\)/);

    const { openStateBackend } = await import('../../src/state/index.ts');
    const db = await openStateBackend({ state: url }, { ...process.env, ...pg.env });
    try {
      for (const target of [db, new FolderBackend(back)]) {
        expect((await target.listRuns()).map((r) => [r.id, r.state])).toEqual((await folder.listRuns()).map((r) => [r.id, r.state]));
        for (const [i, id] of ids.entries()) {
          expect((await target.readJournal(id)).events).toEqual((await folder.readJournal(id)).events);
          expect((await target.readHostTranscript(id, `h${i + 1}`)).events).toEqual((await folder.readHostTranscript(id, `h${i + 1}`)).events);
        }
        const keys = await target.projectKnownHosts();
        expect(await import('node:fs/promises').then((f) => f.readFile(keys.file, 'utf8'))).toMatch(/ssh-ed25519 AAAAC3/);
        await keys.save();
      }
    } finally {
      await db.close();
    }
  });

  it('kill -9 of a journal writer, 30 times at random moments: every acknowledged event is there, in order, readable', async () => {
    const url = pg.url(pg.createDatabase('torture'));
    await cli(['state', 'init', '--state', url]);
    const { openStateBackend } = await import('../../src/state/index.ts');
    const state = await openStateBackend({ state: url }, { ...process.env, ...pg.env });
    try {
      // Three runs written side by side, ten kills each: 30 kills, each at a random moment.
      const acked = await Promise.all([0, 1, 2].map(async (lane) => {
        const { id } = await state.createRun(`torture-${lane}`);
        let total = 0;
        for (let trial = 0; trial < 10; trial++) {
          const tag = `l${lane}t${trial}`;
          const acks = await killWhileAppending(url, id, tag, 5 + Math.floor(Math.random() * 60));
          const { events, warnings } = await state.readJournal(id);
          expect(warnings).toEqual([]);
          const present = events.flatMap((e) => (e.kind === 'warning' ? [e.message.split(' ')[0]] : []));
          expect(acks.filter((ack) => !present.includes(ack)), `${tag}`).toEqual([]);
          // Each writer's events in the order it appended them.
          const mine = present.filter((m) => m.startsWith(`${tag}-`)).map((m) => Number(m.split('-')[1]));
          expect(mine).toEqual([...mine].sort((a, b) => a - b));
          total += acks.length;
        }
        expect((await state.readHostTranscript(id, 'h0')).events.length).toBeGreaterThan(0);
        return total;
      }));
      expect(acked.reduce((a, b) => a + b, 0)).toBeGreaterThan(30);
    } finally {
      await state.close();
    }
  }, 600_000);
});

/** Starts a writer, SIGKILLs it `delayMs` after its first ack, returns what it acknowledged. */
async function killWhileAppending(url: string, runId: string, tag: string, delayMs: number): Promise<string[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', APPEND_CHILD, url, runId, tag], { env: { ...process.env, PGPASSWORD: PG_PASSWORD }, stdio: ['ignore', 'pipe', 'inherit'] });
  const acked: string[] = [];
  let buffered = '';
  let timer: NodeJS.Timeout | undefined;
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('ack ')) acked.push(line.slice(4));
    timer ??= setTimeout(() => child.kill('SIGKILL'), delayMs);
  });
  const bound = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await new Promise((resolve) => child.on('close', resolve));
  clearTimeout(bound);
  return acked;
}

/** A lock-race child: `ready` once it is connected, `done` with its output once it has run every trial. */
function startController(url: string, trials: number, go: string): { ready: Promise<void>; done: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', RACE_CHILD, url, String(trials), go], {
    env: { ...process.env, PGPASSWORD: PG_PASSWORD }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let signalReady: () => void;
  const ready = new Promise<void>((resolve) => { signalReady = resolve; });
  child.stdout.on('data', (d: Buffer) => { out += d; if (out.includes('ready\n')) signalReady(); });
  child.stderr.on('data', (d: Buffer) => { err += d; });
  const done = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`lock-race child took too long:\n${out}\n${err}`)); }, 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out); else reject(new Error(`lock-race child exited ${code}:\n${out}\n${err}`));
    });
  });
  return { ready, done };
}
