import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initPostgresState } from '../../src/state/postgres.ts';
import { PG_MISSING, startPostgres, type PgServer } from '../helpers/postgres.ts';
import { API, BIN, FAST_ENV, makeProject, runCli } from './helpers.ts';

const RUNBOOK = `
import { defineRunbook, manual, command, cmd, z } from '${API}';
export default defineRunbook({
  name: 'gate', summary: 'a held command, then a manual gate (test)',
  vars: z.object({ root: z.string() }),
  // hold: a file the first step waits for, so the test can stop the database while it runs.
  params: z.object({ hold: z.string().default('') }),
}).steps([
    command({ id: 'before', title: 'before the gate', creates: (c) => c.host.vars.root + '/before',
      run: (c) => c.params.hold
        ? cmd\`touch \${c.params.hold + '.started'}; while [ ! -e \${c.params.hold} ]; do sleep 0.05; done; touch \${c.host.vars.root + '/before'}\`
        : cmd\`touch \${c.host.vars.root + '/before'}\` }),
    manual({ id: 'reinstall', title: 'reinstall the host', instructions: 'Reinstall from the ISO at the console.' }),
]);
`;

describe.skipIf(PG_MISSING !== undefined)(`the state database going away mid-run${PG_MISSING ? ` (skipped: ${PG_MISSING})` : ''}`, () => {
  let pg: PgServer;
  let project: string;
  let url: string;
  beforeAll(async () => {
    pg = await startPostgres();
    url = pg.url(pg.createDatabase('midrun'));
    await initPostgresState(url, { env: { ...process.env, ...pg.env }, from: '--state' });
    project = makeProject({ 'package.json': '{ "type": "module" }\n', 'runbooks/gate.ts': RUNBOOK });
    mkdirSync(join(project, 'inventory'));
    mkdirSync(join(project, 'h1'));
    writeFileSync(join(project, 'inventory/i.ini'), `h1 ansible_connection=local root=${project}/h1\n`);
  });
  afterAll(() => pg?.destroy());
  const stateArgs = () => ['--state', url, '--state-dir', join(project, 'local')];
  const cli = (args: string[]) => runCli([...args, ...stateArgs()], { cwd: project, env: pg.env });

  it('stopped while a step runs: the run exits saying so, and resumes once it is back, nothing acknowledged lost', async () => {
    const hold = join(project, 'release');
    const run = spawn(process.execPath, [BIN, 'apply', 'gate', '-i', 'i', '--no-prompt', '--param', `hold=${hold}`, ...stateArgs()], {
      cwd: project, env: { ...process.env, ...FAST_ENV, ...pg.env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    run.stderr.on('data', (d: Buffer) => { stderr += d; });
    const exited = new Promise<number | null>((done) => run.on('close', (code) => done(code)));
    try {
      await waitFor(() => existsSync(`${hold}.started`), 60_000);
      pg.stop();
      writeFileSync(hold, ''); // the step in flight finishes on the host
      expect(await exited, stderr).toBe(1);
    } finally {
      run.kill('SIGKILL');
    }
    expect(stderr).toMatch(/cannot reach the state database postgres:\/\/runbook@127\.0\.0\.1:\d+\/midrun|lost the hold on run/);
    const id = /runbook resume (\S+)/.exec(stderr)?.[1];
    expect(id, stderr).toBeDefined();
    expect(stderr).not.toMatch(/internal error/);

    pg.start();
    const resumed = await cli(['resume', id!, '--no-prompt']);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(3); // on to the manual gate
    const events = (await cli(['show', id!, '--json'])).stdout.trim().split('\n').map((line) => JSON.parse(line) as { kind: string; step?: string; status?: string; resumed?: boolean });
    // Acknowledged before the stop: the first run-start and the step-start of `before`.
    expect(events.filter((e) => e.kind === 'run-start').length).toBe(2);
    expect(events.filter((e) => e.kind === 'step-start' && e.step === 'before').length).toBeGreaterThanOrEqual(1);
    // The step that was in flight is re-checked on resume and found done: not applied again.
    const before = events.filter((e) => e.kind === 'step-result' && e.step === 'before');
    expect(before.at(-1)?.status).toBe('ok');
    expect(events.some((e) => e.kind === 'step-result' && e.step === 'reinstall' && e.status === 'waiting')).toBe(true);
  });
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
