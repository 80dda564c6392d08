/**
 * Several controllers on one run (`runbook resume RUN --join`), in separate processes with separate
 * state folders and one PostgreSQL database. The hosts are 20 generated local hosts
 * (ansible_connection=local): the lab has five, too few to share between two controllers of four
 * forks each. Each host's one step appends its name to a shared mutation log together with its
 * `done` marker, then waits for a release file: the handshake that holds both controllers mid-run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initPostgresState } from '../../src/state/postgres.ts';
import { PG_MISSING, startPostgres, type PgServer } from '../helpers/postgres.ts';
import { API, BIN, FAST_ENV, makeProject, runCli } from './helpers.ts';

const RUNBOOK = `
import { defineRunbook, command, cmd, z } from '${API}';
export default defineRunbook({
  name: 'fleet', summary: 'one held mutation per host (test)',
  vars: z.object({ root: z.string(), shared: z.string() }),
  // exclusive: a directory only one host may hold at a time, so two hosts at once leave "overlap" in the log.
  // fail: hosts whose step fails once released.
  params: z.object({ hold: z.string(), exclusive: z.boolean().default(false), fail: z.string().default('') }),
}).steps([
  command({ id: 'work', title: 'the mutation', creates: (c) => c.host.vars.root + '/done',
    run: (c) => c.params.fail.split(',').includes(c.host.name)
      ? cmd\`echo \${c.host.name} >> \${c.host.vars.shared + '/log'}; touch \${c.host.vars.root + '/started'}; while [ ! -e \${c.params.hold} ]; do sleep 0.05; done; exit 1\`
      : c.params.exclusive
      ? cmd\`mkdir \${c.host.vars.shared + '/busy'} || echo overlap >> \${c.host.vars.shared + '/log'}; echo \${c.host.name} >> \${c.host.vars.shared + '/log'}; touch \${c.host.vars.root + '/done'} \${c.host.vars.root + '/started'}; while [ ! -e \${c.params.hold} ]; do sleep 0.05; done; rmdir \${c.host.vars.shared + '/busy'}\`
      : cmd\`echo \${c.host.name} >> \${c.host.vars.shared + '/log'}; touch \${c.host.vars.root + '/done'} \${c.host.vars.root + '/started'}; while [ ! -e \${c.params.hold} ]; do sleep 0.05; done\` }),
]);
`;

const HOSTS = Array.from({ length: 20 }, (_, i) => `h${String(i + 1).padStart(2, '0')}`);

interface Controller {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

describe.skipIf(PG_MISSING !== undefined)(`resume --join: controllers sharing one run${PG_MISSING ? ` (skipped: ${PG_MISSING})` : ''}`, () => {
  let pg: PgServer;
  let databases = 0;
  const controllers: Controller[] = [];
  beforeAll(async () => { pg = await startPostgres(); });
  afterAll(() => {
    for (const c of controllers) c.child.kill('SIGKILL');
    pg?.destroy();
  });

  /** A fresh database and project with 20 local hosts. */
  async function setUp(): Promise<{ project: string; url: string }> {
    const url = pg.url(pg.createDatabase(`join_${++databases}`));
    await initPostgresState(url, { env: { ...process.env, ...pg.env }, from: '--state' });
    const project = makeProject({ 'package.json': '{ "type": "module" }\n', 'runbooks/fleet.ts': RUNBOOK });
    mkdirSync(join(project, 'inventory'));
    for (const host of HOSTS) mkdirSync(join(project, 'hosts', host), { recursive: true });
    writeFileSync(join(project, 'inventory/i.ini'), HOSTS.map((h) => `${h} ansible_connection=local root=${project}/hosts/${h} shared=${project}\n`).join(''));
    return { project, url };
  }

  function start(project: string, url: string, stateDir: string, args: string[]): Controller {
    const child = spawn(process.execPath, [BIN, ...args, '--json', '--no-prompt', '--state', url, '--state-dir', join(project, stateDir)], {
      cwd: project, env: { ...process.env, ...FAST_ENV, ...pg.env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => { stdout += d; });
    child.stderr!.on('data', (d: Buffer) => { stderr += d; });
    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    const controller = { child, stdout: () => stdout, stderr: () => stderr, exited };
    controllers.push(controller);
    return controller;
  }

  const started = (project: string) => HOSTS.filter((h) => existsSync(join(project, 'hosts', h, 'started'))).length;
  const mutationLog = (project: string) => readFileSync(join(project, 'log'), 'utf8').trim().split('\n');
  const runIdOf = (c: Controller) => /"runId":"([^"]+)"/.exec(c.stdout())?.[1];
  /** Hosts a controller ran to their end, from its own --json events. */
  const hostsEndedBy = (c: Controller) => c.stdout().trim().split('\n').map((l) => JSON.parse(l) as { kind: string; host?: string }).filter((e) => e.kind === 'host-end').map((e) => e.host!);

  it('two controllers share a 20-host run: every host is done exactly once, by one of them', async () => {
    const { project, url } = await setUp();
    const hold = join(project, 'release');
    const first = start(project, url, 'a', ['apply', 'fleet', '-i', 'i', '--forks', '4', '--param', `hold=${hold}`]);
    await waitFor(() => started(project) === 4 && runIdOf(first) !== undefined, 60_000, () => first.stderr());
    const runId = runIdOf(first)!;
    const second = start(project, url, 'b', ['resume', runId, '--join', '--forks', '4']);
    await waitFor(() => started(project) === 8, 60_000, () => second.stderr());

    const shown = await runCli(['show', runId, '--state', url, '--state-dir', join(project, 'c')], { cwd: project, env: { ...FAST_ENV, ...pg.env } });
    expect(shown.stdout).toMatch(new RegExp(`controller .+ \\(pid ${first.child.pid}\\): running( h\\d\\d,?){4}\\n`));
    expect(shown.stdout).toMatch(new RegExp(`controller .+ \\(pid ${second.child.pid}\\): running( h\\d\\d,?){4}\\n`));
    const listed = await runCli(['runs', '--state', url, '--state-dir', join(project, 'c')], { cwd: project, env: { ...FAST_ENV, ...pg.env } });
    expect(listed.stdout).toContain(`\n${runId}:\n`);
    expect(listed.stdout).toMatch(new RegExp(`controller .+ \\(pid ${second.child.pid}\\): running( h\\d\\d,?){4}\\n`));

    writeFileSync(hold, '');
    expect(await first.exited, first.stderr()).toBe(0);
    expect(await second.exited, second.stderr()).toBe(0);
    expect(mutationLog(project).sort()).toEqual(HOSTS);
    const byFirst = hostsEndedBy(first);
    const bySecond = hostsEndedBy(second);
    expect([...byFirst, ...bySecond].sort()).toEqual(HOSTS);
    expect(byFirst.length).toBeGreaterThanOrEqual(4);
    expect(bySecond.length).toBeGreaterThanOrEqual(4);
  });

  it('a controller SIGKILLed mid-run: the other finishes its hosts and the dead one\'s, none twice', async () => {
    const { project, url } = await setUp();
    const hold = join(project, 'release');
    const first = start(project, url, 'a', ['apply', 'fleet', '-i', 'i', '--forks', '4', '--param', `hold=${hold}`]);
    await waitFor(() => started(project) === 4 && runIdOf(first) !== undefined, 60_000, () => first.stderr());
    const runId = runIdOf(first)!;
    const second = start(project, url, 'b', ['resume', runId, '--join', '--forks', '4']);
    await waitFor(() => started(project) === 8, 60_000, () => second.stderr());

    first.child.kill('SIGKILL');
    expect(await first.exited).toBe(null);
    writeFileSync(hold, ''); // the dead controller's commands in flight end on their hosts too
    expect(await second.exited, second.stderr()).toBe(0);
    // The four hosts in flight on the dead controller had logged their mutation: re-checked, not done again.
    expect(mutationLog(project).sort()).toEqual(HOSTS);
    expect(hostsEndedBy(first)).toEqual([]);
    expect(hostsEndedBy(second).sort()).toEqual(HOSTS);
    const runs = await runCli(['runs', '--json', '--state', url, '--state-dir', join(project, 'c')], { cwd: project, env: { ...FAST_ENV, ...pg.env } });
    expect((JSON.parse(runs.stdout) as { id: string; state: string; counts: Record<string, number> }[]).find((r) => r.id === runId)).toMatchObject({ state: 'ok', counts: { changed: 16, ok: 4 } });
  });

  it('--serial 1 across two controllers: a joined controller waits for the batch, never two hosts at once', async () => {
    const { project, url } = await setUp();
    const hold = join(project, 'release');
    const four = 'h01,h02,h03,h04';
    const first = start(project, url, 'a', ['apply', 'fleet', '-i', 'i', '--limit', four, '--serial', '1', '--param', `hold=${hold}`, '--param', 'exclusive=true']);
    await waitFor(() => started(project) === 1 && runIdOf(first) !== undefined, 60_000, () => first.stderr());
    const second = start(project, url, 'b', ['resume', runIdOf(first)!, '--join']);
    // Either it waits (as it must), or it started a second host (the bug this test is for).
    await waitFor(() => /waiting: hosts of this batch still run on other controllers: h01/.test(second.stderr()) || started(project) > 1, 60_000, () => second.stderr());
    expect(started(project)).toBe(1);
    writeFileSync(hold, '');
    expect(await first.exited, first.stderr()).toBe(0);
    expect(await second.exited, second.stderr()).toBe(0);
    expect(mutationLog(project)).not.toContain('overlap');
    expect(mutationLog(project).sort()).toEqual(four.split(','));
    expect(readdirSync(project)).not.toContain('busy');
  });

  it('--max-fail-percent counts the failed hosts of a batch on every controller', async () => {
    const { project, url } = await setUp();
    const hold = join(project, 'release');
    // Batches of 4; one failed host on each controller is 2 of 4 (50% > 40%), though each alone saw 1 of 4.
    const first = start(project, url, 'a', ['apply', 'fleet', '-i', 'i', '--limit', 'h0*', '--serial', '4', '--max-fail-percent', '40', '--forks', '2', '--param', `hold=${hold}`, '--param', 'fail=h02,h04']);
    await waitFor(() => started(project) === 2 && runIdOf(first) !== undefined, 60_000, () => first.stderr());
    const second = start(project, url, 'b', ['resume', runIdOf(first)!, '--join', '--forks', '2']);
    await waitFor(() => started(project) === 4, 60_000, () => second.stderr());
    writeFileSync(hold, '');
    expect(await first.exited, first.stderr()).toBe(2);
    expect(await second.exited, second.stderr()).toBe(2);
    expect(started(project)).toBe(4); // the next batch (h05…h08) never started
    expect(mutationLog(project).sort()).toEqual(['h01', 'h02', 'h03', 'h04']);
    const runs = await runCli(['runs', '--json', '--state', url, '--state-dir', join(project, 'c')], { cwd: project, env: { ...FAST_ENV, ...pg.env } });
    expect((JSON.parse(runs.stdout) as { id: string; state: string }[]).find((r) => r.id === runIdOf(first))).toMatchObject({ state: 'failed' });
  });

  it('--join on a state folder is refused, saying why, touching nothing', async () => {
    const { project } = await setUp();
    const run = await runCli(['resume', 'latest', '--join', '--state-dir', join(project, 'a')], { cwd: project, env: { ...FAST_ENV, RUNBOOK_STATE_URL: '' } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/--join shares run latest among controllers through a state database \(--state postgres:\/\/… or RUNBOOK_STATE_URL\); a state folder belongs to one machine/);
  });
});

async function waitFor(condition: () => boolean, timeoutMs: number, why: () => string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`condition not met in time:\n${why()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
