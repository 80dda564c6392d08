/**
 * runbooks/iscsi-reconnect.ts end to end: the real CLI against the lab pool over SSH (the iSCSI multipath notes,
 * forward technique). `cut-path` loses one iSCSI session of a host (a stale path, which discovery
 * and login repair); `cut-path … network` takes the link itself down (ping fails: no iSCSI command
 * can help, and the runbook must say so rather than try).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, statusTable, stepResults, type RunbookLab } from './lab-helpers.ts';

const POOL = ['xs-01', 'xs-02', 'xs-03'];
const REPAIR = ['/etc/init.d/open-iscsi restart', 'iscsiadm -m node -L all', 'xe-toolstack-restart'];

let lab: RunbookLab;
beforeAll(async () => { lab = await startLab(); });
afterAll(async () => { await lab?.stop(); });

const pathStates = (host: string) => lab.onHost(host, 'multipath', ['-ll']).stdout.split('\n')
  .filter((l) => / sd[a-z] /.test(l)).map((l) => l.replace(/.* \d+:\d+ +/, '').replace(/ +/g, ' '));
const sessions = (host: string) => lab.onHost(host, 'iscsiadm', ['-m', 'session']).stdout.trim().split('\n').filter(Boolean);
const argvOf = (host: string, from = 0) => (lab.mutations([host])[host] ?? []).slice(from).map((m) => m.argv.join(' '));
const ALL_UP = ['active ready running', 'active ready running'];

describe('iscsi-reconnect on the lab', () => {
  it('dry-run lists the repair of the host that lost a path and nothing for the others, changing nothing', async () => {
    await lab.fault('xs-02', 'cut-path');
    expect(pathStates('xs-02')).toEqual(['active ready running', 'failed faulty running']);
    const run = await lab.applyJson('iscsi-reconnect', ['--dry-run']);
    expect(run.code, run.stderr).toBe(0);
    expect(lab.mutations()).toEqual({});
    expect(stepResults(run.events, 'xs-02').flatMap((r) => r.commands ?? [])).toEqual(REPAIR);
    expect(stepResults(run.events, 'xs-02')[0].reason).toMatch(/has 1 of 2 paths active; no iSCSI session to 10\.10\.2\.10:3260/);
    for (const host of ['xs-01', 'xs-03']) expect(Object.values(statusTable(run.events)[host]).every((s) => s === 'ok'), host).toBe(true);
  }, 60_000);

  it('apply repairs the lost path without a reboot; a second apply is all ok', async () => {
    const bootId = lab.hostFile('xs-02', 'proc/boot_id');
    const run = await lab.applyJson('iscsi-reconnect');
    expect(run.code, run.stdout.slice(-2000) + run.stderr).toBe(0);
    expect(pathStates('xs-02')).toEqual(ALL_UP);
    expect(sessions('xs-02')).toHaveLength(2);
    expect(argvOf('xs-02')).toEqual(REPAIR);
    expect(lab.hostFile('xs-02', 'proc/boot_id')).toBe(bootId);
    expect(lab.mutations(['xs-01', 'xs-03'])).toEqual({});

    const again = await lab.applyJson('iscsi-reconnect');
    expect(again.code, again.stderr).toBe(0);
    for (const host of POOL) expect(Object.values(statusTable(again.events)[host]).every((s) => s === 'ok'), host).toBe(true);
    expect(argvOf('xs-02')).toEqual(REPAIR);
  }, 90_000);

  it('stops at the ping when a storage link is down, naming the portal, and touches nothing', async () => {
    await lab.fault('xs-03', 'cut-path', ['10.10.2.10', 'network']);
    try {
      const run = await lab.applyJson('iscsi-reconnect', ['-l', 'xs-03']);
      expect(run.code).toBe(2);
      const failed = stepResults(run.events, 'xs-03').find((r) => r.status === 'failed');
      expect(failed).toMatchObject({ step: 'storage-pingable', reason: 'assertion failed: no ping reply from 10.10.2.10' });
      expect(lab.mutations(['xs-03'])).toEqual({});
    } finally {
      await lab.fault('xs-03', 'cut-path', ['10.10.2.10', 'network'], true);
    }
  }, 60_000);

  // Kill points on the one host being repaired: the apply after the open-iscsi restart, then the
  // resume after the login.
  it('a run SIGKILLed after the restart and again after the login resumes to the same end state', async () => {
    await lab.fault('xs-02', 'cut-path');
    const from = argvOf('xs-02').length;
    const killedAt = async (run: Promise<{ step: string }[]>) => (await run).map((r) => r.step).slice(-1);
    expect(await killedAt(lab.applyAndKill('iscsi-reconnect', { afterStep: 'open-iscsi-restarted' }, ['-l', 'xs-02']))).toEqual(['open-iscsi-restarted']);
    expect(await killedAt(lab.resumeAndKill({ afterStep: 'iscsi-logged-in' }))).toEqual(['iscsi-logged-in']);
    const resumed = await lab.resumeUntilDone();
    expect(resumed[resumed.length - 1].code).toBe(0);
    expect(pathStates('xs-02')).toEqual(ALL_UP);
    // Every repair command ran; only one the kill interrupted may have run twice.
    const added = argvOf('xs-02', from);
    expect(new Set(added)).toEqual(new Set(REPAIR));
    expect(added.length, added.join(', ')).toBeLessThanOrEqual(REPAIR.length + 1);
  }, 120_000);

  it('refuses bad portals before touching any host, naming host, field and inventory file', async () => {
    const inventory = lab.inventoryVariant('bad-portals', (inv) => {
      const hosts = inv.all.children.xenservers.children['pool-a'].hosts;
      hosts['xs-01'].iscsi_portals = ['10.10.1.300', '10.10.2.10'];
      hosts['xs-03'].iscsi_portals = ['10.10.2.10', '10.10.2.11'];
    });
    const before = lab.mutations();
    const run = await lab.apply('iscsi-reconnect', [], { inventory });
    const text = run.stdout + run.stderr;
    expect(run.code, text).toBe(1);
    expect(text).toMatch(/xs-01.*iscsi_portals[\s\S]*10\.10\.1\.300/);
    expect(text).toMatch(/xs-03.*iscsi_portals[\s\S]*share subnet 10\.10\.2\.0\/24/);
    expect(text).toContain('bad-portals.yaml');
    expect(lab.mutations()).toEqual(before);
  }, 60_000);
});
