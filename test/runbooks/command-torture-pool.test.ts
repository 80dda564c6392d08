/**
 * The command-level kill -9 torture (torture.ts) on the five newer pool runbooks, one lab, each
 * scenario with the faults that make it do work (as in its own test, test/runbooks/<name>.test.ts):
 *
 * - ha-enable-timeout: HA re-enabled the way the GUI does (default timeout), so its one
 *   multi-command step (pool-ha-disable, then pool-ha-enable with the timeout) runs.
 * - management-mtu: xs-01's management PIF at MTU 9000 by a per-PIF override AND the management
 *   network at 9000, so `mtu-configured` sends both of its commands (the override removed, the
 *   network's MTU set) on the first host.
 * - vdi-not-found: ubuntu-01 given a second disk, both LVs inactive and both VHDs corrupt, the
 *   first VDI marked missing, so `lvs-active` and `vhds-valid` each send two commands; the
 *   repair's approval gate is confirmed as an operator would.
 * - pool-master-failover: a planned hand-over xs-01 → xs-02, then xs-02 powered off and an
 *   emergency take-over by xs-03 past its power-off gate. Its two waiting steps send the change,
 *   then poll until the pool answers (xe.runUntil: the polls are the apply's commands too), so the
 *   kills land right after `pool-designate-new-master` and after
 *   `pool-emergency-transition-to-master`, before the first poll.
 * - host-crash-triage: read-only (every step an assert): no command to kill between; the test
 *   holds that it stays so and that the runs changed nothing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type RunbookLab } from './lab-helpers.ts';
import { poolView } from './pool-view.ts';
import { drive, torture, type Gate, type Scenario } from './torture.ts';

// The lab's own pool-database and LVM stores (each under its own lock), to give the guest a second disk.
const { newUuid, updatePool } = (await import('../../lab/sim/xen/store.mjs' as string)) as { newUuid(): string; updatePool<T>(labRoot: string, pool: string, fn: (db: any) => T): T };
const { addVdi } = (await import('../../lab/sim/xen/xe-ops.mjs' as string)) as { addVdi(db: any, sr: string, fields: Record<string, string>): string };
const { updateLvm } = (await import('../../lab/sim/xen/lvm.mjs' as string)) as { updateLvm(labRoot: string, fn: (state: Record<string, any>) => void): void };

const HOSTS = ['xs-01', 'xs-02', 'xs-03'];
const poolDb = (lab: RunbookLab) => JSON.parse(readFileSync(join(lab.lab.labRoot, 'pools', 'pool-a.json'), 'utf8'));
const xe = (lab: RunbookLab, host: string, ...args: string[]) => {
  const result = lab.onHost(host, 'xe', args);
  if (result.code !== 0) throw new Error(`xe ${args.join(' ')} on ${host} exited ${result.code}: ${result.stderr}`);
  return result.stdout.trim();
};

async function confirm(lab: RunbookLab, { runId, host, step }: Gate, evidence: string) {
  const result = await lab.cli(['confirm', runId, '--host', host, '--step', step, '--evidence', evidence], { env: { RUNBOOK_OPERATOR: 'alice' } });
  expect(result.code, result.stderr).toBe(0);
}

/** HA as the pool database and each member's HA daemon configuration hold it. */
const haEstate = (lab: RunbookLab) => ({
  pool: poolView(lab),
  daemons: Object.fromEntries(HOSTS.map((h) => [h, /<HeartbeatTimeout>(\d+)</.exec(lab.hostFile(h, 'etc/xensource/xhad.conf') ?? '')?.[1] ?? null])),
});

/** Per host: the management PIF's MTU in the database (with any override), and on the running bridge. */
function mtuEstate(lab: RunbookLab) {
  const db = poolDb(lab);
  return Object.fromEntries(HOSTS.map((name) => {
    const host = Object.values<any>(db.host).find((h) => h['name-label'] === name);
    const pif = Object.values<any>(db.pif).find((p) => p['host-uuid'] === host.uuid && p.management === 'true');
    const running = / mtu (\d+) /.exec(lab.onHost(name, 'ip', ['-o', 'link', 'show', 'xapi1']).stdout)?.[1];
    return [name, { override: pif['other-config']?.mtu ?? null, network: db.network[pif['network-uuid']].MTU, running }];
  }));
}

/** A second disk for ubuntu-01 on the SR its first is on: the per-disk steps then send a command per disk. */
function addSecondDisk(lab: RunbookLab): string {
  return updatePool(lab.lab.labRoot, 'pool-a', (db) => {
    const vm = Object.values<any>(db.vm).find((v) => v['name-label'] === 'ubuntu-01');
    const first = Object.values<any>(db.vbd).find((b) => b['vm-uuid'] === vm.uuid && b.type === 'Disk');
    const vdi = addVdi(db, db.vdi[first['vdi-uuid']]['sr-uuid'], { 'name-label': 'ubuntu-01 1', 'virtual-size': '4294967296', 'physical-utilisation': '4311744512' });
    const vbd = newUuid();
    db.vbd[vbd] = { ...first, uuid: vbd, 'vdi-uuid': vdi, userdevice: '1', device: 'hdb', bootable: 'false' };
    return vdi;
  });
}

/** The guest's power and each disk (by its position) as xapi and the LVM layer hold it. */
function guestStorage(lab: RunbookLab) {
  const db = poolDb(lab);
  const lvmState = (() => { try { return JSON.parse(readFileSync(join(lab.lab.labRoot, 'xen', 'lvm.json'), 'utf8')); } catch { return {}; } })();
  const vm = Object.values<any>(db.vm).find((v) => v['name-label'] === 'ubuntu-01');
  const vbds = Object.values<any>(db.vbd).filter((b) => b['vm-uuid'] === vm.uuid).sort((a, b) => Number(a.userdevice) - Number(b.userdevice));
  return {
    power: vm['power-state'],
    drives: vbds.map((b) => (b.type === 'CD'
      ? { cd: b.empty === 'true' ? 'empty' : db.vdi[b['vdi-uuid']]?.['name-label'] }
      : { disk: b.userdevice, missing: db.vdi[b['vdi-uuid']].missing, lvm: lvmState[b['vdi-uuid']] ?? null })),
  };
}

const SCENARIOS: Scenario[] = [
  {
    name: 'ha-enable-timeout', runbook: 'ha-enable-timeout', estate: haEstate, legs: [{ args: () => [] }],
    // HA re-enabled from the GUI: the default timeout, which the runbook must disable and enable again to put right
    prepare: async (lab) => { await lab.fault('xs-01', 'ha-on', ['30']); },
  },
  {
    name: 'management-mtu', runbook: 'management-mtu', estate: mtuEstate, legs: [{ args: () => [] }],
    prepare: async (lab) => {
      // the network first: the lab's network-param-set MTU drops the PIFs' own overrides
      const pif = xe(lab, 'xs-01', 'pif-list', `host-uuid=${xe(lab, 'xs-01', 'host-list', 'name-label=xs-01', '--minimal')}`, 'management=true', '--minimal');
      xe(lab, 'xs-01', 'network-param-set', `uuid=${xe(lab, 'xs-01', 'pif-param-get', `uuid=${pif}`, 'param-name=network-uuid')}`, 'MTU=9000');
      await lab.fault('xs-01', 'jumbo-mtu');
    },
  },
  {
    name: 'vdi-not-found (two disks, every layer broken)', runbook: 'vdi-not-found', estate: guestStorage,
    prepare: async (lab) => {
      xe(lab, 'xs-01', 'vm-shutdown', 'vm=ubuntu-01');
      const second = addSecondDisk(lab);
      for (const kind of ['lv-inactive', 'vhd-corrupt', 'missing']) await lab.fault('xs-01', 'vdi-broken', ['ubuntu-01', kind]);
      // the fault corrupts the first disk's VHD only
      updateLvm(lab.lab.labRoot, (state) => { state[second] = { ...state[second], corrupt: true }; });
    },
    legs: [{
      args: () => ['-l', 'xs-02', '--param', 'vm=ubuntu-01'],
      gates: { 'vhd-repair-approved': (lab, at) => confirm(lab, at, 'copy=san snapshot 42') },
    }],
  },
  {
    name: 'pool-master-failover (planned, then emergency)', runbook: 'pool-master-failover',
    estate: (lab) => ({ ...haEstate(lab), emergency: HOSTS.map((h) => lab.onHost(h, 'xe', ['host-is-in-emergency-mode']).stdout.trim()) }),
    legs: [
      {
        before: (lab) => { xe(lab, 'xs-01', 'pool-ha-disable'); },
        args: () => ['-l', 'xs-02', '--param', 'newMaster=xs-02', '--param', 'mode=planned'],
      },
      {
        // HA back on (so the survivor must be disarmed first), then the new master dies
        before: async (lab) => {
          xe(lab, 'xs-02', 'pool-ha-enable', 'ha-config:timeout=120');
          await lab.fault('xs-02', 'power-off');
        },
        args: () => ['-l', 'xs-03', '--param', 'newMaster=xs-03', '--param', 'mode=emergency', '--param', 'oldMaster=xs-02'],
        gates: { 'old-master-off': (lab, at) => confirm(lab, at, 'checkedBy=lab: power-off fault') },
      },
    ],
  },
];

const TRIAGE: Scenario = {
  name: 'host-crash-triage', runbook: 'host-crash-triage', estate: () => null, legs: [{ args: () => [] }],
  prepare: async (lab) => { for (const kind of ['oom', 'segfault', 'panic']) await lab.fault('xs-02', 'crash', [kind]); },
};

let lab: RunbookLab;
beforeAll(async () => { lab = await startLab({ rebootDownMs: 300 }); }, 120_000);
afterAll(async () => { await lab?.stop(); });

describe('kill between every pair of commands of every multi-command step: the pool runbooks', () => {
  it.each(SCENARIOS.map((s) => [s.name, s] as const))('%s: the tortured run ends as the uninterrupted one, no command run twice', async (_name, scenario) => {
    const { boundaries } = await torture(lab, scenario);
    expect(boundaries.length, 'the scenario has multi-command steps').toBeGreaterThan(0);
  }, 1_200_000);

  it('host-crash-triage only reads: no step sends a command to kill between, and the runs change nothing', async () => {
    const { runs } = await drive(lab, TRIAGE);
    expect(runs.map((r) => r.code)).toEqual([0]);
    expect(runs[0].events.filter((e) => e.kind === 'command-start')).toEqual([]);
    expect(lab.mutations()).toEqual({});
  }, 300_000);
});
