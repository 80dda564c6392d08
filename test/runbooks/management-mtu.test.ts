/**
 * runbooks/management-mtu.ts end to end on the lab pool (the management jumbo frames note).
 * `lab fault xs-02 jumbo-mtu` gives xs-02's management bond MTU 9000, in the pool database (a
 * per-PIF other-config:mtu) and on its running interfaces (`ip link`); the lab's boot keeps a
 * member whose management MTU is not 1500 out of the pool, as the note saw.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIpLinkMtu } from '../../runbooks/management-mtu.ts';
import { runUntil } from './kill-at-event.ts';
import { startLab, statusTable, stepResults, type RunbookLab } from './lab-helpers.ts';

let lab: RunbookLab;
beforeAll(async () => { lab = await startLab(); }, 120_000);
afterAll(async () => { await lab?.stop(); });

const minimal = (...args: string[]) => lab.onHost('xs-01', 'xe', [...args, '--minimal']).stdout.trim();
const mgmtPif = (host: string) => minimal('pif-list', `host-uuid=${minimal('host-list', `name-label=${host}`)}`, 'management=true');
const configured = (host: string) => minimal('pif-param-get', `uuid=${mgmtPif(host)}`, 'param-name=MTU');
const running = (host: string) => parseIpLinkMtu(lab.onHost(host, 'ip', ['-o', 'link', 'show', 'xapi1']).stdout);

describe('management-mtu on the lab', () => {
  it('ip link shows the management bridge\'s running MTU in iproute2\'s one-line format', async () => {
    expect(lab.onHost('xs-02', 'ip', ['-o', 'link', 'show', 'xapi1']).stdout).toMatch(/^\d+: xapi1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UNKNOWN \\ {4}link\/ether [0-9a-f:]{17} brd ff:ff:ff:ff:ff:ff\n$/);
    expect(lab.onHost('xs-02', 'ip', ['link', 'show', 'eth9'])).toMatchObject({ code: 1, stderr: 'Device "eth9" does not exist.\n' });
  });

  it('brings a jumbo management bond back to 1500 across a kill -9, keeps the connection, and the host then rejoins after a reboot', async () => {
    await lab.fault('xs-02', 'jumbo-mtu');
    expect([configured('xs-02'), running('xs-02')]).toEqual(['9000', 9000]);

    const before = lab.mutations();
    const dry = await lab.applyJson('management-mtu', ['--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(lab.mutations()).toEqual(before);
    const planned = stepResults(dry.events, 'xs-02').filter((r) => r.status === 'would-change');
    expect(planned.map((r) => r.commands)).toEqual([
      [`xe pif-param-remove uuid=${mgmtPif('xs-02')} param-name=other-config param-key=mtu`],
      [`xe pif-plug uuid=${mgmtPif('xs-02')}`],
    ]);
    expect(Object.values(statusTable(dry.events)['xs-03']).every((s) => s === 'ok')).toBe(true);

    const configuredNow = (e: { kind: string; command?: string }) => e.kind === 'command-end' && /pif-param-remove/.test(e.command ?? '');
    const killed = await runUntil(lab, ['apply', 'management-mtu', '-i', lab.inventory], configuredNow);
    expect(killed.killed).toBe(true);
    expect([configured('xs-02'), running('xs-02')]).toEqual(['1500', 9000]);
    const resumed = await lab.resumeUntilDone();
    expect(resumed[resumed.length - 1].code, resumed[resumed.length - 1].stderr).toBe(0);
    expect([configured('xs-02'), running('xs-02')]).toEqual(['1500', 1500]);
    const calls = (host: string) => (lab.mutations([host])[host] ?? []).map((m) => m.argv[1]).filter((v) => v?.startsWith('pif-'));
    // the database on the master; the re-plug from the host itself (xe forwards it), each sent once
    expect([calls('xs-01'), calls('xs-02')]).toEqual([['pif-param-remove'], ['pif-plug']]);
    // one connection per host for the whole run: the re-plug did not cut it
    expect(resumed.flatMap((r) => r.events).some((e) => e.kind === 'step-result' && e.status === 'unreachable')).toBe(false);

    const after = lab.mutations();
    const again = await lab.applyJson('management-mtu');
    expect(again.code, again.stderr).toBe(0);
    expect(Object.values(statusTable(again.events)).every((steps) => Object.values(steps).every((s) => s === 'ok'))).toBe(true);
    expect(lab.mutations()).toEqual(after);

    // The note's proof: a reboot now and the host is back in its pool.
    await lab.fault('xs-02', 'power-off');
    await lab.fault('xs-02', 'power-off', [], true);
    expect(lab.onHost('xs-02', 'xe', ['host-is-in-emergency-mode']).stdout.trim()).toBe('false');
  }, 300_000);
});
