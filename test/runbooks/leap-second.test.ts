/**
 * runbooks/leap-second.ts end to end: the real CLI against the lab over SSH (the leap-second and bonding notes).
 * The lab's `leap-second` fault leaves ntpd running and the clock marked stuck (clock/stuck) until
 * `date -s` runs on the host; its mutation log records every service and clock change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.ts';
import { startLab, statusTable, stepResults, type RunbookLab } from './lab-helpers.ts';

const LINUX = ['xs-01', 'xs-02', 'xs-03', 'ubuntu-01'];
const NTP: Record<string, string> = { 'xs-01': 'ntpd', 'xs-02': 'ntpd', 'xs-03': 'ntpd', 'ubuntu-01': 'ntp' };
const MARKER = '/tmp/leapsecond_2012_06_30';

let lab: RunbookLab;
beforeAll(async () => { lab = await startLab(); });
afterAll(async () => { await lab?.stop(); });

const stuck = (host: string) => lab.hostFile(host, 'clock/stuck') !== undefined;
const ntpState = (host: string) => lab.hostFile(host, `services/${NTP[host]}`)?.trim();
const marker = (host: string, path = MARKER) => lab.hostFile(host, path) !== undefined;
/**
 * Round trips per host, one after another: what a host's run waits for at real latency (issue 18's
 * targets: ≤ 6 on a host that needs the fix, ≤ 2 on one with the marker; frames give 6 and 1).
 */
const ROUND_TRIPS_FIX = 6;
const ROUND_TRIPS_MARKED = 1;
const roundTripsByHost = (events: RunEvent[]): Record<string, number> => {
  const sums: Record<string, number> = {};
  for (const e of events) if (e.kind === 'step-result') sums[e.host] = (sums[e.host] ?? 0) + (e.roundTrips ?? 0);
  return sums;
};
const livelock = (hosts: readonly string[]) => Promise.all(hosts.map((h) => lab.fault(h, 'leap-second')));

describe('leap-second on the lab', () => {
  it('describe warns that a fleet left without time sync is its own outage, and names the incident it follows', async () => {
    const text = (await lab.cli(['describe', 'leap-second'])).stdout.replace(/\s+/g, ' ');
    expect(text).toContain('a fleet left without time sync is its own outage');
    expect(text).toContain('--param restartNtp=false');
    expect(text).toContain('the night of the 2012-06-30 leap second');
    expect(text).not.toMatch(/seed 00\d/i);
  }, 30_000);

  it('dry-run lists each Linux host\'s commands and changes nothing', async () => {
    await livelock(['xs-02', 'ubuntu-01']);
    const run = await lab.applyJson('leap-second', ['--dry-run']);
    expect(run.code, run.stderr).toBe(0);
    const start = run.events.find((e) => e.kind === 'run-start');
    expect(start && start.kind === 'run-start' && start.hosts).toEqual(LINUX);
    for (const host of LINUX) {
      const commands = stepResults(run.events, host).flatMap((r) => r.commands ?? []);
      expect(commands, host).toEqual([`/etc/init.d/${NTP[host]} stop`, 'date -s "$(date)"', `touch -- ${MARKER}`, `/etc/init.d/${NTP[host]} start`]);
    }
    expect(lab.mutations()).toEqual({});
    expect([stuck('xs-02'), stuck('ubuntu-01'), marker('xs-02')]).toEqual([true, true, false]);
  }, 60_000);

  it('applies one host at a time with --serial 25%, ends the livelock, keeps ntpd running; a second apply is all ok', async () => {
    const run = await lab.applyJson('leap-second', ['--serial', '25%']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    // 25% of four hosts: batches of one, so no host starts before the one before it ended.
    const order = run.events.filter((e) => e.kind === 'host-start' || e.kind === 'host-end').map((e) => `${e.kind === 'host-start' ? '+' : '-'}${'host' in e ? e.host : ''}`);
    expect(order).toEqual(LINUX.flatMap((h) => [`+${h}`, `-${h}`]));
    for (const host of LINUX) {
      expect([host, stuck(host), ntpState(host), marker(host)]).toEqual([host, false, 'running', true]);
      const argv = (lab.mutations([host])[host] ?? []).map((m) => m.argv);
      expect(argv.map((a) => a.slice(0, 2))).toEqual([[`/etc/init.d/${NTP[host]}`, 'stop'], ['date', '-s'], [`/etc/init.d/${NTP[host]}`, 'start']]);
      // The host's shell expanded "$(date)" into one argument: the host's own time, a moment ago.
      expect(argv[1]).toHaveLength(3);
      expect(Math.abs(Date.parse(argv[1][2]) - Date.now())).toBeLessThan(120_000);
    }
    expect(lab.mutations(['xenapp-01'])).toEqual({});
    const trips = roundTripsByHost(run.events);
    console.log(`leap-second round trips per host needing the fix: ${JSON.stringify(trips)}`);
    for (const host of LINUX) expect(trips[host], host).toBeLessThanOrEqual(ROUND_TRIPS_FIX);
    const runId = run.events.find((e) => e.kind === 'run-start')!;
    const shown = await lab.cli(['show', runId.kind === 'run-start' ? runId.runId : '', '--host', 'xs-01']);
    expect(shown.stdout).toMatch(new RegExp(`round trips: ${trips['xs-01']} \\(marker-looked-up \\d+, ntp-stopped \\d+`));

    const before = lab.mutations();
    const again = await lab.applyJson('leap-second', ['--serial', '25%']);
    expect(again.code, again.stderr).toBe(0);
    for (const host of LINUX) {
      expect(statusTable(again.events)[host]).toEqual({ 'marker-looked-up': 'ok', 'ntp-stopped': 'skipped', 'clock-reset': 'skipped', 'marker-touched': 'skipped', 'ntp-started': 'skipped' });
    }
    for (const host of LINUX) expect(roundTripsByHost(again.events)[host], host).toBeLessThanOrEqual(ROUND_TRIPS_MARKED);
    expect(stepResults(again.events, 'xs-01')[0].reason).toBe(`marker ${MARKER} exists: fixed earlier, host skipped`);
    expect(lab.mutations()).toEqual(before);
  }, 120_000);

  it('--param restartNtp=false leaves ntpd stopped (and --param marker names another marker)', async () => {
    const run = await lab.applyJson('leap-second', ['-l', 'xs-03', '--param', 'restartNtp=false', '--param', 'marker=/tmp/leap-no-ntp']);
    expect(run.code, run.stderr).toBe(0);
    expect(statusTable(run.events)['xs-03']).toMatchObject({ 'ntp-stopped': 'changed', 'clock-reset': 'changed', 'marker-touched': 'changed', 'ntp-started': 'skipped' });
    expect([ntpState('xs-03'), marker('xs-03', '/tmp/leap-no-ntp')]).toEqual(['stopped', true]);
    const back = await lab.apply('leap-second', ['-l', 'xs-03', '--param', 'marker=/tmp/leap-ntp-back']);
    expect(back.code, back.stderr).toBe(0);
    expect(ntpState('xs-03')).toBe('running');
  }, 90_000);

  // Each trial uses its own marker so it starts from "not fixed" without a lab reset.
  it.each([
    { name: 'after the first step result', afterResults: 1 },
    { name: 'mid-way (after 7 step results)', afterResults: 7 },
    { name: 'near the end (after 17 step results)', afterResults: 17 },
  ])('a run SIGKILLed $name resumes to the same end state', async ({ afterResults }) => {
    await livelock(LINUX);
    const markerPath = `/tmp/leap-kill-${afterResults}`;
    const before = lab.mutations();
    const seen = await lab.applyAndKill('leap-second', { afterResults }, ['--param', `marker=${markerPath}`]);
    expect(seen.length).toBeGreaterThanOrEqual(afterResults);
    const resumed = await lab.resumeUntilDone();
    expect(resumed[resumed.length - 1].code).toBe(0);
    for (const host of LINUX) {
      expect([host, stuck(host), ntpState(host), marker(host, markerPath)]).toEqual([host, false, 'running', true]);
      const added = (lab.mutations([host])[host] ?? []).slice(before[host]?.length ?? 0).map((m) => m.argv.slice(0, 2).join(' '));
      // The fix ran on every host; a step is repeated only if the kill landed inside it.
      expect(new Set(added), host).toEqual(new Set([`/etc/init.d/${NTP[host]} stop`, 'date -s', `/etc/init.d/${NTP[host]} start`]));
      expect(added.length, `${host}: ${added.join(', ')}`).toBeLessThanOrEqual(4);
    }
  }, 120_000);

  it('skips a host the inventory marks as Windows (ansible_shell_type cmd) without running anything on it', async () => {
    const inventory = lab.inventoryVariant('windows-shell', (inv) => { inv.all.children.xenservers.children['pool-a'].hosts['xs-03'].ansible_shell_type = 'cmd'; });
    const before = lab.mutations();
    const run = await lab.applyJson('leap-second', ['-l', 'xs-03', '--param', 'marker=/tmp/leap-windows'], { inventory });
    expect(run.code, run.stderr).toBe(0);
    expect(stepResults(run.events, 'xs-03')[0].reason).toBe('a Windows host (ansible_shell_type cmd): the livelock is a Linux kernel bug, host skipped');
    expect(Object.values(statusTable(run.events)['xs-03']).slice(1)).toEqual(['skipped', 'skipped', 'skipped', 'skipped']);
    expect(run.events.some((e) => e.kind === 'command')).toBe(false);
    expect(lab.mutations()).toEqual(before);
  }, 60_000);

  it('refuses a bad host var before touching any host, naming host, field and inventory file', async () => {
    const inventory = lab.inventoryVariant('bad-ntp', (inv) => { inv.all.children.guests.hosts['ubuntu-01'].ntp_service = 'ntp; reboot'; });
    const before = lab.mutations();
    const run = await lab.apply('leap-second', [], { inventory });
    expect(run.code).toBe(1);
    expect(run.stderr + run.stdout).toMatch(/ubuntu-01/);
    expect(run.stderr + run.stdout).toMatch(/ntp_service/);
    expect(run.stderr + run.stdout).toContain('bad-ntp.yaml');
    expect(lab.mutations()).toEqual(before);
  }, 60_000);
});
