/**
 * The XenServer-domain commands print what the real tools print: compared to recorded samples in
 * test/fixtures/xen (see its README for where each comes from), after replacing uuids and timings.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyFault } from '../../lab/sim/xen/faults.mjs';
import { XenLab } from './xen-lab.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'xen');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
/** The label column of a record listing (everything before ": "), uuids masked. */
const labels = (text: string) => text.split('\n').map((line) => line.replace(UUID, '<uuid>').split(': ')[0]);
const timings = (text: string) => text.replace(/time=[\d.]+ ms/g, 'time=T ms').replace(/time \d+ms/g, 'time Tms').replace(/= [\d./]+ ms/g, '= R ms');

let lab: XenLab;
beforeAll(() => {
  lab = new XenLab();
});
afterAll(() => lab.dispose());

describe('xe record output', () => {
  it('lays out vm-list records as xapi does: padded labels, two blank lines after each record', () => {
    lab.xe('xs-01', 'vm-shutdown', 'vm=ubuntu-01');
    const out = lab.xe('xs-01', 'vm-list', 'params=uuid,name-label,power-state').stdout;
    const records = out.split('\n\n\n').filter(Boolean);
    const sample = fixture('xe-vm-list.txt').split('\n\n\n').filter(Boolean);
    for (const record of records) expect(labels(record)).toEqual(labels(sample[0]));
    expect(out.endsWith('running\n\n\n') || out.endsWith('halted\n\n\n')).toBe(true);
    expect(out).toContain('     name-label ( RW): ubuntu-01\n    power-state ( RO): halted\n');
    lab.xe('xs-01', 'vm-start', 'vm=ubuntu-01');
  });

  it('marks fields RO/RW, maps MRW with "k: v; k: v" and sets SRO as XenServer documents', () => {
    const vm = lab.minimal('xs-01', 'vm-list', 'name-label=ubuntu-01');
    const out = lab.xe('xs-01', 'vm-param-list', `uuid=${vm}`).stdout;
    for (const line of fixture('xe-vm-param-list.xs401.txt').trim().split('\n')) {
      const [label] = line.trim().split(': ');
      expect(out).toMatch(new RegExp(`^ +${label.replace(/[()]/g, '\\$&')}: `, 'm'));
    }
    expect(out).toMatch(/^ +platform \(MRW\): nx: true; acpi: 1; apic: true; pae: true; viridian: true$/m);
    expect(out).toMatch(/^ +VBDs \(SRO\): [0-9a-f-]{36}; [0-9a-f-]{36}$/m);
    const width = out.split('\n')[0].indexOf(':');
    for (const line of out.trim().split('\n')) expect(line.indexOf(': ')).toBe(width);
  });

  it('prints vm-disk-list as "Disk N VBD:" and "Disk N VDI:" tables, fields in record order', () => {
    const out = lab.xe('xs-01', 'vm-disk-list', 'vm=ubuntu-01').stdout;
    expect(out.replace(UUID, '<uuid>')).toBe(
      'Disk 0 VBD:\nuuid ( RO)             : <uuid>\n    vm-name-label ( RO): ubuntu-01\n       userdevice ( RW): 0\n\n\n' +
        'Disk 0 VDI:\nuuid ( RO)             : <uuid>\n       name-label ( RW): ubuntu-01 0\n    sr-name-label ( RO): iSCSI storage\n     virtual-size ( RO): 8589934592\n\n\n',
    );
  });

  it('escapes nothing and joins first columns with commas under --minimal; prints an empty line for no match', () => {
    expect(lab.xe('xs-01', 'host-list', '--minimal').stdout).toMatch(/^[0-9a-f-]{36},[0-9a-f-]{36},[0-9a-f-]{36}\n$/);
    expect(lab.xe('xs-01', 'vm-list', 'name-label=nope', '--minimal').stdout).toBe('\n');
    expect(lab.xe('xs-01', 'vm-list', 'name-label=nope').stdout).toBe('');
  });
});

describe('iscsiadm, multipath and ping output', () => {
  it('lists sessions as session_info.c prints them', () => {
    expect(lab.run('xs-02', 'iscsiadm', ['-m', 'session']).stdout).toBe(fixture('iscsiadm-session.txt'));
  });

  it('prints logout and login of all nodes as session_mgmt.c does', () => {
    const out = lab.run('xs-03', 'iscsiadm', ['-m', 'node', '-u', 'all']);
    expect(out).toEqual({ stdout: fixture('iscsiadm-logout-all.txt'), stderr: '', code: 0 });
    const login = lab.run('xs-03', 'iscsiadm', ['-m', 'node', '-L', 'all']);
    expect(login).toEqual({ stdout: fixture('iscsiadm-login-all.txt'), stderr: '', code: 0 });
  });

  it('prints multipath -ll in multipath-tools 0.4.9 layout', () => {
    const out = lab.run('xs-02', 'multipath', ['-ll']).stdout.split('\n');
    const sample = fixture('multipath-ll.rhel6.txt').split('\n');
    expect(out[0]).toMatch(/^1[0-9a-f]{48} dm-0 OPNFILER,VIRTUAL-DISK$/);
    expect(out[1].replace(/size=\S+/, 'size=S')).toBe(sample[1].replace(/size=\S+/, 'size=S'));
    expect(out[2]).toBe(sample[4].replace('enabled', 'active'));
    const pathLine = /^[ |] [|`]- \d+:\d+:\d+:\d+ sd[a-z] \d+:\d+ +(active|failed) (ready |faulty) running$/;
    for (const line of [sample[3], sample[5], out[3], out[4]]) expect(line).toMatch(pathLine);
    expect(out[3]).toBe('  |- 3:0:0:0 sdb 8:16  active ready  running');
    expect(out[4]).toBe('  `- 4:0:0:0 sdc 8:32  active ready  running');
  });

  it('pings a reachable portal and loses every packet to an unknown address', () => {
    const ok = lab.run('xs-02', 'ping', ['-c', '2', '-W', '1', '10.10.1.10']);
    expect(ok.code).toBe(0);
    expect(timings(ok.stdout)).toBe(timings(fixture('ping-ok.txt')));
    const lost = lab.run('xs-02', 'ping', ['-c', '2', '-W', '1', '10.10.2.99']);
    expect(lost.code).toBe(1);
    expect(timings(lost.stdout)).toBe(timings(fixture('ping-lost.txt')).replace(/10\.10\.2\.10/g, '10.10.2.99'));
  });
});

describe('the XenServer 6.x dom0 formats (dom0_tools: xs6)', () => {
  it('prints multipath -ll in 0.4.7 brackets and sessions without "(non-flash)"', async () => {
    const { ESTATE } = await import('./xen-lab.ts');
    const old = new XenLab(ESTATE.map((h) => ({ ...h, vars: { ...h.vars, dom0_tools: 'xs6' } })));
    try {
      applyFault(old.root, 'xs-02', 'cut-path', [], false);
      const out = old.run('xs-02', 'multipath', ['-ll']).stdout.split('\n');
      const sample = fixture('multipath-ll.047.txt').split('\n');
      expect(out[1]).toBe('[size=500G][features=0][hwhandler=0][rw]');
      expect(sample[1]).toMatch(/^\[size=\S+\]\[features=[^\]]+\]\[hwhandler=\d\]\[rw\]$/);
      expect(out[2]).toBe('\\_ round-robin 0 [prio=1][active]');
      const path = /^ \\_ \d+:\d+:\d+:\d+ sd[a-z] \d+:\d+ \[(active|failed)\]\[(ready|faulty)\]$/;
      for (const line of [sample[3], sample[5], out[3], out[4]]) expect(line).toMatch(path);
      expect(out[4]).toBe(' \\_ 4:0:0:0 sdc 8:32 [failed][faulty]');
      expect(old.run('xs-02', 'iscsiadm', ['-m', 'session']).stdout).toBe('tcp: [1] 10.10.1.10:3260,1 iqn.2008-01.com.openfiler:store01.lun01\n');
    } finally {
      old.dispose();
    }
  });
});
