import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { foldProgress, journalPath, readJournal } from '../../src/state/index.ts';
import { API, BIN, FAST_ENV, makeProject, runCli } from './helpers.ts';

const HOSTS = ['t1', 't2', 't3'];
const STEPS = 6;

/**
 * Six steps per host. Each apply appends its name to applied.log and creates its marker in ONE
 * shell command, so the log counts applies. Step 1 makes a token and hands it on; step 4 writes
 * the token it was handed, so a resume that lost the value (instead of restoring it from the
 * journal) leaves a different file than an uninterrupted run.
 */
const TORTURE = `
import { defineRunbook, noop, change, cmd, z } from '${API}';
import type { Step } from '${API}';
const root = (c: any) => c.host.vars.root as string;
const marker = (id: string): Step => ({
  kind: 'action', id, title: 'marker ' + id,
  check: async (c) => (await c.sh\`test -e \${root(c) + '/' + id}\`.succeeds()) ? noop(id + ' done') : change(id + ' missing'),
  commands: (c) => [cmd\`sleep 0.05; echo \${id} >> \${root(c) + '/applied.log'} && touch \${root(c) + '/' + id}\`],
});
export default defineRunbook({
  name: 'torture', summary: 'kill -9 torture runbook (test)',
  vars: z.object({ root: z.string() }),
}).steps([
    { kind: 'action', id: 's1', title: 'make a token',
      check: async (c) => { const t = await c.sh\`cat \${root(c) + '/token'}\`.nothrow(); return t.ok ? noop('token exists', { token: t.stdout.trim() }) : change('no token'); },
      commands: (c) => [cmd\`sleep 0.05; echo s1 >> \${root(c) + '/applied.log'} && head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \\\\n' > \${root(c) + '/token'}\`] },
    marker('s2'), marker('s3'),
    { kind: 'action', id: 's4', title: 'use the token',
      check: async (c) => (await c.sh\`test -e \${root(c) + '/used'}\`.succeeds()) ? noop('token used') : change('token not used'),
      commands: (c) => [cmd\`sleep 0.05; echo s4 >> \${root(c) + '/applied.log'} && echo \${c.outputs.get<string>('s1', 'token')} > \${root(c) + '/used'}\`] },
    marker('s5'), marker('s6'),
  ]);
`;

/**
 * Resolves once no process has `project` in its command line: the step commands the killed run
 * left behind have ended (waited for, not slept for: under load they take what they take).
 */
async function orphansGone(project: string): Promise<void> {
  const holding = () => readdirSync('/proc').filter((pid) => /^\d+$/.test(pid)).some((pid) => {
    try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(project); } catch { return false; }
  });
  const deadline = Date.now() + 30_000;
  while (holding()) {
    if (Date.now() > deadline) throw new Error(`step commands of the killed run in ${project} still running after 30 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function torturedProject(): string {
  const project = makeProject({ 'package.json': '{ "type": "module" }\n', 'runbooks/torture.ts': TORTURE });
  const ini = `[all]\n${HOSTS.map((h) => `${h} ansible_connection=local root=${project}/hosts/${h}`).join('\n')}\n`;
  makeFiles(project, { 'inventory/t.ini': ini, ...Object.fromEntries(HOSTS.map((h) => [`hosts/${h}/.keep`, ''])) });
  return project;
}

function makeFiles(dir: string, files: Record<string, string>): void {
  for (const [p, text] of Object.entries(files)) {
    const full = join(dir, p);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, text);
  }
}

/** Starts `runbook apply` and SIGKILLs it after `afterResults` step results, or `afterMs` after the run started. */
function applyAndKill(project: string, kill: { afterResults?: number; afterMs?: number }): Promise<void> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, 'apply', 'torture', '-i', 't', '--json', '--forks', '3', '--state-dir', join(project, 'state')], { cwd: project, env: { ...process.env, ...FAST_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
    let results = 0; let buffer = '';
    const killNow = () => child.kill('SIGKILL');
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      const lines = buffer.split('\n'); buffer = lines.pop()!;
      for (const line of lines) {
        if (line.includes('"kind":"run-start"') && kill.afterMs !== undefined) timer = setTimeout(killNow, kill.afterMs);
        if (line.includes('"kind":"step-result"') && ++results === kill.afterResults) killNow();
      }
    });
    let timer: NodeJS.Timeout | undefined;
    child.on('close', () => { if (timer) clearTimeout(timer); done(); });
  });
}

function hostState(project: string, host: string) {
  const dir = join(project, 'hosts', host);
  const files = readdirSync(dir).filter((f) => !f.startsWith('.')).sort();
  const token = readFileSync(join(dir, 'token'), 'utf8').trim();
  const used = readFileSync(join(dir, 'used'), 'utf8').trim();
  const applied = readFileSync(join(dir, 'applied.log'), 'utf8').trim().split('\n');
  return { files, tokenHandedOn: used === token, applied };
}

async function resumeUntilDone(project: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    // bounds are safety nets: at load 30 on two cores one local step of this runbook took 10 s
    const r = await runCli(['resume', '--state-dir', join(project, 'state')], { cwd: project, timeoutMs: 150_000 });
    if (r.code === 0) return;
    if (/no unfinished run/.test(r.stderr)) return; // the kill came after the run ended
    throw new Error(`resume exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  }
}

describe('kill -9 torture: every interrupted run resumes to the uninterrupted end state', () => {
  let reference: ReturnType<typeof hostState>;

  beforeAll(async () => {
    const project = torturedProject();
    const r = await runCli(['apply', 'torture', '-i', 't', '--state-dir', join(project, 'state')], { cwd: project, timeoutMs: 170_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    reference = hostState(project, 't1');
    expect(reference.applied).toEqual(['s1', 's2', 's3', 's4', 's5', 's6']);
  });

  // 18 step boundaries (3 hosts × 6 steps) plus 14 random moments: 32 trials, 4 at a time.
  const trials = [
    ...Array.from({ length: HOSTS.length * STEPS }, (_, i) => ({ name: `after step result ${i + 1}`, kill: { afterResults: i + 1 } })),
    ...Array.from({ length: 14 }, (_, i) => ({ name: `at random moment #${i + 1}`, kill: { afterMs: Math.floor(Math.random() * 900) } })),
  ];

  it.concurrent.each(trials)('killed $name', async ({ kill }) => {
    const project = torturedProject();
    await applyAndKill(project, kill);
    await orphansGone(project); // an orphaned step command finishes, as it would on a real host
    await resumeUntilDone(project);
    const journal = await readJournal(journalPath(join(project, 'state/runs', readdirSync(join(project, 'state/runs'))[0])));
    for (const warning of journal.warnings) expect(warning).toMatch(/torn or corrupt last line/);
    expect(foldProgress(journal.events).state).toBe('ok');
    for (const host of HOSTS) {
      const state = hostState(project, host);
      expect(state.files).toEqual(reference.files);
      expect(state.tokenHandedOn, `${host}: the token step 4 used is the one step 1 made`).toBe(true);
      // A step is applied twice only if the kill landed inside its apply; never once its check said done.
      const counts = Object.fromEntries(['s1', 's2', 's3', 's4', 's5', 's6'].map((s) => [s, state.applied.filter((a) => a === s).length]));
      for (const [step, n] of Object.entries(counts)) expect(n, `${host} ${step} applied ${n} times: ${state.applied}`).toBeGreaterThanOrEqual(1);
      const repeats = Object.values(counts).filter((n) => n > 1).length;
      expect(repeats, `${host}: at most the one in-flight step is applied again`).toBeLessThanOrEqual(1);
    }
  }, 400_000);
});
