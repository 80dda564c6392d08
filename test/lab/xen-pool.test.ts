/**
 * The simulated pool behaves as the seed texts describe: selectors and params, errors and exit
 * codes, emergency mode when the master dies (the host rebuild notes), forget/reinstall/join/designate (issue 7),
 * HA timeout that does not survive a disable/enable (the HA and XenApp cloning notes), VM power reaching the guest.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { applyFault } from '../../lab/sim/xen/faults.mjs';
import { reinstallHost } from '../../lab/sim/xen/seed.mjs';
import { XenLab } from './xen-lab.ts';

const HOLD_POOL_LOCK = fileURLToPath(new URL('./fixtures/hold-pool-lock.mjs', import.meta.url));

let lab: XenLab;
beforeEach(() => {
  lab = new XenLab();
});
afterEach(() => lab.dispose());

const srUuid = () => lab.minimal('xs-01', 'sr-list', 'type=lvmoiscsi');
const poolUuid = () => lab.minimal('xs-01', 'pool-list');
const vmUuid = () => lab.minimal('xs-01', 'vm-list', 'name-label=ubuntu-01');

describe('selectors, params= and param commands', () => {
  it('selects by field, by map key, and prints only the params asked for, in record order', () => {
    expect(lab.minimal('xs-02', 'vm-list', 'name-label=ubuntu-01', 'params=uuid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(lab.minimal('xs-01', 'host-list', 'other-config:multipathing=true').split(',')).toHaveLength(3);
    expect(lab.minimal('xs-01', 'vm-list', 'is-control-domain=true').split(',')).toHaveLength(3);
    const out = lab.xe('xs-01', 'host-list', 'name-label=xs-02', 'params=address,name-label').stdout;
    expect(out).toBe('name-label ( RW)    : xs-02\n       address ( RO): 10.10.0.12\n\n\n');
    expect(lab.minimal('xs-01', 'host-list', 'params=name-label')).toBe('xs-01,xs-02,xs-03');
  });

  it('gets and sets plain fields and map keys (the HVM-to-PV guide: HVM-boot-policy, PV-bootloader, PV-args)', () => {
    const vm = vmUuid();
    const set = lab.xe('xs-01', 'vm-param-set', `uuid=${vm}`, 'HVM-boot-policy=', 'PV-bootloader=pygrub', 'PV-args=console=tty0 xencons=tty', 'other-config:converted=yes');
    expect(set).toEqual({ stdout: '', stderr: '', code: 0 });
    const get = (name: string, key?: string) => lab.xe('xs-02', 'vm-param-get', `uuid=${vm}`, `param-name=${name}`, ...(key ? [`param-key=${key}`] : [])).stdout;
    expect(get('HVM-boot-policy')).toBe('\n');
    expect(get('PV-bootloader')).toBe('pygrub\n');
    expect(get('PV-args')).toBe('console=tty0 xencons=tty\n');
    expect(get('other-config', 'converted')).toBe('yes\n');
    expect(lab.xe('xs-01', 'pool-param-get', `uuid=${poolUuid()}`, 'param-name=ha-configuration').stdout).toBe('timeout: 120\n');
  });

  it('finds the root disk VBD with vm-disk-list and marks it bootable', () => {
    const [vdi, vbd] = lab.minimal('xs-01', 'vm-disk-list', 'vm=ubuntu-01').split(',');
    expect(lab.minimal('xs-01', 'vm-disk-list', 'vm=ubuntu-01', 'vdi-params=none')).toBe(vbd);
    expect(lab.minimal('xs-01', 'vbd-list', `vdi-uuid=${vdi}`)).toBe(vbd);
    expect(lab.xe('xs-01', 'vbd-param-set', `uuid=${vbd}`, 'bootable=true').code).toBe(0);
    expect(lab.xe('xs-01', 'vbd-param-get', `uuid=${vbd}`, 'param-name=bootable').stdout).toBe('true\n');
  });
});

describe('errors, as xe prints them, exit 1', () => {
  it.each([
    [['frobnicate'], "Unknown command: frobnicate\nFor usage run: 'xe help'\n"],
    [['vm-param-get', 'uuid=x'], "Required parameter not found: param-name\nFor usage run: 'xe help'\n"],
    [['vm-param-get', 'uuid=nope', 'param-name=uuid'], 'The uuid you supplied was invalid.\ntype: VM\nuuid: nope\n'],
    [['host-emergency-ha-disable'], 'The server failed to handle your request, due to an internal error. The given message may give details useful for debugging the problem.\nmessage: Failure: This operation is dangerous and may cause data loss. This operation must be forced (use --force).\n'],
  ])('xe %j', (args, stderr) => {
    expect(lab.xe('xs-01', ...args)).toEqual({ stdout: '', stderr, code: 1 });
  });

  it('refuses writes to read-only fields and a start of a running VM', () => {
    expect(lab.xe('xs-01', 'vm-param-set', `uuid=${vmUuid()}`, 'power-state=halted').stderr).toContain("message: Failure: Field 'power-state' is read-only.");
    const start = lab.xe('xs-01', 'vm-start', 'vm=ubuntu-01');
    expect(start.code).toBe(1);
    expect(start.stderr).toMatch(/^You attempted an operation on a VM that was not in an appropriate power state.*\nvm: [0-9a-f-]{36}\nexpected: halted\nactual: running\n$/);
  });

  it('cannot reach xapi when it is stopped', () => {
    lab.setService('xs-01', 'xapi', 'stopped');
    expect(lab.xe('xs-01', 'host-list')).toEqual({ stdout: '', stderr: 'Error: Connection refused (calling connect )\n', code: 1 });
    expect(lab.run('xs-01', 'xe-toolstack-restart', []).stdout).toMatch(/Starting xapi: +\[  OK  \]\ndone\.\n$/);
    expect(lab.xe('xs-01', 'host-list').code).toBe(0);
  });
});

describe('the pool master lost (the host rebuild notes)', () => {
  it('puts the members in emergency mode until one transitions to master and recovers the others', () => {
    lab.power('xs-01', 'off');
    expect(lab.xe('xs-02', 'host-is-in-emergency-mode').stdout).toBe('true\n');
    expect(lab.xe('xs-02', 'vm-list')).toEqual({ stdout: '', stderr: `The host toolstack is still initialising. Please wait.\n`, code: 1 });
    // HA is armed on the survivors (the lab seeds HA on): xapi refuses until it is disarmed (the HA and XenApp cloning notes)
    expect(lab.xe('xs-02', 'pool-emergency-transition-to-master').stderr).toBe('The operation could not be performed because HA is enabled on the Pool\n');
    expect(lab.xe('xs-02', 'host-emergency-ha-disable', 'force=true')).toEqual({ stdout: '', stderr: '', code: 0 });
    const transition = lab.xe('xs-02', 'pool-emergency-transition-to-master');
    expect(transition).toEqual({ stdout: 'Host agent will restart and transition to master in 10. seconds...\n', stderr: '', code: 0 });
    expect(lab.xe('xs-02', 'host-is-in-emergency-mode').stdout).toBe('false\n');
    expect(lab.xe('xs-03', 'host-is-in-emergency-mode').stdout).toBe('true\n');
    expect(lab.xe('xs-02', 'pool-recover-slaves').stdout).toBe(`${lab.minimal('xs-02', 'host-list', 'name-label=xs-03')}\n`);
    expect(lab.xe('xs-03', 'host-is-in-emergency-mode').stdout).toBe('false\n');
    expect(lab.minimal('xs-03', 'pool-list', 'params=master')).toBe(lab.minimal('xs-03', 'host-list', 'name-label=xs-02'));
    expect(lab.xe('xs-02', 'host-param-get', `uuid=${lab.minimal('xs-02', 'host-list', 'name-label=xs-01')}`, 'param-name=host-metrics-live').stdout).toBe('false\n');
  });

  it('forgets the dead host, rejoins it after a reinstall, and gives it the master role back (issue 7)', () => {
    const oldXs01 = lab.hostUuid('xs-01');
    lab.power('xs-01', 'off');
    expect(lab.xe('xs-02', 'host-emergency-ha-disable', '--force').code).toBe(0);
    lab.xe('xs-02', 'pool-emergency-transition-to-master');
    lab.xe('xs-02', 'pool-recover-slaves');
    expect(lab.xe('xs-02', 'pool-list', 'params=ha-enabled,ha-configuration').stdout).toMatch(/ha-enabled \( RO\) +: false\n    ha-configuration \( RO\): \n/);
    const asked = lab.run('xs-02', 'xe', ['host-forget', `uuid=${oldXs01}`], 'no\n');
    expect(asked.stdout).toMatch(/WARNING: This operation is irreversible.\nType 'yes' to continue\nAborted \(you typed: 'no'\)\n$/);
    expect(lab.minimal('xs-02', 'host-list').split(',')).toHaveLength(3);
    expect(lab.xe('xs-02', 'host-forget', `uuid=${oldXs01}`, '--force').code).toBe(0);
    expect(lab.minimal('xs-02', 'host-list', 'params=name-label')).toBe('xs-02,xs-03');

    const fresh = reinstallHost(lab.root, 'xs-01');
    lab.power('xs-01', 'running');
    expect(lab.minimal('xs-01', 'host-list')).toBe(fresh);
    expect(lab.minimal('xs-01', 'pif-list', 'management=true', 'params=MTU')).toBe('1500');
    expect(lab.run('xs-01', 'iscsiadm', ['-m', 'session'])).toEqual({ stdout: '', stderr: 'iscsiadm: No active sessions.\n', code: 21 });
    const wrong = lab.xe('xs-01', 'pool-join', 'master-address=10.10.0.12', 'master-username=root', 'master-password=nope');
    expect(wrong.stderr).toBe("Authentication failed\nFor usage run: 'xe help'\n");
    const join = lab.xe('xs-01', 'pool-join', 'master-address=10.10.0.12', 'master-username=root', 'master-password=xenroot');
    expect(join).toEqual({ stdout: 'Host agent will restart and attempt to join pool in 10. seconds...\n', stderr: '', code: 0 });
    expect(lab.minimal('xs-02', 'host-list', 'params=name-label')).toBe('xs-02,xs-03,xs-01');
    expect(lab.minimal('xs-01', 'pbd-list', `host-uuid=${fresh}`, `sr-uuid=${srUuid()}`, 'params=currently-attached')).toBe('true');
    expect(lab.minimal('xs-02', 'pif-list', `host-uuid=${fresh}`, 'management=true', 'params=device')).toBe('bond0');
    expect(lab.run('xs-01', 'multipath', ['-ll']).stdout).toBe('');

    expect(lab.xe('xs-02', 'pool-designate-new-master', `host-uuid=${fresh}`)).toEqual({ stdout: '', stderr: '', code: 0 });
    expect(lab.minimal('xs-03', 'pool-list', 'params=master')).toBe(fresh);
    for (const host of ['xs-01', 'xs-02', 'xs-03']) expect(lab.xe(host, 'host-is-in-emergency-mode').stdout).toBe('false\n');
    expect(lab.xe('xs-01', 'pool-ha-enable', `heartbeat-sr-uuids=${srUuid()}`, 'ha-config:timeout=120').code).toBe(0);
    expect(lab.xe('xs-01', 'pool-param-get', `uuid=${poolUuid()}`, 'param-name=ha-configuration').stdout).toBe('timeout: 120\n');
  });

  it('refuses to forget a live host, the master, or any host while HA is on', () => {
    expect(lab.xe('xs-01', 'host-forget', `uuid=${lab.hostUuid('xs-03')}`, '--force').code).toBe(1);
    lab.power('xs-03', 'off');
    expect(lab.xe('xs-01', 'host-forget', `uuid=${lab.hostUuid('xs-03')}`, '--force').stderr).toBe('The operation could not be performed because HA is enabled on the Pool\n');
    expect(lab.xe('xs-01', 'pool-designate-new-master', `host-uuid=${lab.hostUuid('xs-02')}`).stderr).toBe('The operation could not be performed because HA is enabled on the Pool\n');
    lab.xe('xs-01', 'pool-ha-disable');
    expect(lab.xe('xs-01', 'host-forget', `uuid=${lab.hostUuid('xs-02')}`, '--force').stderr).toBe(`This operation cannot be completed because the server is still live.\nhost: ${lab.hostUuid('xs-02')}\n`);
    expect(lab.xe('xs-01', 'host-forget', `uuid=${lab.hostUuid('xs-01')}`, '--force').stderr).toMatch(/^The pool master host cannot be removed\./);
  });

  it('keeps a member with a jumbo management MTU out of the pool after its reboot (the leap-second and bonding notes)', () => {
    applyFault(lab.root, 'xs-02', 'jumbo-mtu', [], false);
    expect(lab.minimal('xs-01', 'pif-list', `host-uuid=${lab.hostUuid('xs-02')}`, 'management=true', 'params=MTU')).toBe('9000');
    lab.reboot('xs-02');
    expect(lab.xe('xs-02', 'host-list').code).toBe(1);
    expect(lab.xe('xs-01', 'host-param-get', `uuid=${lab.hostUuid('xs-02')}`, 'param-name=host-metrics-live').stdout).toBe('false\n');
    const bondNetwork = lab.minimal('xs-01', 'pif-list', `host-uuid=${lab.hostUuid('xs-02')}`, 'management=true', 'params=network-uuid');
    expect(lab.xe('xs-01', 'network-param-set', `uuid=${bondNetwork}`, 'MTU=1500').code).toBe(0);
    expect(lab.minimal('xs-01', 'pif-list', `host-uuid=${lab.hostUuid('xs-02')}`, 'management=true', 'params=MTU')).toBe('1500');
    lab.reboot('xs-02');
    expect(lab.xe('xs-02', 'host-list').code).toBe(0);
  });

  it('refuses to set a PIF MTU directly, as XenServer does (the network carries it)', () => {
    const pif = lab.minimal('xs-01', 'pif-list', 'management=true', `host-uuid=${lab.hostUuid('xs-01')}`);
    expect(lab.xe('xs-01', 'pif-param-set', `uuid=${pif}`, 'MTU=1500').stderr).toContain("Failure: Field 'MTU' is read-only.");
  });
});

describe('HA (the HA and XenApp cloning notes)', () => {
  it('can be switched by the ha-on fault', () => {
    expect(applyFault(lab.root, 'xs-02', 'ha-on', ['90'], false)).toBe('pool-a: HA enabled, timeout 90');
    expect(lab.minimal('xs-01', 'pool-list', 'params=ha-configuration')).toBe('timeout: 90');
    expect(applyFault(lab.root, 'xs-02', 'ha-on', [], true)).toBe('pool-a: HA disabled');
    expect(lab.minimal('xs-01', 'pool-list', 'params=ha-enabled')).toBe('false');
  });

  it('forgets the timeout across a disable and enable', () => {
    expect(lab.xe('xs-01', 'pool-ha-enable', `heartbeat-sr-uuids=${srUuid()}`).stderr).toBe('The operation could not be performed because HA is enabled on the Pool\n');
    expect(lab.xe('xs-01', 'pool-ha-disable').code).toBe(0);
    expect(lab.xe('xs-01', 'pool-ha-disable').stderr).toBe('The operation could not be performed because HA is not enabled on the Pool\n');
    expect(lab.xe('xs-01', 'pool-ha-enable', `heartbeat-sr-uuids=${srUuid()}`).code).toBe(0);
    const config = () => lab.xe('xs-01', 'pool-param-get', `uuid=${poolUuid()}`, 'param-name=ha-configuration').stdout;
    expect(config()).toBe('\n');
    lab.xe('xs-01', 'pool-ha-disable');
    lab.xe('xs-01', 'pool-ha-enable', `heartbeat-sr-uuids=${srUuid()}`, 'ha-config:timeout=120');
    expect(config()).toBe('timeout: 120\n');
    expect(lab.minimal('xs-01', 'pool-list', 'params=ha-statefiles')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('needs a shared heartbeat SR', () => {
    lab.xe('xs-01', 'pool-ha-disable');
    const local = lab.minimal('xs-01', 'sr-list', 'type=lvm', 'host=xs-01');
    expect(lab.xe('xs-01', 'pool-ha-enable', `heartbeat-sr-uuids=${local}`).stderr).toMatch(/referenced SR is not properly shared.*\nSR: /);
  });
});

describe('VM power reaches the guest machine', () => {
  it('writes halt and on power requests, and needs a bootable disk for pygrub (the HVM-to-PV guide)', () => {
    expect(lab.xe('xs-01', 'vm-shutdown', 'vm=ubuntu-01').code).toBe(0);
    expect(lab.powerRequest('ubuntu-01')).toBe('halt');
    expect(lab.minimal('xs-01', 'vm-list', 'name-label=ubuntu-01', 'params=power-state')).toBe('halted');
    lab.xe('xs-01', 'vm-param-set', `uuid=${vmUuid()}`, 'HVM-boot-policy=', 'PV-bootloader=pygrub');
    expect(lab.xe('xs-01', 'vm-start', 'vm=ubuntu-01').stderr).toBe(`The bootloader returned an error\nvm: ${vmUuid()}\nmsg: Unable to find partition containing kernel\n`);
    lab.xe('xs-01', 'vbd-param-set', `uuid=${lab.minimal('xs-01', 'vm-disk-list', 'vm=ubuntu-01', 'vdi-params=none')}`, 'bootable=true');
    expect(lab.xe('xs-01', 'vm-start', 'vm=ubuntu-01').code).toBe(0);
    expect(lab.powerRequest('ubuntu-01')).toBe('on');
    expect(lab.minimal('xs-01', 'vm-list', 'name-label=ubuntu-01', 'params=power-state')).toBe('running');
  });

  it('tells the lab how the guest boots (PV after the conversion)', async () => {
    const { readFileSync } = await import('node:fs');
    lab.xe('xs-01', 'vm-shutdown', 'vm=ubuntu-01');
    lab.xe('xs-01', 'vm-param-set', `uuid=${vmUuid()}`, 'HVM-boot-policy=', 'PV-bootloader=pygrub', 'PV-args=console=tty0 xencons=tty');
    lab.xe('xs-01', 'vbd-param-set', `uuid=${lab.minimal('xs-01', 'vm-disk-list', 'vm=ubuntu-01', 'vdi-params=none')}`, 'bootable=true');
    lab.xe('xs-01', 'vm-start', 'vm=ubuntu-01');
    const boot = JSON.parse(readFileSync(`${lab.root}/xen/vms/ubuntu-01.json`, 'utf8'));
    expect(boot).toMatchObject({ mode: 'pv', 'PV-bootloader': 'pygrub', 'PV-args': 'console=tty0 xencons=tty' });
  });

  it('ejects the CD of a VM once, then says the drive is empty', () => {
    const vm = vmUuid();
    const cd = lab.minimal('xs-01', 'vbd-list', `vm-uuid=${vm}`, 'type=CD');
    lab.xe('xs-01', 'vbd-param-set', `uuid=${cd}`, 'other-config:iso=ubuntu.iso');
    const db = `${lab.root}/pools/pool-a.json`;
    const { readFileSync, writeFileSync } = fs;
    const json = JSON.parse(readFileSync(db, 'utf8'));
    Object.assign(json.vbd[cd], { empty: 'false', 'vdi-uuid': 'iso' });
    writeFileSync(db, JSON.stringify(json));
    expect(lab.xe('xs-01', 'vm-cd-eject', 'vm=ubuntu-01').code).toBe(0);
    expect(lab.xe('xs-01', 'vm-cd-eject', 'vm=ubuntu-01').stderr).toBe(`Operation could not be performed because the drive is empty\nvbd: ${cd}\n`);
  });

  it('shows a guest shut down from inside as halted', () => {
    lab.power('ubuntu-01', 'halted');
    expect(lab.minimal('xs-02', 'vm-list', 'name-label=ubuntu-01', 'params=power-state')).toBe('halted');
    lab.power('ubuntu-01', 'running');
    expect(lab.minimal('xs-02', 'vm-list', 'name-label=ubuntu-01', 'params=power-state')).toBe('running');
  });

  it('copies a halted VM to a target SR and prints the new uuid', () => {
    lab.xe('xs-01', 'vm-shutdown', 'vm=ubuntu-01');
    const copy = lab.xe('xs-01', 'vm-copy', 'vm=ubuntu-01', 'new-name-label=clone-01', `sr-uuid=${srUuid()}`);
    expect(copy.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
    expect(lab.minimal('xs-01', 'vm-disk-list', 'vm=clone-01', 'vdi-params=sr-uuid', 'vbd-params=none')).toBe(srUuid());
  });
});

describe('the pool database under concurrent writers', () => {
  it('keeps all 20 of 20 parallel param-sets', async () => {
    const vm = vmUuid();
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => lab.xeAsync(['xs-01', 'xs-02', 'xs-03'][i % 3], 'vm-param-set', `uuid=${vm}`, `other-config:k${i}=v${i}`)));
    expect(runs.map((r) => r.code)).toEqual(Array(20).fill(0));
    const config = lab.xe('xs-01', 'vm-param-get', `uuid=${vm}`, 'param-name=other-config').stdout;
    for (let i = 0; i < 20; i++) expect(config).toContain(`k${i}: v${i}`);
  });
});

describe('mutation log', () => {
  it('records mutating calls only', () => {
    lab.xe('xs-02', 'vm-list');
    lab.xe('xs-02', 'host-is-in-emergency-mode');
    lab.run('xs-02', 'multipath', ['-ll']);
    lab.run('xs-02', 'iscsiadm', ['-m', 'session']);
    expect(lab.mutations('xs-02')).toEqual([]);
    lab.xe('xs-02', 'vm-param-set', `uuid=${vmUuid()}`, 'name-description=x');
    lab.run('xs-02', 'iscsiadm', ['-m', 'node', '-u', 'all']);
    expect(lab.mutations('xs-02').map((m) => m.argv)).toEqual([
      ['xe', 'vm-param-set', `uuid=${vmUuid()}`, 'name-description=x'],
      ['iscsiadm', '-m', 'node', '-u', 'all'],
    ]);
  });
});

describe('mutation log: once, when the change is made', () => {
  it('logs nothing for a mutating xe call that is refused, once for one that succeeds', () => {
    const refused = lab.xe('xs-01', 'vm-param-set', 'uuid=00000000-0000-0000-0000-000000000000', 'name-description=x');
    expect(refused.code).toBe(1);
    expect(lab.xe('xs-01', 'host-disable', 'host=no-such-host').code).toBe(1);
    expect(lab.mutations('xs-01')).toEqual([]);
    expect(lab.xe('xs-01', 'vm-param-set', `uuid=${vmUuid()}`, 'name-description=y').code).toBe(0);
    expect(lab.mutations('xs-01').map((m) => m.argv)).toEqual([['xe', 'vm-param-set', `uuid=${vmUuid()}`, 'name-description=y']]);
  });
});

describe('the pool database lock', () => {
  it('dies with a killed holder: the next command does not wait on it', async () => {
    const marker = `${lab.hostDir('xs-01')}/tmp/holding-pool-lock`;
    const holder = spawn(process.execPath, [HOLD_POOL_LOCK], { env: lab.env('xs-01'), stdio: 'ignore' });
    const gone = new Promise((resolve) => holder.on('close', resolve));
    const deadline = Date.now() + 20_000;
    while (!fs.existsSync(marker)) {
      if (Date.now() > deadline) throw new Error('the holder never took the lock');
      await new Promise((r) => setTimeout(r, 20));
    }
    holder.kill('SIGKILL');
    await gone;
    // A lock that outlived its holder would make xe give up after its 30 s wait, with an error.
    expect(lab.xe('xs-02', 'vm-param-set', `uuid=${vmUuid()}`, 'name-description=after-a-crash')).toMatchObject({ code: 0, stderr: '' });
  });
});
