/**
 * runbooks/iscsi-reverse-reset.ts end to end: the real CLI against the lab pool over SSH (the iSCSI multipath notes,
 * reverse technique). The lab's `cut-path` fault takes one iSCSI session of a host away (its path
 * shows `failed faulty` in multipath -ll); the lab's xe, iscsiadm, multipath, chkconfig and reboot
 * keep the state the assertions read, and log every mutating call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, statusTable, stepResults, type RunbookLab } from './lab-helpers.ts';


let lab: RunbookLab;
beforeAll(async () => { lab = await startLab({ rebootDownMs: 300 }); });
afterAll(async () => { await lab?.stop(); });

const minimal = (...args: string[]) => lab.onHost('xs-01', 'xe', [...args, '--minimal']).stdout.trim();
const hostUuid = (host: string) => minimal('host-list', `name-label=${host}`);
const pathStates = (host: string) => lab.onHost(host, 'multipath', ['-ll']).stdout.split('\n')
  .filter((l) => / sd[a-z] /.test(l)).map((l) => l.replace(/.* \d+:\d+ +/, '').replace(/ +/g, ' '));

/** What "repaired" means on the lab for a host, read from the lab's own state. */
function storageState(host: string) {
  const uuid = hostUuid(host);
  const sr = minimal('sr-list', 'type=lvmoiscsi');
  return {
    paths: pathStates(host),
    sessions: lab.onHost(host, 'iscsiadm', ['-m', 'session']).stdout.trim().split('\n').length,
    enabled: minimal('host-param-get', `uuid=${uuid}`, 'param-name=enabled'),
    multipathing: minimal('host-param-get', `uuid=${uuid}`, 'param-name=other-config', 'param-key=multipathing'),
    pbdAttached: minimal('pbd-list', `host-uuid=${uuid}`, `sr-uuid=${sr}`, 'params=currently-attached'),
    openIscsi: lab.hostFile(host, 'services/open-iscsi')?.trim(),
    openIscsiAtBoot: lab.hostFile(host, 'services/open-iscsi.disabled') === undefined,
  };
}

const REPAIRED = { paths: ['active ready running', 'active ready running'], sessions: 2, enabled: 'true', multipathing: 'true', pbdAttached: 'true', openIscsi: 'running', openIscsiAtBoot: true };
const bootId = (host: string) => lab.hostFile(host, 'proc/boot_id')?.trim();
const argvOf = (host: string, from = 0) => (lab.mutations([host])[host] ?? []).slice(from).map((m) => m.argv.join(' '));

describe('iscsi-reverse-reset on the lab', () => {
  it('dry-run lists the reset of the host that lost a path and changes nothing', async () => {
    await lab.fault('xs-02', 'cut-path');
    expect(pathStates('xs-02')).toEqual(['active ready running', 'failed faulty running']);
    const run = await lab.applyJson('iscsi-reverse-reset', ['--dry-run', '-l', 'xs-02']);
    expect(run.code, run.stderr).toBe(0);
    expect(lab.mutations()).toEqual({});
    const uuid = hostUuid('xs-02');
    const commands = stepResults(run.events, 'xs-02').flatMap((r) => r.commands ?? []);
    expect(commands).toEqual([
      `xe host-disable uuid=${uuid}`,
      'iscsiadm -m node -U all',
      '/etc/init.d/open-iscsi stop',
      'chkconfig open-iscsi off',
      `xe host-param-set uuid=${uuid} other-config:multipathing=false`,
      expect.stringContaining('/var/lib/runbook/reboot-rebooted'),
      "nohup sh -c 'sleep 1; reboot' >/dev/null 2>&1 &",
      `xe host-param-set uuid=${uuid} other-config:multipathing=true`,
      `xe host-param-set uuid=${uuid} other-config:multipathhandle=dmp`,
      'chkconfig open-iscsi on',
      '/etc/init.d/open-iscsi start',
      'iscsiadm -m node -p 10.10.1.10:3260 -l',
      'iscsiadm -m node -p 10.10.2.10:3260 -l',
      expect.stringMatching(/^xe pbd-plug uuid=[0-9a-f-]{36}$/),
      'xe-toolstack-restart',
      `xe host-enable uuid=${uuid}`,
    ]);
  }, 90_000);

  it('apply evacuates and resets only the broken host, one host at a time, and the lab shows every path back; a second apply is all ok', async () => {
    // A guest on the host to reset, so the evacuation has something to move.
    for (const args of [['vm-shutdown', 'vm=ubuntu-01'], ['vm-start', 'vm=ubuntu-01', 'on=xs-02']]) expect(lab.onHost('xs-01', 'xe', args).code).toBe(0);
    const vmHost = () => minimal('vm-list', 'name-label=ubuntu-01', 'params=resident-on');
    expect(vmHost()).toBe(hostUuid('xs-02'));
    const fromMaster = argvOf('xs-01').length;
    const before = bootId('xs-02');
    // The broken host and a healthy one (the master's refusal has its own test below).
    const run = await lab.applyJson('iscsi-reverse-reset', ['-l', 'xs-02,xs-03'], { timeoutMs: 120_000 });
    expect(run.code, run.stdout.slice(-3000) + run.stderr).toBe(0);
    const order = run.events.filter((e) => e.kind === 'host-start' || e.kind === 'host-end').map((e) => `${e.kind === 'host-start' ? '+' : '-'}${'host' in e ? e.host : ''}`);
    expect(order).toEqual(['+xs-02', '-xs-02', '+xs-03', '-xs-03']);
    const pool = stepResults(run.events, 'xs-02').find((r) => r.step === 'pool-recorded');
    expect(pool?.outputs).toMatchObject({ haEnabled: expect.any(Boolean), srName: 'iSCSI storage' });
    expect(storageState('xs-02')).toEqual(REPAIRED);
    expect(bootId('xs-02')).not.toBe(before);
    expect(argvOf('xs-02')).toEqual([
      'iscsiadm -m node -U all', '/etc/init.d/open-iscsi stop', 'chkconfig open-iscsi off', 'reboot',
      'chkconfig open-iscsi on', '/etc/init.d/open-iscsi start',
      'iscsiadm -m node -p 10.10.1.10:3260 -l', 'iscsiadm -m node -p 10.10.2.10:3260 -l', 'xe-toolstack-restart',
    ]);
    expect(argvOf('xs-01', fromMaster).map((a) => a.split(' ').slice(0, 2).join(' '))).toEqual(['xe host-disable', 'xe host-evacuate', 'xe host-param-set', 'xe host-param-set', 'xe host-param-set', 'xe pbd-plug', 'xe host-enable']);
    expect([hostUuid('xs-01'), hostUuid('xs-03')]).toContain(vmHost());
    expect(minimal('vm-list', 'name-label=ubuntu-01', 'params=power-state')).toBe('running');
    expect(lab.mutations(['xs-03'])).toEqual({});

    // The healthy host was left alone, every step saying so.
    expect(Object.values(statusTable(run.events)['xs-03']).every((s) => s === 'ok')).toBe(true);

    const after = lab.mutations();
    const again = await lab.applyJson('iscsi-reverse-reset', ['-l', 'xs-02']);
    expect(again.code, again.stderr).toBe(0);
    expect(Object.values(statusTable(again.events)['xs-02']).every((s) => s === 'ok')).toBe(true);
    expect(lab.mutations()).toEqual(after);
  }, 180_000);

  // One reset, killed three times on the host being reset: the apply mid take-down, the resume as
  // the reboot starts, the next resume after the login; the last resume finishes it.
  it('a run SIGKILLed mid take-down, as the reboot starts and after the login resumes to the same end state, rebooting once', async () => {
    await lab.fault('xs-02', 'cut-path');
    const from = argvOf('xs-02').length;
    const killedAt = async (run: Promise<{ step: string }[]>) => (await run).map((r) => r.step).slice(-1);
    expect(await killedAt(lab.applyAndKill('iscsi-reverse-reset', { afterStep: 'iscsi-logged-out' }, ['-l', 'xs-02']))).toEqual(['iscsi-logged-out']);
    expect(await killedAt(lab.resumeAndKill({ afterStep: 'multipath-inactive' }))).toEqual(['multipath-inactive']);
    expect(await killedAt(lab.resumeAndKill({ afterStep: 'iscsi-logged-in' }))).toEqual(['iscsi-logged-in']);
    const resumed = await lab.resumeUntilDone({ timeoutMs: 120_000 });
    expect(resumed[resumed.length - 1].code).toBe(0);
    expect(storageState('xs-02')).toEqual(REPAIRED);
    expect(argvOf('xs-02', from).filter((a) => a === 'reboot')).toEqual(['reboot']);
  }, 240_000);

  it('refuses to reset the pool master, before changing anything', async () => {
    const before = lab.mutations();
    const run = await lab.applyJson('iscsi-reverse-reset', ['-l', 'xs-01', '--param', 'force=true']);
    expect(run.code).toBe(2);
    expect(stepResults(run.events, 'xs-01').find((r) => r.status === 'failed')).toMatchObject({ step: 'not-the-master', reason: expect.stringContaining('xs-01 is the pool master') });
    expect(lab.mutations()).toEqual(before);
  }, 60_000);

  it('refuses to reset the last enabled, live host of the pool, before changing anything', async () => {
    for (const host of ['xs-01', 'xs-03']) expect(lab.onHost('xs-01', 'xe', ['host-disable', `uuid=${hostUuid(host)}`]).code).toBe(0);
    try {
      const before = lab.mutations();
      const run = await lab.applyJson('iscsi-reverse-reset', ['-l', 'xs-02', '--param', 'force=true']);
      expect(run.code).toBe(2);
      expect(stepResults(run.events, 'xs-02').find((r) => r.status === 'failed')).toMatchObject({ step: 'others-can-run-the-vms', reason: expect.stringContaining('xs-02 is the only enabled, live host of the pool') });
      expect(lab.mutations()).toEqual(before);
    } finally {
      for (const host of ['xs-01', 'xs-03']) lab.onHost('xs-01', 'xe', ['host-enable', `uuid=${hostUuid(host)}`]);
    }
  }, 60_000);

  it('refuses bad portals before touching any host, naming host, field and inventory file', async () => {
    const inventory = lab.inventoryVariant('bad-portals', (inv) => {
      const hosts = inv.all.children.xenservers.children['pool-a'].hosts;
      hosts['xs-02'].iscsi_portals = ['10.10.1.10', 'storage-b'];
      hosts['xs-03'].iscsi_portals = ['10.10.1.10', '10.10.1.20'];
    });
    const before = lab.mutations();
    const run = await lab.apply('iscsi-reverse-reset', [], { inventory });
    const text = run.stdout + run.stderr;
    expect(run.code, text).toBe(1);
    expect(text).toMatch(/xs-02.*iscsi_portals[\s\S]*storage-b/);
    expect(text).toMatch(/xs-03.*iscsi_portals[\s\S]*share subnet 10\.10\.1\.0\/24/);
    expect(text).toContain('bad-portals.yaml');
    expect(lab.mutations()).toEqual(before);
  }, 60_000);
});
