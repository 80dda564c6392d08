/**
 * The lab's engineer recorded real-format samples independently (test/fixtures/xen, read-only to
 * the task library): the task parsers must read them too, so the lab and the tasks agree on the
 * tools' formats from two separate readings of the sources.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSessions } from '../../src/tasks/iscsi.ts';
import { activePaths, parseMultipathLl } from '../../src/tasks/multipath.ts';
import { parseXeRecords } from '../../src/tasks/xe/parse.ts';

const lab = (name: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', 'xen', name), 'utf8');

describe("the lab's recorded samples", () => {
  it('xe vm-list: two records, a name-label with ": " in it', () => {
    const records = parseXeRecords(lab('xe-vm-list.txt'));
    expect(records.map((r) => [r.text('name-label'), r.text('power-state')])).toEqual([['Control domain on host: xs-01', 'running'], ['Ubuntu', 'halted']]);
  });

  it('xe vm-param-list (XenServer 4.0.1 guide): the map and set markers', () => {
    const [vm] = parseXeRecords(lab('xe-vm-param-list.xs401.txt'));
    expect(vm.map('platform')).toEqual({ acpi: 'true', apic: 'true', pae: 'true', nx: 'false' });
    expect(vm.bool('is-control-domain')).toBe(false);
  });

  it('iscsiadm -m session', () => {
    expect(parseSessions(lab('iscsiadm-session.txt')).map((s) => `${s.address}:${s.port} ${s.target}`)).toEqual([
      '10.10.1.10:3260 iqn.2008-01.com.openfiler:store01.lun01', '10.10.2.10:3260 iqn.2008-01.com.openfiler:store01.lun01',
    ]);
  });

  it('multipath -ll (RHEL 6 guide)', () => {
    const [lun] = parseMultipathLl(lab('multipath-ll.rhel6.txt'));
    expect([lun.wwid, lun.dm, lun.vendor, lun.product, activePaths(lun).length]).toEqual(['3600d0230000000000e13955cc3757800', 'dm-1', 'WINSYS', 'SF2372', 2]);
  });
});
