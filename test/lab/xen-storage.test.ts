/**
 * iSCSI and multipath on the simulated hosts (the iSCSI multipath notes): a cut storage path shows in
 * `multipath -ll`, the forward and reverse techniques repair it, open-iscsi and multipathing
 * state decide what a reboot brings back.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyFault } from '../../lab/sim/xen/faults.mjs';
import { XenLab } from './xen-lab.ts';

let lab: XenLab;
beforeEach(() => {
  lab = new XenLab();
});
afterEach(() => lab.dispose());

const paths = (host: string) => lab.run(host, 'multipath', ['-ll']).stdout.split('\n').filter((l) => /sd[a-z] /.test(l));
const states = (host: string) => paths(host).map((l) => l.replace(/.* \d+:\d+ +/, '').replace(/ +/g, ' '));
const iscsi = (host: string, ...args: string[]) => lab.run(host, 'iscsiadm', args);
const sessions = (host: string) => iscsi(host, '-m', 'session').stdout.split('\n').filter(Boolean);
const storagePbd = (host: string) => lab.minimal('xs-01', 'pbd-list', `host-uuid=${lab.hostUuid(host)}`, `sr-uuid=${lab.minimal('xs-01', 'sr-list', 'type=lvmoiscsi')}`);

describe('a cut storage path', () => {
  it('shows failed faulty in multipath -ll with its session gone, and the reverse technique repairs it', () => {
    expect(applyFault(lab.root, 'xs-02', 'cut-path', [], false)).toBe('xs-02: iSCSI session to 10.10.2.10 lost, its path failed');
    expect(states('xs-02')).toEqual(['active ready running', 'failed faulty running']);
    expect(sessions('xs-02')).toEqual(['tcp: [1] 10.10.1.10:3260,1 iqn.2008-01.com.openfiler:store01.lun01 (non-flash)']);
    expect(iscsi('xs-02', '-m', 'node', '-u', 'all').code).toBe(0);
    expect(paths('xs-02')).toEqual([]);
    expect(iscsi('xs-02', '-m', 'node', '-L', 'all').code).toBe(0);
    expect(states('xs-02')).toEqual(['active ready running', 'active ready running']);
    expect(sessions('xs-02')).toHaveLength(2);
  });

  it('is repaired by the forward technique too, which reports the session already there (exit 15)', () => {
    applyFault(lab.root, 'xs-02', 'cut-path', ['10.10.1.10'], false);
    const discovery = iscsi('xs-02', '-m', 'discovery', '-t', 'sendtargets', '-p', '10.10.1.10');
    expect(discovery.stdout).toBe('10.10.1.10:3260,1 iqn.2008-01.com.openfiler:store01.lun01\n10.10.2.10:3260,1 iqn.2008-01.com.openfiler:store01.lun01\n');
    const login = iscsi('xs-02', '-m', 'node', '-L', 'all');
    expect(login.code).toBe(15);
    expect(login.stderr).toBe('iscsiadm: default: 1 session requested, but 1 already present.\niscsiadm: Could not log into all portals\n');
    expect(login.stdout).toMatch(/^Logging in to .*portal: 10\.10\.1\.10,3260\]\nLogin to .*portal: 10\.10\.1\.10,3260\] successful\.\n$/);
    expect(states('xs-02')).toEqual(['active ready running', 'active ready running']);
  });

  it('with the link down: no ping, no discovery, no login, until the fault is lifted', () => {
    applyFault(lab.root, 'xs-03', 'cut-path', ['10.10.2.10', 'network'], false);
    const ping = lab.run('xs-03', 'ping', ['-c', '3', '-W', '1', '10.10.2.10']);
    expect([ping.code, ping.stdout.includes('3 packets transmitted, 0 received, 100% packet loss')]).toEqual([1, true]);
    expect(lab.run('xs-03', 'ping', ['-c', '1', '10.10.1.10']).code).toBe(0);
    expect(states('xs-03')).toEqual(['active ready running', 'failed faulty running']);
    expect(sessions('xs-03')).toHaveLength(2);
    const discovery = iscsi('xs-03', '-m', 'discovery', '-t', 'sendtargets', '-p', '10.10.2.10');
    expect(discovery.code).toBe(4);
    expect(discovery.stderr.split('\n').slice(-3)).toEqual(['iscsiadm: connection login retries (reopen_max) 5 exceeded', 'iscsiadm: Could not perform SendTargets discovery: encountered connection failure', '']);
    iscsi('xs-03', '-m', 'node', '-u', 'all');
    const login = iscsi('xs-03', '-m', 'node', '-L', 'all');
    expect(login.code).toBe(8);
    expect(login.stderr).toContain('iscsiadm: initiator reported error (8 - connection timed out)\n');
    expect(states('xs-03')).toEqual(['active ready running']);
    applyFault(lab.root, 'xs-03', 'cut-path', ['10.10.2.10', 'network'], true);
    expect(lab.run('xs-03', 'ping', ['-c', '1', '10.10.2.10']).code).toBe(0);
    expect(iscsi('xs-03', '-m', 'node', '-T', 'iqn.2008-01.com.openfiler:store01.lun01', '-p', '10.10.2.10', '--login').code).toBe(0);
    expect(states('xs-03')).toEqual(['active ready running', 'active ready running']);
  });
});

describe('open-iscsi and multipath state', () => {
  it('loses its sessions when open-iscsi stops and cannot log in without iscsid', () => {
    lab.setService('xs-02', 'open-iscsi', 'stopped');
    expect(iscsi('xs-02', '-m', 'session')).toEqual({ stdout: '', stderr: 'iscsiadm: No active sessions.\n', code: 21 });
    expect(lab.run('xs-02', 'multipath', ['-ll']).stdout).toBe('');
    const login = iscsi('xs-02', '-m', 'node', '-L', 'all');
    expect(login.code).toBe(20);
    expect(login.stderr).toContain('iscsiadm: can not connect to iSCSI daemon (111)!\n');
    expect(iscsi('xs-02', '-m', 'discovery', '-t', 'st', '-p', '10.10.1.10').code).toBe(20);
    expect(iscsi('xs-02', '-m', 'node', '-u', 'all')).toEqual({ stdout: '', stderr: 'iscsiadm: No matching sessions found\n', code: 21 });
  });

  it('comes back from a reboot without sessions when open-iscsi is disabled, with them when enabled', () => {
    writeFileSync(join(lab.hostDir('xs-02'), 'services', 'open-iscsi.disabled'), '');
    lab.setService('xs-02', 'open-iscsi', 'stopped');
    lab.reboot('xs-02');
    expect(sessions('xs-02')).toEqual([]);
    expect(lab.xe('xs-01', 'pbd-param-get', `uuid=${storagePbd('xs-02')}`, 'param-name=currently-attached').stdout).toBe('false\n');
    lab.setService('xs-02', 'open-iscsi', 'running');
    expect(lab.xe('xs-01', 'pbd-plug', `uuid=${storagePbd('xs-02')}`).code).toBe(0);
    expect(sessions('xs-02')).toHaveLength(2);
    lab.reboot('xs-02');
    expect(sessions('xs-02')).toEqual([]);
    rmSync(join(lab.hostDir('xs-02'), 'services', 'open-iscsi.disabled'));
    lab.reboot('xs-02');
    expect(sessions('xs-02')).toHaveLength(2);
    expect(lab.xe('xs-01', 'pbd-param-get', `uuid=${storagePbd('xs-02')}`, 'param-name=currently-attached').stdout).toBe('true\n');
  });

  it('shows no maps while the host multipathing is inactive, and warns when multipathd is stopped', () => {
    const host = lab.hostUuid('xs-02');
    lab.xe('xs-01', 'host-param-set', `uuid=${host}`, 'other-config:multipathing=false');
    expect(lab.run('xs-02', 'multipath', ['-ll']).stdout).toBe('');
    lab.xe('xs-01', 'host-param-set', `uuid=${host}`, 'other-config:multipathing=true');
    expect(paths('xs-02')).toHaveLength(2);
    lab.setService('xs-02', 'multipathd', 'stopped');
    expect(lab.run('xs-02', 'multipath', ['-ll']).stderr).toBe('Warning: multipath devices exist, but multipathd service is not running\n');
  });

  it('fails a PBD plug when no portal answers', () => {
    applyFault(lab.root, 'xs-03', 'cut-path', ['10.10.1.10', 'network'], false);
    applyFault(lab.root, 'xs-03', 'cut-path', ['10.10.2.10', 'network'], false);
    iscsi('xs-03', '-m', 'node', '-u', 'all');
    lab.xe('xs-01', 'pbd-unplug', `uuid=${storagePbd('xs-03')}`);
    const plug = lab.xe('xs-01', 'pbd-plug', `uuid=${storagePbd('xs-03')}`);
    expect(plug).toEqual({ stdout: '', stderr: 'Error code: SR_BACKEND_FAILURE_141\nError parameters: , Unable to connect to ISCSI service on target, \n', code: 1 });
  });
});

// What an xe call costs is measured by bench/xe-call.ts: a timing, not a test.

describe('the open-iscsi init script hook', () => {
  it('logs out on stop and back in to the recorded nodes on start (node.startup = automatic)', async () => {
    const { execFileSync } = await import('node:child_process');
    const script = join(import.meta.dirname, '..', '..', 'lab', 'sim', 'xen', 'iscsi-service.mjs');
    applyFault(lab.root, 'xs-02', 'cut-path', [], false);
    execFileSync('node', [script, 'stop'], { env: lab.env('xs-02') });
    expect(sessions('xs-02')).toEqual([]);
    execFileSync('node', [script, 'start'], { env: lab.env('xs-02') });
    expect(states('xs-02')).toEqual(['active ready running', 'active ready running']);
  });
});

describe("the iSCSI multipath notes' reverse technique, step by step", () => {
  it('brings a host that sees one path back to two', () => {
    const host = lab.hostUuid('xs-02');
    applyFault(lab.root, 'xs-02', 'cut-path', [], false);
    expect(iscsi('xs-02', '-m', 'node', '-u', 'all').code).toBe(0);
    lab.setService('xs-02', 'open-iscsi', 'stopped');
    expect(lab.xe('xs-01', 'host-param-set', `uuid=${host}`, 'other-config:multipathing=false').code).toBe(0);
    lab.power('xs-02', 'rebooting');
    lab.setService('xs-02', 'open-iscsi', 'running'); // started at boot: not disabled
    lab.power('xs-02', 'running');
    expect(sessions('xs-02')).toHaveLength(1); // the SM logged in to the PBD's target portal only
    expect(paths('xs-02')).toEqual([]);
    expect(lab.xe('xs-01', 'host-param-set', `uuid=${host}`, 'other-config:multipathing=true').code).toBe(0);
    for (const portal of ['10.10.1.10', '10.10.2.10']) expect(iscsi('xs-02', '-m', 'discovery', '-t', 'sendtargets', '-p', portal).code).toBe(0);
    const login = iscsi('xs-02', '-m', 'node', '-L', 'all');
    expect(login.code).toBe(15); // one session was already there
    expect(states('xs-02')).toEqual(['active ready running', 'active ready running']);
  });
});

describe('discovery with login', () => {
  it('logs in to the discovered nodes when given -l', () => {
    iscsi('xs-02', '-m', 'node', '-u', 'all');
    const out = iscsi('xs-02', '-m', 'discovery', '-t', 'sendtargets', '-p', '10.10.2.10:3260', '-l');
    expect(out.code).toBe(0);
    expect(out.stdout.split('\n').filter((l) => l.startsWith('Login to'))).toHaveLength(2);
    expect(sessions('xs-02')).toHaveLength(2);
  });
});
