import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readJournal, journalPath } from '../../src/state/index.ts';
import { API, BIN, makeProject } from './helpers.ts';

/**
 * Host a reaches a manual step with two evidence fields; host b is inside a step that runs until
 * the test creates a release file, so the live progress keeps redrawing the whole time the prompt
 * for host a is open. On host b the manual step's check says it is not needed.
 */
const RUNBOOK = `
import { defineRunbook, manual, command, cmd, noop, change, z } from '${API}';
export default defineRunbook({
  name: 'gate', summary: 'a manual gate while another host is busy (pty test)',
  vars: z.object({ root: z.string(), slow: z.boolean().default(false) }),
}).steps([
    command({ id: 'slow', title: 'slow on host b', creates: (c) => c.host.vars.root + '/slow',
      run: (c) => c.host.vars.slow
        ? cmd\`while [ ! -e \${c.host.vars.root + '/release'} ]; do sleep 0.1; done; touch \${c.host.vars.root + '/slow'}\`
        : cmd\`touch \${c.host.vars.root + '/slow'}\` }),
    manual({ id: 'reinstall', title: 'reinstall the host', instructions: 'Reinstall from the ISO at the console.',
      evidence: z.object({ version: z.string().regex(/^\\d+\\.\\d+/), ip: z.ipv4() }),
      check: (c) => c.host.vars.slow ? noop('host b needs no reinstall') : change('not reinstalled yet') }),
    command({ id: 'after', title: 'after the gate', creates: (c) => c.host.vars.root + '/after', run: (c) => cmd\`touch \${c.host.vars.root + '/after'}\` }),
  ]);
`;

/** A tmux server of our own (its own socket), so the test never touches anyone else's sessions. */
class Tmux {
  readonly socket = `runbook-pty-${process.pid}-${Date.now()}`;
  run(...args: string[]): string { return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' }); }
  screen(): string { return this.run('capture-pane', '-p', '-t', 'run'); }
  keys(...keys: string[]): void { this.run('send-keys', '-t', 'run', ...keys); }
  /** Ends our server and removes its socket file (tmux leaves it behind). */
  kill(): void {
    try {
      const socket = this.run('display-message', '-p', '#{socket_path}').trim();
      this.run('kill-server');
      rmSync(socket, { force: true });
    } catch { /* already gone */ }
  }

  /** Polls the screen (bounded) until `test` holds; fails with the screen if it never does. */
  async waitFor(what: string, test: (screen: string) => boolean, timeoutMs = 60_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const screen = this.screen();
      if (test(screen)) return screen;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}; the screen:\n${screen}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('the manual-step prompt under a real terminal (tmux)', () => {
  let tmux: Tmux | undefined;
  afterEach(() => tmux?.kill());

  /** Starts `runbook apply` of the gate runbook in a fresh tmux window; its exit code lands in exit-code. */
  function startApply(): { project: string; state: string; t: Tmux } {
    const project = makeProject({ 'package.json': '{ "type": "module" }\n', 'runbooks/gate.ts': RUNBOOK });
    for (const dir of ['a', 'b', 'inventory']) mkdirSync(join(project, dir));
    writeFileSync(join(project, 'inventory/i.ini'), `a ansible_connection=local root=${project}/a\nb ansible_connection=local root=${project}/b slow=True\n`);
    const state = join(project, 'state');
    const command = `RUNBOOK_TYPECHECK=0 NO_COLOR=1 RUNBOOK_OPERATOR=ana ${process.execPath} ${BIN} apply gate -i i --state-dir ${state}; echo $? > ${project}/exit-code; sleep 600`;
    const t = tmux = new Tmux();
    t.run('new-session', '-d', '-s', 'run', '-x', '160', '-y', '40', '-c', project, command);
    return { project, state, t };
  }

  it('owns the screen while open (no live redraw over it) and each typed answer lands in its own field', async () => {
    const { project, state, t } = startApply();

    await t.waitFor('the prompt', (s) => s.includes('Done? [y = confirm / n = leave waiting]'));
    // The live area redraws every 500 ms; over three of its periods the prompt must stay put.
    await new Promise((r) => setTimeout(r, 1500));
    const during = t.screen();
    expect(during).toContain('── MANUAL STEP on a: reinstall the host (reinstall)');
    expect(during).toMatch(/Done\? \[y = confirm \/ n = leave waiting\] *$/m);
    expect(during).not.toMatch(/hosts done|… slow/); // the live area is erased, not drawn over the prompt
    expect(existsSync(join(project, 'b/slow'))).toBe(false); // host b is still busy: the live area had something to draw

    // Typed ahead in one burst, as a fast typist or a paste delivers it.
    t.keys('y', 'Enter', '8.2.1', 'Enter', '10.0.0.21', 'Enter', 'ILO reinstall done', 'Enter');
    const after = await t.waitFor('the live progress back', (s) => /b\s+… slow step 1\/3/.test(s) && s.includes('hosts done 1/2'));
    expect(after).toMatch(/version.*: 8\.2\.1/);
    expect(after).toMatch(/ip.*: 10\.0\.0\.21/);
    expect(after).toMatch(/a\s+reinstall\s+changed\s+confirmed by ana: ILO reinstall done/);

    writeFileSync(join(project, 'b/release'), '');
    await t.waitFor('the run to end', () => existsSync(join(project, 'exit-code')));
    expect(readFileSync(join(project, 'exit-code'), 'utf8').trim()).toBe('0');
    const runDir = join(state, 'runs', readdirSync(join(state, 'runs'))[0]);
    const confirmations = (await readJournal(journalPath(runDir))).events.filter((e) => e.kind === 'confirmation');
    expect(confirmations).toEqual([expect.objectContaining({
      host: 'a', step: 'reinstall', by: 'ana', note: 'ILO reinstall done', evidence: { version: '8.2.1', ip: '10.0.0.21' },
    })]);
  });

  it('Ctrl-C at the prompt leaves the host waiting, records nothing, and interrupts the run', async () => {
    const { project, state, t } = startApply();
    await t.waitFor('the prompt', (s) => s.includes('Done? [y = confirm / n = leave waiting]'));
    t.keys('y', 'Enter');
    await t.waitFor('the first evidence field', (s) => /^  version: *$/m.test(s));
    t.keys('C-c');
    const screen = await t.waitFor('the interrupt notice', (s) => s.includes('interrupt: no new steps will start'));
    expect(screen).toMatch(/^  version: \^C$/m);
    writeFileSync(join(project, 'b/release'), '');
    await t.waitFor('the run to end', () => existsSync(join(project, 'exit-code')));
    expect(readFileSync(join(project, 'exit-code'), 'utf8').trim()).toBe('130');
    const runDir = join(state, 'runs', readdirSync(join(state, 'runs'))[0]);
    const events = (await readJournal(journalPath(runDir))).events;
    expect(events.some((e) => e.kind === 'confirmation')).toBe(false);
    expect(events).toContainEqual(expect.objectContaining({ kind: 'step-result', host: 'a', step: 'reinstall', status: 'waiting' }));
  });
});
