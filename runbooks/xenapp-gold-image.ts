/**
 * The gold image of the notes on cloning Citrix servers with XenApp Prep on Windows Server 2008
 * (a 2009 blog post, which also gives the KMS activation thresholds), as a checklist a change
 * ticket can carry, with automated checks between the human steps. On the gold server: the build
 * is manual (Windows Server 2008 and patches, prerequisites and roles, XenApp and its hotfixes, the
 * applications, the SME's sign-off with evidence), then checked: the server name is the generic
 * one; XenApp Prep is installed and has run; the IP is DHCP or off-subnet; the KMS thresholds;
 * sysprep /generalize /oobe /shutdown; and the pool master shows the VM halted. The clones are
 * deployed from it afterwards with runbooks/xenapp-clone-deploy.ts.
 *
 * Windows commands are cmd.exe lines built with `winCmd` (Windows OpenSSH runs every exec request
 * as `cmd.exe /c`): Server 2008, the notes' platform, has no PowerShell unless the feature is added.
 */
import { change, defineRunbook, manual, net, noop, runUntil, waitFor, windows, winCmd, xe, z, assert } from '../src/index.ts';

const XENAPP_PREP = 'C:\\Program Files\\Citrix\\XenAppPrep\\XenAppPrep.exe';
const SYSPREP = 'C:\\Windows\\System32\\sysprep\\sysprep.exe';

const runbook = defineRunbook({
  name: 'xenapp-gold-image',
  summary: 'prepare and seal a XenApp gold image: manual build with evidence, XenApp Prep, off-network address, KMS check, sysprep, halted (the XenApp Prep cloning notes; clones then come from xenapp-clone-deploy)',
  description: [
    'Follows the notes on cloning Citrix servers with XenApp Prep on Windows Server 2008 (a 2009 blog post), and the same',
    'source\'s KMS activation thresholds: the first half, preparing the gold image.',
    '',
    'Run it on the gold server (its inventory host; vm_name_label names its VM, windows_hostname its generic name):',
    'manual build steps with evidence, then checked steps up to a sysprep\'d, halted gold VM. xe steps run on the pool',
    'master (host var pool_master, or the xen_pool group\'s). Then deploy the clones from it with xenapp-clone-deploy',
    '(--param goldVm=<the gold\'s VM name-label>), one clone per inventory host.',
    '',
    'The KMS check warns and asks for a confirmation when the KMS host has fewer than 5 (servers) or 25 (clients)',
    'machines counted: activation fails until then. Windows commands run through cmd.exe (Windows OpenSSH).',
  ].join('\n'),
  hosts: 'windows',
  params: z.object({
    adapter: z.string().min(1).default('Local Area Connection').describe('the Windows network connection name netsh addresses'),
    prepIp: z.union([z.literal('dhcp'), net.ipv4Address]).default('dhcp')
      .describe('the gold\'s address before sysprep: dhcp, or a static address off its subnet (the cloning notes: "so when it reboots, it cannot communicate")'),
    prepMask: net.ipv4Address.default('255.255.255.0'),
    ...windows.kmsParams,
  }),
  vars: xe.guestVars({
    vm_name_label: z.string().min(1).describe('the gold image\'s VM in xe'),
    windows_hostname: windows.computerName.describe('the gold\'s generic computer name, the one every clone starts from'),
  }),
});

export default runbook.steps([
  assert({
    id: 'inputs-checked',
    title: 'the pool master answers for the gold image',
    description: 'Runs on the pool master, where the later xe steps run and where the halted gold is checked.',
    on: xe.poolMasterOf,
    async that(ctx) {
      await ctx.sh`xe pool-list params=uuid --minimal`;
      return noop(`prepare ${ctx.host.name} (VM ${ctx.host.vars.vm_name_label}) as the gold image ${ctx.host.vars.windows_hostname}`);
    },
  }),
  // ---- the build (manual) --------------------------------------------------------------------
  manual({
    id: 'os-patched',
    title: 'Windows Server 2008 installed and patched',
    instructions: 'The cloning notes\' build of the gold server, step 1: install Windows Server 2008 and apply all critical OS patches (and the optional ones your standards require). XenApp 5 does not run on 2008 R2.',
    evidence: z.object({ patchedThrough: z.string().min(1).describe('the last update or patch baseline applied, e.g. "2009-10 Patch Tuesday"') }),
  }),
  manual({
    id: 'prerequisites-installed',
    title: 'prerequisites and roles in place',
    instructions: 'The cloning notes\' build, steps 2-3: the pieces the applications need (J#, .NET with its service pack, Java …) and the Terminal Services role; IIS only if the Web Interface lives on this server (the notes advise against it).',
  }),
  manual({
    id: 'xenapp-installed',
    title: 'XenApp 5.0 installed with its hotfixes and tuning',
    instructions: 'The cloning notes\' build, steps 4-6: install XenApp 5.0 (check the admin guide\'s current prerequisites first), then the latest service packs, hotfixes and feature packs, then your best-practice tweaks.',
    evidence: z.object({ version: z.string().min(1).describe('XenApp version and hotfix rollup, e.g. "5.0 HRP04"') }),
  }),
  manual({
    id: 'apps-installed',
    title: 'published applications installed',
    instructions: 'The cloning notes\' build, step 7: install every application the image serves (usually Microsoft Office first, then the line-of-business ones), unless they are streamed.',
    evidence: z.object({ apps: z.string().min(1).describe('the applications installed, comma-separated') }),
  }),
  manual({
    id: 'sme-signed-off',
    title: 'the business SME tested the applications and signs off',
    instructions: 'The cloning notes\' build, step 8: the customer\'s subject matter expert tests each line-of-business application and agrees it works as the business needs. Only then does this server become the gold image.',
    evidence: z.object({
      sme: z.string().min(2).describe('who tested (name of the SME)'),
      tested: z.string().min(2).describe('what was tested: applications and scenarios'),
      result: z.enum(['pass']).describe('the outcome; anything but pass stops here'),
      ticket: z.string().optional().describe('the test record or change ticket'),
    }),
  }),
  // ---- checked -------------------------------------------------------------------------------
  assert({
    id: 'name-generic',
    title: 'the server carries its generic name',
    description: 'The cloning notes, gold image step 1: clones start from this name, so it must be generic (the host var windows_hostname). If it is not, rename the server and reboot, then run again.',
    async that(ctx) {
      const name = await windows.hostname(ctx.sh);
      const want = ctx.host.vars.windows_hostname;
      return name.toUpperCase() === want.toUpperCase() ? noop(`the server is named ${name}`) : change(`the server is named ${name}, want the generic ${want}`);
    },
  }),
  manual({
    id: 'xenapp-prep-installed',
    title: 'XenApp Prep installed',
    instructions: `The cloning notes, gold image step 2: download XenApp Prep and install its MSI; it puts XenAppPrep.exe in C:\\Program Files\\Citrix\\XenAppPrep. Nobody is asked when ${XENAPP_PREP} is already there.`,
    async check(ctx) {
      // A constant line (no values): cmd's `if exist` takes the quoted path as one word.
      const out = (await windows.cmdOutput(ctx.sh, winCmd`if exist "C:\\Program Files\\Citrix\\XenAppPrep\\XenAppPrep.exe" (echo present) else (echo absent)`)).out.trim();
      return out === 'present' ? noop(`${XENAPP_PREP} is installed`) : change(`${XENAPP_PREP} is missing`);
    },
  }),
  {
    kind: 'action',
    id: 'xenapp-prep-run',
    title: 'run XenApp Prep',
    description: 'The cloning notes, gold image step 4: run XenAppPrep.exe (not /pvs: the image is cloned, not streamed by Provisioning Services). It removes the server\'s farm identity; each clone re-registers at its first domain boot. Done when `qfarm` no longer finds this server in a farm.',
    async check(ctx) {
      const farm = await windows.farm(ctx.sh);
      if (farm.ok) return change('qfarm still lists the server in its farm: XenApp Prep has not run');
      return noop(`the server holds no farm identity (qfarm: ${(farm.stderr || farm.out).trim().split('\n')[0]})`);
    },
    commands: () => [winCmd`${XENAPP_PREP}`],
  },
  {
    kind: 'action',
    id: 'ip-isolated',
    title: 'take the gold\'s address off its network',
    description: 'The cloning notes, gold image step 6: DHCP, or a static address outside the local subnet, so a clone that boots cannot talk to anything until its own address is set. On a real network this drops the management connection unless the inventory reaches the gold on another interface: run the rest from the console then.',
    async check(ctx) {
      const now = await windows.adapterConfig(ctx.sh, ctx.params.adapter);
      const want = ctx.params.prepIp;
      if (want === 'dhcp') return now.dhcp ? noop(`${ctx.params.adapter} uses DHCP`) : change(`${ctx.params.adapter} has the static address ${now.address}`);
      return !now.dhcp && now.address === want ? noop(`${ctx.params.adapter} has the off-subnet address ${want}`) : change(`${ctx.params.adapter} has ${now.dhcp ? 'DHCP' : now.address}, want ${want}`);
    },
    commands: (ctx) => [ctx.params.prepIp === 'dhcp'
      ? winCmd`netsh interface ip set address name=${ctx.params.adapter} source=dhcp`
      : winCmd`netsh interface ip set address name=${ctx.params.adapter} source=static ${ctx.params.prepIp} ${ctx.params.prepMask}`],
  },
  ...windows.kmsThreshold({ on: xe.poolMasterOf }),
  // ---- seal ----------------------------------------------------------------------------------
  runUntil({
    id: 'sysprep-sealed',
    title: 'sysprep the gold image (OOBE, shut down)',
    description: 'The cloning notes, gold image step 7: sysprep with "OOBE" and "shut down" (not reboot); /generalize gives every clone its own SID. The server powers off: checked on the pool master, where the VM must read halted. Runs on the master so a resumed run does not need the (halted) gold to answer.',
    on: xe.poolMasterOf,
    async until(ctx) {
      const power = (await xe.vm(ctx.sh, ctx.host.vars.vm_name_label)).powerState;
      return power === 'halted' ? noop(`VM ${ctx.host.vars.vm_name_label} is halted`) : change(`VM ${ctx.host.vars.vm_name_label} is ${power}: sysprep has not shut it down`);
    },
    commands: () => [winCmd`${SYSPREP} /generalize /oobe /shutdown /quiet`],
    runOn: (ctx) => ctx.on(ctx.host.name),
    // sysprep ends in a power-off: the connection may drop before the exit status arrives.
    dropsConnection: true,
    waitingFor: 'the gold VM halted after sysprep /shutdown',
    waitTimeoutMs: 600_000,
    intervalMs: 500,
  }),
  waitFor({
    id: 'gold-halted',
    title: 'the pool master shows the gold VM halted',
    description: 'The image is sealed and can be copied (xenapp-clone-deploy, --param goldVm=<its VM name-label>): `xe vm-list` power-state halted.',
    on: xe.poolMasterOf,
    until: (ctx) => xe.vmPowerIs(ctx.sh, ctx.host.vars.vm_name_label, 'halted'),
    timeoutMs: 600_000,
    intervalMs: 1000,
  }),
]);
