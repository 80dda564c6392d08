/**
 * Seed 003's conversion of an Ubuntu guest installed in HVM mode to a paravirtualised (PV) guest,
 * driving two machines in turn: the guest itself (kernel, grub, shutdown, checks) and the master
 * of the pool it lives in (every `xe` command). Steps, as the seed orders them:
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
 * run only while the VM record is not yet PV-and-running. The way back is runbooks/pv-to-hvm.ts.
 */
import { change, cmd, defineRunbook, facts, file, grub, noop, raw, runUntil, waitFor, xe, z, apt, assert, command } from '../src/index.ts';
import type { ActionStep, AssertStep, Shell, StepContext } from '../src/index.ts';

/** Seed 003: "PV-args="console=tty0 xencons=tty"": the console shows up in XenCenter. */
export const SEED_PV_ARGS = 'console=tty0 xencons=tty';
/** The pre-conversion menu.lst, kept once so the way back (pv-to-hvm) can be compared against it. */
export const MENU_BACKUP = '/boot/grub/menu.lst.runbook-hvm';

const params = z.object({
  kernelPackage: z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'must be a Debian package name').default('linux-image-xen')
    .describe('the Xen kernel package (seed 003: the virtual package linux-image-xen pulls the newest -xen kernel)'),
  pvArgs: z.string().default(SEED_PV_ARGS).describe('PV-args for the kernel command line (seed 003\'s console settings)'),
  guestTools: z.boolean().default(true)
    .describe('install the XenServer guest utilities from the tools ISO and wait for xe to report the guest network; false skips both'),
  toolsIso: z.string().min(1).default('xs-tools.iso').describe('the tools ISO name as `xe cd-list` shows it'),
  toolsDevice: z.string().startsWith('/dev/').default('/dev/xvdd').describe('the guest device of the VM\'s CD drive (seed 003: /dev/xvdd)'),
  haltTimeoutMs: z.number().int().positive().default(300_000).describe('how long the guest may take to shut down'),
});

const vars = z.object({
  vm_name_label: z.string().min(1).describe('the guest VM\'s name-label in xe (exactly one VM must carry it)'),
  xen_pool: z.string().min(1).optional().describe('the inventory group of the pool the VM lives in; its pool_master var names the master'),
  pool_master: z.string().min(1).optional().describe('the inventory name of the pool master (default: xen_pool\'s pool_master)'),
}).refine((v) => v.xen_pool !== undefined || v.pool_master !== undefined, { message: 'needs xen_pool or pool_master to find the pool master', path: ['xen_pool'] });

type Params = z.output<typeof params>;
type Vars = z.output<typeof vars>;
type Ctx = StepContext<Params, Vars>;

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
const master = (ctx: Ctx): Shell => ctx.on(xe.poolMasterOf(ctx));
const vmUuid = (ctx: Ctx): string => ctx.outputs.get<string>('vm-found', 'uuid');
const xenVersion = (ctx: Ctx): string => ctx.outputs.get<string>('xen-kernel-found', 'version');

/**
 * The conversion still has to take the guest down: the VM record is not yet PV, or the VM is not
 * running (a run that died between the shutdown and the start). A converted, running guest is
 * never shut down again.
 */
async function conversionPending(ctx: Ctx): Promise<boolean> {
  const v = await vmBoot(master(ctx), ctx.host.vars.vm_name_label);
  return !(isPv(v) && v.power === 'running');
}

// ---- steps ----------------------------------------------------------------------------------

const vmFound: AssertStep<Params, Vars> = assert<Params, Vars>({
  id: 'vm-found',
  title: 'exactly one VM carries the name-label, and it is HVM (or already converted)',
  description: 'Seed 003: `xe vm-list name-label=Ubuntu params=uuid --minimal` on the pool master. Fails on zero or several VMs of that name, and on a VM that boots PV some other way than pygrub (not one this runbook made). Hands on the uuid to every later xe step.',
  on: xe.poolMasterOf,
  async that(ctx) {
    const v = await vmBoot(ctx.sh, ctx.host.vars.vm_name_label);
    const outputs = { uuid: v.uuid, hvmPolicy: v.hvmPolicy, bootloader: v.bootloader };
    if (v.hvmPolicy !== '') return noop(`VM ${v.nameLabel} (${v.uuid}) boots HVM (HVM-boot-policy=${JSON.stringify(v.hvmPolicy)}), ${v.power}`, outputs);
    if (v.bootloader === 'pygrub') return noop(`VM ${v.nameLabel} (${v.uuid}) already boots PV with pygrub, ${v.power}`, outputs);
    return change(`VM ${v.nameLabel} (${v.uuid}) is neither HVM nor PV with pygrub (PV-bootloader=${JSON.stringify(v.bootloader)}): not a guest this runbook converts`);
  },
});

const guestReachable = assert<Params, Vars>({
  id: 'guest-reachable',
  title: 'the guest answers over SSH',
  description: 'The kernel and grub work happens inside the guest, so it must answer before anything changes (seed 003 works in the guest over SSH).',
  async that(ctx) {
    const release = await ctx.sh`uname -r`.text();
    return noop(`${ctx.host.name} answers; running kernel ${release}`, { kernelBefore: release });
  },
});

const kernelInstalled = apt<Params, Vars>({
  id: 'xen-kernel-installed',
  title: 'install the Xen kernel package',
  description: 'Seed 003: `sudo apt-get install linux-image-xen`, "a virtual package which pulls in the latest Xen kernel and modules".',
  name: (ctx) => ctx.params.kernelPackage,
  state: 'present',
});

const xenKernelFound = assert<Params, Vars>({
  id: 'xen-kernel-found',
  title: 'find the Xen kernel\'s version in /boot',
  description: 'Seed 003: "In /boot I have vmlinuz-2.6.24-19-xen". The newest vmlinuz-*-xen with its initrd; its version names the grub entry and is what `uname -r` must say after the PV boot.',
  async that(ctx) {
    const files = await ctx.sh`ls -1 /boot`.lines();
    const version = grub.newestXenKernel(files);
    if (!version) return change('no vmlinuz-*-xen in /boot: the Xen kernel package did not install a kernel');
    if (!files.includes(`initrd.img-${version}`)) return change(`/boot has vmlinuz-${version} but no initrd.img-${version}`);
    return noop(`Xen kernel ${version} is in /boot`, { version });
  },
});

const menuBackedUp = command<Params, Vars>({
  id: 'menu-lst-saved',
  title: 'keep a copy of the HVM menu.lst',
  description: `Once, before the first edit: ${MENU_BACKUP}. The way back (pv-to-hvm) restores the HVM default from the running system, but an operator can diff against this copy.`,
  creates: MENU_BACKUP,
  run: cmd`cp -p ${grub.MENU_LST} ${MENU_BACKUP}`,
});

const grubEntry = file<Params, Vars>({
  id: 'grub-pv-entry',
  title: 'add the Xen kernel to menu.lst and make it the default',
  description: 'Seed 003 works around hardy\'s update-grub, which skips the paravirt_ops Xen kernel: copy the generic kernel\'s entry with the -xen version, and set `default` to the new entry\'s index ("I set mine to 3, since it is the fourth entry"), here counted from the file. The entry goes below the automagic list, where update-grub keeps it; a later update-grub that adds kernels shifts the indices, and a rerun of this step puts the default right again.',
  path: grub.MENU_LST,
  content: async (ctx) => {
    const text = await facts.fileContent(ctx.sh, grub.MENU_LST);
    if (text === null) throw new Error(`${grub.MENU_LST} does not exist: is grub legacy the guest's bootloader?`);
    return grub.pvMenu(text, xenVersion(ctx));
  },
});

/** In a dry-run the guest is still up, so later checks would read "running"; say what apply will do. */
function afterShutdown<S extends ActionStep<Params, Vars>>(step: S, what: string): S {
  return {
    ...step,
    async check(ctx: Ctx) {
      if (ctx.dryRun && await conversionPending(ctx)) return change(`${what} (after the shutdown above)`);
      return step.check(ctx);
    },
  };
}

/** Detached like reboot's: the command returns its status before the shutdown takes sshd down. */
const shutdownCommand = cmd`nohup sh -c 'sleep 1; shutdown -h now' >/dev/null 2>&1 &`;

const guestHalted: ActionStep<Params, Vars> = runUntil<Params, Vars>({
  id: 'guest-halted',
  title: 'shut the guest down and wait until xe shows it halted',
  description: 'Seed 003: "shut down the guest but do not reboot it just yet". Shut down from inside (an HVM guest without PV drivers cannot be shut down cleanly by xapi), then poll `xe vm-list` on the master until power-state is halted. Skipped once the VM boots PV and runs.',
  on: xe.poolMasterOf,
  when: conversionPending,
  async until(ctx) {
    const v = await vmBoot(ctx.sh, ctx.host.vars.vm_name_label);
    return v.power === 'halted' ? noop(`VM ${v.nameLabel} is halted`) : change(`VM ${v.nameLabel} is ${v.power}: shut it down from inside the guest`);
  },
  commands: () => [shutdownCommand],
  runOn: (ctx) => ctx.on(ctx.host.name),
  waitingFor: 'the VM halted after the shutdown',
  waitTimeoutMs: (ctx) => ctx.params.haltTimeoutMs,
  intervalMs: 500,
});

const hvmBootCleared = xe.paramSet<Params, Vars>({
  id: 'hvm-boot-policy-cleared',
  title: 'clear HVM-boot-policy',
  description: 'Seed 003: `xe vm-param-set uuid=<uuid> HVM-boot-policy=` "will clear the HVM boot mode from the VM".',
  on: xe.poolMasterOf, cls: 'vm', uuid: vmUuid, param: 'HVM-boot-policy', value: '',
});

const pvBootloader = xe.paramSet<Params, Vars>({
  id: 'pv-bootloader-pygrub',
  title: 'boot with pygrub',
  description: 'Seed 003: `xe vm-param-set uuid=<uuid> PV-bootloader=pygrub`: pygrub reads the kernel from the guest\'s own menu.lst.',
  on: xe.poolMasterOf, cls: 'vm', uuid: vmUuid, param: 'PV-bootloader', value: 'pygrub',
});

const pvArgs = xe.paramSet<Params, Vars>({
  id: 'pv-args',
  title: 'set the PV kernel arguments',
  description: 'Seed 003: `PV-args="console=tty0 xencons=tty"` so the login console shows in XenCenter (--param pvArgs to change).',
  on: xe.poolMasterOf, cls: 'vm', uuid: vmUuid, param: 'PV-args', value: (ctx) => ctx.params.pvArgs,
});

const rootBootable = xe.vbdBootable<Params, Vars>({
  id: 'root-vbd-bootable',
  title: 'mark the root disk\'s VBD bootable',
  description: 'Seed 003: `xe vm-disk-list uuid=<uuid>` for the VBD of the disk, then `xe vbd-param-set uuid=<vbd> bootable=true`, "so that pygrub knows where to look for the PV kernel".',
  on: xe.poolMasterOf, vm: vmUuid, userdevice: '0',
});

const vmStarted = afterShutdown(xe.vmPowerState<Params, Vars>({
  id: 'vm-started',
  title: 'start the VM in PV mode',
  description: 'Seed 003: "If you boot up the Ubuntu VM, it should start up in text-mode with the high-speed PV kernel". `xe vm-start` on the master, waiting until xe shows it running.',
  on: xe.poolMasterOf, vm: vmUuid, state: 'running',
}), 'the VM is started in PV mode');

const guestAnswers = afterShutdown(waitFor<Params, Vars>({
  id: 'guest-answers',
  title: 'wait for the guest\'s SSH',
  description: 'The PV boot ends with sshd up again; the connection to the guest reconnects. If it never answers, the PV boot failed: see runbooks/pv-to-hvm.ts (or xe-edit-bootloader, as seed 003 says). Runs `on` the master and asks the guest through ctx.on, so a run resumed while the guest still boots waits for it instead of calling it unreachable.',
  on: xe.poolMasterOf,
  until: async (ctx) => noop(`${ctx.host.name} answers: kernel ${await ctx.on(ctx.host.name)`uname -r`.text()}`),
  timeoutMs: 600_000,
  intervalMs: 1000,
}), 'the guest answers SSH after the PV boot');

const pvKernelRunning = assert<Params, Vars>({
  id: 'pv-kernel-running',
  title: 'the guest runs the Xen kernel',
  description: '`uname -r` must print the -xen version found in /boot: proof the VM booted PV through pygrub, not the generic kernel.',
  async that(ctx) {
    const release = await ctx.sh`uname -r`.text();
    const want = xenVersion(ctx);
    return release === want ? noop(`running ${release}`) : change(`running ${release}, want the Xen kernel ${want}: the PV boot did not take (runbooks/pv-to-hvm.ts goes back)`);
  },
});

const toolsWanted = (ctx: Ctx): boolean => ctx.params.guestTools;

/** The VM's CD drive holds the tools ISO (`xe vm-cd-insert`), read back through its CD VBD. */
const toolsIsoInserted: ActionStep<Params, Vars> = {
  kind: 'action',
  id: 'tools-iso-inserted',
  title: 'insert the XenServer tools ISO',
  description: 'Seed 003: "Attach the XenServer Tools ISO into the VM". `xe vm-cd-insert` on the master.',
  on: xe.poolMasterOf,
  when: toolsWanted,
  async check(ctx) {
    const cds = await xe.list(ctx.sh, 'vbd', { 'vm-uuid': vmUuid(ctx), type: 'CD' }, ['uuid', 'vdi-name-label', 'empty']);
    if (cds.length === 0) throw new Error(`VM ${ctx.host.vars.vm_name_label} has no CD drive to insert ${ctx.params.toolsIso} into`);
    const loaded = cds.find((c) => c.text('empty') === 'false' && c.text('vdi-name-label') === ctx.params.toolsIso);
    return loaded ? noop(`${ctx.params.toolsIso} is in the CD drive`) : change(`the CD drive does not hold ${ctx.params.toolsIso}`);
  },
  commands: (ctx) => [cmd`xe vm-cd-insert ${`uuid=${vmUuid(ctx)}`} ${`cd-name=${ctx.params.toolsIso}`}`],
};

const guestUtilities: ActionStep<Params, Vars> = {
  kind: 'action',
  id: 'guest-utilities-installed',
  title: 'install the guest utilities from the tools ISO',
  description: 'Seed 003: `sudo mount /dev/xvdd /mnt`, `sudo dpkg -i /mnt/Linux/xe-guest-utilities_*.deb` (the i386 package; the seed\'s dash workaround is for XenServer 4.1 only). Unmounts again.',
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
};

const networkReported = waitFor<Params, Vars>({
  id: 'guest-network-reported',
  title: 'xe reports the guest\'s network',
  description: 'Seed 003: with the tools in, "additional information such as the IP address of the guest should appear in XenCenter": `xe vm-param-get param-name=networks` on the master is no longer empty.',
  on: xe.poolMasterOf,
  when: toolsWanted,
  until: async (ctx) => {
    const networks = await xe.vmNetworks(ctx.sh, vmUuid(ctx));
    const shown = Object.entries(networks).map(([k, v]) => `${k}: ${v}`).join('; ');
    return shown ? noop(`xe reports ${shown}`) : change('xe reports no guest network yet (networks is <not in database>)');
  },
  timeoutMs: 300_000,
  intervalMs: 2000,
});

export default defineRunbook({
  name: 'hvm-to-pv',
  summary: 'convert an Ubuntu guest from HVM to PV: Xen kernel, menu.lst entry, pygrub, bootable root VBD, PV boot check (seed 003)',
  description: [
    'Follows seed 003 ("installing Ubuntu in HVM mode and converting it to PV") on Ubuntu 8.04-era',
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
}).steps([
  vmFound, guestReachable, kernelInstalled, xenKernelFound, menuBackedUp, grubEntry,
  guestHalted, hvmBootCleared, pvBootloader, pvArgs, rootBootable, vmStarted, guestAnswers, pvKernelRunning,
  toolsIsoInserted, guestUtilities, networkReported,
]);
