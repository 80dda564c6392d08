import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { journalPath, readJournal } from '../../src/state/index.ts';
import { API, BIN, FAST_ENV, makeProject, runCli } from './helpers.ts';

const RUNBOOK = `
import { defineRunbook, manual, command, cmd, z } from '${API}';
export default defineRunbook({
  name: 'gate', summary: 'a manual gate (pause hints test)',
  vars: z.object({ root: z.string() }),
}).steps([
    manual({ id: 'reinstall', title: 'reinstall the host', instructions: 'Reinstall from the ISO at the console.',
      evidence: z.object({ version: z.string(), ip: z.ipv4(), ticket: z.string().optional() }) }),
    command({ id: 'after', title: 'after the gate', creates: (c) => c.host.vars.root + '/after', run: (c) => cmd\`touch \${c.host.vars.root + '/after'}\` }),
  ]);
`;

/** Runs a line as the operator would paste it: through sh, with `runbook` being this CLI. */
function paste(line: string, cwd: string) {
  const script = `runbook() { '${process.execPath}' '${BIN}' "$@"; }\n${line}`;
  return spawnSync('sh', ['-c', script], { cwd, env: { ...process.env, ...FAST_ENV, RUNBOOK_OPERATOR: 'ana' }, encoding: 'utf8', timeout: 60_000 });
}

describe('a paused run (exit 3) prints the exact commands to confirm and resume', () => {
  it('names run, host, step, each evidence field and the state dir; the lines work once filled in', async () => {
    const project = makeProject({ 'package.json': '{ "type": "module" }\n', 'runbooks/gate.ts': RUNBOOK });
    for (const dir of ['inventory', 'h1', 'my state']) mkdirSync(join(project, dir));
    writeFileSync(join(project, 'inventory/i.ini'), `h1 ansible_connection=local root=${project}/h1\n`);
    const state = join(project, 'my state');

    const paused = await runCli(['apply', 'gate', '-i', 'i', '--no-prompt', '--state-dir', state], { cwd: project });
    expect(paused.code, paused.stdout + paused.stderr).toBe(3);
    const runId = readdirSync(join(state, 'runs'))[0];
    const confirmLine = `runbook confirm ${runId} --host h1 --step reinstall --evidence version=<version> --evidence ip=<ip> --state-dir '${state}'`;
    const resumeLine = `runbook resume ${runId} --state-dir '${state}'`;
    const lines = paused.stdout.split('\n').map((l) => l.trim());
    expect(lines).toContain(confirmLine);
    expect(lines).toContain('optional: --evidence ticket=<ticket>');
    expect(paused.stdout).toContain(`then continue with: ${resumeLine}`);

    const show = await runCli(['show', runId, '--state-dir', state], { cwd: project });
    expect(show.stdout.split('\n').map((l) => l.trim())).toContain(confirmLine); // later, from the journal: the same line

    // Pasted unedited, the placeholders make the shell refuse the line: nothing is recorded.
    expect(paste(confirmLine, project).status).not.toBe(0);
    expect((await readJournal(journalPath(join(state, 'runs', runId)))).events.some((e) => e.kind === 'confirmation')).toBe(false);

    const filled = paste(confirmLine.replace('<version>', '8.2.1').replace('<ip>', '10.0.0.21'), project);
    expect(filled.status, filled.stdout + filled.stderr).toBe(0);
    const resumed = paste(resumeLine, project);
    expect(resumed.status, resumed.stdout + resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/reinstall\s+changed\s+confirmed by ana/);
    expect(resumed.stdout).not.toContain('runbook confirm'); // nothing waits any more
  });
});
