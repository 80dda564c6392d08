/**
 * The way back from runbooks/hvm-to-pv.ts: when the PV boot fails (the guest never answers SSH,
 * or answers running the generic kernel), restore HVM boot so the guest comes up as it did before.
 * The guide to converting an Ubuntu guest from HVM to PV names the other repair, `xe-edit-bootloader`
 * in the control domain to fix grub.conf "until it works"; this runbook is for when the PV attempt
 * should be abandoned instead.
 *
 *   xe vm-shutdown --force (a failed PV boot cannot shut down cleanly), wait for halted
 *   xe vm-param-set HVM-boot-policy="BIOS order" HVM-boot-params:order=dc PV-bootloader=
 *   xe vm-start, wait for SSH
 *   menu.lst default back to the generic kernel (grub under HVM cannot boot a -xen kernel)
 *   uname -r is not a -xen kernel
 *
 * The Xen kernel package and its menu.lst entry stay: hvm-to-pv can be run again after a fix.
 */
import { change, cmd, defineRunbook, facts, file, grub, noop, runUntil, waitFor, xe, z, assert, type Shell } from '../src/index.ts';

interface VmState { uuid: string; power: string; hvmPolicy: string }

async function vmState(sh: Shell, nameLabel: string): Promise<VmState> {
  const records = await xe.list(sh, 'vm', { 'name-label': nameLabel }, ['uuid', 'power-state', 'HVM-boot-policy']);
  if (records.length !== 1) throw new Error(`expected exactly one VM with name-label ${JSON.stringify(nameLabel)}, found ${records.length}`);
  return { uuid: records[0].uuid, power: records[0].text('power-state'), hvmPolicy: records[0].text('HVM-boot-policy') };
}

const runbook = defineRunbook({
  name: 'pv-to-hvm',
  summary: 'the way back from hvm-to-pv: restore HVM boot (BIOS order, no pygrub) when the PV boot fails (the Ubuntu HVM-to-PV conversion guide, reversed)',
  description: [
    'Run this when hvm-to-pv\'s PV boot failed: the guest never answered SSH, or `uname -r` is not',
    'the Xen kernel (step pv-kernel-running failed). On the pool master: force the VM off, set',
    'HVM-boot-policy="BIOS order" and HVM-boot-params:order, clear PV-bootloader, start it; in the',
    'guest: make the generic kernel menu.lst\'s default again, and check a non-Xen kernel runs.',
    'The Xen kernel and its menu.lst entry stay installed. The alternative the conversion guide names',
    'is to fix the guest\'s grub configuration from the control domain with xe-edit-bootloader.',
    'A guest that already boots HVM and runs is left alone (every step ok).',
  ].join('\n'),
  hosts: 'guests',
  params: z.object({
    hvmBootOrder: z.string().regex(/^[cdn]+$/, 'boot devices: c (disk), d (CD), n (network)').default('dc')
      .describe('HVM-boot-params:order, the BIOS boot order (XenServer templates use "dc": CD, then disk)'),
    haltTimeoutMs: z.number().int().positive().default(300_000),
  }),
  vars: xe.guestVars({
    vm_name_label: z.string().min(1).describe('the guest VM\'s name-label in xe (exactly one VM must carry it)'),
  }),
});

const vmFound = runbook.step({
  kind: 'assert',
  id: 'vm-found',
  title: 'exactly one VM carries the name-label',
  on: xe.poolMasterOf,
  outputs: z.object({ uuid: z.string() }),
  async check(ctx) {
    const v = await vmState(ctx.sh, ctx.host.vars.vm_name_label);
    return noop(`VM ${ctx.host.vars.vm_name_label} (${v.uuid}) is ${v.power}, ${v.hvmPolicy ? `boots HVM (${v.hvmPolicy})` : 'boots PV'}`, { uuid: v.uuid });
  },
});
const vmUuid = vmFound.out.uuid;

export default runbook.steps([
  vmFound,
  runUntil({
    id: 'vm-halted',
    title: 'force the VM off',
    description: 'A PV boot that failed leaves the VM running without a working kernel, or halted: `xe vm-shutdown --force` (no clean shutdown is possible), then wait until xe shows it halted.',
    on: xe.poolMasterOf,
    // Only while the revert is pending: the VM does not boot HVM yet, or is not running (a run died between).
    async when(ctx) {
      const v = await vmState(ctx.on(xe.poolMasterOf(ctx)), ctx.host.vars.vm_name_label);
      return !(v.hvmPolicy !== '' && v.power === 'running');
    },
    async until(ctx) {
      const v = await vmState(ctx.sh, ctx.host.vars.vm_name_label);
      return v.power === 'halted' ? noop('the VM is halted') : change(`the VM is ${v.power}`);
    },
    commands: (ctx) => [cmd`xe vm-shutdown ${`uuid=${vmUuid(ctx)}`} --force`],
    waitingFor: 'the VM halted after xe vm-shutdown --force',
    waitTimeoutMs: (ctx) => ctx.params.haltTimeoutMs,
    intervalMs: 500,
  }),
  xe.paramSet({
    id: 'hvm-boot-policy', title: 'boot HVM from the BIOS again', on: xe.poolMasterOf,
    description: 'Undoes the conversion guide\'s `HVM-boot-policy=`: "BIOS order" is what the Windows Server 2003 template the guide installs from sets.',
    cls: 'vm', uuid: vmUuid, param: 'HVM-boot-policy', value: 'BIOS order',
  }),
  xe.paramSet({
    id: 'hvm-boot-order', title: 'set the BIOS boot order', on: xe.poolMasterOf,
    cls: 'vm', uuid: vmUuid, param: 'HVM-boot-params', key: 'order', value: (ctx) => ctx.params.hvmBootOrder,
  }),
  xe.paramSet({
    id: 'pv-bootloader-cleared', title: 'stop booting through pygrub', on: xe.poolMasterOf,
    cls: 'vm', uuid: vmUuid, param: 'PV-bootloader', value: '',
  }),
  xe.vmPowerState({ id: 'vm-started', title: 'start the VM in HVM mode', on: xe.poolMasterOf, vm: vmUuid, state: 'running' }),
  waitFor({
    id: 'guest-answers',
    title: 'wait for the guest\'s SSH',
    description: 'Asked through ctx.on from the master, so a resumed run waits for a guest that is still booting. Grub under HVM boots the menu.lst default: if that is the -xen kernel, choose the generic entry at the console (Esc shows the hidden menu); the next step makes it the default.',
    on: xe.poolMasterOf,
    until: async (ctx) => noop(`${ctx.host.name} answers: kernel ${await ctx.on(ctx.host.name)`uname -r`.text()}`),
    timeoutMs: 600_000,
    intervalMs: 1000,
  }),
  file({
    id: 'grub-default-generic',
    title: 'make the generic kernel the grub default',
    description: 'The Xen entry stays in menu.lst for another hvm-to-pv attempt; only `default` moves back to the generic kernel.',
    path: grub.MENU_LST,
    content: async (ctx) => {
      const text = await facts.fileContent(ctx.sh, grub.MENU_LST);
      if (text === null) throw new Error(`${grub.MENU_LST} does not exist`);
      return grub.hvmMenu(text);
    },
  }),
  assert({
    id: 'hvm-kernel-running',
    title: 'the guest runs a non-Xen kernel',
    async that(ctx) {
      const release = await ctx.sh`uname -r`.text();
      return release.endsWith('-xen') ? change(`still running the Xen kernel ${release}`) : noop(`running ${release}`);
    },
  }),
]);
