/**
 * Issue 13, item 1: a reboot marker from an earlier run made a later run skip its reboot. Two runs
 * of iscsi-reverse-reset on one host: the first is SIGKILLed while the host reboots and resumed to
 * the end; the second, separate run (the path cut again) must reboot the host again.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.ts';
import { startRun, until, type KilledRun } from './kill-at-event.ts';
import { startLab, stepResults, type RunbookLab } from './lab-helpers.ts';

let lab: RunbookLab;
beforeAll(async () => { lab = await startLab({ rebootDownMs: 300 }); }, 120_000);
afterAll(async () => { await lab?.stop(); });

const HOST = 'xs-02';
// The marker where the runbook's default puts it on the host; each lab host has its own /var/lib/runbook.
const MARKER = '/var/lib/runbook/reboot-rebooted';
const markerFile = () => join(lab.hostDir(HOST), MARKER);
const reboots = () => (lab.mutations([HOST])[HOST] ?? []).filter((m) => m.argv.join(' ') === 'reboot').length;
const pathStates = () => lab.onHost(HOST, 'multipath', ['-ll']).stdout.split('\n')
  .filter((l) => / sd[a-z] /.test(l)).map((l) => l.replace(/.* \d+:\d+ +/, '').replace(/ +/g, ' '));
const REPAIRED = ['active ready running', 'active ready running'];

/** The marker is on the host (journaled): the next boot id read is the one after the reboot. */
const markerWritten = (e: RunEvent) => e.kind === 'command-end' && e.step === 'rebooted' && e.command.includes(MARKER) && e.host === HOST;

/**
 * Kills the run while its host reboots: once the marker is written, every boot id read hangs
 * (`hang boot_id`; each command is an exec request with --no-reuse-shell), so the run cannot see
 * the host back; the test waits until the lab says the host went down, then kills. (The reboot
 * command waits a second on the host before rebooting: the fault is in place long before the run
 * can read the new boot id, and the run must not have a result for the step, checked below.)
 */
async function killedWhileRebooting(): Promise<KilledRun> {
  const started = startRun(lab, ['apply', 'iscsi-reverse-reset', '-i', lab.inventory, '-l', HOST, '--no-reuse-shell'], (event) => {
    if (markerWritten(event)) void lab.fault(HOST, 'hang', ['boot_id']);
  });
  try {
    await until(() => reboots() === 1, 'the host to reboot', 90_000);
  } finally {
    started.kill();
  }
  const run = await started.finished;
  await lab.fault(HOST, 'hang', ['boot_id'], true);
  return run;
}

describe('reboot marker: one run, one attempt', () => {
  it('a run killed mid-reboot and resumed leaves no marker, and a second run on the host still reboots it', async () => {
    await lab.fault(HOST, 'cut-path');
    const first = await killedWhileRebooting();
    expect(first.code, first.stdout.slice(-2000) + first.stderr).toBe(null);
    expect(stepResults(first.events).map((r) => r.step)).not.toContain('rebooted');
    const runId = first.events.find((e) => e.kind === 'run-start')?.runId;
    expect(existsSync(markerFile())).toBe(true);

    const resumed = await lab.resumeUntilDone({ timeoutMs: 120_000 });
    const last = resumed[resumed.length - 1];
    expect(last.code, last.stdout.slice(-2000) + last.stderr).toBe(0);
    expect(stepResults(last.events).find((r) => r.step === 'rebooted')).toMatchObject({ status: 'ok', reason: expect.stringContaining('rebooted') });
    expect(reboots()).toBe(1);
    expect(pathStates()).toEqual(REPAIRED);
    // Removed when the step ended (found rebooted): nothing of the first run is left to mislead.
    expect(existsSync(markerFile()) && readFileSync(markerFile(), 'utf8').includes(runId!)).toBe(false);

    await lab.fault(HOST, 'cut-path');
    expect(pathStates()).not.toEqual(REPAIRED);
    const second = await lab.applyJson('iscsi-reverse-reset', ['-l', HOST], { timeoutMs: 120_000 });
    expect(second.code, second.stdout.slice(-2000) + second.stderr).toBe(0);
    expect(stepResults(second.events).find((r) => r.step === 'rebooted')?.status).toBe('changed');
    expect(reboots()).toBe(2);
    expect(pathStates()).toEqual(REPAIRED);
  }, 300_000);
});
