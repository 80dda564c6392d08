/**
 * runbooks/vdi-not-found.ts end to end on the lab pool (the VDI-not-found and LVM over iSCSI
 * notes). `lab fault xs-01 vdi-broken ubuntu-01 KIND` breaks the guest's storage at one layer; the
 * lab's xe refuses vm-start with VDI_MISSING (or the backend's failure) until the layer is sound,
 * and its lvs / lvchange / vhd-util keep the LVM and VHD state the runbook reads and repairs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUntil } from './kill-at-event.ts';
import { startLab, statusTable, stepResults, type JsonRun, type RunbookLab } from './lab-helpers.ts';

let lab: RunbookLab;
beforeAll(async () => { lab = await startLab(); }, 120_000);
afterAll(async () => { await lab?.stop(); });

const VM = ['-l', 'xs-02', '--param', 'vm=ubuntu-01'];
const xe = (...args: string[]) => lab.onHost('xs-01', 'xe', args);
const minimal = (...args: string[]) => xe(...args, '--minimal').stdout.trim();
const powerState = () => minimal('vm-list', 'name-label=ubuntu-01', 'params=power-state');
const disk = () => minimal('vbd-list', `vm-uuid=${minimal('vm-list', 'name-label=ubuntu-01')}`, 'type=Disk', 'params=vdi-uuid');
const sr = () => minimal('sr-list', 'type=lvmoiscsi');
const device = () => `/dev/VG_XenStorage-${sr()}/VHD-${disk()}`;
const argvOf = (host: string) => (lab.mutations([host])[host] ?? []).map((m) => m.argv.join(' '));
/** Each step re-reads the VM's storage (many xe calls): room for a loaded machine. */
const SLOW = { timeoutMs: 300_000 };
const allOk = (run: JsonRun) => Object.values(statusTable(run.events)['xs-02']).every((s) => s === 'ok');

async function broken(...kinds: string[]) {
  if (powerState() === 'running') expect(xe('vm-shutdown', 'vm=ubuntu-01').code).toBe(0);
  for (const kind of kinds) await lab.fault('xs-01', 'vdi-broken', ['ubuntu-01', kind]);
}

describe('the lab\'s storage layer under the VM', () => {
  it('lvs, vhd-util and vm-start answer as the real tools for a healthy and a broken disk', async () => {
    const lvs = lab.onHost('xs-02', 'lvs', ['--noheadings', '-o', 'lv_name,lv_attr', `VG_XenStorage-${sr()}`]);
    expect(lvs.stdout).toContain(`  VHD-${disk()} -wi-a-\n`);
    expect(lab.onHost('xs-02', 'vhd-util', ['check', '-n', device()]).stdout).toBe(`${device()} is valid\n`);
    await broken('lv-inactive', 'vhd-corrupt');
    expect(lab.onHost('xs-02', 'lvs', [`VG_XenStorage-${sr()}/VHD-${disk()}`]).stdout).toMatch(/LV +VG +Attr +LSize\n {2}VHD-\S+ VG_XenStorage-\S+ -wi--- 8\.01g\n/);
    expect(lab.onHost('xs-02', 'vhd-util', ['check', '-n', device()])).toMatchObject({ code: 254, stderr: `error opening ${device()}: -2\n` });
    expect(lab.onHost('xs-02', 'lvs', [`VG_XenStorage-${sr()}/VHD-nope`])).toMatchObject({ code: 5, stderr: '  One or more specified logical volume(s) not found.\n' });
    const start = xe('vm-start', 'vm=ubuntu-01');
    expect(start.code).toBe(1);
    expect(start.stderr).toContain('SR_BACKEND_FAILURE_46');
    await lab.fault('xs-01', 'vdi-broken', ['ubuntu-01'], true);
  });

  it('the note\'s case: a stale ISO makes the start fail with VDI_MISSING; dry-run, apply and a second run eject it and start the VM', async () => {
    await broken('stale-iso');
    expect(xe('vm-start', 'vm=ubuntu-01').stderr).toMatch(/^This operation cannot be performed because the specified VDI could not be found on the storage substrate\nsr: /);
    const before = lab.mutations();
    const dry = await lab.applyJson('vdi-not-found', [...VM, '--dry-run'], SLOW);
    expect(dry.code, dry.stderr).toBe(0);
    expect(lab.mutations()).toEqual(before);
    const planned = stepResults(dry.events, 'xs-02').filter((r) => r.status !== 'ok');
    expect(planned.map((r) => [r.step, r.status])).toEqual([['stale-iso-ejected', 'would-change'], ['vm-started', 'would-change']]);
    expect(planned[0].reason).toBe('the CD drive holds xs-tools.iso from SR XenServer Tools, which xs-02 cannot read');

    const run = await lab.applyJson('vdi-not-found', VM, SLOW);
    expect(run.code, run.stderr).toBe(0);
    expect(powerState()).toBe('running');
    // (xe runs on the host the VM starts on, which forwards it to the master: logged there)
    expect(argvOf('xs-02').slice(-2).map((a) => a.split(' ').slice(0, 2).join(' '))).toEqual(['xe vm-cd-eject', 'xe vm-start']);

    const after = lab.mutations();
    const again = await lab.applyJson('vdi-not-found', VM, SLOW);
    expect(again.code, again.stderr).toBe(0);
    expect(allOk(again)).toBe(true);
    expect(lab.mutations()).toEqual(after);
  }, 900_000);

  it('repairs only the broken layers, waits for approval before the VHD repair, and resumes across a kill -9 without repairing twice', async () => {
    await broken('lv-inactive', 'vhd-corrupt', 'missing');
    const before = { xs02: argvOf('xs-02').length };
    const gated = await lab.applyJson('vdi-not-found', [...VM, '--no-prompt'], SLOW);
    expect(gated.code, gated.stderr).toBe(3);
    expect(argvOf('xs-02').slice(before.xs02)).toEqual([`lvchange -ay ${device()}`]);
    expect(stepResults(gated.events, 'xs-02').find((r) => r.step === 'vhd-repair-approved')?.status).toBe('waiting');
    const confirmed = await lab.cli(['confirm', 'latest', '--host', 'xs-02', '--step', 'vhd-repair-approved', '--evidence', 'copy=san snapshot 42']);
    expect(confirmed.code, confirmed.stderr).toBe(0);

    const repaired = (e: { kind: string; command?: string }) => e.kind === 'command-end' && (e.command ?? '').startsWith('vhd-util repair');
    const killed = await runUntil(lab, ['resume'], repaired);
    expect(killed.killed).toBe(true);
    const resumed = await lab.resumeUntilDone(SLOW);
    expect(resumed[resumed.length - 1].code, resumed[resumed.length - 1].stderr).toBe(0);
    expect(powerState()).toBe('running');
    expect(argvOf('xs-02').slice(before.xs02).map((a) => a.split(' ').slice(0, 2).join(' '))).toEqual(['lvchange -ay', 'vhd-util repair', 'xe sr-scan', 'xe vm-start']);

    const after = lab.mutations();
    const again = await lab.applyJson('vdi-not-found', VM, SLOW);
    expect(allOk(again)).toBe(true);
    expect(lab.mutations()).toEqual(after);
  }, 900_000);

  it('stops at a gone LV, saying to restore it, and changes nothing', async () => {
    await broken('lv-gone');
    const before = lab.mutations();
    const run = await lab.applyJson('vdi-not-found', [...VM, '--fresh'], SLOW);
    expect(run.code).toBe(2);
    expect(stepResults(run.events, 'xs-02').find((r) => r.status === 'failed')).toMatchObject({ step: 'lvs-present', reason: expect.stringContaining('restore the disk from a backup') });
    expect(lab.mutations()).toEqual(before);
  }, 400_000);
});
