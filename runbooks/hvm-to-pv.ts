/**
 * The XenServer guide to installing Ubuntu in HVM mode and converting it to a paravirtualised (PV)
 * guest, driving two machines in turn: the guest itself (kernel, grub, shutdown, checks) and the
 * master of the pool it lives in (every `xe` command). Steps, as the guide orders them:
 *
 *   apt-get install linux-image-xen                 (guest)  → find the -xen version in /boot
 *   menu.lst: a title entry for it, default = its index      (guest; update-grub does not do it)
 *   shut the guest down, wait until xe shows it halted       (guest, then master)
 *   xe vm-param-set HVM-boot-policy= / PV-bootloader=pygrub / PV-args="console=tty0 xencons=tty"
 *   xe vm-disk-list → xe vbd-param-set bootable=true on the root disk's VBD
 *   xe vm-start, wait for SSH, check `uname -r` is the -xen kernel
 *   guest utilities from the tools ISO, then xe reports the guest's network
 *
 * Every step is idempotent and a converted guest is all "ok": the steps that take the guest down
 * run only while the VM record is not yet PV-and-running, and the steps after the shutdown are
 * done only once it is (so a dry-run, with the HVM guest still up, shows them as changes without
 * asking whether it is a dry-run). The way back is runbooks/pv-to-hvm.ts.
 */
import { assert, apt, change, cmd, command, defineRunbook, facts, file, grub, noop, raw, runUntil, waitFor, xe, z, type CheckResult, type Shell } from '../src/index.ts';

/** The guide's `PV-args="console=tty0 xencons=tty"`: the login console shows up in XenCenter. */
export const SEED_PV_ARGS = 'console=tty0 xencons=tty';
/** The pre-conversion menu.lst, kept once so the way back (pv-to-hvm) can be compared against it. */
export const MENU_BACKUP = '/boot/grub/menu.lst.runbook-hvm';

const params = z.object({
  kernelPackage: z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'must be a Debian package name').default('linux-image-xen')
    .describe('the Xen kernel package (the conversion guide: the virtual package linux-image-xen pulls the newest -xen kernel)'),
  pvArgs: z.string().default(SEED_PV_ARGS).describe('PV-args for the kernel command line (the conversion guide\'s console settings)'),
  guestTools: z.boolean().default(true)
    .describe('install the XenServer guest utilities from the tools ISO and wait for xe to report the guest network; false skips both'),
  toolsIso: z.string().min(1).default('xs-tools.iso').describe('the tools ISO name as `xe cd-list` shows it'),
  toolsDevice: z.string().startsWith('/dev/').default('/dev/xvdd').describe('the guest device of the VM\'s CD drive (the conversion guide: /dev/xvdd)'),
  haltTimeoutMs: z.number().int().positive().default(300_000).describe('how long the guest may take to shut down'),
});

const vars = xe.guestVars({
  vm_name_label: z.string().min(1).describe('the guest VM\'s name-label in xe (exactly one VM must carry it)'),
});

const runbook = defineRunbook({
  name: 'hvm-to-pv',
  summary: 'convert an Ubuntu guest from HVM to PV: Xen kernel, menu.lst entry, pygrub, bootable root VBD, PV boot check (the Ubuntu HVM-to-PV conversion guide)',
  description: [
    'Follows the XenServer guide to installing Ubuntu in HVM mode and converting it to PV, on Ubuntu 8.04-era',
    'guests with grub legacy (/boot/grub/menu.lst) and a Debian kernel package with a -xen flavour.',
    'Targets guests (host var vm_name_label); every xe step runs on the pool master, found from the',
    'host var pool_master or the pool_master var of the xen_pool group. The guest is shut down from',
    'inside, converted on the master while halted, started, and must come back running the Xen kernel.',
    '',
    'A converted guest reruns as all ok. A run killed while the guest is down resumes on the master.',
    'When the PV boot fails (no SSH, or uname -r is not the Xen kernel), run pv-to-hvm to restore',
    'HVM boot. --param guestTools=false skips the tools ISO and the network report.',
  ].join('\n'),
  hosts: 'guests',
  params,
  vars,
});

// ---- facts ----------------------------------------------------------------------------------

export interface VmBoot { uuid: string; nameLabel: string; power: string; hvmPolicy: string; bootloader: string; pvArgs: string }

/** How the VM boots, as the pool master's xe says. */
async function vmBoot(sh: Shell, nameLabel: string): Promise<VmBoot> {
  const records = await xe.list(sh, 'vm', { 'name-label': nameLabel }, ['uuid', 'name-label', 'power-state', 'HVM-boot-policy', 'PV-bootloader', 'PV-args']);
  if (records.length !== 1) {
    throw new Error(`expected exactly one VM with name-label ${JSON.stringify(nameLabel)}, found ${records.length}${records.length ? `: ${records.map((r) => r.uuid).join(', ')}` : ''}`);
  }
  const r = records[0];
  return { uuid: r.uuid, nameLabel, power: r.text('power-state'), hvmPolicy: r.text('HVM-boot-policy'), bootloader: r.text('PV-bootloader'), pvArgs: r.text('PV-args') };
}

const isPv = (v: VmBoot): boolean => v.hvmPolicy === '' && v.bootloader === 'pygrub';

/**
 * The conversion still has to take the guest down: the VM record is not yet PV, or the VM is not
 * running (a run that died between the shutdown and the start). A converted, running guest is
 * never shut down again. `master` is a shell on the pool master.
 */
async function conversionPending(master: Shell, nameLabel: string): Promise<boolean> {
  const v = await vmBoot(master, nameLabel);
  return !(isPv(v) && v.power === 'running');
}

/**
 * The steps after the shutdown are done only once the guest runs PV. Before the conversion the VM
 * runs and the HVM guest answers, yet guest-halted takes it down first: the VM record (not yet
 * PV-and-running) says so, which is why a dry-run shows these steps as changes without asking
 * whether it is one. A check that already finds work to do is left as it is.
 */
async function doneOncePv(found: CheckResult, master: Shell, nameLabel: string, what: string): Promise<CheckResult> {
  if (found.done && await conversionPending(master, nameLabel)) return change(`${what} (after the shutdown above)`);
  return found;
}

const toolsWanted = (ctx: { params: { guestTools: boolean } }): boolean => ctx.params.guestTools;

// ---- steps other steps read -------------------------------------------------------------------

const vmFound = runbook.step({
  kind: 'assert',
  id: 'vm-found',
  title: 'exactly one VM carries the name-label, and it is HVM (or already converted)',
  description: 'The conversion guide: `xe vm-list name-label=Ubuntu params=uuid --minimal` on the pool master. Fails on zero or several VMs of that name, and on a VM that boots PV some other way than pygrub (not one this runbook made). Hands on the uuid to every later xe step.',
  on: xe.poolMasterOf,
  outputs: z.object({ uuid: z.string(), hvmPolicy: z.string(), bootloader: z.string() }),
  async check(ctx) {
    const v = await vmBoot(ctx.sh, ctx.host.vars.vm_name_label);
    const outputs = { uuid: v.uuid, hvmPolicy: v.hvmPolicy, bootloader: v.bootloader };
    if (v.hvmPolicy !== '') return noop(`VM ${v.nameLabel} (${v.uuid}) boots HVM (HVM-boot-policy=${JSON.stringify(v.hvmPolicy)}), ${v.power}`, outputs);
    if (v.bootloader === 'pygrub') return noop(`VM ${v.nameLabel} (${v.uuid}) already boots PV with pygrub, ${v.power}`, outputs);
    return change(`VM ${v.nameLabel} (${v.uuid}) is neither HVM nor PV with pygrub (PV-bootloader=${JSON.stringify(v.bootloader)}): not a guest this runbook converts`);
  },
});
const vmUuid = vmFound.out.uuid;

const xenKernelFound = runbook.step({
  kind: 'assert',
  id: 'xen-kernel-found',
  title: 'find the Xen kernel\'s version in /boot',
  description: 'The conversion guide: "In /boot I have vmlinuz-2.6.24-19-xen". The newest vmlinuz-*-xen with its initrd; its version names the grub entry and is what `uname -r` must say after the PV boot.',
  outputs: z.object({ version: z.string() }),
  async check(ctx) {
    const files = await ctx.sh`ls -1 /boot`.lines();
    const version = grub.newestXenKernel(files);
    if (!version) return change('no vmlinuz-*-xen in /boot: the Xen kernel package did not install a kernel');
    if (!files.includes(`initrd.img-${version}`)) return change(`/boot has vmlinuz-${version} but no initrd.img-${version}`);
    return noop(`Xen kernel ${version} is in /boot`, { version });
  },
});
const xenVersion = xenKernelFound.out.version;

/** Detached like reboot's: the command returns its status before the shutdown takes sshd down. */
const shutdownCommand = cmd`nohup sh -c 'sleep 1; shutdown -h now' >/dev/null 2>&1 &`;

// ---- the runbook ----------------------------------------------------------------------------

export default runbook.steps([
  vmFound,
  assert({
    id: 'guest-reachable',
    title: 'the guest answers over SSH',
    description: 'The kernel and grub work happens inside the guest, so it must answer before anything changes (the conversion guide works in the guest over SSH).',
    async that(ctx) {
      const release = await ctx.sh`uname -r`.text();
      return noop(`${ctx.host.name} answers; running kernel ${release}`, { kernelBefore: release });
    },
  }),
  apt({
    id: 'xen-kernel-installed',
    title: 'install the Xen kernel package',
    description: 'The conversion guide: `sudo apt-get install linux-image-xen`, "a virtual package which pulls in the latest Xen kernel and modules".',
    name: (ctx) => ctx.params.kernelPackage,
    state: 'present',
  }),
  xenKernelFound,
  command({
    id: 'menu-lst-saved',
    title: 'keep a copy of the HVM menu.lst',
    description: `Once, before the first edit: ${MENU_BACKUP}. The way back (pv-to-hvm) restores the HVM default from the running system, but an operator can diff against this copy.`,
    creates: MENU_BACKUP,
    run: cmd`cp -p ${grub.MENU_LST} ${MENU_BACKUP}`,
  }),
  file({
    id: 'grub-pv-entry',
    title: 'add the Xen kernel to menu.lst and make it the default',
    description: 'The conversion guide works around hardy\'s update-grub, which skips the paravirt_ops Xen kernel: copy the generic kernel\'s entry with the -xen version, and set `default` to the new entry\'s index ("I set mine to 3, since it is the fourth entry"), here counted from the file. The entry goes below the automagic list, where update-grub keeps it; a later update-grub that adds kernels shifts the indices, and a rerun of this step puts the default right again.',
    path: grub.MENU_LST,
    content: async (ctx) => {
      const text = await facts.fileContent(ctx.sh, grub.MENU_LST);
      if (text === null) throw new Error(`${grub.MENU_LST} does not exist: is grub legacy the guest's bootloader?`);
      return grub.pvMenu(text, xenVersion(ctx));
    },
  }),
  runUntil({
    id: 'guest-halted',
    title: 'shut the guest down and wait until xe shows it halted',
    description: 'The conversion guide: "shut down the guest but do not reboot it just yet". Shut down from inside (an HVM guest without PV drivers cannot be shut down cleanly by xapi), then poll `xe vm-list` on the master until power-state is halted. Skipped once the VM boots PV and runs.',
    on: xe.poolMasterOf,
    when: (ctx) => conversionPending(ctx.on(xe.poolMasterOf(ctx)), ctx.host.vars.vm_name_label),
    async until(ctx) {
      const v = await vmBoot(ctx.sh, ctx.host.vars.vm_name_label);
      return v.power === 'halted' ? noop(`VM ${v.nameLabel} is halted`) : change(`VM ${v.nameLabel} is ${v.power}: shut it down from inside the guest`);
    },
    commands: () => [shutdownCommand],
    runOn: (ctx) => ctx.on(ctx.host.name),
    waitingFor: 'the VM halted after the shutdown',
    waitTimeoutMs: (ctx) => ctx.params.haltTimeoutMs,
    intervalMs: 500,
  }),
  xe.paramSet({
    id: 'hvm-boot-policy-cleared',
    title: 'clear HVM-boot-policy',
    description: 'The conversion guide: `xe vm-param-set uuid=<uuid> HVM-boot-policy=` "will clear the HVM boot mode from the VM".',
    on: xe.poolMasterOf, cls: 'vm', uuid: vmUuid, param: 'HVM-boot-policy', value: '',
  }),
  xe.paramSet({
    id: 'pv-bootloader-pygrub',
    title: 'boot with pygrub',
    description: 'The conversion guide: `xe vm-param-set uuid=<uuid> PV-bootloader=pygrub`: pygrub reads the kernel from the guest\'s own menu.lst.',
    on: xe.poolMasterOf, cls: 'vm', uuid: vmUuid, param: 'PV-bootloader', value: 'pygrub',
  }),
  xe.paramSet({
    id: 'pv-args',
    title: 'set the PV kernel arguments',
    description: 'The conversion guide: `PV-args="console=tty0 xencons=tty"` so the login console shows in XenCenter (--param pvArgs to change).',
    on: xe.poolMasterOf, cls: 'vm', uuid: vmUuid, param: 'PV-args', value: (ctx) => ctx.params.pvArgs,
  }),
  xe.vbdBootable({
    id: 'root-vbd-bootable',
    title: 'mark the root disk\'s VBD bootable',
    description: 'The conversion guide: `xe vm-disk-list uuid=<uuid>` for the VBD of the disk, then `xe vbd-param-set uuid=<vbd> bootable=true`, "so that pygrub knows where to look for the PV kernel".',
    on: xe.poolMasterOf, vm: vmUuid, userdevice: '0',
  }),
  runbook.extend(xe.vmPowerState({
    id: 'vm-started',
    title: 'start the VM in PV mode',
    description: 'The conversion guide: "If you boot up the Ubuntu VM, it should start up in text-mode with the high-speed PV kernel". `xe vm-start` on the master, waiting until xe shows it running.',
    on: xe.poolMasterOf, vm: vmUuid, state: 'running',
  }), {
    // Running is not enough while the VM is not PV yet: guest-halted takes it down first.
    check: async (ctx, base) => doneOncePv(await base.check(ctx), ctx.sh, ctx.host.vars.vm_name_label, 'the VM is started in PV mode'),
  }),
  runbook.extend(waitFor({
    id: 'guest-answers',
    title: 'wait for the guest\'s SSH',
    description: 'The PV boot ends with sshd up again; the connection to the guest reconnects. If it never answers, the PV boot failed: see runbooks/pv-to-hvm.ts (or xe-edit-bootloader, as the conversion guide says). Runs `on` the master and asks the guest through ctx.on, so a run resumed while the guest still boots waits for it instead of calling it unreachable.',
    on: xe.poolMasterOf,
    until: async (ctx) => noop(`${ctx.host.name} answers: kernel ${await ctx.on(ctx.host.name)`uname -r`.text()}`),
    timeoutMs: 600_000,
    intervalMs: 1000,
  }), {
    // The HVM guest answering before the shutdown is not the PV boot answering.
    check: async (ctx, base) => doneOncePv(await base.check(ctx), ctx.sh, ctx.host.vars.vm_name_label, 'the guest answers SSH after the PV boot'),
  }),
  assert({
    id: 'pv-kernel-running',
    title: 'the guest runs the Xen kernel',
    description: '`uname -r` must print the -xen version found in /boot: proof the VM booted PV through pygrub, not the generic kernel.',
    async that(ctx) {
      const release = await ctx.sh`uname -r`.text();
      const want = xenVersion(ctx);
      return release === want ? noop(`running ${release}`) : change(`running ${release}, want the Xen kernel ${want}: the PV boot did not take (runbooks/pv-to-hvm.ts goes back)`);
    },
  }),
  {
    // The VM's CD drive holds the tools ISO (`xe vm-cd-insert`), read back through its CD VBD.
    kind: 'action',
    id: 'tools-iso-inserted',
    title: 'insert the XenServer tools ISO',
    description: 'The conversion guide: "Attach the XenServer Tools ISO into the VM". `xe vm-cd-insert` on the master.',
    on: xe.poolMasterOf,
    when: toolsWanted,
    async check(ctx) {
      const cds = await xe.list(ctx.sh, 'vbd', { 'vm-uuid': vmUuid(ctx), type: 'CD' }, ['uuid', 'vdi-name-label', 'empty']);
      if (cds.length === 0) throw new Error(`VM ${ctx.host.vars.vm_name_label} has no CD drive to insert ${ctx.params.toolsIso} into`);
      const loaded = cds.find((c) => c.text('empty') === 'false' && c.text('vdi-name-label') === ctx.params.toolsIso);
      return loaded ? noop(`${ctx.params.toolsIso} is in the CD drive`) : change(`the CD drive does not hold ${ctx.params.toolsIso}`);
    },
    commands: (ctx) => [cmd`xe vm-cd-insert ${`uuid=${vmUuid(ctx)}`} ${`cd-name=${ctx.params.toolsIso}`}`],
  },
  {
    kind: 'action',
    id: 'guest-utilities-installed',
    title: 'install the guest utilities from the tools ISO',
    description: 'The conversion guide: `sudo mount /dev/xvdd /mnt`, `sudo dpkg -i /mnt/Linux/xe-guest-utilities_*.deb` (the i386 package; the guide\'s dash workaround is for XenServer 4.1 only). Unmounts again.',
    when: toolsWanted,
    async check(ctx) {
      const installed = await facts.packageInstalled(ctx.sh, 'xe-guest-utilities');
      return installed ? noop('xe-guest-utilities is installed') : change('xe-guest-utilities is not installed');
    },
    commands: (ctx) => [
      cmd`mount -o ro ${ctx.params.toolsDevice} /mnt`,
      // The package's file name carries its version: the guest's shell expands the fixed glob.
      cmd`dpkg -i ${raw('/mnt/Linux/xe-guest-utilities_*_i386.deb')}; status=$?; umount /mnt; exit $status`,
    ],
  },
  waitFor({
    id: 'guest-network-reported',
    title: 'xe reports the guest\'s network',
    description: 'The conversion guide: with the tools in, "additional information such as the IP address of the guest should appear in XenCenter": `xe vm-param-get param-name=networks` on the master is no longer empty.',
    on: xe.poolMasterOf,
    when: toolsWanted,
    until: async (ctx) => {
      const networks = await xe.vmNetworks(ctx.sh, vmUuid(ctx));
      const shown = Object.entries(networks).map(([k, v]) => `${k}: ${v}`).join('; ');
      return shown ? noop(`xe reports ${shown}`) : change('xe reports no guest network yet (networks is <not in database>)');
    },
    timeoutMs: 300_000,
    intervalMs: 2000,
  }),
]);
