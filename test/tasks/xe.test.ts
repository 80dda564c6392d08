import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ActionStep } from '../../src/runbook/types.ts';
import { secret } from '../../src/shell/command.ts';
import * as xe from '../../src/tasks/xe/index.ts';
import { fakeClock, fakeContext, fakeShell, fixture, planOf, renderXe, type FakeEntry } from '../fixtures/tasks/fake.ts';

const H1 = 'a1b2c3d4-0000-4000-8000-000000000001';
const H2 = 'a1b2c3d4-0000-4000-8000-000000000002';
const VM = '7a6b5c4d-2222-4333-8444-555566667777';
const SR = '5b2a1c3d-9e8f-4a7b-8c6d-1e2f3a4b5c6d';
const VDI = 'c3c3c3c3-0000-4000-8000-000000000003';
const VBD = 'b0000000-0000-4000-8000-000000000000';

const HOST_PARAMS = 'params=uuid,name-label,address,enabled';
const hostList = (selector: string) => `xe host-list ${selector} ${HOST_PARAMS}`;
const hostRecord = (uuid: string, name: string, enabled: boolean, address = '10.0.0.1') =>
  renderXe([{ uuid, 'name-label ( RW)': name, address, enabled: String(enabled) }]);
const xs01 = (enabled = true): Record<string, FakeEntry> => ({ [hostList('name-label=xs-01')]: hostRecord(H1, 'xs-01', enabled) });

const VM_PARAMS = 'params=uuid,name-label,power-state,resident-on';
const vmRecord = (power: string, name = 'ubuntu-hvm') => renderXe([{ uuid: VM, 'name-label ( RW)': name, 'power-state': power, 'resident-on': H1 }]);
const POOL_HA = 'xe pool-list params=uuid,ha-enabled,ha-configuration,ha-statefiles';
const poolHa = (enabled: boolean, timeout?: number) => renderXe([{
  uuid: 'p1', 'ha-enabled': String(enabled), 'ha-configuration': timeout === undefined ? '' : `timeout: ${timeout}`, 'ha-statefiles': enabled ? VDI : '',
}]);
const haAnswers = (enabled: boolean, timeout?: number): Record<string, FakeEntry> => ({
  [POOL_HA]: poolHa(enabled, timeout),
  [`xe vdi-param-get uuid=${VDI} param-name=sr-uuid`]: `${SR}\n`,
});

interface StepCase {
  name: string;
  step: ActionStep;
  answers: Record<string, FakeEntry>;
  /** Expected check: done and a reason (substring), or an error. */
  done?: boolean;
  reason?: string;
  error?: RegExp;
  commands?: string[];
  outputs?: Record<string, unknown>;
}

const cases: StepCase[] = [
  {
    name: 'hostEnabled false on an enabled host disables it',
    step: xe.hostEnabled({ id: 's', title: 't', host: 'xs-01', enabled: false }),
    answers: xs01(true), done: false, reason: 'host xs-01 is enabled', commands: [`xe host-disable uuid=${H1}`],
  },
  {
    name: 'hostEnabled false on a disabled host is a noop',
    step: xe.hostEnabled({ id: 's', title: 't', host: 'xs-01', enabled: false }),
    answers: xs01(false), done: true, reason: 'host xs-01 is disabled',
  },
  {
    name: 'hostEnabled true by uuid enables it',
    step: xe.hostEnabled({ id: 's', title: 't', host: H1, enabled: true }),
    answers: { [hostList(`uuid=${H1}`)]: hostRecord(H1, 'xs-01', false) }, done: false, reason: 'host xs-01 is disabled', commands: [`xe host-enable uuid=${H1}`],
  },
  {
    name: 'hostEnabled names the count when the name matches two hosts',
    step: xe.hostEnabled({ id: 's', title: 't', host: 'xs-01', enabled: true }),
    answers: { [hostList('name-label=xs-01')]: hostRecord(H1, 'xs-01', true) + hostRecord(H2, 'xs-01', true) },
    error: new RegExp(`expected exactly one host with name-label="xs-01", found 2: ${H1}, ${H2}`),
  },
  {
    name: 'hostEvacuated with guests on the host migrates them',
    step: xe.hostEvacuated({ id: 's', title: 't', host: 'xs-01' }),
    answers: { ...xs01(false), [`xe vm-list resident-on=${H1} is-control-domain=false ${VM_PARAMS}`]: vmRecord('running', 'web-1') + renderXe([{ uuid: H2, 'name-label ( RW)': 'db-1', 'power-state': 'running', 'resident-on': H1 }]) },
    done: false, reason: '2 VM(s) run on xs-01: web-1, db-1', commands: [`xe host-evacuate uuid=${H1}`],
  },
  {
    name: 'hostEvacuated with no guests is a noop',
    step: xe.hostEvacuated({ id: 's', title: 't', host: 'xs-01' }),
    answers: { ...xs01(false), [`xe vm-list resident-on=${H1} is-control-domain=false ${VM_PARAMS}`]: '' },
    done: true, reason: 'no guest VM runs on xs-01',
  },
  ...pbdCases(),
  {
    name: 'paramSet clears HVM-boot-policy (the HVM-to-PV guide) on a VM found by name',
    step: xe.paramSet({ id: 's', title: 't', cls: 'vm', find: { 'name-label': 'ubuntu-hvm' }, param: 'HVM-boot-policy', value: '' }),
    answers: { 'xe vm-list name-label=ubuntu-hvm': vmRecord('halted'), [`xe vm-param-get uuid=${VM} param-name=HVM-boot-policy`]: 'BIOS order\n' },
    done: false, reason: `vm ${VM} HVM-boot-policy is "BIOS order", want ""`, commands: [`xe vm-param-set uuid=${VM} HVM-boot-policy=`], outputs: { uuid: VM },
  },
  {
    name: 'paramSet quotes a value with spaces as one word (the HVM-to-PV guide PV-args)',
    step: xe.paramSet({ id: 's', title: 't', cls: 'vm', uuid: VM, param: 'PV-args', value: 'console=tty0 xencons=tty' }),
    answers: { [`xe vm-param-get uuid=${VM} param-name=PV-args`]: '\n' },
    done: false, commands: [`xe vm-param-set uuid=${VM} 'PV-args=console=tty0 xencons=tty'`],
  },
  {
    name: 'paramSet on a map key that is not set yet',
    step: xe.paramSet({ id: 's', title: 't', cls: 'host', uuid: H1, param: 'other-config', key: 'multipathing', value: 'false' }),
    answers: { [`xe host-param-get uuid=${H1} param-name=other-config param-key=multipathing`]: { code: 1, stderr: 'Key multipathing not found in map\n' } },
    done: false, reason: `host ${H1} other-config:multipathing is not set, want "false"`, commands: [`xe host-param-set uuid=${H1} other-config:multipathing=false`],
  },
  {
    name: 'paramSet already at the value is a noop',
    step: xe.paramSet({ id: 's', title: 't', cls: 'vm', uuid: VM, param: 'PV-bootloader', value: 'pygrub' }),
    answers: { [`xe vm-param-get uuid=${VM} param-name=PV-bootloader`]: 'pygrub\n' },
    done: true, reason: `vm ${VM} PV-bootloader is already "pygrub"`,
  },
  {
    name: 'haEnabled on a pool with HA off enables it with the timeout',
    step: xe.haEnabled({ id: 's', title: 't', heartbeatSr: SR, timeout: 120 }),
    answers: haAnswers(false), done: false, reason: 'HA is off', commands: [`xe pool-ha-enable heartbeat-sr-uuids=${SR} ha-config:timeout=120`],
  },
  {
    name: 'haEnabled with another timeout disables first (a timeout cannot change while HA is on)',
    step: xe.haEnabled({ id: 's', title: 't', heartbeatSr: SR, timeout: 120 }),
    answers: haAnswers(true, 30), done: false, reason: 'HA is on but timeout is 30, want 120',
    commands: ['xe pool-ha-disable', `xe pool-ha-enable heartbeat-sr-uuids=${SR} ha-config:timeout=120`],
  },
  {
    name: 'haEnabled with the same SR and timeout is a noop',
    step: xe.haEnabled({ id: 's', title: 't', heartbeatSr: SR, timeout: 120 }),
    answers: haAnswers(true, 120), done: true, reason: `HA is on with timeout 120 on heartbeat SR ${SR}`,
  },
  {
    name: 'haDisabled hands on the configuration it is about to lose',
    step: xe.haDisabled({ id: 's', title: 't' }),
    answers: haAnswers(true, 120), done: false, reason: 'HA is on (timeout 120', commands: ['xe pool-ha-disable'],
    outputs: { heartbeatSr: SR, heartbeatSrUuids: [SR], timeout: 120 },
  },
  {
    name: 'haDisabled emergency uses the command of the HA and XenApp cloning notes',
    step: xe.haDisabled({ id: 's', title: 't', emergency: true }),
    answers: { [POOL_HA]: { code: 1, stderr: 'Cannot contact the pool master\n' } }, done: false, reason: 'the pool does not answer',
    commands: ['xe host-emergency-ha-disable force=true'],
  },
  {
    name: 'haDisabled on a pool with HA off is a noop',
    step: xe.haDisabled({ id: 's', title: 't' }), answers: haAnswers(false), done: true, reason: 'HA is off',
  },
  {
    name: 'vbdBootable finds the root disk VBD with vm-disk-list (the HVM-to-PV guide)',
    step: xe.vbdBootable({ id: 's', title: 't', vm: 'ubuntu-hvm' }),
    answers: {
      [`xe vm-list name-label=ubuntu-hvm ${VM_PARAMS}`]: vmRecord('halted'),
      [`xe vm-disk-list uuid=${VM}`]: fixture('xe/vm-disk-list-disk-and-cd.txt'),
      [`xe vbd-param-get uuid=${VBD} param-name=bootable`]: 'false\n',
    },
    done: false, reason: `VBD ${VBD} (disk 0 of ubuntu-hvm) is bootable=false`, commands: [`xe vbd-param-set uuid=${VBD} bootable=true`], outputs: { vbd: VBD },
  },
  {
    name: 'vmPowerState halted on a running VM shuts it down',
    step: xe.vmPowerState({ id: 's', title: 't', vm: 'ubuntu-hvm', state: 'halted' }),
    answers: { [`xe vm-list name-label=ubuntu-hvm ${VM_PARAMS}`]: vmRecord('running') }, done: false, reason: 'VM ubuntu-hvm is running', commands: [`xe vm-shutdown uuid=${VM}`],
  },
  {
    name: 'vmPowerState running on a running VM is a noop',
    step: xe.vmPowerState({ id: 's', title: 't', vm: 'ubuntu-hvm', state: 'running' }),
    answers: { [`xe vm-list name-label=ubuntu-hvm ${VM_PARAMS}`]: vmRecord('running') }, done: true, reason: 'VM ubuntu-hvm is running',
  },
  ...forgetCases(),
  ...sharedPbdCases(),
  {
    name: 'emergencyTransitionToMaster on a host in emergency mode (the host rebuild notes)',
    step: xe.emergencyTransitionToMaster({ id: 's', title: 't' }),
    answers: { 'xe host-is-in-emergency-mode': 'true\n' }, done: false, reason: 'the host is in emergency mode', commands: ['xe pool-emergency-transition-to-master'],
  },
  {
    name: 'emergencyTransitionToMaster on a healthy host is a noop',
    step: xe.emergencyTransitionToMaster({ id: 's', title: 't' }),
    answers: { 'xe host-is-in-emergency-mode': 'false\n' }, done: true, reason: 'not in emergency mode',
  },
  {
    name: 'designateMaster moves the master back (the host rebuild notes)',
    step: xe.designateMaster({ id: 's', title: 't', host: 'xs-01' }),
    answers: { ...xs01(true), 'xe pool-list params=master --minimal': `${H2}\n` }, done: false, reason: `the pool master is ${H2}, not xs-01`,
    commands: [`xe pool-designate-new-master host-uuid=${H1}`],
  },
  {
    name: 'designateMaster when it already is master is a noop',
    step: xe.designateMaster({ id: 's', title: 't', host: 'xs-01' }),
    answers: { ...xs01(true), 'xe pool-list params=master --minimal': `${H1}\n` }, done: true, reason: 'xs-01 is the pool master',
  },
  {
    name: 'poolJoined on a fresh host joins, the password masked',
    step: xe.poolJoined({ id: 's', title: 't', masterAddress: '10.0.0.2', password: secret('s3cret pw') }),
    answers: { 'xe pool-list params=master --minimal': `${H1}\n`, [`xe host-param-get uuid=${H1} param-name=address`]: '10.0.0.1\n' },
    done: false, reason: 'the pool master is 10.0.0.1, want 10.0.0.2',
    commands: ['xe pool-join master-address=10.0.0.2 master-username=root master-password=********'],
  },
  {
    name: 'poolJoined when already a member is a noop',
    step: xe.poolJoined({ id: 's', title: 't', masterAddress: '10.0.0.1', password: secret('pw') }),
    answers: { 'xe pool-list params=master --minimal': `${H1}\n`, [`xe host-param-get uuid=${H1} param-name=address`]: '10.0.0.1\n' },
    done: true, reason: 'the pool master is 10.0.0.1',
  },
  {
    name: 'hostMultipathing off on XenServer 8 uses the host field',
    step: xe.hostMultipathing({ id: 's', title: 't', host: 'xs-01', enabled: false }),
    answers: { 'xe host-list name-label=xs-01 params=uuid,name-label': renderXe([{ uuid: H1, 'name-label ( RW)': 'xs-01' }]), [`xe host-param-get uuid=${H1} param-name=multipathing`]: 'true\n' },
    done: false, reason: 'multipathing on xs-01 is true, want false', commands: [`xe host-param-set uuid=${H1} multipathing=false`],
  },
  {
    name: 'hostMultipathing on for a XenServer 6 host sets other-config keys',
    step: xe.hostMultipathing({ id: 's', title: 't', host: 'xs-01', enabled: true }),
    answers: {
      'xe host-list name-label=xs-01 params=uuid,name-label': renderXe([{ uuid: H1, 'name-label ( RW)': 'xs-01' }]),
      [`xe host-param-get uuid=${H1} param-name=multipathing`]: { code: 1, stderr: "Unknown field 'multipathing'\n" },
      [`xe host-param-get uuid=${H1} param-name=other-config param-key=multipathing`]: { code: 1, stderr: 'Key multipathing not found in map\n' },
      [`xe host-param-get uuid=${H1} param-name=other-config param-key=multipathhandle`]: { code: 1, stderr: 'Key multipathhandle not found in map\n' },
    },
    done: false, reason: 'multipathing on xs-01 is false, want true',
    commands: [`xe host-param-set uuid=${H1} other-config:multipathing=true`, `xe host-param-set uuid=${H1} other-config:multipathhandle=dmp`],
  },
  {
    // issue 13: a run killed between the two settings; the check must see the second one missing
    name: 'hostMultipathing on, stopped half-way on a XenServer 6 host: only the handle is missing',
    step: xe.hostMultipathing({ id: 's', title: 't', host: 'xs-01', enabled: true }),
    answers: {
      'xe host-list name-label=xs-01 params=uuid,name-label': renderXe([{ uuid: H1, 'name-label ( RW)': 'xs-01' }]),
      [`xe host-param-get uuid=${H1} param-name=multipathing`]: { code: 1, stderr: "Unknown field 'multipathing'\n" },
      [`xe host-param-get uuid=${H1} param-name=other-config param-key=multipathing`]: 'true\n',
      [`xe host-param-get uuid=${H1} param-name=other-config param-key=multipathhandle`]: { code: 1, stderr: 'Key multipathhandle not found in map\n' },
    },
    done: false, reason: 'multipathing on xs-01 is true but its multipathhandle is not set, want dmp',
    commands: [`xe host-param-set uuid=${H1} other-config:multipathhandle=dmp`],
  },
];

function pbdCases(): StepCase[] {
  const srAnswer = { 'xe sr-list name-label=iSCSI-SR params=uuid,name-label,type,shared': renderXe([{ uuid: SR, 'name-label ( RW)': 'iSCSI-SR', type: 'lvmoiscsi', 'shared ( RW)': 'true' }]) };
  const pbdList = `xe pbd-list host-uuid=${H1} sr-uuid=${SR} params=uuid,host-uuid,sr-uuid,currently-attached,device-config`;
  const pbd = (uuid: string, attached: boolean) => renderXe([{ uuid, 'host-uuid': H1, 'sr-uuid': SR, 'currently-attached': String(attached), 'device-config (MRO)': 'target: 10.10.1.10; targetIQN: iqn.2006-01.com.example:storage' }]);
  const step = xe.pbdsPlugged({ id: 's', title: 't', host: 'xs-01', sr: 'iSCSI-SR' });
  return [
    { name: 'pbdsPlugged plugs the unplugged PBD', step, answers: { ...xs01(), ...srAnswer, [pbdList]: pbd('p-1', false) }, done: false, reason: '1 PBD(s) of SR iSCSI-SR unplugged on xs-01: p-1', commands: ['xe pbd-plug uuid=p-1'] },
    { name: 'pbdsPlugged with every PBD attached is a noop', step, answers: { ...xs01(), ...srAnswer, [pbdList]: pbd('p-1', true) }, done: true, reason: 'SR iSCSI-SR is plugged on xs-01' },
    { name: 'pbdsPlugged with no PBD at all is an error, not a noop', step, answers: { ...xs01(), ...srAnswer, [pbdList]: '' }, error: /SR iSCSI-SR has no PBD on host xs-01/ },
  ];
}

function sharedPbdCases(): StepCase[] {
  const SR2 = '5b2a1c3d-9e8f-4a7b-8c6d-000000000002';
  const shared = { 'xe sr-list shared=true params=uuid,name-label,type,shared': renderXe([
    { uuid: SR, 'name-label ( RW)': 'iSCSI-SR', type: 'lvmoiscsi', 'shared ( RW)': 'true' },
    { uuid: SR2, 'name-label ( RW)': 'NFS-SR', type: 'nfs', 'shared ( RW)': 'true' },
  ]) };
  const pbdList = `xe pbd-list host-uuid=${H1} params=uuid,host-uuid,sr-uuid,currently-attached,device-config`;
  const pbd = (uuid: string, sr: string, attached: boolean) => ({ uuid, 'host-uuid': H1, 'sr-uuid': sr, 'currently-attached': String(attached), 'device-config (MRO)': '' });
  const step = xe.sharedPbdsPlugged({ id: 's', title: 't', host: 'xs-01' });
  return [
    { name: 'sharedPbdsPlugged plugs the unplugged PBD of each shared SR', step, answers: { ...xs01(), ...shared, [pbdList]: renderXe([pbd('p-1', SR, true), pbd('p-2', SR2, false)]) }, done: false, reason: '1 shared PBD(s) unplugged: p-2', commands: ['xe pbd-plug uuid=p-2'] },
    { name: 'sharedPbdsPlugged with every shared SR attached is a noop', step, answers: { ...xs01(), ...shared, [pbdList]: renderXe([pbd('p-1', SR, true), pbd('p-2', SR2, true)]) }, done: true, reason: 'every shared SR is plugged on xs-01' },
    { name: 'sharedPbdsPlugged with a shared SR lacking a PBD on the host is an error', step, answers: { ...xs01(), ...shared, [pbdList]: renderXe([pbd('p-1', SR, true)]) }, error: /shared SR NFS-SR has no PBD on xs-01: the join did not create it/ },
  ];
}

function forgetCases(): StepCase[] {
  const query = `xe host-list uuid=${H2} params=uuid,name-label,host-metrics-live`;
  const step = xe.hostForgotten({ id: 's', title: 't', uuid: H2 });
  const rec = (live: boolean) => renderXe([{ uuid: H2, 'name-label ( RW)': 'xs-02', 'host-metrics-live': String(live) }]);
  return [
    { name: 'hostForgotten forgets a dead host with --force', step, answers: { [query]: rec(false), ...haAnswers(false) }, done: false, reason: `dead host xs-02 (${H2})`, commands: [`xe host-forget uuid=${H2} --force`] },
    { name: 'hostForgotten refuses while HA is on (xapi would: HA_IS_ENABLED)', step, answers: { [query]: rec(false), ...haAnswers(true, 120) }, error: /HA is enabled on the pool: record and disable it first/ },
    { name: 'hostForgotten refuses a live host', step, answers: { [query]: rec(true) }, error: /is live: eject it/ },
    { name: 'hostForgotten of a host already gone is a noop', step, answers: { [query]: '' }, done: true, reason: `host ${H2} is not in the pool database` },
    { name: 'hostForgotten refuses a dynamic value that is a name', step: xe.hostForgotten({ id: 's', title: 't', uuid: () => 'xs-02' }), answers: {}, error: /not a host uuid/ },
  ];
}

describe('xe steps: facts → check and plan', () => {
  it.each(cases)('$name', async (c) => {
    const sh = fakeShell(c.answers);
    const ctx = fakeContext({ sh });
    if (c.error) {
      await expect(Promise.resolve(c.step.check(ctx))).rejects.toThrow(c.error);
      return;
    }
    const result = await c.step.check(ctx);
    expect(result.done).toBe(c.done);
    expect(result.reason).toContain(c.reason ?? '');
    if (c.outputs) expect(result.outputs).toEqual(c.outputs);
    if (c.commands) expect(await planOf(c.step, ctx)).toEqual(c.commands);
    expect(sh.ran.every((command) => command in c.answers)).toBe(true);
  });
});

describe('quoting of hostile values', () => {
  const hostile = "x'; rm -rf / #";

  it('a hostile name-label stays one quoted word in the lookup and the value', async () => {
    const step = xe.paramSet({ id: 's', title: 't', cls: 'vm', find: { 'name-label': hostile }, param: 'name-description', value: hostile });
    const lookup = `xe vm-list 'name-label=x'\\''; rm -rf / #'`;
    const sh = fakeShell({ [lookup]: vmRecord('halted', hostile), [`xe vm-param-get uuid=${VM} param-name=name-description`]: '\n' });
    const plan = await planOf(step, fakeContext({ sh }));
    expect(sh.ran[0]).toBe(lookup);
    expect(plan).toEqual([`xe vm-param-set uuid=${VM} 'name-description=x'\\''; rm -rf / #'`]);
  });

  it('a hostile password is quoted in the text and masked in the display', async () => {
    const step = xe.poolJoined({ id: 's', title: 't', masterAddress: '10.0.0.2', password: secret(hostile) });
    const sh = fakeShell({});
    const [join] = await step.commands!(fakeContext({ sh }));
    expect(join.text).toBe(`xe pool-join master-address=10.0.0.2 master-username=root master-password='x'\\''; rm -rf / #'`);
    expect(join.display).not.toContain('rm -rf');
  });

  it('refuses a plain-string password (it would be logged)', async () => {
    const step = xe.poolJoined({ id: 's', title: 't', masterAddress: '10.0.0.2', password: (() => 'pw') as never });
    await expect(step.commands!(fakeContext({ sh: fakeShell({}) }))).rejects.toThrow(/password must be a secret/);
  });

  it.each([
    { what: 'a selector key with a space', run: () => xe.listCommand('vm', { 'name label': 'x' }) },
    { what: 'a class with a semicolon', run: () => xe.listCommand('vm;reboot') },
    { what: 'a param name with =', run: () => xe.paramGetCommand('vm', VM, 'a=b') },
  ])('refuses $what', ({ run }) => {
    expect(run).toThrow(/not an xe/);
  });
});

describe('xe facts', () => {
  it('haState reads timeout and heartbeat SR through the statefile VDI', async () => {
    const sh = fakeShell({ [POOL_HA]: fixture('xe/pool-list-ha-enabled.txt'), 'xe vdi-param-get uuid=5b2a1c3d-9e8f-4a7b-8c6d-1e2f3a4b5c6d param-name=sr-uuid': `${SR}\n` });
    expect(await xe.haState(sh)).toEqual({ enabled: true, timeout: 120, heartbeatSrUuids: [SR] });
  });

  it('haState of a pool with HA off', async () => {
    const sh = fakeShell({ [POOL_HA]: fixture('xe/pool-list-ha-disabled.txt') });
    expect(await xe.haState(sh)).toEqual({ enabled: false, timeout: undefined, heartbeatSrUuids: [] });
  });

  it('uuids uses --minimal and an empty answer is none', async () => {
    const sh = fakeShell({ 'xe vm-list name-label=nothing params=uuid --minimal': '\n', 'xe vm-list power-state=running params=uuid --minimal': `${VM},${H2}\n` });
    expect(await xe.uuids(sh, 'vm', { 'name-label': 'nothing' })).toEqual([]);
    expect(await xe.uuids(sh, 'vm', { 'power-state': 'running' })).toEqual([VM, H2]);
  });

  it('vm reads a deleted resident-on as undefined', async () => {
    const sh = fakeShell({ [`xe vm-list name-label=ghost ${VM_PARAMS}`]: renderXe([{ uuid: VM, 'name-label ( RW)': 'ghost', 'power-state': 'halted', 'resident-on': '<not in database>' }]) });
    expect(await xe.vm(sh, 'ghost')).toEqual({ uuid: VM, nameLabel: 'ghost', powerState: 'halted', residentOn: undefined });
  });

  it('hosts parses the recorded XenServer 8.3 listing', async () => {
    const sh = fakeShell({ [`xe host-list ${HOST_PARAMS}`]: fixture('xe/host-list-two-hosts-xs83.txt') });
    expect((await xe.hosts(sh)).map((h) => [h.nameLabel, h.address, h.enabled])).toEqual([['xen-sec-01', '192.168.1.13', true], ['xen-sec-02', '192.168.1.34', false]]);
  });

  it('pifs reads the MTU as a number (the leap-second and bonding notes: management bond at 1500)', async () => {
    const sh = fakeShell({
      [`xe pif-list host-uuid=${H1} management=true params=uuid,device,host-uuid,management,MTU,IP,network-uuid`]: renderXe([{ uuid: 'pif-1', device: 'bond0', 'host-uuid': H1, management: 'true', MTU: '9000', 'IP': '10.0.0.1', 'network-uuid': 'n-1' }]),
    });
    const [pif] = await xe.pifs(sh, { 'host-uuid': H1, management: 'true' });
    expect(pif).toMatchObject({ device: 'bond0', mtu: 9000, management: true });
  });

  it('isEmergencyMode reads the seed\'s True as well as xe\'s true', async () => {
    expect(await xe.isEmergencyMode(fakeShell({ 'xe host-is-in-emergency-mode': 'True\n' }))).toBe(true);
    expect(await xe.isEmergencyMode(fakeShell({ 'xe host-is-in-emergency-mode': 'false\n' }))).toBe(false);
  });

  it('vmDiskList leaves CDs out and keeps sizes as numbers', async () => {
    const sh = fakeShell({ [`xe vm-disk-list uuid=${VM}`]: `${fixture('xe/vm-disk-list-vyos.txt')}CD 0 VBD:\n${renderXe([{ uuid: 'cd-1', 'vm-name-label': 'x', 'userdevice ( RW)': '3', empty: 'true' }])}` });
    expect(await xe.vmDiskList(sh, VM)).toEqual([{
      index: 0, vbdUuid: '15ef5e96-9682-2db7-df6e-25f3c1acab80', userdevice: '0', vdiUuid: 'aeaf3bfa-b396-4e9e-bb33-3b6770a1897a',
      vdiName: 'VYOS_Template', srName: 'Local B SR', virtualSize: 4294967296,
    }]);
  });
});

describe('xe facts for waiting', () => {
  it.each([
    { power: 'halted', done: true, reason: 'VM ubuntu-hvm is halted' },
    { power: 'running', done: false, reason: 'VM ubuntu-hvm is running, want halted' },
  ])('vmPowerIs halted when $power', async ({ power, done, reason }) => {
    const sh = fakeShell({ [`xe vm-list name-label=ubuntu-hvm ${VM_PARAMS}`]: vmRecord(power) });
    expect(await xe.vmPowerIs(sh, 'ubuntu-hvm', 'halted')).toEqual({ done, reason });
  });

  it.each([
    { raw: '<not in database>\n', want: {} },
    { raw: '0/ip: 10.0.0.5; 0/ipv6/0: fe80::1\n', want: { '0/ip': '10.0.0.5', '0/ipv6/0': 'fe80::1' } },
  ])('vmNetworks($raw)', async ({ raw, want }) => {
    const sh = fakeShell({ [`xe vm-param-get uuid=${VM} param-name=networks`]: raw });
    expect(await xe.vmNetworks(sh, VM)).toEqual(want);
  });
});

describe('xe steps that wait', () => {
  it('vmPowerState runs vm-start, then polls until xe shows it running', async () => {
    const list = `xe vm-list name-label=ubuntu-hvm ${VM_PARAMS}`;
    // Answers in turn: the plan's lookup, then the first probe (still halted), then running.
    const sh = fakeShell({ [list]: [{ stdout: vmRecord('halted') }, { stdout: vmRecord('halted') }, { stdout: vmRecord('running') }], [`xe vm-start uuid=${VM}`]: '' });
    const clock = fakeClock();
    const step = xe.vmPowerState({ id: 's', title: 't', vm: 'ubuntu-hvm', state: 'running', intervalMs: 1000, clock });
    const ctx = fakeContext({ sh });
    await step.apply!(ctx);
    expect(sh.ran.filter((c) => c.startsWith('xe vm-start'))).toHaveLength(1);
    expect(clock.slept).toEqual([1000]);
    // Asked after apply (the engine journals it then), commands reports what ran without asking the host again.
    const asked = sh.ran.length;
    expect(await planOf(step, ctx)).toEqual([`xe vm-start uuid=${VM}`]);
    expect(sh.ran).toHaveLength(asked);
  });

  it('vmPowerState fails with the last state after its wait', async () => {
    const sh = fakeShell({ [`xe vm-list name-label=ubuntu-hvm ${VM_PARAMS}`]: vmRecord('running'), [`xe vm-shutdown uuid=${VM}`]: '' });
    const step = xe.vmPowerState({ id: 's', title: 't', vm: 'ubuntu-hvm', state: 'halted', waitTimeoutMs: 5000, intervalMs: 1000, clock: fakeClock() });
    await expect(Promise.resolve(step.apply!(fakeContext({ sh })))).rejects.toThrow(/VM halted: still not so after 5 s: VM ubuntu-hvm is running/);
  });

  it('toolstackRestarted always runs, is not re-checked, and waits for xapi to answer', async () => {
    const sh = fakeShell({ 'xe-toolstack-restart': '', 'xe host-list --minimal': [{ code: 1, stderr: 'Connection refused' }, { stdout: `${H1}\n` }] });
    const clock = fakeClock();
    const step = xe.toolstackRestarted({ id: 's', title: 't', intervalMs: 500, clock });
    expect(step.verify).toBe(false);
    expect((await step.check(fakeContext({ sh }))).done).toBe(false);
    await step.apply!(fakeContext({ sh }));
    expect(sh.ran).toEqual(['xe-toolstack-restart', 'xe host-list --minimal', 'xe host-list --minimal']);
    expect(clock.slept).toEqual([500]);
  });
});

describe('options are checked when the runbook loads', () => {
  it.each([
    { what: 'haEnabled with a timeout of 0', make: () => xe.haEnabled({ id: 'ha', title: 't', heartbeatSr: SR, timeout: 0 }), error: /step ha: timeout/ },
    { what: 'haEnabled with a heartbeat SR that is a name', make: () => xe.haEnabled({ id: 'ha', title: 't', heartbeatSr: 'iSCSI SR', timeout: 120 }), error: /heartbeatSr: must be a XenServer uuid/ },
    { what: 'hostEnabled with an empty host', make: () => xe.hostEnabled({ id: 'h', title: 't', host: '', enabled: true }), error: /host: needs a uuid or a name-label/ },
    { what: 'vmPowerState to paused', make: () => xe.vmPowerState({ id: 'v', title: 't', vm: 'x', state: 'paused' as 'halted' }), error: /state/ },
    { what: 'poolJoined with a plain password', make: () => xe.poolJoined({ id: 'j', title: 't', masterAddress: '10.0.0.1', password: 'pw' as never }), error: /password: must be a secret/ },
    { what: 'hostForgotten by name', make: () => xe.hostForgotten({ id: 'f', title: 't', uuid: 'xs-02' }), error: /uuid: must be a XenServer uuid/ },
    { what: 'paramSet with both uuid and find', make: () => xe.paramSet({ id: 'p', title: 't', cls: 'vm', uuid: VM, find: { 'name-label': 'x' }, param: 'a', value: 'b' }), error: /give uuid or find/ },
  ])('refuses $what', ({ make, error }) => {
    expect(make).toThrow(error);
  });

  it('accepts dynamic values, checked when the step runs', () => {
    expect(() => xe.haEnabled({ id: 'ha', title: 't', heartbeatSr: (ctx) => ctx.outputs.get<string>('ha-off', 'heartbeatSr'), timeout: 120 })).not.toThrow();
  });
});

describe('paramGetOptional', () => {
  it('is an error, not "unset", when the object does not exist', async () => {
    const sh = fakeShell({ [`xe vm-param-get uuid=${VM} param-name=PV-args`]: { code: 1, stderr: 'The uuid you supplied was invalid.\ntype: VM\nuuid: x\n' } });
    await expect(xe.paramGetOptional(sh, 'vm', VM, 'PV-args')).rejects.toThrow(/exited 1: The uuid you supplied was invalid/);
  });
});

describe('preflight asserts', () => {
  it('haStateRecorded always passes and hands on the configuration', async () => {
    const step = xe.haStateRecorded({ id: 'ha-before', title: 't' });
    expect(await step.check(fakeContext({ sh: fakeShell(haAnswers(true, 120)) }))).toEqual({
      done: true, reason: `HA is on (timeout 120, heartbeat SR ${SR})`, outputs: { haEnabled: true, timeout: 120, heartbeatSr: SR, heartbeatSrUuids: [SR] },
    });
    expect(await step.check(fakeContext({ sh: fakeShell(haAnswers(false)) }))).toEqual({
      done: true, reason: 'HA is off', outputs: { haEnabled: false, timeout: null, heartbeatSr: null, heartbeatSrUuids: [] },
    });
  });

  it.each([
    { others: [true, false], done: true, reason: '1 other enabled host(s): xs-02' },
    { others: [false, false], done: false, reason: 'xs-01 needs 1 other enabled host(s) to take its VMs; enabled others: none' },
  ])('otherHostsEnabled with others enabled=$others', async ({ others, done, reason }) => {
    const all = hostRecord(H1, 'xs-01', true) + hostRecord(H2, 'xs-02', others[0]) + hostRecord('a1b2c3d4-0000-4000-8000-000000000003', 'xs-03', others[1]);
    const sh = fakeShell({ ...xs01(true), [`xe host-list ${HOST_PARAMS}`]: all });
    expect(await xe.otherHostsEnabled({ id: 'alone', title: 't', host: 'xs-01' }).check(fakeContext({ sh }))).toEqual({ done, reason });
  });
});

describe('the pool\'s shared SR and the pool master', () => {
  const iscsiSrs = 'xe sr-list type=lvmoiscsi shared=true params=uuid,name-label,type,shared';
  const sr = (uuid: string, name: string) => ({ uuid, 'name-label ( RW)': name, type: 'lvmoiscsi', 'shared ( RW)': 'true' });
  const hint = 'name it with --param sr=…';

  it('sharedSr is the only shared SR of the type, or the one named', async () => {
    expect(await xe.sharedSr(fakeShell({ [iscsiSrs]: renderXe([sr(SR, 'iSCSI-SR')]) }), { type: 'lvmoiscsi', hint })).toMatchObject({ uuid: SR, nameLabel: 'iSCSI-SR', shared: true });
    const named = fakeShell({ 'xe sr-list name-label=Other params=uuid,name-label,type,shared': renderXe([sr(VDI, 'Other')]) });
    expect(await xe.sharedSr(named, { ref: 'Other', type: 'lvmoiscsi', hint })).toMatchObject({ uuid: VDI });
  });

  it.each<[string, string, RegExp]>([
    ['none', '', /expected one shared lvmoiscsi SR in the pool, found none: name it with --param sr=…/],
    ['two', renderXe([sr(SR, 'A'), sr(VDI, 'B')]), /found 2: A, B: name it/],
  ])('sharedSr with %s is an error ending with the hint', async (_, answer, error) => {
    await expect(xe.sharedSr(fakeShell({ [iscsiSrs]: answer }), { type: 'lvmoiscsi', hint })).rejects.toThrow(error);
  });

  it('pbdPlugCommands plugs every PBD of the SR on the host (the plan for storage not up yet)', async () => {
    const sh = fakeShell({
      ...xs01(),
      [`xe pbd-list host-uuid=${H1} sr-uuid=${SR} params=uuid,host-uuid,sr-uuid,currently-attached,device-config`]: renderXe([{ uuid: 'p-1', 'host-uuid': H1, 'sr-uuid': SR, 'currently-attached': 'true', 'device-config (MRO)': '' }]),
    });
    expect((await xe.pbdPlugCommands(sh, 'xs-01', SR)).map((c) => c.display)).toEqual(['xe pbd-plug uuid=p-1']);
  });

  it('guestVars: the runbook\'s own vars plus xen_pool or pool_master, one of which must be there', () => {
    const vars = xe.guestVars({ vm_name_label: z.string().min(1) });
    expect(vars.parse({ vm_name_label: 'XenApp', xen_pool: 'pool-a' })).toEqual({ vm_name_label: 'XenApp', xen_pool: 'pool-a' });
    expect(vars.parse({ vm_name_label: 'XenApp', pool_master: 'xs-01' })).toEqual({ vm_name_label: 'XenApp', pool_master: 'xs-01' });
    const neither = vars.safeParse({ vm_name_label: 'XenApp' });
    expect(neither.error?.issues.map((i) => [i.path, i.message])).toEqual([[['xen_pool'], 'needs xen_pool or pool_master to find the pool master']]);
    expect(vars.safeParse({ xen_pool: 'pool-a' }).error?.issues.map((i) => i.path)).toEqual([['vm_name_label']]);
  });

  it('poolMasterOf: the host\'s own pool_master, else its pool group\'s, else an error naming the host', () => {
    const ctx = (vars: Record<string, unknown>, group: Record<string, unknown>[]) => ({
      ...fakeContext({ sh: fakeShell({}), vars }),
      inventory: { host: () => { throw new Error('unused'); }, has: () => true, group: () => group.map((v, i) => ({ name: `m${i}`, address: '127.0.0.1', port: 22, connection: 'ssh' as const, become: false, groups: [], vars: v })) },
    });
    expect(xe.poolMasterOf(ctx({ pool_master: 'xs-01' }, []) as never)).toBe('xs-01');
    expect(xe.poolMasterOf(ctx({ xen_pool: 'pool-a' }, [{}, { pool_master: 'xs-02' }]) as never)).toBe('xs-02');
    expect(() => xe.poolMasterOf(ctx({ xen_pool: 'pool-a' }, [{}]) as never)).toThrow('xs-01: no host of group pool-a has a pool_master var: set pool_master on xs-01');
  });
});
