/**
 * The XenApp gold image and clone procedure of the notes on cloning Citrix servers with XenApp Prep
 * on Windows Server 2008 (a 2009 blog post, which also gives the KMS activation thresholds), as a
 * checklist a change ticket can carry, with automated checks between the human steps. Two phases,
 * chosen by --param phase:
 *
 * prepare (on the gold server): the build is manual (Windows Server 2008 and patches,
 *   prerequisites and roles, XenApp and its hotfixes, the applications, the SME's sign-off with
 *   evidence), then checked: the server name is the generic one; XenApp Prep is installed and has
 *   run; the IP is DHCP or off-subnet; the KMS thresholds; sysprep /generalize /oobe /shutdown; and
 *   the pool master shows the VM halted.
 * deploy (one clone per inventory host, each host naming its clone): the KMS thresholds; the
 *   image copied on the pool master (`xe vm-copy` to a target SR, or `xe vm-clone`) and booted; the
 *   OOBE at the console (manual: name, password, IP); checked IP and name; the domain answers
 *   ping; domain join and reboot; `qfarm` shows the server; the applications published (manual);
 *   `qfarm /app` shows them; logons enabled.
 *
 * Windows commands are cmd.exe lines built with `winCmd` (Windows OpenSSH runs every exec request
 * as `cmd.exe /c`): Server 2008, the notes' platform, has no PowerShell unless the feature is added.
 */
import { change, cmd, defineRunbook, manual, noop, runUntil, secretString, waitFor, windows, winCmd, xe, z, assert } from '../src/index.ts';
import type { Shell } from '../src/index.ts';

/** The KMS notes: a KMS host activates servers once 5 distinct machines asked it, clients once 25 did. */
export const KMS_THRESHOLD = { server: 5, client: 25 } as const;
export const XENAPP_PREP = 'C:\\Program Files\\Citrix\\XenAppPrep\\XenAppPrep.exe';
export const SYSPREP = 'C:\\Windows\\System32\\sysprep\\sysprep.exe';

const netbios = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,14}$/, 'must be a NetBIOS computer name (1-15 letters, digits, -)');
const ipv4 = z.string().regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/, 'must be an IPv4 address');

const params = z.object({
  phase: z.enum(['prepare', 'deploy']).describe('prepare: build and seal the gold image; deploy: one clone per target host'),
  goldVm: z.string().min(1).optional().describe('deploy: the sealed gold image\'s VM name-label in xe'),
  targetSr: z.string().min(1).optional().describe('deploy: the SR (uuid or name-label) to copy the image to (xe vm-copy); none: xe vm-clone on the gold\'s SR'),
  adapter: z.string().min(1).default('Local Area Connection').describe('the Windows network connection name netsh addresses'),
  prepIp: z.union([z.literal('dhcp'), ipv4]).default('dhcp')
    .describe('prepare: the gold\'s address before sysprep: dhcp, or a static address off its subnet (the cloning notes: "so when it reboots, it cannot communicate")'),
  prepMask: ipv4.default('255.255.255.0'),
  kmsKind: z.enum(['server', 'client']).default('server').describe('what the KMS host must activate: Server 2008 for XenApp (threshold 5) or clients (25)'),
  kmsCount: z.number().int().min(0).optional().describe('the KMS host\'s current count (`cscript slmgr.vbs /dlv` on it); unknown: an operator confirms the risk'),
  domain: z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be a DNS domain name').optional().describe('deploy: the Active Directory domain the clones join'),
  domainUser: z.string().min(1).optional().describe('deploy: an account allowed to join computers (DOMAIN\\user)'),
  domainPassword: secretString().optional().describe('deploy: its password; give it as RUNBOOK_PARAM_domainPassword, never on the command line'),
  rebootTimeoutMs: z.number().int().positive().default(900_000).describe('how long a Windows reboot may take until SSH answers'),
});

const vars = z.object({
  vm_name_label: z.string().min(1).describe('this host\'s VM in xe: the gold image (prepare) or the clone to create (deploy)'),
  windows_hostname: netbios.describe('the computer name this host must carry: the gold\'s generic name, or the clone\'s final name'),
  windows_ip: ipv4.optional().describe('deploy: the clone\'s static address (set at the console during the OOBE)'),
  xen_pool: z.string().min(1).optional(),
  pool_master: z.string().min(1).optional(),
}).refine((v) => v.xen_pool !== undefined || v.pool_master !== undefined, { message: 'needs xen_pool or pool_master to find the pool master', path: ['xen_pool'] });

/** What the helpers below read of a step's context (every step's ctx has it). */
interface Ctx { sh: Shell; host: { name: string; vars: z.output<typeof vars> }; params: z.output<typeof params> }

const runbook = defineRunbook({
  name: 'xenapp-prep-clone',
  summary: 'XenApp gold image (XenApp Prep, sysprep) and clone deployment as a checked checklist, phase=prepare|deploy (the XenApp Prep cloning notes)',
  description: [
    'Follows the notes on cloning Citrix servers with XenApp Prep on Windows Server 2008 (a 2009 blog post), and the same',
    'source\'s KMS activation thresholds.',
    '',
    '--param phase=prepare on the gold server (its inventory host; vm_name_label names its VM): manual build steps',
    'with evidence, then checked steps up to a sysprep\'d, halted gold VM. --param phase=deploy on the clone hosts,',
    'one clone per host (vm_name_label: the clone\'s VM; windows_hostname, windows_ip: its identity), with',
    '--param goldVm, domain, domainUser and RUNBOOK_PARAM_domainPassword. Deploy works with --serial 1 (one clone',
    'at a time, as copies load the storage) or in parallel. Each step states its phase in `when`: the other phase\'s',
    'steps show as skipped. xe steps run on the pool master (host var pool_master, or the xen_pool group\'s).',
    '',
    'The KMS check warns and asks for a confirmation when the KMS host has fewer than 5 (servers) or 25 (clients)',
    'machines counted: activation fails until then. Windows commands run through cmd.exe (Windows OpenSSH).',
  ].join('\n'),
  hosts: 'windows',
  params,
  vars,
});

const preparing = (ctx: Ctx): boolean => ctx.params.phase === 'prepare';
const deploying = (ctx: Ctx): boolean => ctx.params.phase === 'deploy';

// ---- pure -------------------------------------------------------------------------------------

/** The KMS notes' arithmetic: can the KMS host activate this kind of machine at `count`? */
export function kmsVerdict(kind: 'server' | 'client', count: number | undefined): { ok: boolean; reason: string } {
  const need = KMS_THRESHOLD[kind];
  if (count === undefined) return { ok: false, reason: `the KMS host's count is unknown: it activates ${kind}s only once ${need} distinct machines have asked it` };
  if (count >= need) return { ok: true, reason: `the KMS host has counted ${count} machines (≥ ${need}): ${kind}s activate` };
  return { ok: false, reason: `the KMS host has counted ${count} of the ${need} machines it needs before it activates ${kind}s: clones stay unactivated (30-day grace, then nag screens)` };
}

/** The VM's power state as xe on the pool master reports it. */
async function goldPower(ctx: Ctx, name: string): Promise<string> {
  return (await xe.vm(ctx.sh, name)).powerState;
}

/** `xe vm-clone` of the gold image on its own SR, or `xe vm-copy` to --param targetSr. */
const copyCommand = async (ctx: Ctx, gold: string) => {
  const name = `new-name-label=${ctx.host.vars.vm_name_label}`;
  if (!ctx.params.targetSr) return cmd`xe vm-clone ${`uuid=${gold}`} ${name}`;
  const sr = await xe.sr(ctx.sh, ctx.params.targetSr);
  return cmd`xe vm-copy ${`uuid=${gold}`} ${name} ${`sr-uuid=${sr.uuid}`}`;
};

/** The domain the Windows host is a member of (empty: none). */
const domainOf = async (ctx: Ctx): Promise<string> => windows.domain(ctx.sh);

// ---- steps later steps read (their declared outputs) ----------------------------------------

const goldReady = runbook.step({
  kind: 'assert',
  id: 'gold-ready',
  title: 'the gold image exists once and is halted',
  description: 'A running gold image was not sealed (or was booted since, and is no longer a gold image). `xe vm-copy` also refuses a running VM.',
  when: deploying,
  on: xe.poolMasterOf,
  outputs: z.object({ goldUuid: z.string() }),
  async check(ctx) {
    const gold = await xe.vm(ctx.sh, ctx.params.goldVm!);
    return gold.powerState === 'halted' ? noop(`gold image ${gold.nameLabel} (${gold.uuid}) is halted`, { goldUuid: gold.uuid })
      : change(`gold image ${gold.nameLabel} is ${gold.powerState}: seal it with --param phase=prepare first`);
  },
});

const appsPublished = runbook.step({
  kind: 'manual',
  id: 'apps-published',
  title: 'publish the applications to the clone',
  when: deploying,
  instructions: 'The cloning notes, deploy step 9: in the Access Suite Console (configured to see the farm), drag the published applications that belong on this server onto it. Record them: the next step checks `qfarm /app` for each.',
  // Applications already published on this server (a rerun): nobody is asked, and they are what the next step checks.
  async check(ctx) {
    const server = ctx.host.vars.windows_hostname.toUpperCase();
    const apps = [...await windows.farmApps(ctx.sh)].filter(([, servers]) => servers.some((s) => s.toUpperCase() === server)).map(([app]) => app);
    return apps.length ? noop(`published on ${server}: ${apps.join(', ')}`, { apps: apps.join(',') }) : change(`nothing is published on ${server} yet`);
  },
  evidence: z.object({
    apps: z.string().min(1).describe('the published applications, comma-separated, as qfarm /app names them'),
    publishedBy: z.string().min(2).describe('who published them'),
  }),
  // The check's list on a rerun, else the one the operator recorded as evidence.
  outputs: z.object({ apps: z.string() }),
});

export default runbook.steps([
  // ---- common --------------------------------------------------------------------------------
  assert({
    id: 'inputs-checked',
    title: 'the phase has what it needs (params, host vars, the pool master answers)',
    description: 'Deploy needs goldVm, domain, domainUser, domainPassword and the host var windows_ip. Runs on the pool master: the clone does not exist yet when a deploy starts.',
    on: xe.poolMasterOf,
    async that(ctx) {
      await ctx.sh`xe pool-list params=uuid --minimal`;
      if (preparing(ctx)) return noop(`prepare ${ctx.host.name} (VM ${ctx.host.vars.vm_name_label}) as the gold image ${ctx.host.vars.windows_hostname}`);
      const missing = [
        !ctx.params.goldVm && '--param goldVm', !ctx.params.domain && '--param domain', !ctx.params.domainUser && '--param domainUser',
        !ctx.params.domainPassword && 'RUNBOOK_PARAM_domainPassword', !ctx.host.vars.windows_ip && `host var windows_ip of ${ctx.host.name}`,
      ].filter(Boolean);
      if (missing.length) return change(`deploy needs ${missing.join(', ')}`);
      return noop(`deploy ${ctx.params.goldVm} as ${ctx.host.vars.vm_name_label} (${ctx.host.vars.windows_hostname}, ${ctx.host.vars.windows_ip}) into ${ctx.params.domain}`);
    },
  }),
  // ---- prepare: the build (manual) -----------------------------------------------------------
  manual({
    id: 'os-patched',
    title: 'Windows Server 2008 installed and patched',
    when: preparing,
    instructions: 'The cloning notes\' build of the gold server, step 1: install Windows Server 2008 and apply all critical OS patches (and the optional ones your standards require). XenApp 5 does not run on 2008 R2.',
    evidence: z.object({ patchedThrough: z.string().min(1).describe('the last update or patch baseline applied, e.g. "2009-10 Patch Tuesday"') }),
  }),
  manual({
    id: 'prerequisites-installed',
    title: 'prerequisites and roles in place',
    when: preparing,
    instructions: 'The cloning notes\' build, steps 2-3: the pieces the applications need (J#, .NET with its service pack, Java …) and the Terminal Services role; IIS only if the Web Interface lives on this server (the notes advise against it).',
  }),
  manual({
    id: 'xenapp-installed',
    title: 'XenApp 5.0 installed with its hotfixes and tuning',
    when: preparing,
    instructions: 'The cloning notes\' build, steps 4-6: install XenApp 5.0 (check the admin guide\'s current prerequisites first), then the latest service packs, hotfixes and feature packs, then your best-practice tweaks.',
    evidence: z.object({ version: z.string().min(1).describe('XenApp version and hotfix rollup, e.g. "5.0 HRP04"') }),
  }),
  manual({
    id: 'apps-installed',
    title: 'published applications installed',
    when: preparing,
    instructions: 'The cloning notes\' build, step 7: install every application the image serves (usually Microsoft Office first, then the line-of-business ones), unless they are streamed.',
    evidence: z.object({ apps: z.string().min(1).describe('the applications installed, comma-separated') }),
  }),
  manual({
    id: 'sme-signed-off',
    title: 'the business SME tested the applications and signs off',
    when: preparing,
    instructions: 'The cloning notes\' build, step 8: the customer\'s subject matter expert tests each line-of-business application and agrees it works as the business needs. Only then does this server become the gold image.',
    evidence: z.object({
      sme: z.string().min(2).describe('who tested (name of the SME)'),
      tested: z.string().min(2).describe('what was tested: applications and scenarios'),
      result: z.enum(['pass']).describe('the outcome; anything but pass stops here'),
      ticket: z.string().optional().describe('the test record or change ticket'),
    }),
  }),
  // ---- prepare: checked ----------------------------------------------------------------------
  assert({
    id: 'name-generic',
    title: 'the server carries its generic name',
    description: 'The cloning notes, gold image step 1: clones start from this name, so it must be generic (the host var windows_hostname). If it is not, rename the server and reboot, then run again.',
    when: preparing,
    async that(ctx) {
      const name = await windows.hostname(ctx.sh);
      const want = ctx.host.vars.windows_hostname;
      return name.toUpperCase() === want.toUpperCase() ? noop(`the server is named ${name}`) : change(`the server is named ${name}, want the generic ${want}`);
    },
  }),
  manual({
    id: 'xenapp-prep-installed',
    title: 'XenApp Prep installed',
    when: preparing,
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
    when: preparing,
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
    when: preparing,
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
  // ---- both phases: KMS ----------------------------------------------------------------------
  /** Says the verdict in every run's output and journal (a manual step's own reason is not shown while it waits). */
  assert({
    id: 'kms-checked',
    title: 'check the KMS activation threshold (5 servers / 25 clients)',
    description: 'Always passes; its reason starts with WARNING when activation will fail, and the next step then asks an operator to confirm.',
    that: (ctx) => {
      const verdict = kmsVerdict(ctx.params.kmsKind, ctx.params.kmsCount);
      return noop(verdict.ok ? verdict.reason : `WARNING: ${verdict.reason}`);
    },
    on: xe.poolMasterOf,
  }),
  manual({
    id: 'kms-threshold',
    title: 'the KMS host can activate the clones (the KMS notes\' thresholds)',
    instructions: [
      'The KMS notes: a KMS host activates nothing until enough distinct machines have asked it: 5 for servers, 25 for clients',
      '(counting virtual machines only when the KMS host runs Server 2008 R2). Below that the clones run unactivated in',
      'the 30-day grace period and nag in its last days. Nobody is asked when --param kmsCount says the threshold is met.',
      'Otherwise read "Current count" from `cscript slmgr.vbs /dlv` on the KMS host and record how activation will be',
      'reached (more machines, a MAK key, an R2 KMS host) before the image is sealed or cloned.',
    ].join('\n'),
    evidence: z.object({
      currentCount: z.coerce.number().int().min(0).describe('"Current count" of the KMS host'),
      plan: z.string().min(3).describe('how activation will be reached, or who accepted the grace period'),
    }),
    check: (ctx) => {
      const verdict = kmsVerdict(ctx.params.kmsKind, ctx.params.kmsCount);
      return verdict.ok ? noop(verdict.reason) : change(`WARNING: ${verdict.reason}`);
    },
  }),
  // ---- prepare: seal -------------------------------------------------------------------------
  runUntil({
    id: 'sysprep-sealed',
    title: 'sysprep the gold image (OOBE, shut down)',
    description: 'The cloning notes, gold image step 7: sysprep with "OOBE" and "shut down" (not reboot); /generalize gives every clone its own SID. The server powers off: checked on the pool master, where the VM must read halted. Runs on the master so a resumed run does not need the (halted) gold to answer.',
    when: preparing,
    on: xe.poolMasterOf,
    async until(ctx) {
      const power = await goldPower(ctx, ctx.host.vars.vm_name_label);
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
    description: 'The image is sealed and can be copied: `xe vm-list` power-state halted.',
    when: preparing,
    on: xe.poolMasterOf,
    until: (ctx) => xe.vmPowerIs(ctx.sh, ctx.host.vars.vm_name_label, 'halted'),
    timeoutMs: 600_000,
    intervalMs: 1000,
  }),
  // ---- deploy --------------------------------------------------------------------------------
  goldReady,
  {
    kind: 'action',
    id: 'clone-copied',
    title: 'copy the gold image to this host\'s VM',
    description: 'The cloning notes, deploy step 1: "all you need to do is copy the image to another storage repository": `xe vm-copy … sr-uuid=` to --param targetSr, or `xe vm-clone` on the gold\'s SR without it. The longest step. Done when exactly one VM carries this host\'s vm_name_label.',
    when: deploying,
    on: xe.poolMasterOf,
    async check(ctx) {
      const found = await xe.uuids(ctx.sh, 'vm', { 'name-label': ctx.host.vars.vm_name_label });
      if (found.length > 1) throw new Error(`${found.length} VMs are named ${ctx.host.vars.vm_name_label}: remove the extra ones first`);
      return found.length === 1 ? noop(`VM ${ctx.host.vars.vm_name_label} exists (${found[0]})`, { cloneUuid: found[0] }) : change(`no VM named ${ctx.host.vars.vm_name_label} yet`);
    },
    commands: async (ctx) => [await copyCommand(ctx, goldReady.out.goldUuid(ctx))],
  },
  xe.vmPowerState({
    id: 'clone-started',
    title: 'boot the clone',
    description: 'The cloning notes, deploy step 2: boot it; it comes up in sysprep\'s out-of-box experience.',
    when: deploying,
    on: xe.poolMasterOf,
    vm: (ctx) => ctx.host.vars.vm_name_label,
    state: 'running',
  }),
  manual({
    id: 'oobe-completed',
    title: 'finish the OOBE at the console: name, password, address',
    when: deploying,
    instructions: [
      'The cloning notes, deploy steps 2, 4 and 5, at the VM console (XenCenter): follow the sysprep prompts and give the server its',
      'final name (host var windows_hostname); change the Administrator password to log on; then immediately set the',
      'static address (host var windows_ip, its mask, gateway and the domain\'s DNS servers). The clone cannot be reached',
      'before that, because the gold image was left without a usable address.',
    ].join('\n'),
    // A clone that already answers with its final name and address has been through the OOBE (a rerun).
    async check(ctx) {
      try {
        const name = await windows.hostname(ctx.sh);
        const addresses = await windows.ipv4Addresses(ctx.sh);
        const { windows_hostname: want, windows_ip: ip } = ctx.host.vars;
        if (name.toUpperCase() === want.toUpperCase() && addresses.includes(ip!)) return noop(`the clone answers as ${name} on ${ip}: OOBE done`);
        return change(`the clone answers as ${name} on ${addresses.join(', ') || 'no address'}`);
      } catch (error) {
        return change(`the clone does not answer yet (${(error as Error).message.split('\n')[0]})`);
      }
    },
    evidence: z.object({
      computerName: netbios.describe('the name given in the OOBE'),
      passwordChangedBy: z.string().min(2).describe('who set the new Administrator password (never the password)'),
      ip: ipv4.describe('the static address set'),
    }),
  }),
  assert({
    id: 'clone-address',
    title: 'the clone has its address',
    description: '`ipconfig` lists host var windows_ip.',
    when: deploying,
    async that(ctx) {
      const addresses = await windows.ipv4Addresses(ctx.sh);
      const want = ctx.host.vars.windows_ip!;
      return addresses.includes(want) ? noop(`ipconfig shows ${want}`) : change(`ipconfig shows ${addresses.join(', ') || 'no IPv4 address'}, want ${want}`);
    },
  }),
  assert({
    id: 'clone-name',
    title: 'the clone carries its final name',
    when: deploying,
    async that(ctx) {
      const name = await windows.hostname(ctx.sh);
      const want = ctx.host.vars.windows_hostname;
      return name.toUpperCase() === want.toUpperCase() ? noop(`the clone is named ${name}`) : change(`the clone is named ${name}, want ${want}: redo the OOBE naming`);
    },
  }),
  assert({
    id: 'domain-reachable',
    title: 'the clone can ping the domain name',
    description: 'The cloning notes, deploy step 5: "verify that the machine can ping the domain name" before joining it.',
    when: deploying,
    async that(ctx) {
      const ping = await windows.cmdOutput(ctx.sh, winCmd`ping -n 2 ${ctx.params.domain!}`);
      const summary = ping.out.split('\n').find((l) => /Packets:/.test(l))?.trim() ?? ping.out.trim().split('\n')[0];
      return ping.ok ? noop(`${ctx.params.domain} answers: ${summary}`) : change(`${ctx.params.domain} does not answer (${summary}): check the address, gateway and DNS`);
    },
  }),
  {
    kind: 'action',
    id: 'domain-joined',
    title: 'join the domain and reboot',
    description: 'The cloning notes, deploy steps 6-7: join the domain, reboot. `netdom join … /reboot` (the command-line form of the System Properties dialog), then wait for the clone to come back and `wmic computersystem get domain` to name the domain. Join and reboot are one step so a resumed run never joins twice.',
    when: deploying,
    timeoutMs: 1_200_000,
    async check(ctx) {
      const now = await domainOf(ctx);
      const want = ctx.params.domain!;
      return now.toLowerCase() === want.toLowerCase() ? noop(`member of ${now}`) : change(`member of ${now || 'no domain'}, want ${want}`);
    },
    commands: (ctx) => [winCmd`netdom join ${ctx.host.vars.windows_hostname} /domain:${ctx.params.domain!} /userd:${ctx.params.domainUser!} /passwordd:${ctx.params.domainPassword!} /reboot`],
    async apply(ctx) {
      const join = winCmd`netdom join ${ctx.host.vars.windows_hostname} /domain:${ctx.params.domain!} /userd:${ctx.params.domainUser!} /passwordd:${ctx.params.domainPassword!} /reboot`;
      await ctx.sh.run(join);
      await ctx.transport.reconnect({ timeoutMs: ctx.params.rebootTimeoutMs });
    },
  },
  waitFor({
    id: 'in-farm',
    title: '`qfarm` lists the clone in the farm',
    description: 'The cloning notes, deploy step 8: at its first domain boot the XenApp Prep service re-registers the server; `qfarm` must list it.',
    when: deploying,
    until: async (ctx) => {
      const farm = await windows.farm(ctx.sh);
      const servers = farm.servers;
      const want = ctx.host.vars.windows_hostname.toUpperCase();
      return servers.some((s) => s.toUpperCase() === want) ? noop(`qfarm lists ${want}`) : change(`qfarm lists ${servers.join(', ') || 'nothing'}${farm.ok ? '' : ` (${farm.stderr.trim()})`}`);
    },
    timeoutMs: 600_000,
    intervalMs: 2000,
  }),
  appsPublished,
  assert({
    id: 'apps-visible',
    title: '`qfarm /app` shows the applications on the clone',
    description: 'The cloning notes, deploy step 10: the farm sees the new server with its published applications (the list recorded in apps-published).',
    when: deploying,
    async that(ctx) {
      const wanted = appsPublished.out.apps(ctx).split(',').map((a) => a.trim()).filter(Boolean);
      const apps = await windows.farmApps(ctx.sh);
      const server = ctx.host.vars.windows_hostname.toUpperCase();
      const missing = wanted.filter((a) => !(apps.get(a) ?? []).some((s) => s.toUpperCase() === server));
      return missing.length === 0 ? noop(`qfarm /app shows ${wanted.join(', ')} on ${server}`) : change(`qfarm /app does not show ${missing.join(', ')} on ${server}`);
    },
  }),
  {
    kind: 'action',
    id: 'logons-enabled',
    title: 'enable logons',
    description: 'The cloning notes, deploy step 11: "make sure you\'ve enabled logons on it": `change logon /enable`.',
    when: deploying,
    async check(ctx) {
      const state = (await windows.cmdOutput(ctx.sh, winCmd`change logon /query`)).out.trim();
      return /ENABLED/.test(state) ? noop(state) : change(state || 'change logon /query printed nothing');
    },
    commands: () => [winCmd`change logon /enable`],
  },
]);
