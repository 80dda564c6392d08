/**
 * A XenServer host's multipathed iSCSI storage paths as one health reading that a repair starts
 * from: every LUN must show its working paths in `multipath -ll` and every storage portal an iSCSI
 * session. The first step of a path repair reads it once and hands on whether the host needs the
 * repair, so every later step (and a resume, which restores that output from the journal) agrees;
 * `onlyIfNeeded` makes a step say "nothing to repair" on a healthy host.
 */
import { z } from 'zod';
import { change, noop } from '../runbook/check.ts';
import type { ActionStep, AssertStep, StepContext } from '../runbook/types.ts';
import * as iscsi from './iscsi.ts';
import * as multipath from './multipath.ts';
import * as net from './net.ts';
import { bootId } from './reboot.ts';
import { type TaskCommon } from './resolve.ts';
import * as xe from './xe/index.ts';

/** The host vars a multipathed iSCSI host carries (inventory/lab.yaml and prod.example.yaml have them). */
export const hostVars = z.object({
  pool_master: z.string().min(1).describe('the pool master, where `xe` steps run (pool operations go to the master)'),
  iscsi_portals: net.portalsOnDistinctSubnets()
    .describe('the storage portals (IPv4), one per storage subnet: storage NICs and controllers belong on different subnets'),
  multipath_paths: z.number().int().min(1).optional()
    .describe('working paths every LUN must show in multipath -ll; default: one per portal'),
});
export type HostVars = z.output<typeof hostVars>;
type Ctx = StepContext<unknown, HostVars>;

/** How many working paths each LUN must have: multipath_paths, else one per portal. */
export const expectedPaths = (vars: Pick<HostVars, 'multipath_paths' | 'iscsi_portals'>): number => vars.multipath_paths ?? vars.iscsi_portals.length;

/** The id of the step that reads the paths; later steps read its `needsRepair`. */
export const LOOKED = 'paths-looked-at';

/** Whether this run repairs the host, as the first step found. */
export const needsRepair = (ctx: StepContext): boolean => ctx.outputs.get<boolean>(LOOKED, 'needsRepair');
/** What the first step found wrong ('none' on a healthy host). */
export const problemsFound = (ctx: StepContext): string => ctx.outputs.get<string>(LOOKED, 'problems');

/**
 * What is wrong with the host's storage paths, read from `multipath -ll` and `iscsiadm -m session`.
 * @example const { problems } = await storagePaths.problems(ctx.sh, ctx.host.vars)
 */
export async function problems(sh: StepContext['sh'], vars: HostVars): Promise<{ problems: string[]; active: Record<string, number> }> {
  const expected = expectedPaths(vars);
  const luns = await multipath.multipathLuns(sh);
  const open = await iscsi.sessions(sh);
  const portals = vars.iscsi_portals.map(net.parsePortal);
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
 * The first step of a path repair (id `paths-looked-at`): reads the paths once and hands on
 * `needsRepair`, `problems`, `activePaths` and the boot id (for a repair that reboots). Read-only.
 * `force` repairs a healthy host anyway.
 * @example storagePaths.lookedAt({ description: 'multipath -ll and the sessions', force: (ctx) => ctx.params.force })
 */
export function lookedAt(options: { description: string; force?: (ctx: StepContext<any, HostVars>) => boolean }): ActionStep<any, HostVars> {
  return {
    kind: 'action',
    id: LOOKED,
    title: 'check the multipath status and the iSCSI sessions',
    description: options.description,
    async check(ctx) {
      const { problems: found, active } = await problems(ctx.sh, ctx.host.vars);
      const forced = found.length === 0 && options.force?.(ctx) === true;
      const outputs = { needsRepair: found.length > 0 || forced, problems: found.join('; ') || 'none', activePaths: active, bootId: await bootId(ctx.sh) };
      if (found.length > 0) return noop(`${found.join('; ')}: the host needs the repair`, outputs);
      const healthy = `every LUN has ${expectedPaths(ctx.host.vars)} active paths and every portal a session`;
      return noop(forced ? `${healthy}, but --param force=true: repair anyway` : `${healthy}: nothing to repair`, outputs);
    },
    commands: () => [],
  };
}

/**
 * The step, acting only when the first step found something to repair; otherwise its check says why not.
 * @example storagePaths.onlyIfNeeded(service({ id: 'open-iscsi-restarted', title: 'restart open-iscsi', name: 'open-iscsi', state: 'restarted' }))
 */
export function onlyIfNeeded<S extends ActionStep<any, any> | AssertStep<any, any>>(step: S): S {
  return {
    ...step,
    async check(ctx: Ctx) {
      if (!needsRepair(ctx)) return noop(`nothing to repair: ${step.kind === 'assert' ? 'not checked' : 'left as is'}`);
      return step.check(ctx);
    },
  };
}

/**
 * Every storage portal answers ping; a portal that does not is a network problem no iSCSI command fixes.
 * @example storagePaths.pingable({ id: 'storage-pingable', title: 'ping every storage IP' })
 */
export const pingable = (options: TaskCommon<any, HostVars>): AssertStep<any, HostVars> =>
  net.allPingable<any, HostVars>({ ...options, addresses: (ctx) => ctx.host.vars.iscsi_portals });

/**
 * Waits (up to 2 min: multipathd builds its maps a moment after the login) for every LUN's paths.
 * @example storagePaths.restored({ id: 'paths-active', title: 'every LUN shows all its paths in multipath -ll' })
 */
export const restored = (options: TaskCommon<any, HostVars> & { intervalMs?: number }): ActionStep<any, HostVars> =>
  multipath.pathsRestored<any, HostVars>({ ...options, expected: (ctx) => expectedPaths(ctx.host.vars), timeoutMs: 120_000 });

/**
 * xe-toolstack-restart on the host, only in a run that repaired it (id `toolstack-restarted`).
 * @example storagePaths.toolstackRestarted('so xapi sees the sessions')
 */
export const toolstackRestarted = (description: string): ActionStep<any, HostVars> => xe.toolstackRestarted<any, HostVars>({
  id: 'toolstack-restarted',
  title: 'restart the toolstack so xapi sees the paths again',
  description,
  unless: (ctx) => (needsRepair(ctx) ? change(`this run repairs the paths (${problemsFound(ctx)})`) : noop('nothing was repaired: the toolstack is left alone')),
});
