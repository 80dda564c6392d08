/**
 * Who owns a run and its hosts (issues 13 and 14): a confirmation survives a resume killed while it
 * records the confirmed step; `unlock` refuses a live holder; `apply` says a live run is running,
 * by whom; a usage error records nothing, and a run that started no step does not hold its hosts.
 * Every window is held open by a file the test releases, never by a sleep.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { discardIfNothingStarted, openSession } from '../../src/cli/session.ts';
import { defineRunbook, manual } from '../../src/index.ts';
import { FolderBackend } from '../../src/state/index.ts';
import { API, BIN, FAST_ENV, makeProject, runCli } from './helpers.ts';

/**
 * `approve` on h1 is a manual step whose check runs on h2 (like rebuild-rejoin-host's
 * forget-approved on the survivor). While `<root>/hold` exists the check stops in the middle:
 * it touches `reached` and waits for `release`.
 */
const APPROVE = `
import { defineRunbook, manual, command, change, cmd, z } from '${API}';
export default defineRunbook({
  name: 'approve', summary: 'a manual gate checked on another host (test)',
  vars: z.object({ root: z.string() }),
}).steps([
    manual({ id: 'approve', title: 'approve the change', instructions: 'Approve it in the ticket.', on: 'h2',
      async check(c) {
        const root = c.host.vars.root;
        await c.sh\`if [ -e \${root + '/hold'} ]; then touch \${root + '/reached'}; n=0; while [ ! -e \${root + '/release'} ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done; fi\`;
        return change('the change is not approved yet');
      } }),
    command({ id: 'after', title: 'after the gate', creates: (c) => c.host.vars.root + '/after', run: (c) => cmd\`touch \${c.host.vars.root + '/after'}\` }),
  ]);
`;

/** `held` touches `reached` and waits for `release`; `work` fails while `<root>/fail` exists. */
const WORK = `
import { defineRunbook, command, cmd, z } from '${API}';
export default defineRunbook({
  name: 'work', summary: 'a step held open by a file, a step that fails on demand (test)',
  vars: z.object({ root: z.string() }),
}).steps([
    command({ id: 'held', title: 'held open', creates: (c) => c.host.vars.root + '/held',
      run: (c) => cmd\`if [ -e \${c.host.vars.root + '/hold'} ]; then touch \${c.host.vars.root + '/reached'}; n=0; while [ ! -e \${c.host.vars.root + '/release'} ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done; fi; touch \${c.host.vars.root + '/held'}\` }),
    command({ id: 'work', title: 'work', creates: (c) => c.host.vars.root + '/worked',
      run: (c) => cmd\`test ! -e \${c.host.vars.root + '/fail'} && touch \${c.host.vars.root + '/worked'}\` }),
  ]);
`;

let project: string;
const children: ChildProcess[] = [];
const root = () => join(project, 'h1');
const state = () => join(project, 'state');
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli([...args, '--state-dir', state()], { cwd: project, env });
const runIds = () => (existsSync(join(state(), 'runs')) ? readdirSync(join(state(), 'runs')).sort() : []);
const touch = (name: string) => writeFileSync(join(root(), name), '');

beforeEach(() => {
  project = makeProject({ 'package.json': '{ "type": "module" }\n', 'runbooks/approve.ts': APPROVE, 'runbooks/work.ts': WORK });
  mkdirSync(root());
  writeFileSync(join(project, 'inventory.ini'), [
    `h1 ansible_connection=local root=${root()}`,
    `h2 ansible_connection=local root=${root()}`,
    // Nothing listens on port 1: refused at once, before any step starts.
    `gone ansible_host=127.0.0.1 ansible_port=1 root=${root()}`,
  ].join('\n') + '\n');
});

afterEach(() => {
  // A command a killed run left waiting ends once released.
  if (existsSync(root())) touch('release');
  for (const child of children.splice(0)) child.kill('SIGKILL');
  rmSync(project, { recursive: true, force: true });
});

/** Starts the CLI in the background; `closed` resolves with its exit code. */
function start(args: string[]): { child: ChildProcess; closed: Promise<number | null>; output: () => string } {
  const child = spawn(process.execPath, [BIN, ...args, '--state-dir', state()], { cwd: project, env: { ...process.env, ...FAST_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, closed, output: () => output };
}

/** Waits until the command held open by `hold` has started (it touched `reached`). */
async function reached(run: { closed: Promise<number | null>; output: () => string }): Promise<void> {
  let exited = false;
  void run.closed.then(() => { exited = true; });
  const until = Date.now() + 30_000;
  while (!existsSync(join(root(), 'reached'))) {
    if (exited) throw new Error(`the run ended before it reached the held command:\n${run.output()}`);
    if (Date.now() > until) throw new Error(`the held command was not reached in 30 s:\n${run.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const journalOf = (id: string) => readFileSync(join(state(), 'runs', id, 'journal.jsonl'), 'utf8');

describe('a confirmation survives a resume killed while it records the confirmed step (issue 13.3)', () => {
  it('the next resume continues past the step without a second confirm', async () => {
    const first = await cli(['apply', 'approve', '-i', 'inventory.ini', '--limit', 'h1', '--no-prompt']);
    expect(first.code, first.stdout + first.stderr).toBe(3);
    const [id] = runIds();
    expect((await cli(['confirm', id, '--host', 'h1', '--step', 'approve', '--note', 'CHG-7'], { RUNBOOK_OPERATOR: 'ana' })).code).toBe(0);

    // The resume starts the confirmed step, its check on h2 stops in the middle: kill it there.
    touch('hold');
    const resume = start(['resume', id, '--no-prompt']);
    await reached(resume);
    expect(journalOf(id).match(/"kind":"step-start"[^\n]*"step":"approve"/g)).toHaveLength(2);
    resume.child.kill('SIGKILL');
    expect(await resume.closed).toBeNull();
    expect(journalOf(id)).not.toMatch(/"kind":"step-result"[^\n]*"step":"approve"[^\n]*"status":"changed"/);
    rmSync(join(root(), 'hold'));
    touch('release');

    const again = await cli(['resume', id, '--no-prompt']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stderr).toMatch(/h1: 0 step\(s\) done; re-check \(was in flight\) at approve, confirmed by ana/);
    expect(again.stdout).toMatch(/approve\s+changed\s+confirmed by ana: CHG-7/);
    expect(existsSync(join(root(), 'after'))).toBe(true);
  }, 90_000);
});

describe('a run that is alive (issues 13.4 and 13.6)', () => {
  it('unlock refuses its lock, naming its pid; --force breaks it with a warning', async () => {
    touch('hold');
    const run = start(['apply', 'work', '-i', 'inventory.ini', '--limit', 'h1']);
    await reached(run);
    const lock = JSON.parse(readFileSync(join(state(), 'locks', 'h1.lock'), 'utf8')) as { lockId: string; pid: number };
    expect(lock.pid).toBe(run.child.pid);

    const refused = await cli(['unlock', 'h1', '--lock-id', lock.lockId]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`h1: not unlocked: its holder is alive, pid ${run.child.pid} on this machine`));
    expect(existsSync(join(state(), 'locks', 'h1.lock'))).toBe(true);

    const forced = await cli(['unlock', 'h1', '--lock-id', lock.lockId, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(new RegExp(`WARNING.*h1: broke the lock of a live process \\(pid ${run.child.pid}`));
    expect(existsSync(join(state(), 'locks', 'h1.lock'))).toBe(false);
    touch('release');
    expect(await run.closed).toBe(0);
  }, 90_000);

  it('apply and resume say that it is running, by whom, instead of offering resume or --fresh', async () => {
    touch('hold');
    const run = start(['apply', 'work', '-i', 'inventory.ini', '--limit', 'h1']);
    await reached(run);
    const [id] = runIds();
    const who = new RegExp(`run ${id} of work is running on h1: pid ${run.child.pid}, user ${userInfo().username}, machine ${hostname()}, since `);

    const apply = await cli(['apply', 'work', '-i', 'inventory.ini', '--limit', 'h1']);
    expect(apply.code).toBe(1);
    expect(apply.stderr).toMatch(who);
    expect(apply.stderr).toMatch(new RegExp(`kill ${run.child.pid}`));
    expect(apply.stderr).not.toMatch(/--fresh|runbook resume/);

    const resume = await cli(['resume', id]);
    expect(resume.code).toBe(1);
    expect(resume.stderr).toMatch(new RegExp(`run ${id} is running: pid ${run.child.pid}, user ${userInfo().username}, machine ${hostname()}`));
    touch('release');
    expect(await run.closed).toBe(0);
  }, 90_000);
});

describe('what does not hold a host (issue 14.5)', () => {
  it('a bad --serial is exit 1 and records no run', async () => {
    for (const serial of ['abc', '0']) {
      const bad = await cli(['apply', 'work', '-i', 'inventory.ini', '--limit', 'h1', '--serial', serial]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/--serial/);
    }
    const forks = await cli(['apply', 'work', '-i', 'inventory.ini', '--limit', 'h1', '--forks', '0']);
    expect(forks.code).toBe(1);
    expect(forks.stderr).toMatch(/--forks 0/);
    expect(runIds()).toEqual([]);
    const good = await cli(['apply', 'work', '-i', 'inventory.ini', '--limit', 'h1']);
    expect(good.code, good.stdout + good.stderr).toBe(0);
  }, 90_000);

  it('a new run that fails with exit 1 before its first step leaves no run folder; one that started a step stays', async () => {
    const file = join(project, 'runbooks/work.ts');
    const prepared = {
      runbook: { ...defineRunbook({ name: 'work', summary: 'in-process session (test)' }).steps([manual({ id: 'm', title: 'a gate', instructions: 'Nothing to do.' })]), file, hash: '' },
      inventory: { source: join(project, 'inventory.ini'), hosts: new Map(), groups: new Map() }, hosts: [], params: {}, hostVars: new Map(), secrets: [],
    };
    const options = { dryRun: false, argv: [], inventoryRef: 'inventory.ini' };
    const folder = new FolderBackend(state());
    const empty = await openSession(folder, prepared, options);
    await empty.sinks[0].emit({ kind: 'run-start', time: new Date().toISOString(), runId: empty.runId, runbook: 'work', hosts: [], dryRun: false });
    await empty.close();
    await discardIfNothingStarted(folder, empty);
    expect(runIds()).toEqual([]);

    const started = await openSession(folder, prepared, options);
    await started.sinks[0].emit({ kind: 'step-start', time: new Date().toISOString(), host: 'h1', step: 'held', title: 'held open', attempt: 1 });
    await started.close();
    await discardIfNothingStarted(folder, started);
    expect(runIds()).toEqual([started.runId]);
  });

  it('a run whose hosts were all unreachable before any step does not block the next apply', async () => {
    const first = await cli(['apply', 'work', '-i', 'inventory.ini', '--limit', 'gone']);
    expect(first.code, first.stdout + first.stderr).toBe(4);
    const again = await cli(['apply', 'work', '-i', 'inventory.ini', '--limit', 'gone']);
    expect(again.code, again.stderr).toBe(4);
    expect(again.stderr).not.toMatch(/unfinished/);
    expect(runIds()).toHaveLength(2);
    // It stays in `runbook runs`, and can still be resumed by name.
    expect((await cli(['runs'])).stdout).toMatch(/unreachable ⟳/);
  }, 90_000);

  it('a --fresh run that ends ok clears the block of the unfinished run before it', async () => {
    touch('fail');
    const failed = await cli(['apply', 'work', '-i', 'inventory.ini', '--limit', 'h1']);
    expect(failed.code, failed.stdout + failed.stderr).toBe(2);
    rmSync(join(root(), 'fail'));
    const blocked = await cli(['apply', 'work', '-i', 'inventory.ini', '--limit', 'h1']);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(/is unfinished \(failed\) on h1/);

    const fresh = await cli(['apply', 'work', '-i', 'inventory.ini', '--limit', 'h1', '--fresh']);
    expect(fresh.code, fresh.stdout + fresh.stderr).toBe(0);
    const later = await cli(['apply', 'work', '-i', 'inventory.ini', '--limit', 'h1']);
    expect(later.code, later.stdout + later.stderr).toBe(0);
  }, 90_000);
});
