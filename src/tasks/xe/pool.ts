/**
 * Steps on the pool as a whole: its master (found from the inventory, designated, taken over in an
 * emergency), its HA (recorded, disabled, enabled again), a host joining or a dead one forgotten.
 */
import { z } from 'zod';
import { change, noop } from '../../runbook/check.ts';
import type { ActionStep, AssertStep, Dynamic, StepContext } from '../../runbook/types.ts';
import { cmd, Secret } from '../../shell/command.ts';
import type { Shell } from '../../shell/shell.ts';
import { checkOptions, commonOf, resolve, TaskError } from '../resolve.ts';
import { holds, runUntil } from '../wait-for.ts';
import { isUuid, xeCommand } from './command.ts';
import { haState, host, isEmergencyMode, list, paramGet, poolMaster, type HaState } from './facts.ts';
import { hostSchema, seconds, uuidText, waitingOf, type HostOptions, type WaitOptions, type XeStepOptions } from './options.ts';

/** The host vars that name a guest's or member's pool master (one of them is needed). */
export interface PoolVars { xen_pool?: string; pool_master?: string }

/**
 * A guest's host-vars schema: the runbook's own vars plus the two poolMasterOf reads (xen_pool,
 * the inventory group of the guest's pool; pool_master, the master's inventory name), one of which
 * must be there, so a missing one is refused before any host is touched.
 * @example vars: xe.guestVars({ vm_name_label: z.string().min(1) })
 */
export function guestVars<T extends z.ZodRawShape>(shape: T) {
  return z.object({
    ...shape,
    xen_pool: z.string().min(1).optional().describe('the inventory group of the pool the VM lives in; a host of it names the master (pool_master)'),
    pool_master: z.string().min(1).optional().describe('the inventory name of the pool master (default: found through xen_pool)'),
  }).refine(namesPoolMaster, { message: 'needs xen_pool or pool_master to find the pool master', path: ['xen_pool'] });
}

/** Whether host vars say where the pool master is (poolMasterOf needs one of the two). */
function namesPoolMaster(vars: object): boolean {
  const { xen_pool: pool, pool_master: master } = vars as PoolVars;
  return pool !== undefined || master !== undefined;
}

/**
 * The pool master's inventory name, for `on:`: the host's own pool_master var, else the
 * pool_master var of a host in its xen_pool group.
 * @example xe.vmPowerState({ id: 'vm-started', title: 'start the VM', on: xe.poolMasterOf, vm: uuid, state: 'running' })
 */
export function poolMasterOf(ctx: StepContext<unknown, PoolVars>): string {
  const own = ctx.host.vars.pool_master;
  if (own) return own;
  const pool = ctx.host.vars.xen_pool!;
  const member = ctx.inventory.group(pool).find((h) => typeof h.vars.pool_master === 'string');
  if (!member) throw new Error(`${ctx.host.name}: no host of group ${pool} has a pool_master var: set pool_master on ${ctx.host.name}`);
  return member.vars.pool_master as string;
}

const haEnabledSchema = z.object({ heartbeatSr: uuidText, timeout: seconds });

const poolJoinSchema = z.object({ masterAddress: z.string().min(1), username: z.string().min(1).optional(), password: z.instanceof(Secret, { error: 'must be a secret(…), so it is masked in every log' }) });

const forgetSchema = z.object({ uuid: uuidText });

export interface HaEnabledOptions<P = any, V = any> extends XeStepOptions<P, V> {
  /** The heartbeat SR's uuid. */
  heartbeatSr: Dynamic<string, P, V>;
  /** Seconds; the HA and XenApp cloning notes use 120 so an iSCSI path failover does not fence the hosts. */
  timeout: Dynamic<number, P, V>;
}

/**
 * Pool HA is on with this heartbeat SR and timeout: `xe pool-ha-enable heartbeat-sr-uuids=…
 * ha-config:timeout=…` (the HA and XenApp cloning notes). The timeout does not persist across a disable, and cannot change
 * while HA is on, so a pool with HA on but another timeout or SR gets `pool-ha-disable` first.
 * @example xe.haEnabled({ id: 'ha-on', title: 'HA back on', on: 'master', heartbeatSr: (ctx) => ctx.outputs.get<string>('ha-off', 'heartbeatSr'), timeout: 120 })
 */
export function haEnabled<P = any, V = any>(options: HaEnabledOptions<P, V>): ActionStep<P, V> {
  checkOptions(options.id, haEnabledSchema, options);
  const wanted = async (ctx: StepContext) => ({ sr: await resolve(options.heartbeatSr, ctx), timeout: await resolve(options.timeout, ctx) });
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      const { sr: wantSr, timeout } = await wanted(ctx);
      const now = await haState(ctx.sh);
      if (!now.enabled) return change('HA is off');
      const problems = [
        now.timeout !== timeout && `timeout is ${now.timeout ?? 'the default'}, want ${timeout}`,
        !now.heartbeatSrUuids.includes(wantSr) && `heartbeat SR is ${now.heartbeatSrUuids.join(', ') || 'unknown'}, want ${wantSr}`,
      ].filter(Boolean);
      if (problems.length === 0) return noop(`HA is on with timeout ${timeout} on heartbeat SR ${wantSr}`);
      return change(`HA is on but ${problems.join(' and ')}`);
    },
    async commands(ctx) {
      const { sr: wantSr, timeout } = await wanted(ctx);
      const enable = xeCommand('pool-ha-enable', [`heartbeat-sr-uuids=${wantSr}`, `ha-config:timeout=${timeout}`]);
      return (await haState(ctx.sh)).enabled ? [cmd`xe pool-ha-disable`, enable] : [enable];
    },
  };
}

export interface HaDisabledOptions<P = any, V = any> extends XeStepOptions<P, V> {
  /**
   * Use `xe host-emergency-ha-disable force=true` on this host (the HA and XenApp cloning notes: a broken HA setup, two-host
   * pools fencing in a loop) instead of `xe pool-ha-disable`. The pool may not answer then, so the
   * step is not re-checked.
   */
  emergency?: boolean;
}

/**
 * Pool HA is off. When it is on, the check hands on its configuration (`heartbeatSr`,
 * `heartbeatSrUuids`, `timeout`) so a later haEnabled can restore it (the HA and XenApp cloning notes: it does not persist).
 * Those outputs are journaled only when the step ends; to survive a crash during the disable, put
 * `haStateRecorded` before it and restore from that step's outputs.
 * @example xe.haDisabled({ id: 'ha-off', title: 'HA off while we work', on: 'master' })
 */
export function haDisabled<P = any, V = any>(options: HaDisabledOptions<P, V>): ActionStep<P, V> {
  const command = options.emergency ? cmd`xe host-emergency-ha-disable force=true` : cmd`xe pool-ha-disable`;
  return {
    ...commonOf(options),
    kind: 'action',
    verify: !options.emergency,
    async check(ctx) {
      let now: HaState;
      try {
        now = await haState(ctx.sh);
      } catch (error) {
        if (!options.emergency) throw error;
        return change(`the pool does not answer (${(error as Error).message.split('\n')[0]}): emergency HA disable`);
      }
      if (!now.enabled) return noop('HA is off');
      const outputs = { heartbeatSr: now.heartbeatSrUuids[0] ?? null, heartbeatSrUuids: now.heartbeatSrUuids, timeout: now.timeout ?? null };
      return change(`HA is on (timeout ${now.timeout ?? 'default'}, heartbeat SR ${now.heartbeatSrUuids.join(', ') || 'unknown'})`, outputs);
    },
    commands: () => [command],
  };
}

export interface PoolJoinedOptions<P = any, V = any> extends XeStepOptions<P, V>, WaitOptions {
  masterAddress: Dynamic<string, P, V>;
  username?: Dynamic<string, P, V>;
  password: Dynamic<Secret, P, V>;
}

/** The address of the master of the pool this host is in. */
async function currentMasterAddress(sh: Shell): Promise<string> {
  return paramGet(sh, 'host', await poolMaster(sh), 'address');
}

/**
 * This host (the step runs on it, not on the master) is a member of the pool whose master has this
 * address: `xe pool-join master-address=… master-username=… master-password=…` (the host rebuild notes), the
 * password masked everywhere. Apply waits for the host's xapi to come back as a member.
 * @example xe.poolJoined({ id: 'join', title: 'join the pool', masterAddress: (ctx) => ctx.host.vars.masterAddress, password: (ctx) => secret(ctx.params.poolPassword) })
 */
export function poolJoined<P = any, V = any>(options: PoolJoinedOptions<P, V>): ActionStep<P, V> {
  checkOptions(options.id, poolJoinSchema, options);
  const probe = async (ctx: StepContext) => {
    const want = await resolve(options.masterAddress, ctx);
    const now = await currentMasterAddress(ctx.sh);
    return holds(now === want, `the pool master is ${want}`, `the pool master is ${now}, want ${want}`);
  };
  const plan = async (ctx: StepContext) => {
    const address = await resolve(options.masterAddress, ctx);
    const user = options.username === undefined ? 'root' : await resolve(options.username, ctx);
    const password = await resolve(options.password, ctx);
    // A plain string here would be printed in the dry-run and the journal: refuse it.
    if (!(password instanceof Secret)) throw new TaskError(options.id, 'password must be a secret(…), so it is masked in every log');
    return [cmd`xe pool-join ${`master-address=${address}`} ${`master-username=${user}`} master-password=${password}`];
  };
  return runUntil({ ...commonOf(options), until: probe, commands: plan, ...waitingOf(options, 'pool membership', 600_000) });
}

/**
 * A dead host is gone from the pool database: `xe host-forget uuid=… --force` (the host rebuild notes; `--force`
 * answers the CLI's "are you sure" for it). Refuses a host whose metrics say it is live: that one
 * should be ejected (`xe pool-eject`), not forgotten; and refuses while pool HA is on, as xapi does. Takes a uuid, never a name: after a rebuild the
 * new host may carry the old name, and a resumed run must not forget it.
 * @example xe.hostForgotten({ id: 'forget', title: 'forget the dead host', on: 'master', uuid: (ctx) => ctx.outputs.get<string>('find-dead', 'uuid') })
 */
export function hostForgotten<P = any, V = any>(options: XeStepOptions<P, V> & { uuid: Dynamic<string, P, V> }): ActionStep<P, V> {
  checkOptions(options.id, forgetSchema, options);
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      const uuid = await resolve(options.uuid, ctx);
      if (!isUuid(uuid)) throw new TaskError(options.id, `not a host uuid: ${JSON.stringify(uuid)}`);
      const [h] = await list(ctx.sh, 'host', { uuid }, ['uuid', 'name-label', 'host-metrics-live']);
      if (!h) return noop(`host ${uuid} is not in the pool database`);
      if (h.text('host-metrics-live') === 'true') throw new TaskError(options.id, `host ${h.text('name-label')} (${uuid}) is live: eject it (xe pool-eject) instead of forgetting it`);
      // xapi refuses Host.destroy while HA is on (HA_IS_ENABLED); say so before the dry-run promises it.
      if ((await haState(ctx.sh)).enabled) throw new TaskError(options.id, `HA is enabled on the pool: record and disable it first (xe.haStateRecorded, xe.haDisabled), then forget ${h.text('name-label')}`);
      return change(`dead host ${h.text('name-label')} (${uuid}) is still in the pool database`);
    },
    async commands(ctx) {
      return [xeCommand('host-forget', [`uuid=${await resolve(options.uuid, ctx)}`, '--force'])];
    },
  };
}

/**
 * This surviving member, in emergency mode because its master is gone, becomes the master:
 * `xe pool-emergency-transition-to-master` (the host rebuild notes). A host not in emergency mode needs nothing
 * (seed: "if the server returns False … this isn't going to help you"). Apply waits until the host
 * leaves emergency mode and the pool answers.
 * @example xe.emergencyTransitionToMaster({ id: 'take-over', title: 'promote a survivor', on: 'xs-02' })
 */
export function emergencyTransitionToMaster<P = any, V = any>(options: XeStepOptions<P, V> & WaitOptions): ActionStep<P, V> {
  const transition = cmd`xe pool-emergency-transition-to-master`;
  const probe = async (ctx: StepContext) => holds(!(await isEmergencyMode(ctx.sh)), 'the host is not in emergency mode', 'the host is in emergency mode: its master is gone');
  const poolAnswers = async (ctx: StepContext) => holds(await ctx.sh`xe pool-list --minimal`.succeeds(), 'the pool answers', 'xe pool-list fails');
  return runUntil({
    ...commonOf(options),
    check: probe,
    commands: () => [transition],
    until: async (ctx) => {
      const state = await probe(ctx);
      return state.done ? poolAnswers(ctx) : state;
    },
    ...waitingOf(options, 'the new master answering', 300_000),
  });
}

/**
 * This host is the pool master: `xe pool-designate-new-master host-uuid=…` (the host rebuild notes: an orderly
 * hand-over; the pool is away for 20–30 s). Apply waits until the pool names it master.
 * @example xe.designateMaster({ id: 'master-back', title: 'make the rebuilt host master again', on: 'xs-02', host: 'xs-01' })
 */
export function designateMaster<P = any, V = any>(options: HostOptions<P, V> & WaitOptions): ActionStep<P, V> {
  checkOptions(options.id, hostSchema, options);
  const probe = async (ctx: StepContext) => {
    const h = await host(ctx.sh, await resolve(options.host, ctx));
    const master = await poolMaster(ctx.sh);
    return holds(master === h.uuid, `${h.nameLabel} is the pool master`, `the pool master is ${master}, not ${h.nameLabel} (${h.uuid})`);
  };
  const plan = async (ctx: StepContext) => {
    const h = await host(ctx.sh, await resolve(options.host, ctx));
    return [xeCommand('pool-designate-new-master', [`host-uuid=${h.uuid}`])];
  };
  return runUntil({ ...commonOf(options), until: probe, commands: plan, ...waitingOf(options, 'the new master answering', 300_000) });
}

/**
 * Hands on the pool's HA state (`haEnabled`, `timeout`, `heartbeatSr`, `heartbeatSrUuids`) and
 * always passes. Put it before anything that disables HA: it is journaled as soon as it passes, so
 * a later haEnabled can restore the timeout (the HA and XenApp cloning notes: it does not persist) even if the run dies
 * right after the disable. A resume skips it and keeps the recorded values.
 * @example xe.haStateRecorded({ id: 'ha-before', title: 'record the HA configuration', on: 'master' })
 */
export function haStateRecorded<P = any, V = any>(options: XeStepOptions<P, V>): AssertStep<P, V> {
  return {
    ...commonOf(options),
    kind: 'assert',
    async check(ctx) {
      const now = await haState(ctx.sh);
      const outputs = { haEnabled: now.enabled, timeout: now.timeout ?? null, heartbeatSr: now.heartbeatSrUuids[0] ?? null, heartbeatSrUuids: now.heartbeatSrUuids };
      return noop(now.enabled ? `HA is on (timeout ${now.timeout ?? 'default'}, heartbeat SR ${now.heartbeatSrUuids.join(', ') || 'unknown'})` : 'HA is off', outputs);
    },
  };
}
