import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { journalPath, readJournal, readRunRecord, resolveRun } from '../../src/state/index.ts';
import { API, FAST_ENV, makeProject, runCli } from './helpers.ts';

const HOSTS = ['t1', 't2', 't3'];

/** One step per host that fails until the test creates `open`, and takes a moment when it runs. */
const ROLLING = `
import { defineRunbook, noop, change, cmd, z } from '${API}';
export default defineRunbook({
  name: 'rolling', summary: 'a rolling change (test)',
  vars: z.object({ root: z.string(), gate: z.string() }),
}).steps([
  { kind: 'action', id: 'roll', title: 'roll the host',
    check: async (c) => (await c.sh\`test -e \${c.host.vars.root + '/done'}\`.succeeds()) ? noop('rolled') : change('not rolled'),
    commands: (c) => [cmd\`test -e \${c.host.vars.gate} && sleep 0.3 && touch \${c.host.vars.root + '/done'}\`] },
]);
`;

function project(): string {
  const dir = makeProject({ 'package.json': '{ "type": "module" }\n', 'runbooks/rolling.ts': ROLLING });
  const ini = `[all]\n${HOSTS.map((h) => `${h} ansible_connection=local root=${dir}/hosts/${h} gate=${dir}/open`).join('\n')}\n`;
  mkdirSync(join(dir, 'inventory'), { recursive: true });
  writeFileSync(join(dir, 'inventory/r.ini'), ini);
  for (const host of HOSTS) mkdirSync(join(dir, 'hosts', host), { recursive: true });
  return dir;
}

describe('resume keeps the rolling policy the run was started with', () => {
  it('a --serial 1 run stopped by --max-fail-percent 0 resumes one host at a time', async () => {
    const dir = project();
    const state = join(dir, 'state');
    const first = await runCli(['apply', 'rolling', '-i', 'r', '--serial', '1', '--max-fail-percent', '0', '--state-dir', state], { cwd: dir, env: { ...process.env, ...FAST_ENV }, timeoutMs: 60_000 });
    expect(first.code, first.stderr).toBe(2);
    expect(existsSync(join(dir, 'hosts/t2/done'))).toBe(false); // the fail policy held back batches 2 and 3

    const run = await resolveRun(state, 'latest');
    expect((await readRunRecord(run.dir)).policy).toEqual({ serial: '1', maxFailPercent: 0 });

    writeFileSync(join(dir, 'open'), '');
    const resumed = await runCli(['resume', run.id, '--state-dir', state], { cwd: dir, env: { ...process.env, ...FAST_ENV }, timeoutMs: 60_000 });
    expect(resumed.code, resumed.stderr).toBe(0);

    // One host at a time: each host's step starts after the previous host's step ended.
    const events = (await readJournal(journalPath(run.dir))).events;
    const lastSegment = events.slice(events.map((e) => e.kind).lastIndexOf('run-start'));
    const order = lastSegment.filter((e) => e.kind === 'step-start' || e.kind === 'step-result').map((e) => `${e.kind === 'step-start' ? 'start' : 'end'} ${'host' in e ? e.host : ''}`);
    expect(order).toEqual(['start t1', 'end t1', 'start t2', 'end t2', 'start t3', 'end t3']);
  });
});
