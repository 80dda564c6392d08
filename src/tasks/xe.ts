/**
 * The XenServer CLI as facts and steps. Import as a namespace: `import * as xe from './xe.ts'`.
 *
 * Facts (`list`, `findOne`, `host`, `haState`, …) run one `xe` command and parse it with the pure
 * parsers of xe-parse.ts. Steps (`hostEnabled`, `haEnabled`, …) read state through facts in check
 * and give the exact commands in `commands`, every value quoted by `cmd`. Most `xe` steps belong on
 * the pool master: give them `on: 'xs-master'` (or a function of the context).
 * Command syntax: xen-api `ocaml/xapi-cli-server/cli_frontend.ml`; procedures: seeds 000, 002–004.
 */
import { z } from 'zod';
import { change, noop, type CheckResult } from '../runbook/check.ts';
import type { ActionStep, AssertStep, Dynamic, StepContext } from '../runbook/types.ts';
import { cmd, Secret, type Command } from '../shell/command.ts';
import type { Shell } from '../shell/shell.ts';
import { FactError } from './facts.ts';
import { appliedPlan, applyPlan, checkOptions, commonOf, resolve, TaskError, type TaskCommon } from './resolve.ts';
import { pollUntil, holds, type Clock } from './wait-for.ts';
import {
  parseVmDiskList, parseXeBool, parseXeMap, parseXeMinimal, parseXeParamGet, parseXeRecords, parseXeSet, xeRef,
  type XeRecord,
} from './xe-parse.ts';

export { XeRecord } from './xe-parse.ts';

/** Field filters for `<class>-list`: `{ 'name-label': 'xs-01', 'other-config:foo': 'bar' }`. */
export type Selectors = Readonly<Record<string, string>>;

const CLASS = /^[a-z][a-z-]*$/;
// A selector or param name: `name-label`, `other-config:multipathing`, `HVM-boot-policy`, `MTU`.
const PARAM = /^[A-Za-z][A-Za-z0-9_-]*(?::[A-Za-z0-9_.-]+)?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a XenServer uuid (the CLI's `8-4-4-4-12` hex form). */
export const isUuid = (text: string): boolean => UUID.test(text);

function checkName(kind: string, name: string, pattern: RegExp): string {
  if (!pattern.test(name)) throw new TypeError(`not an xe ${kind}: ${JSON.stringify(name)}`);
  return name;
}

/** `key=value` words, each quoted whole by `cmd` so a value can never become another argument. */
function selectorWords(selectors: Selectors): string[] {
  return Object.entries(selectors).map(([key, value]) => `${checkName('selector', key, PARAM)}=${value}`);
}

/** `xe <sub> <words…>`; the words are quoted one by one. */
function xeCommand(sub: string, words: readonly string[]): Command {
  return words.length === 0 ? cmd`xe ${sub}` : cmd`xe ${sub} ${words}`;
}

// ---- facts ---------------------------------------------------------------------------------

/** `xe <cls>-list <selectors> [params=a,b]`: the command behind `list`. */
export function listCommand(cls: string, selectors: Selectors = {}, params?: readonly string[]): Command {
  const words = selectorWords(selectors);
  if (params?.length) words.push(`params=${params.map((p) => checkName('param', p, PARAM)).join(',')}`);
  return xeCommand(`${checkName('class', cls, CLASS)}-list`, words);
}

/**
 * Records of a class matching the selectors (all of them with none), with the given params.
 * @example const hosts = await xe.list(ctx.sh, 'host', {}, ['uuid', 'name-label', 'enabled'])
 */
export async function list(sh: Shell, cls: string, selectors: Selectors = {}, params?: readonly string[]): Promise<XeRecord[]> {
  return parseXeRecords(await sh.run(listCommand(cls, selectors, params)).text());
}

/**
 * The uuids of a class's records matching the selectors (`--minimal`); [] when none match.
 * @example const [vm] = await xe.uuids(ctx.sh, 'vm', { 'name-label': 'Ubuntu' })
 */
export async function uuids(sh: Shell, cls: string, selectors: Selectors = {}): Promise<string[]> {
  const command = xeCommand(`${checkName('class', cls, CLASS)}-list`, [...selectorWords(selectors), 'params=uuid', '--minimal']);
  return parseXeMinimal(await sh.run(command).text());
}

/** `xe <cls>-param-get uuid=… param-name=… [param-key=…]`. */
export function paramGetCommand(cls: string, uuid: string, param: string, key?: string): Command {
  const words = [`uuid=${uuid}`, `param-name=${checkName('param', param, PARAM)}`];
  if (key !== undefined) words.push(`param-key=${key}`);
  return xeCommand(`${checkName('class', cls, CLASS)}-param-get`, words);
}

/**
 * One parameter (or one key of a map parameter) of one object.
 * @example await xe.paramGet(ctx.sh, 'vm', uuid, 'HVM-boot-policy') // 'BIOS order'
 */
export async function paramGet(sh: Shell, cls: string, uuid: string, param: string, key?: string): Promise<string> {
  return parseXeParamGet(await sh.run(paramGetCommand(cls, uuid, param, key)).text());
}

/**
 * Like paramGet, but a map key that is not set, or a field this XenServer release does not have,
 * is `undefined` rather than an error (cli_operations.ml: `p_get` fails with "Key … not found in
 * map", `field_lookup` with "Unknown field '…'").
 * @example await xe.paramGetOptional(ctx.sh, 'host', uuid, 'other-config', 'multipathing')
 */
export async function paramGetOptional(sh: Shell, cls: string, uuid: string, param: string, key?: string): Promise<string | undefined> {
  const result = await sh.run(paramGetCommand(cls, uuid, param, key)).nothrow();
  if (result.ok) return parseXeParamGet(result.stdout);
  if (/not found in map|Unknown field '/.test(result.stderr + result.stdout)) return undefined;
  throw new FactError(`${sh.host}: \`${result.command.display}\` exited ${result.code}: ${(result.stderr || result.stdout).trim()}`);
}

const describeSelectors = (selectors: Selectors): string =>
  Object.entries(selectors).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ') || '(no filter)';

/**
 * The one record matching the selectors; throws naming the count (and the uuids) otherwise.
 * @example const vm = await xe.findOne(ctx.sh, 'vm', { 'name-label': 'Ubuntu' }, ['uuid', 'power-state'])
 */
export async function findOne(sh: Shell, cls: string, selectors: Selectors, params?: readonly string[]): Promise<XeRecord> {
  const wanted = params && !params.includes('uuid') ? ['uuid', ...params] : params;
  const records = await list(sh, cls, selectors, wanted);
  if (records.length === 1) return records[0];
  const found = records.length === 0 ? 'found none' : `found ${records.length}: ${records.map((r) => r.uuid).join(', ')}`;
  throw new FactError(`${sh.host}: expected exactly one ${cls} with ${describeSelectors(selectors)}, ${found}`);
}

/** Selectors for "this uuid, or else this name-label" (the CLI's own `vm=` works only for some commands). */
export const byUuidOrName = (ref: string): Selectors => (isUuid(ref) ? { uuid: ref } : { 'name-label': ref });

export interface XeHost { uuid: string; nameLabel: string; address: string; enabled: boolean }
const HOST_PARAMS = ['uuid', 'name-label', 'address', 'enabled'];
const toHost = (r: XeRecord): XeHost => ({ uuid: r.uuid, nameLabel: r.text('name-label'), address: r.text('address'), enabled: r.bool('enabled') });

/**
 * The pool's hosts (or those matching the selectors).
 * @example (await xe.hosts(ctx.sh)).filter((h) => !h.enabled)
 */
export async function hosts(sh: Shell, selectors: Selectors = {}): Promise<XeHost[]> {
  return (await list(sh, 'host', selectors, HOST_PARAMS)).map(toHost);
}

/**
 * One host by uuid or name-label.
 * @example const { uuid } = await xe.host(ctx.sh, 'xs-02')
 */
export async function host(sh: Shell, ref: string): Promise<XeHost> {
  return toHost(await findOne(sh, 'host', byUuidOrName(ref), HOST_PARAMS));
}

export type PowerState = 'halted' | 'running' | 'paused' | 'suspended';
export interface XeVm { uuid: string; nameLabel: string; powerState: PowerState; residentOn?: string }
const VM_PARAMS = ['uuid', 'name-label', 'power-state', 'resident-on'];
const toVm = (r: XeRecord): XeVm => ({
  uuid: r.uuid, nameLabel: r.text('name-label'), powerState: r.text('power-state') as PowerState, residentOn: xeRef(r.text('resident-on')),
});

/**
 * One VM (not a template: `vm-list` leaves those out) by uuid or name-label.
 * @example const { uuid, powerState } = await xe.vm(ctx.sh, 'Ubuntu')
 */
export async function vm(sh: Shell, ref: string): Promise<XeVm> {
  return toVm(await findOne(sh, 'vm', byUuidOrName(ref), VM_PARAMS));
}

/**
 * The guest VMs running on a host (its control domain left out).
 * @example if ((await xe.residentVms(ctx.sh, hostUuid)).length > 0) …
 */
export async function residentVms(sh: Shell, hostUuid: string): Promise<XeVm[]> {
  return (await list(sh, 'vm', { 'resident-on': hostUuid, 'is-control-domain': 'false' }, VM_PARAMS)).map(toVm);
}

/**
 * Whether a VM is in a power state, as a check: for waitFor (issue 8: "wait until xe shows it halted").
 * @example waitFor({ id: 'halted', title: 'guest halted', on: 'master', until: (ctx) => xe.vmPowerIs(ctx.sh, 'Ubuntu', 'halted'), timeoutMs: 300_000 })
 */
export async function vmPowerIs(sh: Shell, ref: string, state: PowerState): Promise<CheckResult> {
  const v = await vm(sh, ref);
  return holds(v.powerState === state, `VM ${v.nameLabel} is ${state}`, `VM ${v.nameLabel} is ${v.powerState}, want ${state}`);
}

/**
 * The guest's networks as its tools report them (`networks`, e.g. `{ '0/ip': '10.0.0.5' }`);
 * {} while no guest tools report (xe prints `<not in database>` then).
 * @example const ip = (await xe.vmNetworks(ctx.sh, uuid))['0/ip']
 */
export async function vmNetworks(sh: Shell, vmUuid: string): Promise<Record<string, string>> {
  const raw = await paramGet(sh, 'vm', vmUuid, 'networks');
  return xeRef(raw) === undefined ? {} : parseXeMap(raw);
}

export interface XeSr { uuid: string; nameLabel: string; type: string; shared: boolean }
const toSr = (r: XeRecord): XeSr => ({ uuid: r.uuid, nameLabel: r.text('name-label'), type: r.text('type'), shared: r.bool('shared') });

/**
 * One storage repository by uuid or name-label.
 * @example const { uuid } = await xe.sr(ctx.sh, 'iSCSI SR')
 */
export async function sr(sh: Shell, ref: string): Promise<XeSr> {
  return toSr(await findOne(sh, 'sr', byUuidOrName(ref), ['uuid', 'name-label', 'type', 'shared']));
}

/**
 * The pool's shared SRs (the VMs' storage, the heartbeat SR), of one `type` when given.
 * @example const iscsiSrs = await xe.sharedSrs(ctx.sh, 'lvmoiscsi')
 */
export async function sharedSrs(sh: Shell, type?: string): Promise<XeSr[]> {
  const records = await list(sh, 'sr', type === undefined ? { shared: 'true' } : { type, shared: 'true' }, ['uuid', 'name-label', 'type', 'shared']);
  return records.map(toSr);
}

/**
 * The SR a run works on: the one `ref` names, else the pool's only shared SR of `type`. Several or
 * none is an error ending with `hint` (how the operator names one).
 * @example const sr = await xe.sharedSr(ctx.sh, { ref: ctx.params.sr, type: 'lvmoiscsi', hint: 'name it with --param sr=…' })
 */
export async function sharedSr(sh: Shell, options: { ref?: string; type: string; hint: string }): Promise<XeSr> {
  if (options.ref) return sr(sh, options.ref);
  const srs = await sharedSrs(sh, options.type);
  if (srs.length === 1) return srs[0];
  const found = srs.length ? `${srs.length}: ${srs.map((s) => s.nameLabel).join(', ')}` : 'none';
  throw new Error(`expected one shared ${options.type} SR in the pool, found ${found}: ${options.hint}`);
}

export interface XePbd { uuid: string; hostUuid: string; srUuid: string; currentlyAttached: boolean; deviceConfig: Record<string, string> }

/**
 * PBDs (an SR's connection on one host), filtered by host and/or SR uuid.
 * @example const unplugged = (await xe.pbds(ctx.sh, { host: h, sr: s })).filter((p) => !p.currentlyAttached)
 */
export async function pbds(sh: Shell, filter: { host?: string; sr?: string } = {}): Promise<XePbd[]> {
  const selectors: Record<string, string> = {};
  if (filter.host) selectors['host-uuid'] = filter.host;
  if (filter.sr) selectors['sr-uuid'] = filter.sr;
  const records = await list(sh, 'pbd', selectors, ['uuid', 'host-uuid', 'sr-uuid', 'currently-attached', 'device-config']);
  return records.map((r) => ({
    uuid: r.uuid, hostUuid: r.text('host-uuid'), srUuid: r.text('sr-uuid'), currentlyAttached: r.bool('currently-attached'), deviceConfig: r.map('device-config'),
  }));
}

export interface XePif { uuid: string; device: string; hostUuid: string; management: boolean; mtu: number; ip: string; networkUuid: string }

/**
 * Physical interfaces (and bonds' master PIFs) with their MTU: seed 001 wants the management bond at 1500.
 * @example const mgmt = (await xe.pifs(ctx.sh, { 'host-uuid': h, management: 'true' }))[0]
 */
export async function pifs(sh: Shell, selectors: Selectors = {}): Promise<XePif[]> {
  const records = await list(sh, 'pif', selectors, ['uuid', 'device', 'host-uuid', 'management', 'MTU', 'IP', 'network-uuid']);
  return records.map((r) => ({
    uuid: r.uuid, device: r.text('device'), hostUuid: r.text('host-uuid'), management: r.bool('management'),
    mtu: Number(r.text('MTU')), ip: r.text('IP'), networkUuid: r.text('network-uuid'),
  }));
}

/**
 * The uuid of the pool master, as the host asked knows it.
 * @example const master = await xe.poolMaster(ctx.sh)
 */
export async function poolMaster(sh: Shell): Promise<string> {
  const [master] = parseXeMinimal(await sh`xe pool-list params=master --minimal`.text());
  if (!master) throw new FactError(`${sh.host}: xe pool-list printed no master`);
  return master;
}

/** The host vars that name a guest's or member's pool master (one of them is needed). */
export interface PoolVars { xen_pool?: string; pool_master?: string }

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

/**
 * Whether this host lost its master and runs in emergency mode (seed 002: `xe host-is-in-emergency-mode`).
 * @example if (await xe.isEmergencyMode(ctx.sh)) …
 */
export async function isEmergencyMode(sh: Shell): Promise<boolean> {
  return parseXeBool(await sh`xe host-is-in-emergency-mode`.text(), 'xe host-is-in-emergency-mode');
}

export interface HaState { enabled: boolean; timeout?: number; heartbeatSrUuids: string[] }

/** `ha-configuration` holds what pool-ha-enable was given (`timeout: 120`); seed 004: it does not persist. */
export function parseHaRecord(pool: XeRecord): Omit<HaState, 'heartbeatSrUuids'> & { statefileVdis: string[] } {
  const config = parseXeMap(pool.text('ha-configuration'));
  const timeout = config.timeout === undefined ? undefined : Number(config.timeout);
  if (timeout !== undefined && !Number.isFinite(timeout)) throw new FactError(`ha-configuration timeout is not a number: ${config.timeout}`);
  const statefileVdis = parseXeSet(pool.text('ha-statefiles')).map(xeRef).filter((v): v is string => v !== undefined);
  return { enabled: pool.bool('ha-enabled'), timeout, statefileVdis };
}

/**
 * The pool's HA state: on or off, its timeout, and the heartbeat SRs (those of its statefile VDIs).
 * @example const { enabled, timeout, heartbeatSrUuids } = await xe.haState(ctx.sh)
 */
export async function haState(sh: Shell): Promise<HaState> {
  const [pool] = await list(sh, 'pool', {}, ['uuid', 'ha-enabled', 'ha-configuration', 'ha-statefiles']);
  if (!pool) throw new FactError(`${sh.host}: xe pool-list printed no pool`);
  const { statefileVdis, ...state } = parseHaRecord(pool);
  const srs = await Promise.all(statefileVdis.map((vdi) => paramGet(sh, 'vdi', vdi, 'sr-uuid')));
  return { ...state, heartbeatSrUuids: [...new Set(srs)] };
}

export interface XeVmDisk { index: number; vbdUuid: string; userdevice: string; vdiUuid?: string; vdiName?: string; srName?: string; virtualSize?: number }

/**
 * A VM's disks (not CDs) with their VBD and VDI: seed 003 finds the root disk's VBD this way.
 * @example const root = (await xe.vmDiskList(ctx.sh, vmUuid)).find((d) => d.userdevice === '0')
 */
export async function vmDiskList(sh: Shell, vmUuid: string): Promise<XeVmDisk[]> {
  const disks = parseVmDiskList(await sh.run(xeCommand('vm-disk-list', [`uuid=${vmUuid}`])).text());
  return disks.filter((d) => d.kind === 'Disk').map(({ index, vbd, vdi }) => ({
    index, vbdUuid: vbd.uuid, userdevice: vbd.text('userdevice'),
    vdiUuid: vdi?.uuid, vdiName: vdi?.text('name-label'), srName: vdi?.text('sr-name-label'),
    virtualSize: vdi ? Number(vdi.text('virtual-size')) : undefined,
  }));
}

// ---- steps ---------------------------------------------------------------------------------

// Option schemas, checked when the runbook loads (dynamic values are checked by the facts they feed).
const ref = z.string().min(1, 'needs a uuid or a name-label');
const uuidText = z.string().regex(UUID, 'must be a XenServer uuid');
const seconds = z.number().int().positive();
const hostSchema = z.object({ host: ref });
const paramSetSchema = z.object({ uuid: uuidText.optional(), value: z.string() });
const haEnabledSchema = z.object({ heartbeatSr: uuidText, timeout: seconds });
const vmPowerSchema = z.object({ vm: ref, state: z.enum(['halted', 'running']) });
const vbdSchema = z.object({ vm: ref });
const poolJoinSchema = z.object({ masterAddress: z.string().min(1), username: z.string().min(1).optional(), password: z.instanceof(Secret, { error: 'must be a secret(…), so it is masked in every log' }) });
const forgetSchema = z.object({ uuid: uuidText });

/** Options every xe step takes: the usual step fields; `on` is usually the pool master. */
export type XeStepOptions<P = any, V = any> = TaskCommon<P, V>;

/** Waiting knobs of the steps whose command returns before its effect is visible. */
export interface WaitOptions { waitTimeoutMs?: number; intervalMs?: number; clock?: Clock }

const waitSettings = (options: WaitOptions, what: string, ctx: StepContext, defaultMs: number) => ({
  what, timeoutMs: options.waitTimeoutMs ?? defaultMs, intervalMs: options.intervalMs, clock: options.clock, signal: ctx.signal,
});

/**
 * Runs a step's planned commands in order (for the steps that also wait in apply), remembered so
 * that `commands(ctx)` asked after apply reports what ran, not a re-plan against the changed pool.
 */
async function runCommands(ctx: StepContext, commands: readonly Command[]): Promise<void> {
  await applyPlan(ctx, commands.map((command) => ({ command })));
}

/** What apply ran, or else the plan. */
const ranOr = async (ctx: StepContext, plan: (ctx: StepContext) => Promise<Command[]>): Promise<Command[]> => appliedPlan(ctx) ?? plan(ctx);

export interface ParamSetOptions<P = any, V = any> extends XeStepOptions<P, V> {
  cls: string;
  /** The object, or selectors that must match exactly one. */
  uuid?: Dynamic<string, P, V>;
  find?: Dynamic<Selectors, P, V>;
  param: string;
  /** For a map parameter: the key (`other-config` + `multipathing`). */
  key?: string;
  /** The wanted value; '' clears it (seed 003: `HVM-boot-policy=`). */
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

export interface HostOptions<P = any, V = any> extends XeStepOptions<P, V> {
  /** The host's uuid or name-label. */
  host: Dynamic<string, P, V>;
}

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
 * Every PBD of the SR on the host is plugged: `xe pbd-plug` for the unplugged ones (seed 000).
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
 * Restarts the host's toolstack (xapi) with `xe-toolstack-restart` (seed 000), then waits until
 * `xe host-list` answers again. Nothing on the host says it is needed, so it always runs unless
 * `unless` says otherwise; it is not re-checked (`verify: false`): the wait is its verification.
 * @example xe.toolstackRestarted({ id: 'toolstack', title: 'restart xapi so it sees the paths' })
 */
export function toolstackRestarted<P = any, V = any>(options: ToolstackOptions<P, V>): ActionStep<P, V> {
  const restart = cmd`xe-toolstack-restart`;
  return {
    ...commonOf(options),
    kind: 'action',
    verify: false,
    async check(ctx) {
      if (options.unless) return options.unless(ctx);
      return change('the toolstack is restarted whenever this step runs (nothing on the host says it is needed)');
    },
    commands: () => [restart],
    async apply(ctx) {
      await ctx.sh.run(restart);
      await pollUntil(async () => holds(await ctx.sh`xe host-list --minimal`.succeeds(), 'xapi answers', 'xe host-list fails'),
        waitSettings(options, 'xapi answering after xe-toolstack-restart', ctx, 300_000));
    },
  };
}

export interface HaEnabledOptions<P = any, V = any> extends XeStepOptions<P, V> {
  /** The heartbeat SR's uuid. */
  heartbeatSr: Dynamic<string, P, V>;
  /** Seconds; seed 004 uses 120 so an iSCSI path failover does not fence the hosts. */
  timeout: Dynamic<number, P, V>;
}

/**
 * Pool HA is on with this heartbeat SR and timeout: `xe pool-ha-enable heartbeat-sr-uuids=…
 * ha-config:timeout=…` (seed 004). The timeout does not persist across a disable, and cannot change
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
   * Use `xe host-emergency-ha-disable force=true` on this host (seed 004: a broken HA setup, two-host
   * pools fencing in a loop) instead of `xe pool-ha-disable`. The pool may not answer then, so the
   * step is not re-checked.
   */
  emergency?: boolean;
}

/**
 * Pool HA is off. When it is on, the check hands on its configuration (`heartbeatSr`,
 * `heartbeatSrUuids`, `timeout`) so a later haEnabled can restore it (seed 004: it does not persist).
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

export interface VbdBootableOptions<P = any, V = any> extends XeStepOptions<P, V> {
  /** The VM's uuid or name-label. */
  vm: Dynamic<string, P, V>;
  /** Which disk: its VBD userdevice; '0' is the first disk, where seed 003 installs the guest. */
  userdevice?: string;
  bootable?: boolean;
}

/**
 * The VM's root disk VBD is bootable, so pygrub finds the PV kernel (seed 003: `xe vm-disk-list`,
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
  return {
    ...commonOf(options),
    kind: 'action',
    check: probe,
    commands: (ctx) => ranOr(ctx, plan),
    async apply(ctx) {
      await runCommands(ctx, await plan(ctx));
      await pollUntil(() => probe(ctx), waitSettings(options, `VM ${options.state}`, ctx, 300_000));
    },
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
 * address: `xe pool-join master-address=… master-username=… master-password=…` (seed 002), the
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
  return {
    ...commonOf(options),
    kind: 'action',
    check: probe,
    commands: (ctx) => ranOr(ctx, plan),
    async apply(ctx) {
      await runCommands(ctx, await plan(ctx));
      await pollUntil(() => probe(ctx), waitSettings(options, 'pool membership', ctx, 600_000));
    },
  };
}

/**
 * A dead host is gone from the pool database: `xe host-forget uuid=… --force` (seed 002; `--force`
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
 * `xe pool-emergency-transition-to-master` (seed 002). A host not in emergency mode needs nothing
 * (seed: "if the server returns False … this isn't going to help you"). Apply waits until the host
 * leaves emergency mode and the pool answers.
 * @example xe.emergencyTransitionToMaster({ id: 'take-over', title: 'promote a survivor', on: 'xs-02' })
 */
export function emergencyTransitionToMaster<P = any, V = any>(options: XeStepOptions<P, V> & WaitOptions): ActionStep<P, V> {
  const transition = cmd`xe pool-emergency-transition-to-master`;
  const probe = async (ctx: StepContext) => holds(!(await isEmergencyMode(ctx.sh)), 'the host is not in emergency mode', 'the host is in emergency mode: its master is gone');
  return {
    ...commonOf(options),
    kind: 'action',
    check: probe,
    commands: () => [transition],
    async apply(ctx) {
      await ctx.sh.run(transition);
      await pollUntil(async () => {
        const state = await probe(ctx);
        return state.done ? holds(await ctx.sh`xe pool-list --minimal`.succeeds(), 'the pool answers', 'xe pool-list fails') : state;
      }, waitSettings(options, 'the new master answering', ctx, 300_000));
    },
  };
}

/**
 * This host is the pool master: `xe pool-designate-new-master host-uuid=…` (seed 002: an orderly
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
  return {
    ...commonOf(options),
    kind: 'action',
    check: probe,
    commands: (ctx) => ranOr(ctx, plan),
    async apply(ctx) {
      await runCommands(ctx, await plan(ctx));
      await pollUntil(() => probe(ctx), waitSettings(options, 'the new master answering', ctx, 300_000));
    },
  };
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

// ---- preflight asserts ----------------------------------------------------------------------

/**
 * Hands on the pool's HA state (`haEnabled`, `timeout`, `heartbeatSr`, `heartbeatSrUuids`) and
 * always passes. Put it before anything that disables HA: it is journaled as soon as it passes, so
 * a later haEnabled can restore the timeout (seed 004: it does not persist) even if the run dies
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
