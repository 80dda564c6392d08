/**
 * Steps on VMs and their disks: a parameter set (on a VM, or any object), the root disk bootable,
 * the power state. They belong on the pool master: `on: xe.poolMasterOf`.
 */
import { z } from 'zod';
import { change, noop } from '../../runbook/check.ts';
import type { ActionStep, Dynamic, StepContext } from '../../runbook/types.ts';
import { checkOptions, commonOf, resolve, TaskError } from '../resolve.ts';
import { holds, runUntil } from '../wait-for.ts';
import { CLASS, checkName, PARAM, xeCommand, type Selectors } from './command.ts';
import { findOne, paramGet, paramGetOptional, vm, vmDiskList } from './facts.ts';
import { ref, uuidText, waitingOf, type WaitOptions, type XeStepOptions } from './options.ts';

const paramSetSchema = z.object({ uuid: uuidText.optional(), value: z.string() });

const vmPowerSchema = z.object({ vm: ref, state: z.enum(['halted', 'running']) });

const vbdSchema = z.object({ vm: ref });

export interface ParamSetOptions<P = any, V = any> extends XeStepOptions<P, V> {
  cls: string;
  /** The object, or selectors that must match exactly one. */
  uuid?: Dynamic<string, P, V>;
  find?: Dynamic<Selectors, P, V>;
  param: string;
  /** For a map parameter: the key (`other-config` + `multipathing`). */
  key?: string;
  /** The wanted value; '' clears it (the HVM-to-PV guide: `HVM-boot-policy=`). */
  value: Dynamic<string, P, V>;
}

async function targetUuid(options: ParamSetOptions, ctx: StepContext): Promise<string> {
  if (options.uuid !== undefined) return resolve(options.uuid, ctx);
  return (await findOne(ctx.sh, options.cls, await resolve(options.find!, ctx))).uuid;
}

/**
 * An object's parameter (or map key) has a value: `xe <cls>-param-set uuid=… param=value`.
 * @example xe.paramSet({ id: 'pv-bootloader', title: 'boot with pygrub', on: 'master', cls: 'vm', find: { 'name-label': 'Ubuntu' }, param: 'PV-bootloader', value: 'pygrub' })
 */
export function paramSet<P = any, V = any>(options: ParamSetOptions<P, V>): ActionStep<P, V> {
  checkOptions(options.id, paramSetSchema, options);
  if ((options.uuid === undefined) === (options.find === undefined)) throw new TypeError(`xe.paramSet ${options.id}: give uuid or find, not both or neither`);
  checkName('class', options.cls, CLASS);
  checkName('param', options.param, PARAM);
  const name = options.key === undefined ? options.param : `${options.param}:${options.key}`;
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      const uuid = await targetUuid(options as ParamSetOptions, ctx);
      const want = await resolve(options.value, ctx);
      const now = await paramGetOptional(ctx.sh, options.cls, uuid, options.param, options.key);
      const what = `${options.cls} ${uuid} ${name}`;
      if (now === want) return noop(`${what} is already ${JSON.stringify(want)}`, { uuid });
      return change(`${what} is ${now === undefined ? 'not set' : JSON.stringify(now)}, want ${JSON.stringify(want)}`, { uuid });
    },
    async commands(ctx) {
      const uuid = await targetUuid(options as ParamSetOptions, ctx);
      const value = await resolve(options.value, ctx);
      return [xeCommand(`${options.cls}-param-set`, [`uuid=${uuid}`, `${name}=${value}`])];
    },
  };
}

export interface VbdBootableOptions<P = any, V = any> extends XeStepOptions<P, V> {
  /** The VM's uuid or name-label. */
  vm: Dynamic<string, P, V>;
  /** Which disk: its VBD userdevice; '0' is the first disk, where the HVM-to-PV guide installs the guest. */
  userdevice?: string;
  bootable?: boolean;
}

/**
 * The VM's root disk VBD is bootable, so pygrub finds the PV kernel (the HVM-to-PV guide: `xe vm-disk-list`,
 * then `xe vbd-param-set uuid=<vbd> bootable=true`).
 * @example xe.vbdBootable({ id: 'root-bootable', title: 'mark the root disk bootable', on: 'master', vm: 'Ubuntu' })
 */
export function vbdBootable<P = any, V = any>(options: VbdBootableOptions<P, V>): ActionStep<P, V> {
  checkOptions(options.id, vbdSchema, options);
  const userdevice = options.userdevice ?? '0';
  const want = String(options.bootable ?? true);
  const rootVbd = async (ctx: StepContext) => {
    const v = await vm(ctx.sh, await resolve(options.vm, ctx));
    const disk = (await vmDiskList(ctx.sh, v.uuid)).find((d) => d.userdevice === userdevice);
    if (!disk) throw new TaskError(options.id, `VM ${v.nameLabel} has no disk at userdevice ${userdevice}`);
    return { v, vbd: disk.vbdUuid };
  };
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      const { v, vbd } = await rootVbd(ctx);
      const now = await paramGet(ctx.sh, 'vbd', vbd, 'bootable');
      const what = `VBD ${vbd} (disk ${userdevice} of ${v.nameLabel})`;
      return now === want ? noop(`${what} is bootable=${want}`, { vbd }) : change(`${what} is bootable=${now}`, { vbd });
    },
    async commands(ctx) {
      return [xeCommand('vbd-param-set', [`uuid=${(await rootVbd(ctx)).vbd}`, `bootable=${want}`])];
    },
  };
}

export interface VmPowerOptions<P = any, V = any> extends XeStepOptions<P, V>, WaitOptions {
  vm: Dynamic<string, P, V>;
  state: 'halted' | 'running';
}

/**
 * A VM is halted (`xe vm-shutdown`, a clean shutdown) or running (`xe vm-start`); apply waits until
 * `xe` shows the state, up to `waitTimeoutMs` (default 5 min).
 * @example xe.vmPowerState({ id: 'vm-start', title: 'boot the guest in PV mode', on: 'master', vm: 'Ubuntu', state: 'running' })
 */
export function vmPowerState<P = any, V = any>(options: VmPowerOptions<P, V>): ActionStep<P, V> {
  checkOptions(options.id, vmPowerSchema, options);
  const probe = async (ctx: StepContext) => {
    const v = await vm(ctx.sh, await resolve(options.vm, ctx));
    return holds(v.powerState === options.state, `VM ${v.nameLabel} is ${options.state}`, `VM ${v.nameLabel} is ${v.powerState}`);
  };
  const plan = async (ctx: StepContext) => {
    const v = await vm(ctx.sh, await resolve(options.vm, ctx));
    return [xeCommand(options.state === 'halted' ? 'vm-shutdown' : 'vm-start', [`uuid=${v.uuid}`])];
  };
  return runUntil({ ...commonOf(options), until: probe, commands: plan, ...waitingOf(options, `VM ${options.state}`, 300_000) });
}
