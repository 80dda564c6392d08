/**
 * runbooks/pool-master-failover.ts end to end on the lab pool (the note on a lost pool master):
 * a planned hand-over xs-01 → xs-02, then xs-02 powered off (`lab fault xs-02 power-off`) and an
 * emergency take-over by xs-03 behind the manual power-off gate, each dry-run, applied, killed -9
 * and resumed, and run again to find nothing to do. The lab's xe keeps the pool database and each
 * member's view of its master.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUntil } from './kill-at-event.ts';
import { poolView } from './pool-view.ts';
import { startLab, statusTable, stepResults, type JsonRun, type RunbookLab } from './lab-helpers.ts';

let lab: RunbookLab;
beforeAll(async () => { lab = await startLab(); }, 120_000);
afterAll(async () => { await lab?.stop(); });

const xe = (host: string, ...args: string[]) => lab.onHost(host, 'xe', args);
const minimal = (host: string, ...args: string[]) => xe(host, ...args, '--minimal').stdout.trim();
const xeCalls = (host: string, verb: string) => (lab.mutations([host])[host] ?? []).filter((m) => m.argv[1] === verb).length;
const allOkOrSkipped = (run: JsonRun) => Object.values(statusTable(run.events)).every((steps) => Object.values(steps).every((s) => s === 'ok' || s === 'skipped'));

describe('pool-master-failover on the lab', () => {
  it('planned: refuses while HA is on, then dry-runs, hands over after a kill -9 and resume, and finds nothing to do again', async () => {
    const before = lab.mutations();
    const refused = await lab.applyJson('pool-master-failover', ['-l', 'xs-02', '--param', 'newMaster=xs-02', '--param', 'mode=planned']);
    expect(refused.code).toBe(2);
    expect(stepResults(refused.events, 'xs-02').find((r) => r.status === 'failed')).toMatchObject({ step: 'ha-off-for-hand-over', reason: expect.stringContaining('HA is on') });
    expect(lab.mutations()).toEqual(before);

    expect(xe('xs-01', 'pool-ha-disable').code).toBe(0);
    const dry = await lab.applyJson('pool-master-failover', ['-l', 'xs-02', '--param', 'newMaster=xs-02', '--param', 'mode=planned', '--dry-run', '--fresh']);
    expect(dry.code, dry.stderr).toBe(0);
    const designate = stepResults(dry.events, 'xs-02').find((r) => r.step === 'designated-master');
    expect(designate).toMatchObject({ status: 'would-change', commands: [`xe pool-designate-new-master host-uuid=${minimal('xs-01', 'host-list', 'name-label=xs-02')}`] });

    const handedOver = (e: { kind: string; command?: string }) => e.kind === 'command-end' && /pool-designate-new-master/.test(e.command ?? '');
    const killed = await runUntil(lab, ['apply', 'pool-master-failover', '-i', lab.inventory, '-l', 'xs-02', '--param', 'newMaster=xs-02', '--param', 'mode=planned', '--fresh'], handedOver);
    expect(killed.killed).toBe(true);
    const resumed = await lab.resumeUntilDone();
    expect(resumed[resumed.length - 1].code, resumed[resumed.length - 1].stderr).toBe(0);
    expect(poolView(lab)).toMatchObject({ master: 'xs-02', local: { 'xs-01': { role: 'slave' }, 'xs-02': { role: 'master' }, 'xs-03': { role: 'slave' } } });
    expect(xeCalls('xs-02', 'pool-designate-new-master')).toBe(1);

    const after = lab.mutations();
    const again = await lab.applyJson('pool-master-failover', ['-l', 'xs-02', '--param', 'newMaster=xs-02', '--param', 'mode=planned']);
    expect(again.code, again.stderr).toBe(0);
    expect(allOkOrSkipped(again)).toBe(true);
    expect(lab.mutations()).toEqual(after);
  }, 240_000);

  it('emergency: refuses a host whose master answers; with the master dead it waits at the power-off gate, then takes over and recovers the members across a kill -9', async () => {
    const emergency = ['--param', 'newMaster=xs-03', '--param', 'mode=emergency', '--param', 'oldMaster=xs-02'];
    // HA back on, so the survivor must be disarmed before it may take over.
    expect(xe('xs-02', 'pool-ha-enable', 'ha-config:timeout=120').code).toBe(0);
    const notDead = await lab.applyJson('pool-master-failover', ['-l', 'xs-03', ...emergency]);
    expect(notDead.code).toBe(2);
    expect(stepResults(notDead.events, 'xs-03').find((r) => r.status === 'failed')).toMatchObject({ step: 'master-is-gone', reason: expect.stringContaining('not in emergency mode') });

    await lab.fault('xs-02', 'power-off');
    expect(xe('xs-03', 'host-is-in-emergency-mode').stdout.trim()).toBe('true');
    const before = lab.mutations();
    const dry = await lab.applyJson('pool-master-failover', ['-l', 'xs-03', ...emergency, '--dry-run', '--fresh']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(lab.mutations()).toEqual(before);
    expect(Object.entries(statusTable(dry.events)['xs-03']).filter(([, s]) => s !== 'skipped')).toEqual([
      ['not-the-old-master', 'ok'], ['master-is-gone', 'ok'], ['old-master-off', 'would-change'], ['ha-disarmed-here', 'would-change'],
      ['transitioned-to-master', 'would-change'], ['members-recovered', 'may-change'], ['pool-verified', 'may-change'],
    ]);

    const gated = await lab.applyJson('pool-master-failover', ['-l', 'xs-03', ...emergency, '--no-prompt', '--fresh']);
    expect(gated.code, gated.stderr).toBe(3);
    expect(lab.mutations()).toEqual(before);
    const confirmed = await lab.cli(['confirm', 'latest', '--host', 'xs-03', '--step', 'old-master-off', '--evidence', 'checkedBy=lab: power-off fault']);
    expect(confirmed.code, confirmed.stderr).toBe(0);

    const tookOver = (e: { kind: string; command?: string }) => e.kind === 'command-end' && e.command === 'xe pool-emergency-transition-to-master';
    const killed = await runUntil(lab, ['resume'], tookOver);
    expect(killed.killed).toBe(true);
    const resumed = await lab.resumeUntilDone();
    expect(resumed[resumed.length - 1].code, resumed[resumed.length - 1].stderr).toBe(0);
    const view = poolView(lab);
    expect(view.master).toBe('xs-03');
    expect(view.local['xs-01']).toMatchObject({ role: 'slave' });
    expect(xe('xs-01', 'host-is-in-emergency-mode').stdout.trim()).toBe('false');
    expect(xeCalls('xs-03', 'pool-emergency-transition-to-master')).toBe(1);
    expect(lab.hostFile('xs-03', 'etc/xensource/xhad.conf')).toBeUndefined();
    const verified = stepResults(resumed[resumed.length - 1].events, 'xs-03').find((r) => r.step === 'pool-verified');
    expect(verified?.reason).toContain('HA off: run ha-enable-timeout');

    const after = lab.mutations();
    const again = await lab.applyJson('pool-master-failover', ['-l', 'xs-03', ...emergency]);
    expect(again.code, again.stderr).toBe(0);
    expect(allOkOrSkipped(again)).toBe(true);
    expect(lab.mutations()).toEqual(after);
  }, 300_000);
});
