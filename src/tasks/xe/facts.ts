/**
 * Facts about a XenServer pool: each runs one `xe` command (built here, every value quoted by
 * `cmd`) and parses its output with the pure parsers of parse.ts. The only code in xe/ that reads
 * the pool; the steps in host.ts, pool.ts and vm.ts read it through these.
 * Command syntax: xen-api `ocaml/xapi-cli-server/cli_frontend.ml`.
 */
import { type CheckResult } from '../../runbook/check.ts';
import { cmd, type Command } from '../../shell/command.ts';
import type { Shell } from '../../shell/shell.ts';
import { FactError } from '../facts.ts';
import { CLASS, checkName, isUuid, PARAM, selectorWords, xeCommand, type Selectors } from './command.ts';
import { holds } from '../wait-for.ts';
import {
  parseVmDiskList, parseXeBool, parseXeMap, parseXeMinimal, parseXeParamGet, parseXeRecords, parseXeSet, xeRef,
  type XeRecord,
} from './parse.ts';

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
  return parseXeRecords(await sh.run(listCommand(cls, selectors, params), { read: true }).text());
}

/**
 * The uuids of a class's records matching the selectors (`--minimal`); [] when none match.
 * @example const [vm] = await xe.uuids(ctx.sh, 'vm', { 'name-label': 'Ubuntu' })
 */
export async function uuids(sh: Shell, cls: string, selectors: Selectors = {}): Promise<string[]> {
  const command = xeCommand(`${checkName('class', cls, CLASS)}-list`, [...selectorWords(selectors), 'params=uuid', '--minimal']);
  return parseXeMinimal(await sh.run(command, { read: true }).text());
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
  return parseXeParamGet(await sh.run(paramGetCommand(cls, uuid, param, key), { read: true }).text());
}

/**
 * Like paramGet, but a map key that is not set, or a field this XenServer release does not have,
 * is `undefined` rather than an error (cli_operations.ml: `p_get` fails with "Key … not found in
 * map", `field_lookup` with "Unknown field '…'").
 * @example await xe.paramGetOptional(ctx.sh, 'host', uuid, 'other-config', 'multipathing')
 */
export async function paramGetOptional(sh: Shell, cls: string, uuid: string, param: string, key?: string): Promise<string | undefined> {
  const result = await sh.run(paramGetCommand(cls, uuid, param, key), { read: true, nothrow: true });
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
 * Physical interfaces (and bonds' master PIFs) with their MTU: the leap-second and bonding notes want the management bond at 1500.
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
  const [master] = parseXeMinimal(await sh`xe pool-list params=master --minimal`.reads().text());
  if (!master) throw new FactError(`${sh.host}: xe pool-list printed no master`);
  return master;
}

/**
 * Whether this host lost its master and runs in emergency mode (the host rebuild notes: `xe host-is-in-emergency-mode`).
 * @example if (await xe.isEmergencyMode(ctx.sh)) …
 */
export async function isEmergencyMode(sh: Shell): Promise<boolean> {
  return parseXeBool(await sh`xe host-is-in-emergency-mode`.reads().text(), 'xe host-is-in-emergency-mode');
}

export interface HaState { enabled: boolean; timeout?: number; heartbeatSrUuids: string[] }

/** `ha-configuration` holds what pool-ha-enable was given (`timeout: 120`); the HA and XenApp cloning notes: it does not persist. */
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
 * A VM's disks (not CDs) with their VBD and VDI: the HVM-to-PV guide finds the root disk's VBD this way.
 * @example const root = (await xe.vmDiskList(ctx.sh, vmUuid)).find((d) => d.userdevice === '0')
 */
export async function vmDiskList(sh: Shell, vmUuid: string): Promise<XeVmDisk[]> {
  const disks = parseVmDiskList(await sh.run(xeCommand('vm-disk-list', [`uuid=${vmUuid}`]), { read: true }).text());
  return disks.filter((d) => d.kind === 'Disk').map(({ index, vbd, vdi }) => ({
    index, vbdUuid: vbd.uuid, userdevice: vbd.text('userdevice'),
    vdiUuid: vdi?.uuid, vdiName: vdi?.text('name-label'), srName: vdi?.text('sr-name-label'),
    virtualSize: vdi ? Number(vdi.text('virtual-size')) : undefined,
  }));
}
