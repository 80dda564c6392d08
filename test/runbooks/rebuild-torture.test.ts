/**
 * The kill -9 torture on runbooks/rebuild-rejoin-host.ts (issue 7), on the harder of the two lab
 * cases: the master xs-01 is dead. The run is SIGKILLed right after its first step result is
 * journaled, resumed, killed again after the next one, and so on: every step boundary of the
 * runbook gets a kill (and, as the next step starts at once, some kills land inside a step). The
 * two manual gates are confirmed and the host reinstalled when the run reaches them; the resume
 * after the first confirmation is killed while it records the confirmed step (its check hangs on the
 * survivor), and the confirmation must still hold after it (issue 13.3). The end state
 * must be the uninterrupted run's (rebuild-rejoin-host.test.ts): the pool whole, xs-01 master again,
 * HA on at 120 s, both paths on every host, and no destructive xe command ran twice.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, FAST_ENV, REPO } from '../e2e/helpers.ts';
import { parseEvents, startLab, type RunbookLab, type StepResult } from './lab-helpers.ts';
import { knownHostsPath, poolView, reinstall, wholePool } from './pool-view.ts';

const RUNBOOK = 'rebuild-rejoin-host';
const PASSWORD_ENV = { RUNBOOK_PARAM_poolPassword: 'xenroot' };
const TIMEOUT_MS = 150_000;
const STEPS = [
  'survivor-chosen', 'iscsi-config-known', 'ha-recorded', 'master-taken-over', 'members-recovered', 'dead-host-found',
  'vms-on-shared-storage', 'ha-disabled', 'forget-approved', 'dead-host-forgotten', 'reinstalled', 'host-key-trusted',
  'install-confirmed', 'management-mtu', 'multipath-conf', 'multipathing-on', 'iscsi-discovered', 'iscsi-logged-in',
  'pool-joined', 'host-enabled', 'pbds-plugged', 'paths-active', 'master-designated', 'ha-enabled', 'pool-whole',
];



interface Killed { code: number | null; runId?: string; results: StepResult[]; stdout: string; stderr: string }

/** step-result lines in a run's journal. */
function journaledResults(lab: RunbookLab, runId: string | undefined): number {
  if (!runId) return 0;
  const file = join(lab.stateDir, 'runs', runId, 'journal.jsonl');
  return existsSync(file) ? (readFileSync(file, 'utf8').match(/"kind":"step-result"/g) ?? []).length : 0;
}

/**
 * Runs the CLI (`--json`) and SIGKILLs it at the boundary after its first step result: once that
 * result is printed AND in the journal. (Before a561dd6 --json printed a result before the journal
 * had it, and killing at the print lost it every time: no run made progress. Waiting for the
 * journal keeps every kill at a boundary that resume knows about. The next step has often started
 * by then, so some kills land inside a step, too.)
 */
function runAndKill(lab: RunbookLab, args: string[], runId?: string): Promise<Killed> {
  return new Promise((done) => {
    const baseline = journaledResults(lab, runId);
    const child = spawn(process.execPath, [BIN, ...args, '--json', '--state-dir', lab.stateDir], {
      cwd: REPO, env: { ...process.env, ...FAST_ENV, ...PASSWORD_ENV }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const killed: Killed = { code: null, runId, results: [], stdout: '', stderr: '' };
    let buffer = '';
    let poll: NodeJS.Timeout | undefined;
    const killWhenJournaled = () => {
      const deadline = Date.now() + 5000;
      poll = setInterval(() => {
        if (journaledResults(lab, killed.runId) > baseline || Date.now() > deadline) child.kill('SIGKILL');
      }, 5);
    };
    child.stdout.on('data', (chunk) => {
      killed.stdout += chunk;
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const event of parseEvents(lines.join('\n'))) {
        if (event.kind === 'run-start') killed.runId = event.runId;
        if (event.kind === 'step-result' && killed.results.push(event) === 1) killWhenJournaled();
      }
    });
    child.stderr.on('data', (d) => { killed.stderr += d; });
    const cap = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('close', (code) => { clearTimeout(cap); clearInterval(poll); killed.code = code; done(killed); });
  });
}

/** step-start lines of one step in a run's journal. */
function journaledStarts(lab: RunbookLab, runId: string, step: string): number {
  const file = join(lab.stateDir, 'runs', runId, 'journal.jsonl');
  return existsSync(file) ? (readFileSync(file, 'utf8').match(new RegExp(`"kind":"step-start"[^\\n]*"step":"${step}"`, 'g')) ?? []).length : 0;
}

/**
 * Resumes and SIGKILLs the run while it records the confirmed manual step `step` (issue 13.3):
 * `xe` hangs on the survivor (the lab's hang fault; exec channels, since the fault sees each
 * command), so once the step's start is journaled its check cannot end; the kill lands there.
 */
async function resumeAndKillInStep(lab: RunbookLab, runId: string, step: string, survivor: string): Promise<Killed> {
  await lab.fault(survivor, 'hang', ['xe']);
  try {
    return await new Promise((done) => {
      const baseline = journaledStarts(lab, runId, step);
      const child = spawn(process.execPath, [BIN, 'resume', runId, '--no-reuse-shell', '--json', '--state-dir', lab.stateDir], {
        cwd: REPO, env: { ...process.env, ...FAST_ENV, ...PASSWORD_ENV }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      const killed: Killed = { code: null, runId, results: [], stdout: '', stderr: '' };
      const poll = setInterval(() => { if (journaledStarts(lab, runId, step) > baseline) child.kill('SIGKILL'); }, 5);
      child.stdout.on('data', (chunk) => { killed.stdout += chunk; });
      child.stderr.on('data', (d) => { killed.stderr += d; });
      const cap = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
      child.on('close', (code) => {
        clearTimeout(cap);
        clearInterval(poll);
        killed.results = parseEvents(killed.stdout).filter((e): e is StepResult => e.kind === 'step-result');
        killed.code = code;
        done(killed);
      });
    });
  } finally {
    await lab.fault(survivor, 'hang', [], true);
  }
}

function confirm(lab: RunbookLab, run: string, host: string, step: string, evidence: Record<string, string> = {}, operator?: string) {
  const args = ['confirm', run, '--host', host, '--step', step, ...Object.entries(evidence).flatMap(([k, v]) => ['--evidence', `${k}=${v}`])];
  return lab.cli(args, { env: operator ? { RUNBOOK_OPERATOR: operator } : {} });
}

/** Mutating commands logged on a host whose argv starts with these words. */
const ran = (lab: RunbookLab, host: string, ...words: string[]) =>
  (lab.mutations([host])[host] ?? []).filter((m) => words.every((w, i) => m.argv[i] === w)).length;

let lab: RunbookLab;
beforeAll(async () => { lab = await startLab({ rebootDownMs: 300 }); });
afterAll(async () => { await lab?.stop(); });

describe('rebuild-rejoin-host: kill -9 at every step boundary', () => {
  it('a dead master rebuilt through a SIGKILL after every step result ends in the uninterrupted end state', async () => {
    await lab.fault('xs-01', 'power-off');
    const target = ['--limit', 'xs-01', '--param', 'becomeMaster=true', '--param', `knownHosts=${knownHostsPath(lab)}`];
    let proc = await runAndKill(lab, ['apply', RUNBOOK, '-i', lab.inventory, ...target]);
    const run = proc.runId!;
    expect(run, proc.stdout + proc.stderr).toBeTruthy();
    const processes: Killed[] = [proc];
    let reinstalled = false;
    let forgetConfirmations = 0;
    let killedWhileRecording = false;
    // the kill after the last result may land once the run is recorded as finished: resume then says so
    const finished = (p: Killed) => p.code === 0 || (p.code === 1 && /finished ok: there is nothing to resume/.test(p.stderr));
    for (let i = 0; i < 3 * STEPS.length && !finished(proc); i++) {
      expect([null, 3], `process ${processes.length} exited ${proc.code}\n${proc.stdout}\n${proc.stderr}`).toContain(proc.code);
      const waiting = proc.results.find((r) => r.status === 'waiting');
      // A confirmation, once journaled, holds until its step ends: a kill while the step is recorded must not void it.
      if (killedWhileRecording) expect(waiting?.step, `the kill inside forget-approved voided its confirmation\n${proc.stdout}`).not.toBe('forget-approved');
      if (waiting?.step === 'forget-approved') {
        expect((await confirm(lab, run, 'xs-01', 'forget-approved')).code).toBe(0);
        forgetConfirmations++;
        if (!killedWhileRecording) {
          // The first resume after the confirmation dies while its check runs on the survivor xs-02.
          const inStep = await resumeAndKillInStep(lab, run, 'forget-approved', 'xs-02');
          expect(inStep.code, inStep.stdout + inStep.stderr).toBeNull();
          expect(inStep.results.filter((r) => r.step === 'forget-approved')).toEqual([]);
          processes.push(inStep);
          killedWhileRecording = true;
        }
      }
      if (waiting?.step === 'reinstalled') {
        if (!reinstalled) {
          const { fingerprint } = await reinstall(lab, 'xs-01');
          expect((await confirm(lab, run, 'xs-01', 'reinstalled', { version: '6.1.0', ip: '10.10.0.11', fingerprint }, 'bob')).code).toBe(0);
        }
        reinstalled = true;
      }
      proc = await runAndKill(lab, ['resume', run], run);
      processes.push(proc);
    }
    expect(finished(proc), `exit ${proc.code}\n${proc.stdout}\n${proc.stderr}`).toBe(true);
    expect([killedWhileRecording, forgetConfirmations]).toEqual([true, 1]);

    // every step ended (ok, changed or skipped) in some process, each process after a kill
    const ended = new Set(processes.flatMap((p) => p.results).filter((r) => ['ok', 'changed', 'skipped'].includes(r.status)).map((r) => r.step));
    expect([...ended].sort()).toEqual([...STEPS].sort());
    expect(processes.filter((p) => p.code === null).length).toBeGreaterThanOrEqual(STEPS.length);

    expect(poolView(lab)).toEqual(wholePool('xs-01'));
    // check-before-apply: a step a kill interrupted was re-checked, never blindly repeated
    expect([
      ran(lab, 'xs-02', 'xe', 'pool-emergency-transition-to-master'), ran(lab, 'xs-02', 'xe', 'host-forget'),
      ran(lab, 'xs-02', 'xe', 'pool-designate-new-master'), ran(lab, 'xs-02', 'xe', 'pool-ha-enable'), ran(lab, 'xs-01', 'xe', 'pool-join'),
    ]).toEqual([1, 1, 1, 1, 1]);
  }, 600_000);
});
