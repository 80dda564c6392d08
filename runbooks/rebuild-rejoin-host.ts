/**
 * Rebuild a dead XenServer host from scratch and bring it back into its pool (issue 7).
 *
 * The host crash notes: a host lost to an OOMKILL, a kernel segfault or panic is "taken out of the
 * pool and rebuilt". The lost pool master note: if the master died, a surviving member is in
 * emergency mode (`xe host-is-in-emergency-mode`) and is promoted
 * (`xe pool-emergency-transition-to-master`); a failed host is reinstalled, its
 * multipath-enabled.conf edited, and it rejoins the pool; then `xe pool-designate-new-master` moves
 * the master back. The management jumbo frames note: the management bond keeps MTU 1500 or the host
 * never rejoins. The HA timeout notes: HA must be off around the surgery (emergency HA disable where
 * the pool is broken), its timeout does not persist across a disable/enable so the recorded one is
 * given again, and a two-host pool must not run HA at all.
 *
 * The run's one target is the host being rebuilt (`--limit xs-03`): its journal,
 * lock and manual gates belong to it. It is down for the first half of the run, so every `xe`
 * step runs `on` a survivor chosen at run time (the old master may be the dead host; after the
 * emergency transition the survivor is the master) and journaled, so a resume anywhere uses the
 * same one. Every step checks before it acts, so a run killed anywhere resumes to the same end.
 *
 * Order differs from issue 7's list in two places, both forced by xapi: the survivor's HA is
 * disabled (the HA timeout notes' emergency disable) as part of the transition, since an HA-armed
 * host refuses it; and the master moves back before HA is re-enabled, since
 * pool-designate-new-master refuses while HA is on. A dry-run plans up to the reinstall and then
 * reports the dead host unreachable (exit 4): nothing on it can be checked before it is reinstalled.
 *
 * The new host key is written to `--param knownHosts` (default `$RUNBOOK_STATE_DIR/known_hosts`,
 * else `.runbook/known_hosts`): give it when the run uses `--state-dir`. A wrong file cannot let
 * an untrusted key through: the step re-checks through the run's own SSH transport.
 *
 * Assumes XenServer 5.5–6.x as the notes describe: `other-config:multipathing`, open-iscsi
 * (storage reached through the inventory's portals, not HBAs), one shared lvmoiscsi SR for the VMs.
 */
import {
  change, cmd, defineRunbook, file, hostKey, iscsi, manual, multipath, net, noop, secretString, waitFor, xe, z,
} from '../src/index.ts';
import type { CheckResult, Shell, StepContext } from '../src/index.ts';

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

const params = z.object({
  pool: z.string().min(1).optional().describe('its pool (an inventory group); default: the host\'s xen_pool var'),
  becomeMaster: z.boolean().optional().describe('designate the rebuilt host master again at the end; default: the inventory\'s pool_master names it'),
  poolPassword: secretString().describe('the pool\'s root password for xe pool-join; give it as RUNBOOK_PARAM_poolPassword'),
  survivor: z.string().min(1).optional().describe('the pool member to run xe on; default: pool_master, else the first other member that answers'),
  ha: z.boolean().optional().describe('HA on at the end; default: as the pool had it, or on when it could not be read (the master was lost)'),
  haTimeout: z.number().int().positive().default(120).describe('HA timeout (s) when the pool could not tell its own: the HA timeout notes recommend 120'),
  hostKey: z.string().regex(FINGERPRINT).optional().describe('the new host key fingerprint, when the one confirmed with the reinstall was wrong (on resume: RUNBOOK_PARAM_hostKey)'),
  knownHosts: z.string().min(1).default(hostKey.projectKnownHosts())
    .describe('the project known_hosts the run trusts (<state-dir>/known_hosts): where the new host key is written'),
});

const vars = z.object({
  xen_pool: z.string().min(1),
  pool_master: z.string().min(1).optional(),
  management_ip: z.string().refine(net.isIPv4, 'must be the management IPv4 address'),
  iscsi_portals: net.portalsOnDistinctSubnets(),
  iscsi_target_iqn: z.string().regex(/^iqn\./, 'must be an iSCSI qualified name (iqn.…)'),
  multipath_paths: z.number().int().min(1).optional(),
});

const runbook = defineRunbook({
  name: 'rebuild-rejoin-host',
  summary: 'Rebuild a dead XenServer host and rejoin it to its pool, across a manual reinstall and a new host key (the lost pool master note, with the host crash, management jumbo frames and HA timeout notes)',
  description: 'Run with --limit HOST, the host being rebuilt (RUNBOOK_PARAM_poolPassword in the environment). Pauses twice for an operator: before host-forget, and for the reinstall (evidence: version, management IP, the new host key fingerprint). Anyone may confirm and resume.',
  params,
  vars,
  hosts: 'xenservers',
  oneHost: true,
});

/** What the helpers below read of a step's context (every step's ctx is one). */
interface Ctx extends Pick<StepContext, 'sh' | 'on' | 'inventory' | 'outputs'> {
  host: { name: string; vars: z.output<typeof vars> };
  params: z.output<typeof params>;
}

const poolOf = (ctx: Ctx): string => ctx.params.pool ?? ctx.host.vars.xen_pool;
const becomeMaster = (ctx: Ctx): boolean => ctx.params.becomeMaster ?? ctx.host.vars.pool_master === ctx.host.name;
const expectedPaths = (ctx: Ctx): number => ctx.host.vars.multipath_paths ?? ctx.host.vars.iscsi_portals.length;

// ---- facts ---------------------------------------------------------------------------------

/** Other members of the pool in the inventory, pool_master first. */
function otherMembers(ctx: Ctx): string[] {
  const members = ctx.inventory.group(poolOf(ctx)).map((h) => h.name);
  if (!members.includes(ctx.host.name)) throw new Error(`${ctx.host.name} is not in inventory group ${poolOf(ctx)}`);
  const others = members.filter((name) => name !== ctx.host.name);
  const master = ctx.host.vars.pool_master;
  return master && others.includes(master) ? [master, ...others.filter((n) => n !== master)] : others;
}

/** Whether a host answers a command now (a dead one is refused or times out). */
async function answers(sh: Shell): Promise<boolean> {
  try {
    return await sh`true`.succeeds();
  } catch {
    return false;
  }
}

async function pickSurvivor(ctx: Ctx): Promise<string> {
  if (ctx.params.survivor) return ctx.params.survivor;
  const candidates = otherMembers(ctx);
  for (const name of candidates) if (await answers(ctx.on(name))) return name;
  throw new Error(`no other member of ${poolOf(ctx)} answers (${candidates.join(', ') || 'none in the inventory'}): nothing to rebuild the pool from`);
}

/** The management address of the master as a pool member sees it. */
async function masterAddress(sh: Shell): Promise<string> {
  return xe.paramGet(sh, 'host', await xe.poolMaster(sh), 'address');
}

/** The rebuilt host's record as the pool sees it now (by name: after the forget only the new one has it). */
async function hostRecord(sh: Shell, name: string): Promise<xe.XeRecord | undefined> {
  const [record] = await xe.list(sh, 'host', { 'name-label': name }, ['uuid', 'name-label', 'address', 'enabled', 'host-metrics-live']);
  return record;
}

// ---- steps ---------------------------------------------------------------------------------

const survivorChosen = runbook.step({
  kind: 'assert',
  id: 'survivor-chosen',
  title: 'choose a surviving pool member to run xe on',
  description: 'The pool_master var if it is not the dead host and answers, else the first other member that answers (or --param survivor). Hands on the survivor and whether it lost its master (the lost pool master note: xe host-is-in-emergency-mode).',
  on: pickSurvivor,
  outputs: z.object({ survivor: z.string(), lostMaster: z.boolean(), pool: z.string() }),
  async check(ctx) {
    const name = ctx.sh.host;
    if (!otherMembers(ctx).includes(name)) return change(`${name} is not another member of pool ${poolOf(ctx)}`);
    if (ctx.host.vars.xen_pool !== poolOf(ctx)) return change(`${ctx.host.name} is in pool ${ctx.host.vars.xen_pool}, not ${poolOf(ctx)}`);
    const lostMaster = await xe.isEmergencyMode(ctx.sh);
    return noop(`${name} answers${lostMaster ? ' and is in emergency mode: the master is gone' : ''}`, { survivor: name, lostMaster, pool: poolOf(ctx) });
  },
});

/** The survivor survivor-chosen journaled: every `xe` step runs on it, on resume too. */
const survivor = survivorChosen.out.survivor;

const iscsiConfigKnown = runbook.step({
  kind: 'assert',
  id: 'iscsi-config-known',
  title: 'the inventory\'s iSCSI configuration is the pool\'s',
  description: 'The lost pool master note rebuilds quickly only with HBAs that keep the SAN settings; with open-iscsi the rebuilt host must be given them again, so they must be known: the survivor\'s node records must show the inventory\'s target at each of its portals.',
  on: survivor,
  async check(ctx) {
    const records = await iscsi.nodes(ctx.sh);
    const target = ctx.host.vars.iscsi_target_iqn;
    const missing = ctx.host.vars.iscsi_portals.map(net.parsePortal)
      .filter((p) => !records.some((n) => n.target === target && n.address === p.address && n.port === p.port))
      .map(net.portalText);
    if (missing.length === 0) return noop(`${ctx.sh.host} has node records for ${target} at ${ctx.host.vars.iscsi_portals.join(', ')}`);
    return change(`${ctx.sh.host} has no node record for ${target} at ${missing.join(', ')}: the inventory's open-iscsi settings are not the pool's, and the lost pool master note needs them known to rebuild (fix iscsi_portals/iscsi_target_iqn)`);
  },
});

const haRecorded = runbook.step({
  kind: 'assert',
  id: 'ha-recorded',
  title: 'record the HA configuration before anything disables it',
  description: 'The HA timeout notes: the HA timeout does not persist across a disable/enable. Journaled as soon as it passes, so the re-enable gets it back even after a crash. A survivor in emergency mode cannot read the pool: then it is recorded as unknown.',
  on: survivor,
  outputs: z.object({ haEnabled: z.boolean().nullable(), timeout: z.number().nullable(), heartbeatSr: z.string().nullable() }),
  async check(ctx) {
    if (await xe.isEmergencyMode(ctx.sh)) {
      return noop('the pool does not answer (emergency mode): HA state unknown', { haEnabled: null, timeout: null, heartbeatSr: null });
    }
    const ha = await xe.haState(ctx.sh);
    const outputs = { haEnabled: ha.enabled, timeout: ha.timeout ?? null, heartbeatSr: ha.heartbeatSrUuids[0] ?? null };
    return noop(ha.enabled ? `HA is on (timeout ${ha.timeout ?? 'default'}, heartbeat SR ${outputs.heartbeatSr ?? 'unknown'})` : 'HA is off', outputs);
  },
});

/** The HA notes' emergency disable: an HA-armed survivor refuses the transition. */
const EMERGENCY_HA_OFF = cmd`xe host-emergency-ha-disable force=true`;

const masterTakenOver = runbook.extend(
  xe.emergencyTransitionToMaster({ id: 'master-taken-over', title: 'promote the survivor', intervalMs: 1000, waitTimeoutMs: 120_000 }),
  {
    title: 'if the master was lost: promote the survivor to master',
    description: 'The lost pool master note: xe host-is-in-emergency-mode says true on the survivor when the master is gone; xe pool-emergency-transition-to-master makes it the master. A survivor whose HA is armed refuses that, so the HA timeout notes\' xe host-emergency-ha-disable force=true comes first. Waits until the pool answers.',
    on: survivor,
    commands: () => [EMERGENCY_HA_OFF, cmd`xe pool-emergency-transition-to-master`],
    async apply(ctx, transition) {
      await ctx.sh.run(EMERGENCY_HA_OFF);
      await transition.apply!(ctx);
    },
  },
);

/** Members other than the survivor and the dead host, that answer now. */
async function liveOtherMembers(ctx: Ctx): Promise<string[]> {
  const names = otherMembers(ctx).filter((n) => n !== survivor(ctx));
  const live: string[] = [];
  for (const name of names) if (await answers(ctx.on(name))) live.push(name);
  return live;
}

async function membersInEmergency(ctx: Ctx): Promise<string[]> {
  const stranded: string[] = [];
  for (const name of await liveOtherMembers(ctx)) if (await xe.isEmergencyMode(ctx.on(name))) stranded.push(name);
  return stranded;
}

const membersRecovered = runbook.step({
  kind: 'action',
  id: 'members-recovered',
  title: 'point the other members at the new master',
  description: 'After an emergency transition the other members still look for the dead master and stay in emergency mode: xe pool-recover-slaves on the new master tells them (XenServer admin guide, "Master failures"; the lost pool master note\'s two-host pool has no other member).',
  on: survivor,
  async check(ctx) {
    const stranded = await membersInEmergency(ctx);
    if (stranded.length === 0) return noop('no other member is in emergency mode');
    return change(`${stranded.join(', ')} in emergency mode: still looking for the old master`);
  },
  commands: () => [cmd`xe pool-recover-slaves`],
});

const deadHostFound = runbook.step({
  kind: 'assert',
  id: 'dead-host-found',
  title: 'find the dead host\'s record in the pool',
  description: 'Hands on its uuid (host-forget takes a uuid, never a name: the rebuilt host comes back with the same name). A live, enabled record with that name means the host is a healthy member: then the steps up to the join have nothing to do.',
  on: survivor,
  outputs: z.object({ rebuild: z.boolean(), uuid: z.string().nullable() }),
  async check(ctx) {
    const record = await hostRecord(ctx.sh, ctx.host.name);
    if (!record) return noop(`${ctx.host.name} is not in the pool database (forgotten already)`, { rebuild: true, uuid: null });
    const live = record.text('host-metrics-live') === 'true';
    if (live) return noop(`${ctx.host.name} (${record.uuid}) is a live member of the pool: nothing to rebuild`, { rebuild: false, uuid: record.uuid });
    return noop(`${ctx.host.name} (${record.uuid}, ${record.text('address')}) is in the pool database and not live`, { rebuild: true, uuid: record.uuid });
  },
});

const rebuilding = deadHostFound.out.rebuild;
const deadUuid = deadHostFound.out.uuid;

/**
 * The check of a step before the join (for `runbook.extend`): nothing to do when the host is
 * already a live member (a rerun on a healthy pool), else the step's own check.
 */
function whileRebuilding(ctx: Ctx, base: { check(ctx: Ctx): CheckResult | Promise<CheckResult> }): CheckResult | Promise<CheckResult> {
  if (!rebuilding(ctx)) return noop(`${ctx.host.name} is a live member of the pool: nothing to rebuild`);
  return base.check(ctx);
}

const vmsOnSharedStorage = runbook.extend(runbook.step({
  kind: 'assert',
  id: 'vms-on-shared-storage',
  title: 'no VM disk lives on the dead host\'s local storage',
  description: 'The lost pool master note: "If you do not have shared backend storage, which means your VMs are on local storage, DO NOT DO THIS": a reinstall wipes local disks. The dead host\'s local SRs must hold no VDI, and the pool must have a shared SR.',
  on: survivor,
  async check(ctx) {
    const shared = await xe.sharedSrs(ctx.sh);
    if (shared.length === 0) return change('the pool has no shared SR: the VMs are on local storage, and the lost pool master note says DO NOT rebuild');
    const uuid = deadUuid(ctx);
    if (uuid === null) return noop(`shared SR ${shared.map((s) => s.nameLabel).join(', ')}; the dead host is forgotten already, its local SRs with it`);
    const local: string[] = [];
    for (const pbd of await xe.pbds(ctx.sh, { host: uuid })) {
      const [sr] = await xe.list(ctx.sh, 'sr', { uuid: pbd.srUuid }, ['uuid', 'name-label', 'shared']);
      if (!sr || sr.bool('shared')) continue;
      const vdis = await xe.list(ctx.sh, 'vdi', { 'sr-uuid': sr.uuid }, ['uuid', 'name-label']);
      local.push(...vdis.map((v) => `${v.text('name-label')} (${v.uuid}) on ${sr.text('name-label')}`));
    }
    if (local.length > 0) return change(`VM disks on the dead host's local storage would be lost: ${local.join(', ')} (the lost pool master note: DO NOT DO THIS)`);
    return noop(`the dead host's local storage holds no VDI; shared SR ${shared.map((s) => s.nameLabel).join(', ')}`);
  },
}), { check: whileRebuilding });

const haDisabled = runbook.step({
  ...runbook.extend(xe.haDisabled({
    id: 'ha-disabled',
    title: 'HA off while the pool is changed',
    description: 'xapi refuses host-forget and pool-join while HA is on (HA_IS_ENABLED). Hands on the configuration it found; ha-recorded already journaled it.',
    on: survivor,
  }), { check: whileRebuilding }),
  // What xe.haDisabled hands on when it finds HA on; ha-recorded's record comes first.
  outputs: z.object({ timeout: z.number().nullable().optional(), heartbeatSr: z.string().nullable().optional() }),
});

const forgetApproved = runbook.step(manual({
  id: 'forget-approved',
  title: 'approve forgetting the dead host (irreversible)',
  instructions: 'The next step runs `xe host-forget uuid=<the dead host> --force` on the survivor. XenServer: "A host should only be forgotten if it is physically unrecoverable … Once a host has been forgotten it will have to be re-installed. This operation is irreversible." Confirm the host is to be rebuilt from scratch and its VMs run from shared storage (checked above).',
  evidence: z.object({ ticket: z.string().min(1).optional() }),
  on: survivor,
  async check(ctx: Ctx) {
    if (!rebuilding(ctx)) return noop(`${ctx.host.name} is a live member of the pool: nothing to forget`);
    const uuid = deadUuid(ctx);
    if (uuid === null || (await xe.list(ctx.sh, 'host', { uuid }, ['uuid'])).length === 0) return noop(`${ctx.host.name} is forgotten already: nothing to approve`);
    return change(`about to forget ${ctx.host.name} (${uuid}) on ${ctx.sh.host}`);
  },
}));

const deadHostForgotten = runbook.extend(
  xe.hostForgotten({ id: 'dead-host-forgotten', title: 'forget the dead host in the pool', on: survivor, uuid: (ctx) => deadUuid(ctx) ?? '' }),
  {
    description: 'The lost pool master note: the old record goes before the rebuilt host joins (it comes back with a new uuid). xe host-forget --force; refused for a live host (that one should be ejected).',
    check: (ctx, forget) => whileRebuilding(ctx, {
      check: () => (deadUuid(ctx) === null ? noop(`${ctx.host.name} was not in the pool database`) : forget.check(ctx)),
    }),
  },
);

const reinstalled = runbook.step({
  kind: 'manual',
  id: 'reinstalled',
  title: 'reinstall XenServer on the host',
  instructions: [
    'At the console (ILO, DRAC or a keyboard): install XenServer from scratch on the host, with the management IP the inventory gives it (management_ip) and its storage NICs on their subnets.',
    'Do not join a pool or configure storage there: the run does that.',
    'Then read the new host key at the console: `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` (SHA256:…).',
    'Confirm with the evidence: --evidence version=<installed version, e.g. 6.1.0> --evidence ip=<management IP> --evidence fingerprint=SHA256:…',
  ].join('\n'),
  evidence: z.object({
    version: z.coerce.string().regex(/^\d+(\.\d+){1,3}$/, 'the installed XenServer version, e.g. 6.1.0'),
    ip: z.string().refine(net.isIPv4, 'the management IPv4 address given at install'),
    fingerprint: z.string().regex(FINGERPRINT, 'the new host key fingerprint as ssh-keygen -lf prints it: SHA256: and 43 base64 characters'),
  }),
  // The confirmation hands on its evidence and who confirmed.
  outputs: z.object({ version: z.string(), ip: z.string(), fingerprint: z.string(), confirmedBy: z.string() }),
  check: (ctx) => (rebuilding(ctx) ? change(`${ctx.host.name} must be reinstalled`) : noop(`${ctx.host.name} is a live member of the pool: no reinstall`)),
});

// ---- host keys -----------------------------------------------------------------------------

/** The fingerprint an operator vouched for: read at the console with the reinstall, or given again. */
function vouchedFingerprint(ctx: Ctx): { fingerprint: string; by: string } {
  if (ctx.params.hostKey) return { fingerprint: ctx.params.hostKey, by: 'the hostKey param' };
  return { fingerprint: reinstalled.out.fingerprint(ctx), by: reinstalled.out.confirmedBy(ctx) };
}

/** The lost pool master note rebuilds with a new install: the old key must go, and only the key the operator read may replace it. */
const hostKeyTrusted = runbook.extend(hostKey.trusted({
  id: 'host-key-trusted',
  title: 'trust the new host key, only if it is the one read at the console',
  description: 'Reads the key the reinstalled host presents (a handshake that authenticates nothing) and compares its SHA256 fingerprint with the one confirmed with the reinstall. On a match the host\'s old line in the project known_hosts is replaced; on a mismatch the run stops: a changed key is never accepted silently. Runs on the controller (the survivor\'s shell is not used).',
  on: survivor,
  knownHosts: (ctx) => ctx.params.knownHosts,
  vouched: vouchedFingerprint,
  mismatchAdvice: 'Read the fingerprint at the console again (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub); if the confirmation was wrong, resume with RUNBOOK_PARAM_hostKey=SHA256:… in the environment',
}), { check: whileRebuilding });

// ---- the rebuilt host ----------------------------------------------------------------------

const installConfirmed = runbook.extend(runbook.step({
  kind: 'assert',
  id: 'install-confirmed',
  title: 'the host runs the version and management IP confirmed',
  description: 'The evidence of the reinstall, checked on the host itself now that its key is trusted: product_version and the management PIF\'s IP, which must also be the inventory\'s management_ip.',
  async check(ctx) {
    const version = reinstalled.out.version(ctx);
    const ip = reinstalled.out.ip(ctx);
    const self = await xe.host(ctx.sh, ctx.host.name);
    const running = await xe.paramGet(ctx.sh, 'host', self.uuid, 'software-version', 'product_version');
    const [mgmt] = await xe.pifs(ctx.sh, { 'host-uuid': self.uuid, management: 'true' });
    const problems = [
      running !== version && `it runs ${running}, the reinstall was confirmed as ${version}`,
      mgmt?.ip !== ip && `its management IP is ${mgmt?.ip || 'not set'}, the reinstall was confirmed with ${ip}`,
      ip !== ctx.host.vars.management_ip && `the confirmed IP ${ip} is not the inventory's management_ip ${ctx.host.vars.management_ip}`,
    ].filter(Boolean);
    if (problems.length) return change(problems.join('; '));
    return noop(`${ctx.host.name} runs XenServer ${running} with management IP ${ip}, as confirmed`);
  },
}), { check: whileRebuilding });

const managementMtu = runbook.step({
  kind: 'action',
  id: 'management-mtu',
  title: 'management interface MTU 1500',
  description: 'The management jumbo frames note: with a management bond MTU other than 1500 a rebooted host never rejoins its pool. Checked on the fresh host before it joins; xe network-param-set MTU=1500 on its management network otherwise.',
  async check(ctx) {
    const self = await xe.host(ctx.sh, ctx.host.name);
    const [mgmt] = await xe.pifs(ctx.sh, { 'host-uuid': self.uuid, management: 'true' });
    if (!mgmt) return change(`${ctx.host.name} has no management PIF`);
    return mgmt.mtu === 1500 ? noop(`management ${mgmt.device} has MTU 1500`) : change(`management ${mgmt.device} has MTU ${mgmt.mtu}, want 1500`);
  },
  async commands(ctx) {
    const self = await xe.host(ctx.sh, ctx.host.name);
    const [mgmt] = await xe.pifs(ctx.sh, { 'host-uuid': self.uuid, management: 'true' });
    return [cmd`xe network-param-set ${`uuid=${mgmt.networkUuid}`} MTU=1500`];
  },
});

const multipathConf = runbook.step(file({
  id: 'multipath-conf',
  title: '/etc/multipath-enabled.conf as on the survivor',
  description: 'The lost pool master note: after the reload, "modify the multipath-enabled.conf file". The pool\'s working copy is the survivor\'s: the fresh install gets exactly that content.',
  path: '/etc/multipath-enabled.conf',
  content: async (ctx) => (await ctx.on(survivor(ctx))`cat /etc/multipath-enabled.conf`).stdout,
}));

const multipathingOn = runbook.step(xe.hostMultipathing({
  id: 'multipathing-on',
  title: 'storage multipathing on for the host',
  description: 'XenServer 5.x/6.x: other-config:multipathing=true and multipathhandle=dmp, set while the host has no shared PBD plugged (before it joins).',
  host: (ctx) => ctx.host.name,
  enabled: true,
}));

const iscsiDiscovered = runbook.step(iscsi.portalsDiscovered({
  id: 'iscsi-discovered',
  title: 'discover the targets of each storage portal',
  description: 'The iSCSI multipath repair notes: "manually discover each of the node": iscsiadm -m discovery -t sendtargets -p PORTAL (iscsiadm(8)\'s spelling of --sendtargets --portal), for each portal without node records.',
  portals: (ctx) => ctx.host.vars.iscsi_portals,
}));

const iscsiLoggedIn = runbook.step(iscsi.loggedIn({
  id: 'iscsi-logged-in',
  title: 'log in to every storage portal',
  description: 'The iSCSI multipath repair notes: "log on to all the nodes of the storage": one session per portal, one multipath path each.',
  all: true,
  portals: (ctx) => ctx.host.vars.iscsi_portals,
}));

const poolJoined = runbook.step(xe.poolJoined({
  id: 'pool-joined',
  title: 'join the pool',
  description: 'The lost pool master note: "rejoin the server to the pool": xe pool-join on the rebuilt host with the master\'s address (read from the survivor: the master may have moved) and the pool password as a secret. The host takes the pool\'s network configuration and plugs its shared SRs.',
  masterAddress: (ctx) => masterAddress(ctx.on(survivor(ctx))),
  password: (ctx) => ctx.params.poolPassword,
  intervalMs: 1000,
  waitTimeoutMs: 180_000,
}));

const hostEnabled = runbook.step(waitFor({
  id: 'host-enabled',
  title: 'wait until the pool shows the host enabled and live',
  on: survivor,
  until: async (ctx) => {
    const record = await hostRecord(ctx.sh, ctx.host.name);
    if (!record) return change(`${ctx.host.name} is not in the pool yet`);
    const ok = record.bool('enabled') && record.text('host-metrics-live') === 'true';
    return ok ? noop(`${ctx.host.name} (${record.uuid}) is enabled and live`, { uuid: record.uuid })
      : change(`${ctx.host.name} is ${record.bool('enabled') ? 'enabled' : 'disabled'}, live=${record.text('host-metrics-live')}`);
  },
  timeoutMs: 300_000,
  intervalMs: 1000,
}));

const pbdsPlugged = runbook.step(xe.sharedPbdsPlugged({
  id: 'pbds-plugged',
  title: 'the shared SRs are plugged on the host',
  description: 'Issue 7 step 9: every shared SR has a PBD on the rebuilt host, currently attached (xe pbd-plug otherwise).',
  on: survivor,
  host: (ctx) => ctx.host.name,
}));

const pathsActive = runbook.step(multipath.pathsRestored({
  id: 'paths-active',
  title: 'every LUN shows all its paths in multipath -ll',
  description: 'The iSCSI multipath repair notes ("Some paths not available to newly added hosts"): a newly added host must see every path to the storage, not a few: multipath_paths (default one per portal) active paths per LUN.',
  expected: expectedPaths,
  timeoutMs: 120_000,
  intervalMs: 1000,
}));

const masterDesignated = runbook.step(xe.designateMaster({
  id: 'master-designated',
  title: 'if asked: make the rebuilt host master again',
  description: 'The lost pool master note: xe host-list for its uuid, then xe pool-designate-new-master host-uuid=…; the pool is away 20–30 s. Before HA comes back: xapi refuses a designate while HA is on.',
  on: survivor,
  when: becomeMaster,
  host: (ctx) => ctx.host.name,
  intervalMs: 1000,
  waitTimeoutMs: 180_000,
}));

// ---- HA back -------------------------------------------------------------------------------

/** Whether HA should be on at the end, and why. */
function haWanted(ctx: Ctx): { on: boolean; why: string } {
  if (ctx.params.ha !== undefined) return { on: ctx.params.ha, why: `--param ha=${ctx.params.ha}` };
  const recorded = haRecorded.out.haEnabled(ctx);
  if (recorded === null) return { on: true, why: 'the pool could not tell while its master was lost: HA goes back on (--param ha=false to leave it off)' };
  return { on: recorded, why: `HA was ${recorded ? 'on' : 'off'} when the run started` };
}

/** The timeout to give HA again (the HA timeout notes: it does not persist): recorded, else what the disable found, else the param. */
const haTimeout = (ctx: Ctx): number =>
  haRecorded.out.timeout(ctx) ?? haDisabled.out.timeout(ctx) ?? ctx.params.haTimeout;

async function heartbeatSr(ctx: Ctx): Promise<string> {
  const recorded = haRecorded.out.heartbeatSr(ctx) ?? haDisabled.out.heartbeatSr(ctx);
  if (recorded) return recorded;
  const [sr] = await xe.sharedSrs(ctx.sh);
  if (!sr) throw new Error('no shared SR for the HA heartbeat');
  return sr.uuid;
}

/** A reason HA stays as it is: not wanted, or a pool too small for it. */
async function haStaysOff(ctx: Ctx): Promise<CheckResult | undefined> {
  const wanted = haWanted(ctx);
  if (!wanted.on) return noop(`HA stays as it is: ${wanted.why}`);
  const count = (await xe.hosts(ctx.sh)).length;
  if (count < 3) return noop(`the pool has ${count} host(s): the HA timeout notes say HA in a two-host pool fences both hosts, so it stays off`);
  return undefined;
}

const haEnabled = runbook.extend(
  xe.haEnabled({ id: 'ha-enabled', title: 'HA back on with the recorded timeout', on: survivor, heartbeatSr, timeout: haTimeout }),
  {
    description: 'The HA timeout notes: xe pool-ha-enable heartbeat-sr-uuids=… ha-config:timeout=…, the timeout recorded before the disable (it does not persist; 120 s lets a multipath failover finish). Never in a pool of fewer than three hosts.',
    async check(ctx, enable) {
      return (await haStaysOff(ctx)) ?? enable.check(ctx);
    },
  },
);

const poolWhole = runbook.step({
  kind: 'assert',
  id: 'pool-whole',
  title: 'the pool is whole again',
  description: 'Every member the inventory lists is in the pool, enabled and live; the master is the rebuilt host if asked; HA is as wanted.',
  on: survivor,
  async check(ctx) {
    const records = await xe.list(ctx.sh, 'host', {}, ['uuid', 'name-label', 'enabled', 'host-metrics-live']);
    const expected = ctx.inventory.group(poolOf(ctx)).map((h) => h.name);
    const problems: string[] = [];
    for (const name of expected) {
      const r = records.find((h) => h.text('name-label') === name);
      if (!r) problems.push(`${name} is not in the pool`);
      else if (!r.bool('enabled') || r.text('host-metrics-live') !== 'true') problems.push(`${name} is not enabled and live`);
    }
    const masterUuid = await xe.poolMaster(ctx.sh);
    const masterName = records.find((r) => r.uuid === masterUuid)?.text('name-label') ?? masterUuid;
    if (becomeMaster(ctx) && masterName !== ctx.host.name) problems.push(`the master is ${masterName}, not ${ctx.host.name}`);
    const ha = await xe.haState(ctx.sh);
    const wanted = haWanted(ctx);
    if (wanted.on && records.length >= 3 && (!ha.enabled || ha.timeout !== haTimeout(ctx))) problems.push(`HA is ${ha.enabled ? `on with timeout ${ha.timeout ?? 'default'}` : 'off'}, want on with timeout ${haTimeout(ctx)}`);
    if (problems.length) return change(problems.join('; '));
    return noop(`${records.length} hosts (${records.map((r) => r.text('name-label')).join(', ')}) enabled and live, master ${masterName}, HA ${ha.enabled ? `on (timeout ${ha.timeout})` : 'off'}`);
  },
});

export default runbook.steps([
  survivorChosen,
  iscsiConfigKnown,
  haRecorded,
  masterTakenOver,
  membersRecovered,
  deadHostFound,
  vmsOnSharedStorage,
  haDisabled,
  forgetApproved,
  deadHostForgotten,
  reinstalled,
  hostKeyTrusted,
  installConfirmed,
  managementMtu,
  multipathConf,
  multipathingOn,
  iscsiDiscovered,
  iscsiLoggedIn,
  poolJoined,
  hostEnabled,
  pbdsPlugged,
  pathsActive,
  masterDesignated,
  haEnabled,
  poolWhole,
]);
