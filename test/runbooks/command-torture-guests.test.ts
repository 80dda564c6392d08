/**
 * The command-level kill -9 torture (torture.ts) on the runbooks that change guests and the
 * fleet's clocks: leap-second (the leap-second and bonding notes, every Linux host livelocked), hvm-to-pv and its way back
 * pv-to-hvm (the HVM-to-PV guide, the lab's Ubuntu guest and its pool master). A kill between every pair of
 * commands of every multi-command step; the resumed run must end as the uninterrupted one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { menuDefault } from '../../src/tasks/grub.ts';
import { startLab, type RunbookLab } from './lab-helpers.ts';
import { torture, type Scenario } from './torture.ts';

const LINUX = ['xs-01', 'xs-02', 'xs-03', 'ubuntu-01'];
const NTP: Record<string, string> = { 'xs-01': 'ntpd', 'xs-02': 'ntpd', 'xs-03': 'ntpd', 'ubuntu-01': 'ntp' };
const MARKER = '/tmp/leapsecond_2012_06_30';
// The lab does not simulate the tools ISO's guest agent; hvm-to-pv.test.ts covers that part.
const NO_TOOLS = ['--param', 'guestTools=false'];

/** Per host: still livelocked, ntpd's state, the marker. */
const clocks = (lab: RunbookLab) => Object.fromEntries(LINUX.map((h) => [h, {
  stuck: lab.hostFile(h, 'clock/stuck') !== undefined, ntp: lab.hostFile(h, `services/${NTP[h]}`)?.trim(), marker: lab.hostFile(h, MARKER) !== undefined,
}]));

/** How the guest boots, as the pool database, its boot record and its menu.lst hold it. */
function guestBoot(lab: RunbookLab) {
  const db = JSON.parse(readFileSync(join(lab.lab.labRoot, 'pools', 'pool-a.json'), 'utf8'));
  const vm = Object.values<any>(db.vm).find((v) => v['name-label'] === 'ubuntu-01');
  const root = Object.values<any>(db.vbd).find((b) => b['vm-uuid'] === vm.uuid && b.type === 'Disk' && b.userdevice === '0');
  const boot = JSON.parse(readFileSync(join(lab.lab.labRoot, 'xen', 'vms', 'ubuntu-01.json'), 'utf8'));
  return {
    vm: { power: vm['power-state'], hvm: vm['HVM-boot-policy'], bootloader: vm['PV-bootloader'], args: vm['PV-args'], bootable: root.bootable },
    boot: { mode: boot.mode, bootloader: boot['PV-bootloader'] },
    menuDefault: menuDefault(lab.hostFile('ubuntu-01', 'boot/grub/menu.lst') ?? ''),
  };
}

const SCENARIOS: Scenario[] = [
  {
    // One host at a time (--serial 1, which a resume keeps): with hosts side by side the kill one
    // host reaches lands inside another's command, not between two, and that host's point is lost.
    name: 'leap-second', runbook: 'leap-second', legs: [{ args: () => ['--serial', '1'] }], estate: clocks,
    prepare: async (lab) => { await Promise.all(LINUX.map((h) => lab.fault(h, 'leap-second'))); },
  },
  { name: 'hvm-to-pv', runbook: 'hvm-to-pv', legs: [{ args: () => NO_TOOLS }], estate: guestBoot },
  {
    // the way back starts from a converted guest: the first leg converts it, the second is tortured too
    name: 'pv-to-hvm (after hvm-to-pv)', runbook: 'pv-to-hvm', estate: guestBoot,
    legs: [{ args: () => [] }],
    prepare: async (lab) => {
      const to = await lab.apply('hvm-to-pv', NO_TOOLS, { timeoutMs: 150_000 });
      expect(to.code, to.stdout + to.stderr).toBe(0);
    },
  },
];

let lab: RunbookLab;
beforeAll(async () => { lab = await startLab({ rebootDownMs: 200 }); }, 120_000);
afterAll(async () => { await lab?.stop(); });

describe('kill between every pair of commands of every multi-command step: guests and clocks', () => {
  it.each(SCENARIOS.map((s) => [s.name, s] as const))('%s: the tortured run ends as the uninterrupted one, no command run twice', async (_name, scenario) => {
    await torture(lab, scenario);
  }, 900_000);
});
