/**
 * Issue 13, item 2, on the local connection (no lab): a run SIGKILLed between two commands of one
 * step resumes without sending the first again. The second command waits for a file the test
 * never creates before the kill (a handshake, not a timer); the test kills once that command's
 * `command-start` is printed (the first one's end is then durable), creates the file and resumes.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { API, BIN, FAST_ENV, makeProject, release, runCli } from './helpers.ts';

/** Step `list`: two commands; step `fn`: an apply function that reads, then runs two commands. */
const RUNBOOK = `
import { defineRunbook, noop, change, cmd } from '${API}';
const root = (c: any) => c.host.vars.root as string;
// Waits for release-NAME; the killed run's copy (the local connection leaves it running) gives up
// on \`abandon\` and says so in gone-NAME, so it never does the work behind the test's back.
const gate = (c: any, name: string) => cmd\`while [ ! -e \${root(c) + '/release-' + name} ]; do if [ -e \${root(c) + '/abandon'} ]; then touch \${root(c) + '/gone-' + name}; exit 1; fi; sleep 0.02; done\`;
export default defineRunbook({
  name: 'two', summary: 'two commands per step (test)',
}).steps([
    { kind: 'action', id: 'list', title: 'a commands list',
      check: async (c) => (await c.sh\`test -e \${root(c) + '/list-done'}\`.succeeds()) ? noop('done') : change('not done'),
      commands: (c) => [cmd\`echo list-1 >> \${root(c) + '/log'}\`, cmd\`\${gate(c, 'list')} && echo list-2 >> \${root(c) + '/log'} && touch \${root(c) + '/list-done'}\`] },
    { kind: 'action', id: 'fn', title: 'an apply function',
      check: async (c) => (await c.sh\`test -e \${root(c) + '/fn-done'}\`.succeeds()) ? noop('done') : change('not done'),
      async apply(c) {
        const count = (await c.sh\`cat \${root(c) + '/log'} | wc -l\`.text()).trim();
        await c.sh\`echo fn-1 seen \${count} >> \${root(c) + '/log'}\`;
        await c.sh\`\${gate(c, 'fn')} && echo fn-2 >> \${root(c) + '/log'} && touch \${root(c) + '/fn-done'}\`;
      } },
  ]);
`;

function project(): string {
  const dir = makeProject({ 'package.json': '{ "type": "module" }\n', 'runbooks/two.ts': RUNBOOK });
  writeFileSync(join(dir, 'inventory.ini'), `[all]\nt1 ansible_connection=local root=${dir}\n`);
  return dir;
}

/** Starts the CLI with --json and kills it when a command-start containing `marker` is printed. */
function killAtCommandStart(dir: string, args: string[], marker: string): Promise<{ killed: boolean; stdout: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args, '--json', '--state-dir', join(dir, 'state')], { cwd: dir, env: { ...process.env, ...FAST_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let killed = false;
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (!killed && stdout.split('\n').some((l) => l.includes('"kind":"command-start"') && l.includes(marker))) { killed = true; child.kill('SIGKILL'); }
    });
    const cap = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', () => { clearTimeout(cap); done({ killed, stdout }); });
  });
}

describe('a kill between two commands of a step', () => {
  it('the resume sends neither first command again, and the apply function gets its first answer back', async () => {
    const dir = project();
    const log = () => readFileSync(join(dir, 'log'), 'utf8').trim().split('\n');
    const first = await killAtCommandStart(dir, ['apply', 'two', '-i', 'inventory.ini'], 'list-2');
    expect(first.killed, first.stdout).toBe(true);
    expect(log()).toEqual(['list-1']);

    await release(dir, 'list');
    const second = await killAtCommandStart(dir, ['resume'], 'fn-2');
    expect(second.killed, second.stdout).toBe(true);
    expect(second.stdout).toMatch(/not sent again: \\"echo list-1 >>/);
    expect(log()).toEqual(['list-1', 'list-2', 'fn-1 seen 2']);

    // Before the resume the log grows: a live re-read would now see 3 lines and write "fn-1 seen 3".
    await release(dir, 'fn');
    const last = await runCli(['resume', '--json', '--state-dir', join(dir, 'state')], { cwd: dir, env: FAST_ENV, timeoutMs: 60_000 });
    expect(last.code, last.stdout + last.stderr).toBe(0);
    expect(log()).toEqual(['list-1', 'list-2', 'fn-1 seen 2', 'fn-2']);
    const runId = /"runId":"([^"]+)"/.exec(first.stdout)![1];
    const show = await runCli(['show', runId, '--state-dir', join(dir, 'state')], { cwd: dir, env: FAST_ENV, timeoutMs: 60_000 });
    expect(show.stdout, show.stderr).toContain('(attempt 1 resumed)');
    expect(show.stdout).toContain('not sent again: "echo list-1 >>');
  }, 120_000);
});
