import { describe, expect, it } from 'vitest';
import {
  NOT_IN_DATABASE, parseVmDiskList, parseXeBool, parseXeMap, parseXeMinimal, parseXeParamGet, parseXeRecords, parseXeSet, xeRef, XeParseError,
} from '../../src/tasks/xe/parse.ts';
import { fixture } from '../fixtures/tasks/fake.ts';

describe('parseXeRecords on recorded output', () => {
  it.each([
    { file: 'xe/host-list-params-all-xs65.txt', count: 1, first: { uuid: '760a1e5e-c439-42f9-bf5a-480e2bb2b959', 'name-label': 'localhost.localdomain', address: '10.1.6.125' } },
    { file: 'xe/host-list-two-hosts-xs83.txt', count: 2, first: { uuid: 'cab0f673-8369-4441-b6f1-9fc532f5c333', 'name-label': 'xen-sec-01', enabled: 'true' } },
    { file: 'xe/network-list.txt', count: 2, first: { 'name-label': 'Pool-wide network associated with eth1', 'name-description': '', bridge: 'xenbr1' } },
    { file: 'xe/vm-list-one.txt', count: 1, first: { 'name-label': 'CentOS 7', 'power-state': 'running' } },
    { file: 'xe/pbd-list-xostor.txt', count: 2, first: { 'host-uuid': '4bac16be-b25b-4d0b-a159-8f5bda930640', 'currently-attached': 'true' } },
    { file: 'xe/pool-list-ha-enabled.txt', count: 1, first: { 'ha-enabled': 'true', 'ha-configuration': 'timeout: 120' } },
    { file: 'xe/vm-list-edge-cases.txt', count: 2, first: { 'name-label': "x'; rm -rf / #", 'resident-on': NOT_IN_DATABASE, 'PV-args': 'console=hvc0 root=/dev/xvda1: ro' } },
  ])('$file: $count record(s)', ({ file, count, first }) => {
    const records = parseXeRecords(fixture(file));
    expect(records).toHaveLength(count);
    for (const [name, value] of Object.entries(first)) expect(records[0].text(name)).toBe(value);
  });

  it('reads the markers: map, set, access, deprecated', () => {
    const [host] = parseXeRecords(fixture('xe/host-list-params-all-xs65.txt'));
    expect(host.field('other-config')).toMatchObject({ kind: 'map', access: 'RW' });
    expect(host.field('allowed-operations')).toMatchObject({ kind: 'set', access: 'RO' });
    expect(host.field('enabled')).toMatchObject({ kind: 'value', access: 'RO', deprecated: false });
    const [vm] = parseXeRecords(fixture('xe/vm-list-edge-cases.txt'));
    expect(vm.field('name-description')).toMatchObject({ deprecated: true, raw: 'first line' });
  });

  it('parses map values whose values hold colons, and sets with a trailing separator', () => {
    const [host] = parseXeRecords(fixture('xe/host-list-params-all-xs65.txt'));
    expect(host.map('other-config')).toEqual({ iscsi_iqn: 'iqn.2017-11.com.example:84d11aab', agent_start_time: '1510282797.', boot_time: '1510282722.' });
    expect(host.map('software-version')['xs:main']).toBe('XenServer Pack, version 6.5.0, build 90233c');
    expect(host.set('capabilities')).toEqual(['xen-3.0-x86_64', 'xen-3.0-x86_32p', 'hvm-3.0-x86_32', 'hvm-3.0-x86_32p', 'hvm-3.0-x86_64']);
    expect(host.set('patches')).toEqual([]);
    expect(host.map('logging')).toEqual({});
    expect(host.bool('host-metrics-live')).toBe(true);
    expect(host.text('memory-free-computed')).toBe('<expensive field>');
  });

  it.each([
    { name: 'empty output', text: '', count: 0 },
    { name: 'only blank lines', text: '\n\n\n', count: 0 },
    { name: 'one record, no trailing blank lines', text: 'uuid ( RO)    : a\n    name ( RW): b', count: 1 },
    { name: 'records with no blank line between them', text: 'uuid ( RO): a\nuuid ( RO): b\n', count: 2 },
    { name: 'CRLF line ends', text: 'uuid ( RO): a\r\n  name ( RW): b\r\n\r\n\r\n', count: 1 },
  ])('$name → $count record(s)', ({ text, count }) => {
    expect(parseXeRecords(text)).toHaveLength(count);
  });

  it('keeps a value that runs over several lines', () => {
    const [r] = parseXeRecords('uuid ( RO)                : a\n    name-description ( RW): one\ntwo\n\n\n');
    expect(r.text('name-description')).toBe('one\ntwo');
  });

  it('refuses text that is not a record, and names a missing field', () => {
    expect(() => parseXeRecords('The uuid you supplied was invalid.\n')).toThrow(XeParseError);
    const [r] = parseXeRecords(fixture('xe/vm-list-one.txt'));
    expect(() => r.text('resident-on')).toThrow(/no field "resident-on".*uuid, name-label, power-state/);
  });
});

describe('small value parsers', () => {
  it.each([
    { text: '', want: [] },
    { text: '\n', want: [] },
    { text: 'a\n', want: ['a'] },
    { text: 'a,b,c\n', want: ['a', 'b', 'c'] },
    { text: 'with\\, comma,back\\\\slash\n', want: ['with, comma', 'back\\slash'] },
  ])('parseXeMinimal($text)', ({ text, want }) => {
    expect(parseXeMinimal(text)).toEqual(want);
  });

  it.each([
    { raw: '', want: {} },
    { raw: 'timeout: 120', want: { timeout: '120' } },
    { raw: 'target: 10.10.1.10; targetIQN: iqn.2006-01.com.example:storage; SCSIid: 360030d90', want: { target: '10.10.1.10', targetIQN: 'iqn.2006-01.com.example:storage', SCSIid: '360030d90' } },
    { raw: 'empty:; k: v', want: { empty: '', k: 'v' } },
  ])('parseXeMap($raw)', ({ raw, want }) => {
    expect(parseXeMap(raw)).toEqual(want);
  });

  it('refuses a map entry without a key', () => {
    expect(() => parseXeMap('just words')).toThrow(XeParseError);
  });

  it.each([
    { raw: '', want: [] },
    { raw: 'a', want: ['a'] },
    { raw: 'pause; clean_shutdown; hard_reboot', want: ['pause', 'clean_shutdown', 'hard_reboot'] },
  ])('parseXeSet($raw)', ({ raw, want }) => {
    expect(parseXeSet(raw)).toEqual(want);
  });

  it.each([
    { raw: 'true\n', want: true }, { raw: 'false', want: false }, { raw: 'True', want: true }, { raw: 'FALSE', want: false },
  ])('parseXeBool($raw) = $want', ({ raw, want }) => {
    expect(parseXeBool(raw)).toBe(want);
  });

  it('parseXeBool refuses anything else', () => {
    expect(() => parseXeBool('yes', 'enabled')).toThrow(/enabled: expected true or false/);
  });

  it('param-get output is the value without its newline, inner spaces kept', () => {
    expect(parseXeParamGet('console=tty0 xencons=tty\n')).toBe('console=tty0 xencons=tty');
    expect(parseXeParamGet('\n')).toBe('');
  });

  it('xeRef drops the placeholders of deleted objects', () => {
    expect(xeRef(NOT_IN_DATABASE)).toBeUndefined();
    expect(xeRef('')).toBeUndefined();
    expect(xeRef('a1')).toBe('a1');
  });
});

describe('parseVmDiskList', () => {
  it('reads the recorded VyOS listing (the HVM-to-PV guide procedure)', () => {
    const [disk] = parseVmDiskList(fixture('xe/vm-disk-list-vyos.txt'));
    expect(disk.kind).toBe('Disk');
    expect(disk.index).toBe(0);
    expect(disk.vbd.uuid).toBe('15ef5e96-9682-2db7-df6e-25f3c1acab80');
    expect(disk.vbd.text('userdevice')).toBe('0');
    expect(disk.vdi?.uuid).toBe('aeaf3bfa-b396-4e9e-bb33-3b6770a1897a');
    expect(disk.vdi?.text('sr-name-label')).toBe('Local B SR');
  });

  it('pairs each VBD with its VDI over several disks', () => {
    const disks = parseVmDiskList(fixture('xe/vm-disk-list-disk-and-cd.txt'));
    expect(disks.map((d) => [d.index, d.vbd.uuid.slice(0, 8), d.vdi?.uuid.slice(0, 8)])).toEqual([[0, 'b0000000', 'd0000000'], [1, 'b1111111', 'd1111111']]);
  });

  it('an empty CD has a VBD and no VDI; no disks is an empty list', () => {
    const disks = parseVmDiskList('CD 0 VBD:\nuuid ( RO)         : c0\n    userdevice ( RW): 3\n    empty ( RO): true\n\n\n');
    expect(disks).toHaveLength(1);
    expect(disks[0]).toMatchObject({ kind: 'CD', index: 0 });
    expect(disks[0].vdi).toBeUndefined();
    expect(parseVmDiskList('')).toEqual([]);
  });

  it('refuses output that does not start with a disk header', () => {
    expect(() => parseVmDiskList('uuid ( RO): x\n')).toThrow(/expected "Disk N VBD:"/);
  });
});
