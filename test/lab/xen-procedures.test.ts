/**
 * The lab support issue 20's runbooks read, without SSH: the HA daemon's xhad.conf per armed host,
 * the kern.log and crash dumps a crash leaves, the hotfixes of `xe patch-list`, the LVM/VHD layer
 * under an LVM SR and VDI_MISSING at vm-start, and the running management MTU behind `ip link`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deriveTimeouts } from '../../lab/sim/xen/ha-daemon.mjs';
import { applyFault } from '../../lab/sim/xen/faults.mjs';
import { XenLab } from './xen-lab.ts';

let lab: XenLab;
beforeEach(() => { lab = new XenLab(); });
afterEach(() => lab.dispose());

const file = (host: string, path: string) => { try { return readFileSync(join(lab.hostDir(host), path), 'utf8'); } catch { return undefined; } };
const sr = () => lab.minimal('xs-01', 'sr-list', 'type=lvmoiscsi');
const vm = () => lab.minimal('xs-01', 'vm-list', 'name-label=ubuntu-01');
const disk = () => lab.minimal('xs-01', 'vbd-list', `vm-uuid=${vm()}`, 'type=Disk', 'params=vdi-uuid');
const device = () => `/dev/VG_XenStorage-${sr()}/VHD-${disk()}`;

describe('HA daemon configuration (the HA timeout notes)', () => {
  it('derives the daemon timeouts from ha-config:timeout as xapi does', () => {
    expect(Object.fromEntries(deriveTimeouts(120))).toMatchObject({ HeartbeatInterval: 13, HeartbeatTimeout: 120, StateFileTimeout: 120, StateFileWatchdogTimeout: 135, BootJoinTimeout: 180 });
    expect(Object.fromEntries(deriveTimeouts(30))).toMatchObject({ HeartbeatInterval: 4, HeartbeatTimeout: 30 });
  });

  it('writes xhad.conf on every armed member with its own host id, and drops it on the host an emergency disable disarms', () => {
    const xs02 = lab.minimal('xs-01', 'host-list', 'name-label=xs-02');
    expect(file('xs-02', 'etc/xensource/xhad.conf')).toContain(`<localhost>\n      <HostID>${xs02}</HostID>\n      <HeartbeatInterface>xapi1</HeartbeatInterface>`);
    expect(file('xs-02', 'etc/xensource/xhad.conf')).toMatch(/^<\?xml version="1.0" encoding="utf-8"\?>\n<xhad-config version="1.0">\n {2}<common-config>/);
    expect(lab.xe('xs-02', 'host-emergency-ha-disable', 'force=true').code).toBe(0);
    expect(file('xs-02', 'etc/xensource/xhad.conf')).toBeUndefined();
  });
});

describe('crash evidence and hotfixes (the host crash notes)', () => {
  it('lists XS 6.1 hotfixes with the hosts they are applied on, the last missing on xs-03', () => {
    const hosts = ['xs-01', 'xs-02', 'xs-03'].map((h) => lab.minimal('xs-01', 'host-list', `name-label=${h}`));
    const out = lab.xe('xs-01', 'patch-list', 'name-label=XS61E009').stdout;
    expect(out).toMatch(/^uuid \( RO\) +: [0-9a-f-]{36}\n +name-label \( RO\): XS61E009\n/);
    expect(out).toContain(`hosts (SRO): ${hosts[0]}, ${hosts[1]}\n`);
    expect(out).toContain('after-apply-guidance (SRO): restartHost\n');
  });

  it('a crash leaves kern.log lines and a crash dump; --off puts both back', () => {
    const boot = file('xs-02', 'var/log/kern.log');
    expect(boot).toMatch(/^Sep 26 00:00:01 xs-02 kernel: \[ {4}0\.000000\] Linux version 2\.6\.32/);
    applyFault(lab.root, 'xs-02', 'crash', ['oom']);
    applyFault(lab.root, 'xs-02', 'crash', ['panic']);
    expect(file('xs-02', 'var/log/kern.log')).toContain('kernel: [11234.568230] Killed process 4620 (xapi) vsz:281652kB');
    expect(lab.minimal('xs-01', 'host-crashdump-list', 'params=timestamp')).toBe('20130926T03:47:09Z');
    applyFault(lab.root, 'xs-02', 'crash', [], true);
    expect(file('xs-02', 'var/log/kern.log')).toBe(boot);
    expect(lab.minimal('xs-01', 'host-crashdump-list')).toBe('');
  });
});

describe('LVM/VHD under the VM (the VDI-not-found and LVM over iSCSI notes)', () => {
  it('prints lvs in LVM2 2.02 columns and vhd-util check as blktap does', () => {
    expect(lab.run('xs-02', 'lvs', [`VG_XenStorage-${sr()}`]).stdout).toMatch(new RegExp(`^ {2}LV +VG +Attr +LSize\\n(.*\\n)* {2}VHD-${disk()} VG_XenStorage-${sr()} -wi-a- 8\\.01g\\n`));
    expect(lab.run('xs-02', 'lvs', ['VG_XenStorage-nope'])).toMatchObject({ code: 5, stderr: '  Volume group "VG_XenStorage-nope" not found\n' });
    expect(lab.run('xs-02', 'vhd-util', ['check', '-n', device()])).toMatchObject({ code: 0, stdout: `${device()} is valid\n` });
  });

  it('fails vm-start with VDI_MISSING until sr-scan finds the disk again, and activates an inactive LV itself', () => {
    lab.xe('xs-01', 'vm-shutdown', 'vm=ubuntu-01');
    applyFault(lab.root, 'xs-01', 'vdi-broken', ['ubuntu-01', 'missing']);
    applyFault(lab.root, 'xs-01', 'vdi-broken', ['ubuntu-01', 'lv-inactive']);
    expect(lab.run('xs-02', 'lvs', ['--noheadings', '-o', 'lv_attr', device()]).stdout).toBe('  -wi---\n');
    const refused = lab.xe('xs-01', 'vm-start', 'vm=ubuntu-01');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`This operation cannot be performed because the specified VDI could not be found on the storage substrate\nsr: ${sr()}\nvdi: ${disk()}\n`);
    expect(lab.xe('xs-01', 'sr-scan', `uuid=${sr()}`).code).toBe(0);
    expect(lab.minimal('xs-01', 'vdi-param-get', `uuid=${disk()}`, 'param-name=missing')).toBe('false');
    expect(lab.xe('xs-01', 'vm-start', 'vm=ubuntu-01', 'on=xs-02').code).toBe(0);
    expect(lab.run('xs-02', 'lvs', ['--noheadings', '-o', 'lv_attr', device()]).stdout).toBe('  -wi-a-\n');
  });

  it('repairs a corrupt VHD with vhd-util repair, logged as a change', () => {
    applyFault(lab.root, 'xs-01', 'vdi-broken', ['ubuntu-01', 'vhd-corrupt']);
    expect(lab.run('xs-02', 'vhd-util', ['check', '-n', device()])).toMatchObject({ code: 234, stdout: `primary footer invalid: invalid cookie\n${device()} appears invalid; dumping metadata\n` });
    expect(lab.run('xs-02', 'vhd-util', ['repair', '-n', device()]).code).toBe(0);
    expect(lab.run('xs-02', 'vhd-util', ['check', '-n', device()]).code).toBe(0);
    expect(file('xs-02', 'mutations.jsonl')).toContain(`"argv":["vhd-util","repair","-n","${device()}"]`);
  });
});

describe('management MTU (the management jumbo frames note)', () => {
  it('runs the bond at 9000 after the fault until the management PIF is re-plugged with the database at 1500', () => {
    const mtu = () => /mtu (\d+)/.exec(lab.run('xs-02', 'ip', ['link', 'show', 'bond0']).stdout)?.[1];
    applyFault(lab.root, 'xs-02', 'jumbo-mtu', []);
    expect(mtu()).toBe('9000');
    const pif = lab.minimal('xs-01', 'pif-list', `host-uuid=${lab.minimal('xs-01', 'host-list', 'name-label=xs-02')}`, 'management=true');
    expect(lab.xe('xs-01', 'pif-param-remove', `uuid=${pif}`, 'param-name=other-config', 'param-key=mtu').code).toBe(0);
    expect(mtu()).toBe('9000');
    expect(lab.xe('xs-01', 'pif-plug', `uuid=${pif}`).code).toBe(0);
    expect(mtu()).toBe('1500');
  });
});
