import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { beforeEach, expect, it } from 'vitest';
import { eachBackend } from '../helpers/state-backends.ts';
import { API, BIN, FAST_ENV, makeProject, runCli } from './helpers.ts';

const RUNBOOK = `
import { defineRunbook, manual, command, cmd, z } from '${API}';
export default defineRunbook({
  name: 'gate', summary: 'a manual gate between two commands (test)',
  vars: z.object({ root: z.string() }),
  // hold: a file the first step waits for (a handshake the test releases), so a second apply can
  // be started while the first is surely inside its step, however loaded the machine is.
  params: z.object({ hold: z.string().default('') }),
}).steps([
    command({ id: 'before', title: 'before the gate', creates: (c) => c.host.vars.root + '/before',
      run: (c) => c.params.hold
        ? cmd\`touch \${c.params.hold + '.started'}; while [ ! -e \${c.params.hold} ]; do sleep 0.05; done; touch \${c.host.vars.root + '/before'}\`
        : cmd\`touch \${c.host.vars.root + '/before'}\` }),
    manual({ id: 'reinstall', title: 'reinstall the host', instructions: 'Reinstall from the ISO at the console.',
      evidence: z.object({ version: z.string().regex(/^\\d+\\.\\d+/), ip: z.ipv4() }) }),
    command({ id: 'after', title: 'after the gate', creates: (c) => c.host.vars.root + '/after', run: (c) => cmd\`touch \${c.host.vars.root + '/after'}\` }),
  ]);
`;

// The same suite for the state folder and for PostgreSQL: runs, confirmations and locks behave alike.
eachBackend('manual steps, confirmations from another shell, host locks, changed runbooks', (backend) => {
  let project: string;
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli([...args, ...backend.args()], { cwd: project, env: { ...backend.env(), ...env } });
  const runId = async () => (JSON.parse((await cli(['runs', '--json'])).stdout) as Array<{ id: string }>)[0].id;

  beforeEach(() => {
    project = makeProject({ 'package.json': '{ "type": "module" }\n', 'runbooks/gate.ts': RUNBOOK });
    mkdirSync(join(project, 'inventory'));
    mkdirSync(join(project, 'h1'));
    appendFileSync(join(project, 'inventory/i.ini'), `h1 ansible_connection=local root=${project}/h1\n`);
  });

  it('pauses at the manual step (exit 3), takes a confirmation with checked evidence, resumes to the end', async () => {
    const first = await cli(['apply', 'gate', '-i', 'i', '--no-prompt']);
    expect(first.code, first.stdout + first.stderr).toBe(3);
    expect(first.stdout).toMatch(/reinstall\s+WAITING/);
    expect(first.stdout).toMatch(/run paused/);

    const early = await cli(['resume']);
    expect(early.code).toBe(3); // nobody confirmed yet: the host waits again

    const bad = await cli(['confirm', await runId(), '--host', 'h1', '--step', 'reinstall', '--evidence', 'version=six', '--evidence', 'ip=10.0.0.300'], { RUNBOOK_OPERATOR: 'ana' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/evidence not accepted/);
    expect(bad.stderr).toMatch(/version/);
    expect(bad.stderr).toMatch(/ip/);

    const ok = await cli(['confirm', await runId(), '--host', 'h1', '--step', 'reinstall', '--note', 'ILO reinstall done', '--evidence', 'version=8.2.1', '--evidence', 'ip=10.0.0.21'], { RUNBOOK_OPERATOR: 'ana' });
    expect(ok.code, ok.stderr).toBe(0);

    const resumed = await cli(['resume'], { RUNBOOK_OPERATOR: 'ben' });
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/reinstall\s+changed\s+confirmed by ana: ILO reinstall done/);
    expect(resumed.stdout).not.toMatch(/before\s+(changed|ok)/); // done before the pause: skipped

    const show = await cli(['show', await runId()]);
    expect(show.stdout).toMatch(/CONFIRMED\s+by ana: ILO reinstall done evidence \{"version":"8.2.1","ip":"10.0.0.21"\}/);
    expect(show.stdout).toMatch(/after\s+CHANGED/);
    expect(show.stdout).toMatch(/after 2 resumes/);
  });

  it('refuses a confirmation for a host that is not waiting there', async () => {
    await cli(['apply', 'gate', '-i', 'i']);
    const wrong = await cli(['confirm', await runId(), '--host', 'h1', '--step', 'after']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/not a manual step/);
  });

  it('a second apply on a locked host is refused and names the first run', async () => {
    const hold = join(project, 'release');
    const slow = spawn(process.execPath, [BIN, 'apply', 'gate', '-i', 'i', '--param', `hold=${hold}`, ...backend.args()], { cwd: project, env: { ...process.env, ...FAST_ENV, ...backend.env() }, stdio: 'ignore' });
    const firstExit = new Promise<number | null>((done) => slow.on('close', (code) => done(code)));
    try {
      // The first apply holds the lock and sits in its first step until the test releases it.
      await waitFor(() => existsSync(`${hold}.started`), 120_000);
      const second = await cli(['apply', 'gate', '-i', 'i', '--fresh']);
      expect(second.code, second.stdout + second.stderr).toBe(1);
      expect(second.stderr).toMatch(/h1.*locked|held/i);
      expect(second.stderr).toMatch(new RegExp(`pid ${slow.pid}`));
      expect(existsSync(join(project, 'h1/before'))).toBe(false); // the refused apply touched nothing
      writeFileSync(hold, '');
      expect(await firstExit).toBe(3); // released: the first run goes on to its manual gate
    } finally {
      slow.kill('SIGKILL');
    }
  });

  it('a run killed mid-step is resumed by one controller; a second resume at once is refused, naming user, machine and pid', async () => {
    const hold = join(project, 'release');
    const killed = spawn(process.execPath, [BIN, 'apply', 'gate', '-i', 'i', '--param', `hold=${hold}`, ...backend.args()], { cwd: project, env: { ...process.env, ...FAST_ENV, ...backend.env() }, stdio: 'ignore' });
    await waitFor(() => existsSync(`${hold}.started`), 120_000);
    killed.kill('SIGKILL');
    await new Promise((done) => killed.on('close', done));
    const id = await runId();
    if (backend.name === 'postgres') {
      // The dead run keeps its host: another run is refused until it is resumed or unlocked by lock id.
      const other = await cli(['apply', 'gate', '-i', 'i', '--fresh']);
      expect(other.code).toBe(1);
      expect(other.stderr).toMatch(new RegExp(`h1 is locked by run ${id}.*its process is gone: runbook resume ${id} continues it, or runbook unlock h1 --lock-id`));
    }
    const resumeHold = join(project, 'release-resume');
    const first = spawn(process.execPath, [BIN, 'resume', id, '--no-prompt', '--param', `hold=${resumeHold}`, ...backend.args()], { cwd: project, env: { ...process.env, ...FAST_ENV, ...backend.env(), RUNBOOK_OPERATOR: 'ana' }, stdio: 'ignore' });
    const firstExit = new Promise<number | null>((done) => first.on('close', (code) => done(code)));
    try {
      await waitFor(() => existsSync(`${resumeHold}.started`), 120_000);
      const second = await cli(['resume', id]);
      expect(second.code, second.stdout + second.stderr).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`run ${id} is running: pid ${first.pid}, user \\S+, machine ${hostname()}`));
      writeFileSync(resumeHold, '');
      expect(await firstExit).toBe(3); // on to the manual gate
    } finally {
      first.kill('SIGKILL');
    }
  });

  it('resume refuses a runbook file that changed since the run started, unless --force', async () => {
    await cli(['apply', 'gate', '-i', 'i']);
    appendFileSync(join(project, 'runbooks/gate.ts'), '\n// edited after the run started\n');
    const refused = await cli(['resume']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/changed since the run started/);
    expect(refused.stderr).toMatch(/resume --force/);
    const forced = await cli(['resume', '--force']);
    expect(forced.code).toBe(3); // still waiting for the confirmation, but it ran
  });

  it('apply says so when an unfinished run holds these hosts', async () => {
    await cli(['apply', 'gate', '-i', 'i']);
    const again = await cli(['apply', 'gate', '-i', 'i']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is unfinished \(waiting\) on h1/);
    expect(again.stderr).toMatch(/runbook resume/);
    expect(again.stderr).toMatch(/--fresh/);
  });
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
