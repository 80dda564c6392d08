/**
 * The generic simulated commands as a table: command on a host → exit code, stdout, stderr, and
 * whether it logged a mutation. Rows run in order on one lab (later rows see earlier changes).
 */
import type ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMutations, type Lab } from '../../lab/lab.ts';
import { connect, exec, testLab } from './infra-helpers.ts';

interface Row {
  host: string;
  command: string;
  code: number;
  stdout?: RegExp | string;
  stderr?: RegExp | string;
  /** The argv the mutation log gains; omitted = the command must log nothing. */
  logs?: string[];
}

const ROWS: Row[] = [
  // service and init scripts: RHEL 5 on XenServer dom0
  { host: 'xs-01', command: 'service ntpd status', code: 0, stdout: 'ntpd (pid  2712) is running...\n' },
  { host: 'xs-01', command: 'service ntpd stop', code: 0, stdout: /^Shutting down ntpd: +\[ {2}OK {2}\]\n$/, logs: ['/etc/init.d/ntpd', 'stop'] },
  { host: 'xs-01', command: '/etc/init.d/ntpd stop', code: 0, stdout: /\[FAILED\]\n$/, logs: ['/etc/init.d/ntpd', 'stop'] },
  { host: 'xs-01', command: '/etc/init.d/ntpd status', code: 3, stdout: 'ntpd is stopped\n' },
  { host: 'xs-01', command: 'service ntpd start', code: 0, stdout: /^Starting ntpd: +\[ {2}OK {2}\]\n$/, logs: ['/etc/init.d/ntpd', 'start'] },
  { host: 'xs-01', command: 'service open-iscsi restart', code: 0, stdout: /Stopping iSCSI initiator service: +\[ {2}OK {2}\]\nStarting iSCSI initiator service: +\[ {2}OK {2}\]\n/, logs: ['/etc/init.d/open-iscsi', 'restart'] },
  { host: 'xs-01', command: 'service ntpd', code: 2, stdout: /^Usage: \/etc\/init.d\/ntpd \{start\|stop\|status/ },
  { host: 'xs-01', command: 'service ntp start', code: 1, stderr: 'ntp: unrecognized service\n' },
  { host: 'xs-01', command: 'service', code: 1, stderr: /^Usage: service < option >/ },
  // systemctl and chkconfig over the same state
  { host: 'xs-02', command: 'systemctl stop multipathd.service', code: 0, stdout: '', logs: ['systemctl', 'stop', 'multipathd.service'] },
  { host: 'xs-02', command: 'systemctl is-active multipathd', code: 3, stdout: 'inactive\n' },
  { host: 'xs-02', command: 'service multipathd status', code: 3, stdout: 'multipathd is stopped\n' },
  { host: 'xs-02', command: 'systemctl start nosuch', code: 5, stderr: 'Failed to start nosuch.service: Unit nosuch.service not found.\n' },
  { host: 'xs-02', command: 'chkconfig multipathd off', code: 0, logs: ['chkconfig', 'multipathd', 'off'] },
  { host: 'xs-02', command: 'systemctl is-enabled multipathd', code: 1, stdout: 'disabled\n' },
  { host: 'xs-02', command: 'chkconfig --list multipathd', code: 0, stdout: /^multipathd +0:off\t1:off\t2:off/ },
  // Ubuntu 8.04 LSB scripts
  { host: 'ubuntu-01', command: '/etc/init.d/ntp stop', code: 0, stdout: ' * Stopping NTP server ntpd\n   ...done.\n', logs: ['/etc/init.d/ntp', 'stop'] },
  { host: 'ubuntu-01', command: 'service ntp status', code: 3, stdout: ' * NTP server is not running\n' },
  // the clock
  { host: 'xs-03', command: 'date -s "2012-06-30 23:59:60"', code: 1, stderr: "date: invalid date '2012-06-30 23:59:60'\n" },
  { host: 'xs-03', command: 'date -s "2012-06-30 12:00:00"', code: 0, stdout: 'Sat Jun 30 12:00:00 UTC 2012\n', logs: ['date', '-s', '2012-06-30 12:00:00'] },
  { host: 'xs-03', command: 'date +%Y-%m-%d', code: 0, stdout: '2012-06-30\n' },
  { host: 'xs-03', command: 'date -s', code: 1, stderr: /option requires an argument -- 's'/ },
  { host: 'xs-02', command: 'date +%Y', code: 0, stdout: `${new Date().getUTCFullYear()}\n` },
  // packages on the Ubuntu guest (the HVM-to-PV guide)
  { host: 'ubuntu-01', command: 'dpkg -l linux-image-xen', code: 1, stderr: 'No packages found matching linux-image-xen.\n' },
  { host: 'ubuntu-01', command: "dpkg-query -W -f '${Status}' linux-image-2.6.24-16-generic", code: 0, stdout: 'install ok installed' },
  { host: 'ubuntu-01', command: 'apt-get install linux-image-xen </dev/null', code: 1, stdout: /Do you want to continue \[Y\/n\]\? $/, stderr: 'Abort.\n' },
  { host: 'ubuntu-01', command: 'apt-get install -y linux-image-xen', code: 0, stdout: /The following NEW packages will be installed:\n {2}linux-image-2.6.24-19-xen linux-image-xen\n/, logs: ['apt-get', 'install', '-y', 'linux-image-xen'] },
  { host: 'ubuntu-01', command: 'ls /boot | grep xen', code: 0, stdout: 'System.map-2.6.24-19-xen\nabi-2.6.24-19-xen\nconfig-2.6.24-19-xen\ninitrd.img-2.6.24-19-xen\nvmlinuz-2.6.24-19-xen\n' },
  { host: 'ubuntu-01', command: 'dpkg -s linux-image-xen | sed -n 2p', code: 0, stdout: 'Status: install ok installed\n' },
  { host: 'ubuntu-01', command: 'apt-get install -y linux-image-xen', code: 0, stdout: /linux-image-xen is already the newest version\.\n0 upgraded, 0 newly installed/, logs: ['apt-get', 'install', '-y', 'linux-image-xen'] },
  { host: 'ubuntu-01', command: 'apt-get install -y no-such-package', code: 100, stderr: "E: Couldn't find package no-such-package\n" },
  { host: 'ubuntu-01', command: 'update-grub >/dev/null; grep -c 19-xen /boot/grub/menu.lst', code: 1, stdout: '0\n', logs: ['update-grub'] },
  { host: 'xs-01', command: 'apt-get install -y linux-image-xen', code: 127, stderr: 'sh: apt-get: command not found\n' },
  // misc
  { host: 'xs-02', command: 'hostname', code: 0, stdout: 'xs-02\n' },
  { host: 'xs-01', command: 'shutdown', code: 1, stderr: /^shutdown: time expected\n/ },
  { host: 'xs-01', command: 'printf "secret\\n" | sudo -S -p "" id -u', code: 0, stdout: '0\n' },
];

let lab: Lab;
const clients = new Map<string, ssh2.Client>();
beforeAll(async () => {
  lab = await testLab({ hosts: 'xs-01,xs-02,xs-03,ubuntu-01,xenapp-01' });
  for (const host of new Set(ROWS.map((r) => r.host))) clients.set(host, await connect(lab, host));
});
afterAll(async () => {
  for (const client of clients.values()) client.end();
  await lab?.stop();
});

describe('generic simulated commands', () => {
  for (const row of ROWS) {
    it(`${row.host}: ${row.command}`, async () => {
      const before = readMutations(lab.stateDir, row.host).length;
      const result = await exec(clients.get(row.host)!, row.command);
      expect(result.code).toBe(row.code);
      if (row.stdout !== undefined) expect(result.stdout).toMatch(asPattern(row.stdout));
      if (row.stderr !== undefined) expect(result.stderr).toMatch(asPattern(row.stderr));
      const added = readMutations(lab.stateDir, row.host).slice(before).map((m) => m.argv);
      expect(added).toEqual(row.logs ? [row.logs] : []);
    });
  }
});

function asPattern(expected: RegExp | string): RegExp {
  return typeof expected === 'string' ? new RegExp(`^${expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : expected;
}
