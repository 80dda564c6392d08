/**
 * runbooks/ha-enable-timeout.ts end to end on the lab pool (the HA timeout notes). The lab seeds HA
 * on with 120 s; `lab fault HOST ha-on 30` re-enables it the way the GUI does, with the default
 * timeout, which is what the runbook must find and put right. Every member's
 * /etc/xensource/xhad.conf is written by the lab's xapi when HA arms it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUntil } from './kill-at-event.ts';
import { startLab, statusTable, stepResults, type RunbookLab } from './lab-helpers.ts';

let lab: RunbookLab;
beforeAll(async () => { lab = await startLab(); }, 120_000);
afterAll(async () => { await lab?.stop(); });

const HOSTS = ['xs-01', 'xs-02', 'xs-03'];
const minimal = (...args: string[]) => lab.onHost('xs-01', 'xe', [...args, '--minimal']).stdout.trim();
const haConfig = () => minimal('pool-param-get', `uuid=${minimal('pool-list')}`, 'param-name=ha-configuration');
const daemonTimeout = (host: string) => /<HeartbeatTimeout>(\d+)</.exec(lab.hostFile(host, 'etc/xensource/xhad.conf') ?? '')?.[1];
const allOk = (events: Parameters<typeof statusTable>[0]) => Object.values(statusTable(events)).every((steps) => Object.values(steps).every((s) => s === 'ok'));

describe('ha-enable-timeout on the lab', () => {
  it('the lab writes each armed host\'s xhad.conf with the timeout and removes it when HA goes off', async () => {
    expect(HOSTS.map(daemonTimeout)).toEqual(['120', '120', '120']);
    expect(lab.hostFile('xs-02', 'etc/xensource/xhad.conf')).toMatch(/<StateFileWatchdogTimeout>135<\/StateFileWatchdogTimeout>[\s\S]*<HeartbeatPhysicalInterface>bond0</);
    expect(lab.onHost('xs-01', 'xe', ['pool-ha-disable']).code).toBe(0);
    expect(HOSTS.map((h) => lab.hostFile(h, 'etc/xensource/xhad.conf'))).toEqual([undefined, undefined, undefined]);
    // Enabled again without the timeout (as the GUI does): the daemon falls back to the default.
    expect(lab.onHost('xs-01', 'xe', ['pool-ha-enable']).code).toBe(0);
    expect(HOSTS.map(daemonTimeout)).toEqual(['30', '30', '30']);
    expect(haConfig()).toBe('');
  });

  it('dry-run shows the disable and re-enable with the timeout and changes nothing', async () => {
    const before = lab.mutations();
    const run = await lab.applyJson('ha-enable-timeout', ['--dry-run']);
    expect(run.code, run.stderr).toBe(0);
    expect(lab.mutations()).toEqual(before);
    const first = stepResults(run.events, 'xs-01');
    expect(first.map((r) => [r.step, r.status])).toEqual([
      ['enough-hosts', 'ok'], ['heartbeat-sr-reachable', 'ok'], ['management-bonded', 'ok'], ['ha-on-with-timeout', 'would-change'], ['timeout-on-this-host', 'may-change'],
    ]);
    const sr = minimal('sr-list', 'type=lvmoiscsi');
    expect(first[3].commands).toEqual(['xe pool-ha-disable', `xe pool-ha-enable heartbeat-sr-uuids=${sr} ha-config:timeout=120`]);
    expect(first[3].reason).toContain('timeout is the default, want 120');
  }, 90_000);

  it('a run killed between the disable and the enable resumes to HA on with 120 s everywhere; a second run is all ok', async () => {
    const disabled = (e: { kind: string; command?: string }) => e.kind === 'command-end' && e.command === 'xe pool-ha-disable';
    // The enable hangs on the master until the kill has landed (a handshake, not a race with it).
    await lab.fault('xs-01', 'hang', ['pool-ha-enable']);
    const killed = await runUntil(lab, ['apply', 'ha-enable-timeout', '-i', lab.inventory, '--no-reuse-shell'], disabled);
    await lab.fault('xs-01', 'hang', [], true);
    expect(killed.killed).toBe(true);
    expect(minimal('pool-list', 'params=ha-enabled')).toBe('false');
    const resumed = await lab.resumeUntilDone();
    expect(resumed[resumed.length - 1].code, resumed[resumed.length - 1].stderr).toBe(0);
    expect(minimal('pool-list', 'params=ha-enabled')).toBe('true');
    expect(haConfig()).toBe('timeout: 120');
    expect(HOSTS.map(daemonTimeout)).toEqual(['120', '120', '120']);
    // HA was disabled once and enabled once: the resume did not disable it again.
    const haCalls = (lab.mutations(['xs-01'])['xs-01'] ?? []).map((m) => m.argv.slice(0, 2).join(' ')).filter((a) => a.startsWith('xe pool-ha'));
    expect(haCalls.slice(-2)).toEqual(['xe pool-ha-disable', 'xe pool-ha-enable']);
    expect(haCalls.filter((a) => a === 'xe pool-ha-disable')).toHaveLength(2); // the first test's, and this run's

    const after = lab.mutations();
    const again = await lab.applyJson('ha-enable-timeout');
    expect(again.code, again.stderr).toBe(0);
    expect(allOk(again.events)).toBe(true);
    expect(lab.mutations()).toEqual(after);
  }, 180_000);

  it('refuses a failure count the pool is too small for, and an SR a host cannot reach, before changing anything', async () => {
    const before = lab.mutations();
    const tooMany = await lab.applyJson('ha-enable-timeout', ['-l', 'xs-02', '--param', 'hostFailures=2']);
    expect(tooMany.code).toBe(2);
    expect(lab.mutations()).toEqual(before);
    expect(stepResults(tooMany.events, 'xs-02').find((r) => r.status === 'failed')).toMatchObject({ step: 'enough-hosts', reason: expect.stringContaining('needs at least 4') });

    const sr = minimal('sr-list', 'type=lvmoiscsi');
    const xs03 = minimal('host-list', 'name-label=xs-03');
    const pbd = minimal('pbd-list', `sr-uuid=${sr}`, `host-uuid=${xs03}`);
    expect(lab.onHost('xs-01', 'xe', ['pbd-unplug', `uuid=${pbd}`]).code).toBe(0);
    const unplugged = lab.mutations();
    const unreachable = await lab.applyJson('ha-enable-timeout', ['-l', 'xs-02', '--fresh']);
    expect(unreachable.code).toBe(2);
    expect(stepResults(unreachable.events, 'xs-02').find((r) => r.status === 'failed')).toMatchObject({ step: 'heartbeat-sr-reachable', reason: expect.stringContaining('not plugged on xs-03') });
    expect(lab.mutations()).toEqual(unplugged);
  }, 90_000);
});
