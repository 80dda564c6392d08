/**
 * The clone deployment of the notes on cloning Citrix servers with XenApp Prep on Windows Server
 * 2008 (a 2009 blog post, which also gives the KMS activation thresholds), as a checklist a change
 * ticket can carry, with automated checks between the human steps. It starts from the gold image
 * runbooks/xenapp-gold-image.ts sealed (sysprep'd and halted), one clone per inventory host, each
 * host naming its clone: the KMS thresholds; the image copied on the pool master (`xe vm-copy` to a
 * target SR, or `xe vm-clone`) and booted; the OOBE at the console (manual: name, password, IP);
 * checked IP and name; the domain answers ping; domain join and reboot; `qfarm` shows the server;
 * the applications published (manual); `qfarm /app` shows them; logons enabled.
 *
 * Windows commands are cmd.exe lines built with `winCmd` (Windows OpenSSH runs every exec request
 * as `cmd.exe /c`): Server 2008, the notes' platform, has no PowerShell unless the feature is added.
 */
import { change, cmd, defineRunbook, manual, net, noop, secretString, waitFor, windows, winCmd, xe, z, assert } from '../src/index.ts';

const runbook = defineRunbook({
  name: 'xenapp-clone-deploy',
  summary: 'deploy a XenApp server from the sealed gold image: copy, OOBE at the console, domain join, farm, published apps, logons (the XenApp Prep cloning notes; seal the gold first with xenapp-gold-image)',
  description: [
    'Follows the notes on cloning Citrix servers with XenApp Prep on Windows Server 2008 (a 2009 blog post), and the same',
    'source\'s KMS activation thresholds: the second half, deploying clones of the gold image.',
    '',
    'Prepare and seal the gold image first with xenapp-gold-image, then run this on the clone hosts, one clone per host',
    '(vm_name_label: the clone\'s VM; windows_hostname, windows_ip: its identity), with --param goldVm=<the gold\'s VM',
    'name-label>, domain, domainUser and RUNBOOK_PARAM_domainPassword. Works with --serial 1 (one clone at a time, as',
    'copies load the storage) or in parallel. xe steps run on the pool master (host var pool_master, or the xen_pool',
    'group\'s).',
    '',
    'The KMS check warns and asks for a confirmation when the KMS host has fewer than 5 (servers) or 25 (clients)',
    'machines counted: activation fails until then. Windows commands run through cmd.exe (Windows OpenSSH).',
  ].join('\n'),
  hosts: 'windows',
  params: z.object({
    goldVm: z.string().min(1).describe('the sealed gold image\'s VM name-label in xe (xenapp-gold-image made it)'),
    targetSr: z.string().min(1).optional().describe('the SR (uuid or name-label) to copy the image to (xe vm-copy); none: xe vm-clone on the gold\'s SR'),
    domain: z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be a DNS domain name').describe('the Active Directory domain the clones join'),
    domainUser: z.string().min(1).describe('an account allowed to join computers (DOMAIN\\user)'),
    domainPassword: secretString().describe('its password; give it as RUNBOOK_PARAM_domainPassword, never on the command line'),
    rebootTimeoutMs: z.number().int().positive().default(900_000).describe('how long a Windows reboot may take until SSH answers'),
    ...windows.kmsParams,
  }),
  vars: xe.guestVars({
    vm_name_label: z.string().min(1).describe('the clone\'s VM in xe: the one this run creates'),
    windows_hostname: windows.computerName.describe('the clone\'s final computer name'),
    windows_ip: net.ipv4Address.describe('the clone\'s static address (set at the console during the OOBE)'),
  }),
});

const goldReady = runbook.step({
  kind: 'assert',
  id: 'gold-ready',
  title: 'the gold image exists once and is halted',
  description: 'A running gold image was not sealed (or was booted since, and is no longer a gold image). `xe vm-copy` also refuses a running VM.',
  on: xe.poolMasterOf,
  outputs: z.object({ goldUuid: z.string() }),
  async check(ctx) {
    const gold = await xe.vm(ctx.sh, ctx.params.goldVm);
    return gold.powerState === 'halted' ? noop(`gold image ${gold.nameLabel} (${gold.uuid}) is halted`, { goldUuid: gold.uuid })
      : change(`gold image ${gold.nameLabel} is ${gold.powerState}: seal it with xenapp-gold-image first`);
  },
});

const appsPublished = runbook.step({
  kind: 'manual',
  id: 'apps-published',
  title: 'publish the applications to the clone',
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
  assert({
    id: 'inputs-checked',
    title: 'the pool master answers for the clone',
    description: 'Runs on the pool master: the clone does not exist yet when a deploy starts. The params and host vars the deploy needs (goldVm, domain, domainUser, domainPassword; windows_ip) were checked before any host was touched.',
    on: xe.poolMasterOf,
    async that(ctx) {
      await ctx.sh`xe pool-list params=uuid --minimal`;
      return noop(`deploy ${ctx.params.goldVm} as ${ctx.host.vars.vm_name_label} (${ctx.host.vars.windows_hostname}, ${ctx.host.vars.windows_ip}) into ${ctx.params.domain}`);
    },
  }),
  ...windows.kmsThreshold({ on: xe.poolMasterOf }),
  goldReady,
  {
    kind: 'action',
    id: 'clone-copied',
    title: 'copy the gold image to this host\'s VM',
    description: 'The cloning notes, deploy step 1: "all you need to do is copy the image to another storage repository": `xe vm-copy … sr-uuid=` to --param targetSr, or `xe vm-clone` on the gold\'s SR without it. The longest step. Done when exactly one VM carries this host\'s vm_name_label.',
    on: xe.poolMasterOf,
    async check(ctx) {
      const found = await xe.uuids(ctx.sh, 'vm', { 'name-label': ctx.host.vars.vm_name_label });
      if (found.length > 1) throw new Error(`${found.length} VMs are named ${ctx.host.vars.vm_name_label}: remove the extra ones first`);
      return found.length === 1 ? noop(`VM ${ctx.host.vars.vm_name_label} exists (${found[0]})`, { cloneUuid: found[0] }) : change(`no VM named ${ctx.host.vars.vm_name_label} yet`);
    },
    async commands(ctx) {
      const gold = `uuid=${goldReady.out.goldUuid(ctx)}`;
      const name = `new-name-label=${ctx.host.vars.vm_name_label}`;
      if (!ctx.params.targetSr) return [cmd`xe vm-clone ${gold} ${name}`];
      const sr = await xe.sr(ctx.sh, ctx.params.targetSr);
      return [cmd`xe vm-copy ${gold} ${name} ${`sr-uuid=${sr.uuid}`}`];
    },
  },
  xe.vmPowerState({
    id: 'clone-started',
    title: 'boot the clone',
    description: 'The cloning notes, deploy step 2: boot it; it comes up in sysprep\'s out-of-box experience.',
    on: xe.poolMasterOf,
    vm: (ctx) => ctx.host.vars.vm_name_label,
    state: 'running',
  }),
  manual({
    id: 'oobe-completed',
    title: 'finish the OOBE at the console: name, password, address',
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
        if (name.toUpperCase() === want.toUpperCase() && addresses.includes(ip)) return noop(`the clone answers as ${name} on ${ip}: OOBE done`);
        return change(`the clone answers as ${name} on ${addresses.join(', ') || 'no address'}`);
      } catch (error) {
        return change(`the clone does not answer yet (${(error as Error).message.split('\n')[0]})`);
      }
    },
    evidence: z.object({
      computerName: windows.computerName.describe('the name given in the OOBE'),
      passwordChangedBy: z.string().min(2).describe('who set the new Administrator password (never the password)'),
      ip: net.ipv4Address.describe('the static address set'),
    }),
  }),
  assert({
    id: 'clone-address',
    title: 'the clone has its address',
    description: '`ipconfig` lists host var windows_ip.',
    async that(ctx) {
      const addresses = await windows.ipv4Addresses(ctx.sh);
      const want = ctx.host.vars.windows_ip;
      return addresses.includes(want) ? noop(`ipconfig shows ${want}`) : change(`ipconfig shows ${addresses.join(', ') || 'no IPv4 address'}, want ${want}`);
    },
  }),
  assert({
    id: 'clone-name',
    title: 'the clone carries its final name',
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
    async that(ctx) {
      const ping = await windows.cmdOutput(ctx.sh, winCmd`ping -n 2 ${ctx.params.domain}`);
      const summary = ping.out.split('\n').find((l) => /Packets:/.test(l))?.trim() ?? ping.out.trim().split('\n')[0];
      return ping.ok ? noop(`${ctx.params.domain} answers: ${summary}`) : change(`${ctx.params.domain} does not answer (${summary}): check the address, gateway and DNS`);
    },
  }),
  {
    kind: 'action',
    id: 'domain-joined',
    title: 'join the domain and reboot',
    description: 'The cloning notes, deploy steps 6-7: join the domain, reboot. `netdom join … /reboot` (the command-line form of the System Properties dialog), then wait for the clone to come back and `wmic computersystem get domain` to name the domain. Join and reboot are one step so a resumed run never joins twice.',
    timeoutMs: 1_200_000,
    async check(ctx) {
      const now = await windows.domain(ctx.sh);
      const want = ctx.params.domain;
      return now.toLowerCase() === want.toLowerCase() ? noop(`member of ${now}`) : change(`member of ${now || 'no domain'}, want ${want}`);
    },
    commands: (ctx) => [winCmd`netdom join ${ctx.host.vars.windows_hostname} /domain:${ctx.params.domain} /userd:${ctx.params.domainUser} /passwordd:${ctx.params.domainPassword} /reboot`],
    async apply(ctx) {
      await ctx.sh.run(winCmd`netdom join ${ctx.host.vars.windows_hostname} /domain:${ctx.params.domain} /userd:${ctx.params.domainUser} /passwordd:${ctx.params.domainPassword} /reboot`);
      await ctx.transport.reconnect({ timeoutMs: ctx.params.rebootTimeoutMs });
    },
  },
  waitFor({
    id: 'in-farm',
    title: '`qfarm` lists the clone in the farm',
    description: 'The cloning notes, deploy step 8: at its first domain boot the XenApp Prep service re-registers the server; `qfarm` must list it.',
    until: async (ctx) => {
      const farm = await windows.farm(ctx.sh);
      const want = ctx.host.vars.windows_hostname.toUpperCase();
      return farm.servers.some((s) => s.toUpperCase() === want) ? noop(`qfarm lists ${want}`) : change(`qfarm lists ${farm.servers.join(', ') || 'nothing'}${farm.ok ? '' : ` (${farm.stderr.trim()})`}`);
    },
    timeoutMs: 600_000,
    intervalMs: 2000,
  }),
  appsPublished,
  assert({
    id: 'apps-visible',
    title: '`qfarm /app` shows the applications on the clone',
    description: 'The cloning notes, deploy step 10: the farm sees the new server with its published applications (the list recorded in apps-published).',
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
    async check(ctx) {
      const state = (await windows.cmdOutput(ctx.sh, winCmd`change logon /query`)).out.trim();
      return /ENABLED/.test(state) ? noop(state) : change(state || 'change logon /query printed nothing');
    },
    commands: () => [winCmd`change logon /enable`],
  },
]);
