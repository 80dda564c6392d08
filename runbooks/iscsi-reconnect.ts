/**
 * Seed 000's "forward troubleshooting technique" for a XenServer host that sees only some paths to
 * its iSCSI storage, the repair operators try first (it does not reboot or evacuate anything):
 *
 *   ping all the IPs of the storage · multipath -ll · service open-iscsi restart ·
 *   iscsiadm -m discovery --sendtargets --portal <ip> · iscsiadm -m node -L all ·
 *   xe-toolstack-restart · (reboot, if this doesn't resolve the issue)
 *
 * When it does not bring every path back, the reverse technique is next: runbooks/iscsi-reverse-reset.ts,
 * which shares this file's host vars and building blocks (exported below).
 */
import { CommandError, bootId, change, cmd, defineRunbook, iscsi, multipath, net, noop, service, waitFor, xe, z } from '../src/index.ts';
import type { ActionStep, AssertStep, StepContext } from '../src/index.ts';

// ---- shared with iscsi-reverse-reset ---------------------------------------------------------

/** The host vars both iSCSI runbooks need (inventory/lab.yaml and prod.example.yaml have them). */
export const storageVars = z.object({
  pool_master: z.string().min(1).describe('the pool master, where `xe` steps run (seed 002: pool operations go to the master)'),
  iscsi_portals: net.portalsOnDistinctSubnets()
    .describe('the storage portals (IPv4), one per storage subnet: seed 000 wants storage NICs and controllers on different subnets'),
  multipath_paths: z.number().int().min(1).optional()
    .describe('working paths every LUN must show in multipath -ll; default: one per portal'),
});
export type StorageVars = z.output<typeof storageVars>;
type Ctx = StepContext<unknown, StorageVars>;

export const expectedPaths = (vars: StorageVars): number => vars.multipath_paths ?? vars.iscsi_portals.length;

/** The id of the first step of both runbooks; later steps read its `needsRepair`. */
export const LOOKED = 'paths-looked-at';

const needed = (ctx: Ctx): boolean => ctx.outputs.get<boolean>(LOOKED, 'needsRepair');
const problems = (ctx: Ctx): string => ctx.outputs.get<string>(LOOKED, 'problems');

/** What is wrong with the host's storage paths, read from `multipath -ll` and `iscsiadm -m session`. */
async function pathProblems(ctx: Ctx): Promise<{ problems: string[]; active: Record<string, number> }> {
  const expected = expectedPaths(ctx.host.vars);
  const luns = await multipath.multipathLuns(ctx.sh);
  const open = await iscsi.sessions(ctx.sh);
  const portals = ctx.host.vars.iscsi_portals.map(net.parsePortal);
  const sessionless = portals.filter((p) => !open.some((s) => s.address === p.address && s.port === p.port)).map(net.portalText);
  const active = Object.fromEntries(luns.map((lun) => [lun.name, multipath.activePaths(lun).length]));
  const found = [
    ...(luns.length === 0 ? ['multipath -ll shows no LUN'] : []),
    ...luns.filter((lun) => active[lun.name] < expected).map((lun) => `LUN ${lun.name} has ${active[lun.name]} of ${expected} paths active`),
    ...(sessionless.length ? [`no iSCSI session to ${sessionless.join(', ')}`] : []),
  ];
  return { problems: found, active };
}

/**
 * The first step: reads the paths once, so every later step (and a resume, which restores these
 * outputs from the journal) agrees on whether this run repairs the host. Hands on `needsRepair`,
 * `problems`, `activePaths` and the boot id (for the reverse technique's reboot).
 */
export function pathsLookedAt(options: { force?: (ctx: Ctx) => boolean } = {}): ActionStep<any, StorageVars> {
  return {
    kind: 'action',
    id: LOOKED,
    title: 'check the multipath status and the iSCSI sessions',
    description: 'Seed 000: "Next check for the multipath status. multipath -ll". Every LUN must show multipath_paths working paths and every portal an iSCSI session; otherwise the host needs the repair. Read-only.',
    async check(ctx) {
      const { problems: found, active } = await pathProblems(ctx);
      const forced = found.length === 0 && options.force?.(ctx) === true;
      const outputs = { needsRepair: found.length > 0 || forced, problems: found.join('; ') || 'none', activePaths: active, bootId: await bootId(ctx.sh) };
      if (found.length > 0) return noop(`${found.join('; ')}: the host needs the repair`, outputs);
      const healthy = `every LUN has ${expectedPaths(ctx.host.vars)} active paths and every portal a session`;
      return noop(forced ? `${healthy}, but --param force=true: repair anyway` : `${healthy}: nothing to repair`, outputs);
    },
    commands: () => [],
  };
}

/** A step that only runs when the first step found something to repair; otherwise it says why not. */
export function onlyIfNeeded<S extends ActionStep<any, StorageVars> | AssertStep<any, StorageVars>>(step: S): S {
  return {
    ...step,
    async check(ctx: Ctx) {
      if (!needed(ctx)) return noop(`nothing to repair: ${step.kind === 'assert' ? 'not checked' : 'left as is'}`);
      return step.check(ctx);
    },
  };
}

/**
 * Every portal has node records: `iscsiadm -m discovery -t sendtargets -p PORTAL` for each one
 * without (seed 000: "manually discover each of the node"; `-t sendtargets -p` is iscsiadm(8)'s
 * spelling of the seed's `--sendtargets --portal`). One step for the whole list, as the number of
 * portals is a host var.
 */
export function portalsDiscovered(id: string, description: string): ActionStep<any, StorageVars> {
  const undiscovered = async (ctx: Ctx): Promise<string[]> => {
    const records = await iscsi.nodes(ctx.sh);
    return ctx.host.vars.iscsi_portals.map(net.parsePortal)
      .filter((p) => !records.some((n) => n.address === p.address && n.port === p.port))
      .map(net.portalText);
  };
  return {
    kind: 'action',
    id,
    title: 'discover the targets of each storage portal',
    description,
    async check(ctx) {
      const missing = await undiscovered(ctx);
      if (missing.length) return change(`no node records for ${missing.join(', ')}`);
      return noop(`node records exist for ${ctx.host.vars.iscsi_portals.join(', ')}`);
    },
    commands: async (ctx) => (await undiscovered(ctx)).map((portal) => cmd`iscsiadm -m discovery -t sendtargets -p ${portal}`),
  };
}

/**
 * Every portal answers, or discovery and login cannot work (seed 000: "A first point of
 * troubleshooting is to check if you are able to ping all the ip's of the storage").
 */
export const storagePingable = (id: string): AssertStep<any, StorageVars> => net.allPingable<any, StorageVars>({
  id,
  title: 'ping every storage IP',
  description: 'Seed 000\'s first check. A portal that does not answer is a network problem (NIC, switch, a storage NIC on the wrong subnet): no iSCSI command can fix it, so the run stops here and says which.',
  addresses: (ctx) => ctx.host.vars.iscsi_portals,
});

/** Waits (up to 2 min: multipathd builds its maps a moment after the login) for every path. */
export const pathsRestored = (id: string, description: string): ActionStep<any, StorageVars> => {
  const paths = multipath.pathsActive<any, StorageVars>({ id, title: 'every LUN has all its paths', expected: (ctx) => expectedPaths(ctx.host.vars) });
  return waitFor<any, StorageVars>({ id, title: 'every LUN shows all its paths in multipath -ll', description, until: (ctx) => paths.check(ctx), timeoutMs: 120_000, intervalMs: 2000 });
};

/** xe-toolstack-restart on the host, only in a run that repaired it. */
export const toolstackRestarted = (description: string): ActionStep<any, StorageVars> => xe.toolstackRestarted<any, StorageVars>({
  id: 'toolstack-restarted',
  title: 'restart the toolstack so xapi sees the paths again',
  description,
  unless: (ctx) => (needed(ctx) ? change(`this run repairs the paths (${problems(ctx)})`) : noop('nothing was repaired: the toolstack is left alone')),
});

// ---- the forward technique -------------------------------------------------------------------

/** Seed 000 logs in "at one shot"; exit 15 (ISCSI_ERR_SESS_EXISTS) is the paths that were never lost. */
const LOGIN_ALL = cmd`iscsiadm -m node -L all`;
const SESSION_EXISTS = 15;

const loggedInAll: ActionStep<any, StorageVars> = (() => {
  const sessions = iscsi.loggedIn<any, StorageVars>({ id: 'iscsi-logged-in', title: 'log on to all the nodes', all: true, portals: (ctx) => ctx.host.vars.iscsi_portals });
  return {
    ...sessions,
    description: 'Seed 000: "log on to all the nodes of the storage at one shot by: iscsiadm -m node -L all". On a host that still has some sessions (the seed\'s case) it exits 15, "session exists", after logging in to the rest; that exit is accepted and the re-check of the sessions decides.',
    commands: () => [LOGIN_ALL],
    async apply(ctx) {
      const result = await ctx.sh.run(LOGIN_ALL).nothrow();
      if (!result.ok && result.code !== SESSION_EXISTS) throw new CommandError(result, ctx.sh.host);
    },
  };
})();

export default defineRunbook({
  name: 'iscsi-reconnect',
  summary: 'reconnect a XenServer host\'s lost iSCSI paths without a reboot: ping, multipath -ll, open-iscsi restart, discovery, login, toolstack restart (seed 000, forward technique)',
  description: [
    'Seed 000\'s forward technique for "some paths not available" on a XenServer host: check that every',
    'storage IP answers, read `multipath -ll`, restart open-iscsi, discover each portal, log in to all',
    'nodes, restart the toolstack, and verify that every LUN shows multipath_paths active paths.',
    '',
    'A host whose paths are all up is left alone (every step says so), so it is safe to run on a',
    'whole pool. No VM is moved and nothing is rebooted. If the paths are still short at the end, the',
    'seed says reboot; the gentler next step here is `runbook apply iscsi-reverse-reset` on that host.',
    'Assumes XenServer 5.x/6.x dom0 tools (open-iscsi init script, iscsiadm, multipath-tools, xe).',
  ].join('\n'),
  hosts: 'xenserver*',
  vars: storageVars,
}).steps([
    pathsLookedAt(),
    storagePingable('storage-pingable'),
    onlyIfNeeded(service<any, StorageVars>({
      id: 'open-iscsi-restarted',
      title: 'restart open-iscsi',
      description: 'Seed 000: "service open-iscsi restart". Only on a host with missing paths.',
      name: 'open-iscsi',
      state: 'restarted',
    })),
    portalsDiscovered('portals-discovered', 'Seed 000: "manually discover each of the node: iscsiadm -m discovery --sendtargets --portal <ip_addr_of_storage>". Only portals without node records are discovered.'),
    loggedInAll,
    toolstackRestarted('Seed 000: "and then xe-toolstack-restart", so xapi picks up the sessions. Only in a run that repaired something.'),
    pathsRestored('paths-active', 'Seed 000: the point of the repair, checked with multipath -ll. Still short after two minutes: the forward technique did not help; reboot or run iscsi-reverse-reset on this host.'),
  ]);
