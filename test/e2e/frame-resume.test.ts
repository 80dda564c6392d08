/**
 * Several steps in one frame (issue 18), killed while the frame is out, on the local connection
 * (no lab): the real CLI is SIGKILLed once the frame has run step a and sits in step b's command,
 * which waits for a file the test creates only after the kill (a handshake, not a timer). The
 * journal then holds a's start naming b and c; the resume re-checks all three, so a is found done
 * and not run again, and b and c run once.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { API, BIN, FAST_ENV, makeProject, processMentions, release, runCli } from './helpers.ts';

const RUNBOOK = `
import { defineRunbook, command, cmd } from '${API}';
const at = (c: any, name: string) => (c.host.vars.root as string) + '/' + name;
// Waits for release-b; the killed run's copy (the local connection leaves it running) gives up on
// \`abandon\` and says so in gone-b, so it never does the work behind the test's back.
const gate = (c: any) => cmd\`while [ ! -e \${at(c, 'release-b')} ]; do if [ -e \${at(c, 'abandon')} ]; then touch \${at(c, 'gone-b')}; exit 1; fi; sleep 0.02; done\`;
const step = (id: string, wait: boolean) => command({
  id, title: 'step ' + id,
  unless: (c) => cmd\`test -e \${at(c, id)}\`,
  run: (c) => wait
    ? [gate(c), cmd\`echo \${id} >> \${at(c, 'log')}\`, cmd\`touch \${at(c, id)}\`]
    : [cmd\`echo \${id} >> \${at(c, 'log')}\`, cmd\`touch \${at(c, id)}\`],
});
export default defineRunbook({ name: 'framed', summary: 'three host-judged steps (test)' }).steps([step('a', false), step('b', true), step('c', false)]);
`;

describe('a kill while a frame of several steps is out', () => {
  it('the resume re-checks every step of the frame: the one it finished is not run again', async () => {
    const dir = makeProject({ 'package.json': '{ "type": "module" }\n', 'runbooks/framed.ts': RUNBOOK });
    writeFileSync(join(dir, 'inventory.ini'), `[all]\nt1 ansible_connection=local root=${dir}\n`);
    const state = join(dir, 'state');
    const log = () => readFileSync(join(dir, 'log'), 'utf8').trim().split('\n');

    const child = spawn(process.execPath, [BIN, 'apply', 'framed', '-i', 'inventory.ini', '--json', '--state-dir', state], { cwd: dir, env: { ...process.env, ...FAST_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    const closed = new Promise<void>((done) => child.on('close', () => done()));
    // The frame ran a (its marker is there) and waits in b's first command.
    for (const deadline = Date.now() + 60_000; !(existsSync(join(dir, 'a')) && processMentions(join(dir, 'release-b'))); ) {
      if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`the frame never reached b:\n${stdout}`); }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill('SIGKILL');
    await closed;
    expect(log()).toEqual(['a']);
    const started = stdout.split('\n').filter((l) => l.includes('"kind":"step-start"'));
    expect(started).toHaveLength(1);
    expect(JSON.parse(started[0])).toMatchObject({ step: 'a', framedWith: ['b', 'c'] });

    const runId = /"runId":"([^"]+)"/.exec(stdout)![1];
    const shown = await runCli(['show', runId, '--state-dir', state], { cwd: dir });
    expect(shown.stdout, shown.stderr).toContain('sent in one script with b, c: they may have run too');

    await release(dir, 'b');
    const resumed = await runCli(['resume', '--json', '--state-dir', state], { cwd: dir, timeoutMs: 60_000 });
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(log()).toEqual(['a', 'b', 'c']);
    const results = resumed.stdout.split('\n').filter((l) => l.includes('"kind":"step-result"')).map((l) => JSON.parse(l) as { step: string; status: string; roundTrips: number });
    expect(results.map((r) => `${r.step} ${r.status}`)).toEqual(['a ok', 'b changed', 'c changed']);
    // The resume sent the three as one frame again: one round trip for the host.
    expect(results.map((r) => r.roundTrips)).toEqual([1, 0, 0]);
  }, 120_000);
});
