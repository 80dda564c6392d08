/**
 * Steps on one host of a pool: enabled or in maintenance, evacuated, its PBDs plugged, its
 * toolstack restarted, storage multipathing; and the preflight that other hosts can take its VMs.
 * Run them on the pool master (`on: xe.poolMasterOf`), except toolstackRestarted, which runs on the host.
 */
import { z } from 'zod';
import { change, noop, type CheckResult } from '../../runbook/check.ts';
import type { ActionStep, AssertStep, Dynamic, StepContext } from '../../runbook/types.ts';
import { cmd, type Command } from '../../shell/command.ts';
import type { Shell } from '../../shell/shell.ts';
import { checkOptions, commonOf, resolve, TaskError } from '../resolve.ts';
import { holds, runUntil } from '../wait-for.ts';
import { xeCommand } from './command.ts';
import { byUuidOrName, findOne, host, hosts, paramGetOptional, pbds, residentVms, sharedSrs, sr } from './facts.ts';
import { hostSchema, ref, waitingOf, type HostOptions, type WaitOptions, type XeStepOptions } from './options.ts';

/**
 * A host is enabled (takes VMs) or disabled (maintenance): `xe host-enable` / `xe host-disable`.
 * @example xe.hostEnabled({ id: 'disable', title: 'take the host out of service', on: 'master', host: (ctx) => ctx.host.name, enabled: false })
 */
export function hostEnabled<P = any, V = any>(options: HostOptions<P, V> & { enabled: boolean }): ActionStep<P, V> {
  checkOptions(options.id, hostSchema, options);
  const word = options.enabled ? 'enabled' : 'disabled';
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      const h = await host(ctx.sh, await resolve(options.host, ctx));
      return holds(h.enabled === options.enabled, `host ${h.nameLabel} is ${word}`, `host ${h.nameLabel} is ${h.enabled ? 'enabled' : 'disabled'}`);
    },
    async commands(ctx) {
      const h = await host(ctx.sh, await resolve(options.host, ctx));
      return [xeCommand(options.enabled ? 'host-enable' : 'host-disable', [`uuid=${h.uuid}`])];
    },
  };
}

/**
 * No guest VM runs on the host: `xe host-evacuate` migrates them to the others. Disable the host
 * first (hostEnabled false) so the pool does not place VMs back on it.
 * @example xe.hostEvacuated({ id: 'evacuate', title: 'move the VMs off', on: 'master', host: (ctx) => ctx.host.name })
 */
export function hostEvacuated<P = any, V = any>(options: HostOptions<P, V>): ActionStep<P, V> {
  checkOptions(options.id, hostSchema, options);
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      const h = await host(ctx.sh, await resolve(options.host, ctx));
      const vms = await residentVms(ctx.sh, h.uuid);
      if (vms.length === 0) return noop(`no guest VM runs on ${h.nameLabel}`);
      return change(`${vms.length} VM(s) run on ${h.nameLabel}: ${vms.map((v) => v.nameLabel).join(', ')}`);
    },
    async commands(ctx) {
      const h = await host(ctx.sh, await resolve(options.host, ctx));
      return [xeCommand('host-evacuate', [`uuid=${h.uuid}`])];
    },
  };
}

/**
 * Every PBD of the SR on the host is plugged: `xe pbd-plug` for the unplugged ones (the iSCSI multipath notes).
 * @example xe.pbdsPlugged({ id: 'plug', title: 're-plug the SR', on: 'master', host: (ctx) => ctx.host.name, sr: 'iSCSI SR' })
 */
export function pbdsPlugged<P = any, V = any>(options: HostOptions<P, V> & { sr: Dynamic<string, P, V> }): ActionStep<P, V> {
  checkOptions(options.id, hostSchema.extend({ sr: ref }), options);
  const unplugged = async (ctx: StepContext) => {
    const h = await host(ctx.sh, await resolve(options.host, ctx));
    const s = await sr(ctx.sh, await resolve(options.sr, ctx));
    const all = await pbds(ctx.sh, { host: h.uuid, sr: s.uuid });
    if (all.length === 0) throw new TaskError(options.id, `SR ${s.nameLabel} has no PBD on host ${h.nameLabel}: nothing to plug (create it with xe pbd-create)`);
    return { h, s, pending: all.filter((p) => !p.currentlyAttached) };
  };
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      const { h, s, pending } = await unplugged(ctx);
      if (pending.length === 0) return noop(`SR ${s.nameLabel} is plugged on ${h.nameLabel}`);
      return change(`${pending.length} PBD(s) of SR ${s.nameLabel} unplugged on ${h.nameLabel}: ${pending.map((p) => p.uuid).join(', ')}`);
    },
    async commands(ctx) {
      return (await unplugged(ctx)).pending.map((p) => xeCommand('pbd-plug', [`uuid=${p.uuid}`]));
    },
    // After an earlier change (a reboot) none of the SR's PBDs on the host is attached yet.
    async commandsAfterChange(ctx) {
      const s = await sr(ctx.sh, await resolve(options.sr, ctx));
      return pbdPlugCommands(ctx.sh, await resolve(options.host, ctx), s.uuid);
    },
  };
}

/**
 * Every shared SR of the pool has a PBD on the host, and it is plugged: `xe pbd-plug` for the
 * unplugged ones. A shared SR without a PBD on the host is an error (a pool join creates them).
 * @example xe.sharedPbdsPlugged({ id: 'pbds-plugged', title: 'the shared SRs are plugged', on: 'master', host: 'xs-03' })
 */
export function sharedPbdsPlugged<P = any, V = any>(options: HostOptions<P, V>): ActionStep<P, V> {
  checkOptions(options.id, hostSchema, options);
  const unplugged = async (ctx: StepContext) => {
    const h = await host(ctx.sh, await resolve(options.host, ctx));
    const srs = await sharedSrs(ctx.sh);
    const mine = await pbds(ctx.sh, { host: h.uuid });
    const missing = srs.filter((s) => !mine.some((p) => p.srUuid === s.uuid)).map((s) => s.nameLabel);
    if (missing.length) throw new Error(`shared SR ${missing.join(', ')} has no PBD on ${h.nameLabel}: the join did not create it`);
    return { h, pending: mine.filter((p) => !p.currentlyAttached && srs.some((s) => s.uuid === p.srUuid)) };
  };
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      const { h, pending } = await unplugged(ctx);
      if (pending.length === 0) return noop(`every shared SR is plugged on ${h.nameLabel}`);
      return change(`${pending.length} shared PBD(s) unplugged: ${pending.map((p) => p.uuid).join(', ')}`);
    },
    async commands(ctx) {
      return (await unplugged(ctx)).pending.map((p) => xeCommand('pbd-plug', [`uuid=${p.uuid}`]));
    },
  };
}

/**
 * `xe pbd-plug` for every PBD of the SR on the host, plugged or not: the plan for a host whose
 * storage is not up yet (after a reboot a dry-run cannot see).
 * @example const plan = await xe.pbdPlugCommands(ctx.sh, ctx.host.name, srUuid)
 */
export async function pbdPlugCommands(sh: Shell, hostRef: string, srUuid: string): Promise<Command[]> {
  const h = await host(sh, hostRef);
  return (await pbds(sh, { host: h.uuid, sr: srUuid })).map((p) => xeCommand('pbd-plug', [`uuid=${p.uuid}`]));
}

export interface ToolstackOptions<P = any, V = any> extends XeStepOptions<P, V>, WaitOptions {
  /** Skip the restart when this says done (e.g. nothing changed earlier in the run). */
  unless?: (ctx: StepContext<P, V>) => CheckResult | Promise<CheckResult>;
}

/**
 * Restarts the host's toolstack (xapi) with `xe-toolstack-restart` (the iSCSI multipath notes), then waits until
 * `xe host-list` answers again. Nothing on the host says it is needed, so it always runs unless
 * `unless` says otherwise; it is not re-checked (`verify: false`): the wait is its verification.
 * @example xe.toolstackRestarted({ id: 'toolstack', title: 'restart xapi so it sees the paths' })
 */
export function toolstackRestarted<P = any, V = any>(options: ToolstackOptions<P, V>): ActionStep<P, V> {
  const restart = cmd`xe-toolstack-restart`;
  const restarted = runUntil<P, V>({
    ...commonOf(options),
    check: (ctx) => options.unless?.(ctx) ?? change('the toolstack is restarted whenever this step runs (nothing on the host says it is needed)'),
    commands: () => [restart],
    until: async (ctx) => holds(await ctx.sh`xe host-list --minimal`.succeeds(), 'xapi answers', 'xe host-list fails'),
    ...waitingOf(options, 'xapi answering after xe-toolstack-restart', 300_000),
  });
  return { ...restarted, verify: false };
}

/**
 * A host's storage multipathing is on or off. XenServer 8 has a `multipathing` field; older releases
 * (the seeds' 5.x/6.x) keep `other-config:multipathing` (+ `multipathhandle=dmp` when on). Change it
 * only on a disabled host with its PBDs unplugged, as the XenServer guide says.
 * @example xe.hostMultipathing({ id: 'mp-off', title: 'set multipathing inactive', on: 'master', host: (ctx) => ctx.host.name, enabled: false })
 */
export function hostMultipathing<P = any, V = any>(options: HostOptions<P, V> & { enabled: boolean }): ActionStep<P, V> {
  checkOptions(options.id, hostSchema, options);
  const want = String(options.enabled);
  const read = async (ctx: StepContext) => {
    const h = await findOne(ctx.sh, 'host', byUuidOrName(await resolve(options.host, ctx)), ['uuid', 'name-label']);
    const field = await paramGetOptional(ctx.sh, 'host', h.uuid, 'multipathing');
    const now = field ?? await paramGetOptional(ctx.sh, 'host', h.uuid, 'other-config', 'multipathing');
    // On: the handle too, so a run stopped between the two settings sees the second one missing.
    const handle = field === undefined && options.enabled ? await paramGetOptional(ctx.sh, 'host', h.uuid, 'other-config', 'multipathhandle') : 'dmp';
    return { uuid: h.uuid, name: h.text('name-label'), hasField: field !== undefined, now: now ?? 'false', handle };
  };
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      const { name, now, handle } = await read(ctx);
      if (now === want && handle !== 'dmp') return holds(false, '', `multipathing on ${name} is ${want} but its multipathhandle is ${handle ?? 'not set'}, want dmp`);
      return holds(now === want, `multipathing on ${name} is ${want}`, `multipathing on ${name} is ${now}, want ${want}`);
    },
    async commands(ctx) {
      const { uuid, hasField, now, handle } = await read(ctx);
      if (hasField) return [xeCommand('host-param-set', [`uuid=${uuid}`, `multipathing=${want}`])];
      const handleCommand = xeCommand('host-param-set', [`uuid=${uuid}`, 'other-config:multipathhandle=dmp']);
      // Only the handle is missing (a run stopped between the two): only it is sent.
      if (now === want && handle !== 'dmp') return [handleCommand];
      const commands = [xeCommand('host-param-set', [`uuid=${uuid}`, `other-config:multipathing=${want}`])];
      if (options.enabled) commands.push(handleCommand);
      return commands;
    },
  };
}

/**
 * At least `atLeast` other hosts of the pool are enabled, so the host's VMs have somewhere to go
 * (issue 6 preflight: the host is not the only one running the pool's VMs).
 * @example xe.otherHostsEnabled({ id: 'not-alone', title: 'another host can take the VMs', on: 'master', host: (ctx) => ctx.host.name })
 */
export function otherHostsEnabled<P = any, V = any>(options: HostOptions<P, V> & { atLeast?: number }): AssertStep<P, V> {
  checkOptions(options.id, hostSchema.extend({ atLeast: z.number().int().min(1).optional() }), options);
  const atLeast = options.atLeast ?? 1;
  return {
    ...commonOf(options),
    kind: 'assert',
    async check(ctx) {
      const self = await host(ctx.sh, await resolve(options.host, ctx));
      const others = (await hosts(ctx.sh)).filter((h) => h.uuid !== self.uuid && h.enabled);
      const names = others.map((h) => h.nameLabel).join(', ') || 'none';
      return holds(others.length >= atLeast, `${others.length} other enabled host(s): ${names}`, `${self.nameLabel} needs ${atLeast} other enabled host(s) to take its VMs; enabled others: ${names}`);
    },
  };
}
