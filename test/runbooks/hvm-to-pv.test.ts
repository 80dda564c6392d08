/**
 * runbooks/hvm-to-pv.ts and runbooks/pv-to-hvm.ts end to end: the real CLI against the lab's
 * Ubuntu guest (HVM, the HVM-to-PV guide) and its pool master xs-01. The lab's tools ISO is not simulated
 * (no `xe vm-cd-insert`, no guest agent), so every run passes --param guestTools=false.
 * The pure menu.lst logic is tested in test/tasks/grub.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grub } from '../../src/index.ts';
import { startLab, statusTable, stepResults, type RunbookLab } from './lab-helpers.ts';

const NO_TOOLS = ['--param', 'guestTools=false'];
const XEN = '2.6.24-19-xen';
const GENERIC = '2.6.24-16-generic';

let lab: RunbookLab;
beforeAll(async () => { lab = await startLab({ rebootDownMs: 200 }); }, 120_000);
afterAll(async () => { await lab?.stop(); });

const menu = () => lab.hostFile('ubuntu-01', 'boot/grub/menu.lst') ?? '';
const labFile = (path: string) => readFileSync(join(lab.lab.labRoot, path), 'utf8');
const bootRecord = () => JSON.parse(labFile('xen/vms/ubuntu-01.json'));
const argvOf = (host: string) => (lab.mutations([host])[host] ?? []).map((m) => m.argv.join(' '));

/** The pool database's VM record and root VBD for the guest. */
function vmRecord() {
  const db = JSON.parse(labFile('pools/pool-a.json'));
  const vm = Object.values<any>(db.vm).find((v) => v['name-label'] === 'ubuntu-01');
  const root = Object.values<any>(db.vbd).find((b) => b['vm-uuid'] === vm.uuid && b.type === 'Disk' && b.userdevice === '0');
  return { power: vm['power-state'], hvm: vm['HVM-boot-policy'], bootloader: vm['PV-bootloader'], args: vm['PV-args'], bootable: root.bootable };
}

const PV_END = { power: 'running', hvm: '', bootloader: 'pygrub', args: 'console=tty0 xencons=tty', bootable: 'true' };

describe('hvm-to-pv on the lab', () => {
  it('dry-run shows the plan on both machines and changes nothing', async () => {
    const run = await lab.applyJson('hvm-to-pv', ['--dry-run', ...NO_TOOLS], { timeoutMs: 150_000 });
    expect(run.code, run.stderr).toBe(0);
    const table = statusTable(run.events)['ubuntu-01'];
    expect(table).toMatchObject({ 'vm-found': 'ok', 'guest-reachable': 'ok', 'xen-kernel-installed': 'would-change', 'guest-halted': 'would-change', 'hvm-boot-policy-cleared': 'would-change', 'root-vbd-bootable': 'would-change', 'vm-started': 'would-change', 'tools-iso-inserted': 'skipped' });
    const commands = stepResults(run.events, 'ubuntu-01').flatMap((r) => r.commands ?? []);
    expect(commands.some((c) => /^xe vm-param-set uuid=\S+ HVM-boot-policy=$/.test(c))).toBe(true);
    expect(commands).toContain("nohup sh -c 'sleep 1; shutdown -h now' >/dev/null 2>&1 &");
    expect(commands.some((c) => /^xe vbd-param-set uuid=\S+ bootable=true$/.test(c))).toBe(true);
    expect(lab.mutations()).toEqual({});
    expect(vmRecord()).toMatchObject({ power: 'running', hvm: 'BIOS order', bootloader: '' });
  }, 180_000);

  it('applies: the guest boots the Xen kernel through pygrub; a second run is all ok and changes nothing', async () => {
    const run = await lab.applyJson('hvm-to-pv', NO_TOOLS, { timeoutMs: 150_000 });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(vmRecord()).toEqual(PV_END);
    expect(grub.menuDefault(menu())).toBe(3);
    expect(bootRecord()).toMatchObject({ mode: 'pv', 'PV-bootloader': 'pygrub' });
    expect(stepResults(run.events, 'ubuntu-01').find((r) => r.step === 'pv-kernel-running')?.reason).toBe(`running ${XEN}`);
    // the guest went down once, from inside, and came back once, from the master
    expect(argvOf('ubuntu-01').filter((a) => a.startsWith('shutdown'))).toHaveLength(1);
    expect(argvOf('xs-01').filter((a) => a.startsWith('xe vm-start'))).toHaveLength(1);

    const before = lab.mutations();
    const again = await lab.applyJson('hvm-to-pv', NO_TOOLS, { timeoutMs: 150_000 });
    expect(again.code, again.stderr).toBe(0);
    const statuses = new Set(Object.values(statusTable(again.events)['ubuntu-01']));
    expect(statuses).toEqual(new Set(['ok', 'skipped']));
    expect(statusTable(again.events)['ubuntu-01']['guest-halted']).toBe('skipped');
    expect(lab.mutations()).toEqual(before);
  }, 360_000);

  it('pv-to-hvm goes back: HVM boot, generic kernel, and is all ok when run again', async () => {
    const run = await lab.applyJson('pv-to-hvm', [], { timeoutMs: 150_000 });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(vmRecord()).toMatchObject({ power: 'running', hvm: 'BIOS order', bootloader: '' });
    expect(grub.menuDefault(menu())).toBe(0);
    expect(stepResults(run.events, 'ubuntu-01').at(-1)?.reason).toBe(`running ${GENERIC}`);
    const again = await lab.applyJson('pv-to-hvm', [], { timeoutMs: 150_000 });
    expect(again.code).toBe(0);
    expect(new Set(Object.values(statusTable(again.events)['ubuntu-01']))).toEqual(new Set(['ok', 'skipped']));
  }, 360_000);

  // Bounded: five kill points of fourteen (one full cycle costs ~30 s); together they cover a kill
  // with the guest up, one right after the shutdown, two while it is down (resume must run on the
  // master alone) and one between the start and the SSH wait. Each trial goes back with pv-to-hvm.
  it.each([
    { where: 'before the grub edit', afterResults: 4 },
    { where: 'right after the guest halted', afterResults: 7 },
    { where: 'with HVM boot cleared, guest down', afterResults: 8 },
    { where: 'with the VBD bootable, VM not started', afterResults: 11 },
    { where: 'after the start, before the SSH wait', afterResults: 12 },
  ])('a run SIGKILLed $where (after $afterResults results) resumes to the same PV guest', async ({ afterResults }) => {
    const vmStarts = argvOf('xs-01').filter((a) => a.startsWith('xe vm-start')).length;
    const shutdowns = argvOf('ubuntu-01').filter((a) => a.startsWith('shutdown')).length;
    const seen = await lab.applyAndKill('hvm-to-pv', { afterResults }, NO_TOOLS);
    expect(seen.length).toBeGreaterThanOrEqual(afterResults);
    const resumed = await lab.resumeUntilDone({ timeoutMs: 150_000 });
    expect(resumed.at(-1)!.code, resumed.at(-1)!.stdout).toBe(0);
    expect(vmRecord()).toEqual(PV_END);
    expect(grub.menuDefault(menu())).toBe(3);
    expect(bootRecord()).toMatchObject({ mode: 'pv' });
    // no step ran twice: one shutdown and one start per trial
    expect(argvOf('ubuntu-01').filter((a) => a.startsWith('shutdown')).length - shutdowns).toBe(1);
    expect(argvOf('xs-01').filter((a) => a.startsWith('xe vm-start')).length - vmStarts).toBe(1);
    const back = await lab.applyJson('pv-to-hvm', [], { timeoutMs: 150_000 });
    expect(back.code, back.stdout).toBe(0);
  }, 400_000);

  it('pv-to-hvm SIGKILLed with the guest forced off resumes (on the master) to the HVM guest', async () => {
    const to = await lab.applyJson('hvm-to-pv', NO_TOOLS, { timeoutMs: 150_000 });
    expect(to.code, to.stdout).toBe(0);
    const starts = argvOf('xs-01').filter((a) => a.startsWith('xe vm-start')).length;
    const seen = await lab.applyAndKill('pv-to-hvm', { afterResults: 3 });
    expect(seen.map((r) => r.step)).toEqual(expect.arrayContaining(['vm-found', 'vm-halted', 'hvm-boot-policy']));
    expect(vmRecord().power).toBe('halted');
    const resumed = await lab.resumeUntilDone({ timeoutMs: 150_000 });
    expect(resumed.at(-1)!.code, resumed.at(-1)!.stdout).toBe(0);
    expect(vmRecord()).toMatchObject({ power: 'running', hvm: 'BIOS order', bootloader: '' });
    expect(grub.menuDefault(menu())).toBe(0);
    expect(argvOf('xs-01').filter((a) => a.startsWith('xe vm-start')).length - starts).toBe(1);
  }, 400_000);

  // The lab's tools ISO came in pieces (mount, dpkg -i, guest metrics); `xe vm-cd-insert` is the last.
  const cdInsert = readFileSync(join(import.meta.dirname, '../../lab/sim/xen/xe-ops.mjs'), 'utf8').includes("'vm-cd-insert'");
  it.skipIf(!cdInsert)('with the guest tools: the ISO inserted, the utilities installed from it, and xe reports the guest network', async () => {
    const run = await lab.applyJson('hvm-to-pv', [], { timeoutMs: 200_000 });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(statusTable(run.events)['ubuntu-01']).toMatchObject({ 'tools-iso-inserted': 'changed', 'guest-utilities-installed': 'changed', 'guest-network-reported': expect.stringMatching(/ok|changed/) });
    expect(stepResults(run.events, 'ubuntu-01').find((r) => r.step === 'guest-network-reported')?.reason).toMatch(/xe reports 0\/ip: \d+\.\d+\.\d+\.\d+/);
    expect(argvOf('xs-01').filter((a) => a.startsWith('xe vm-cd-insert'))).toHaveLength(1);
    const again = await lab.applyJson('hvm-to-pv', [], { timeoutMs: 200_000 });
    expect(again.code).toBe(0);
    expect(new Set(Object.values(statusTable(again.events)['ubuntu-01']))).toEqual(new Set(['ok', 'skipped']));
  }, 400_000);
});
