/**
 * xe operations beyond the per-class param commands: host, pool (emergency mode, master moves,
 * join/forget, HA), VM power and disks, PBD plug. Each follows the xapi CLI operation of the same
 * name (xen-api ocaml/xapi-cli-server/cli_operations.ml) for its output and its errors.
 */
import { emergencyReason } from './context.mjs';
import { NO_FORCE, apiError, failure, rawError } from './errors.mjs';
import { CLASS_SPECS, fieldLabel, selectFields, fieldText, tableText } from './records.mjs';
import { byUuid, required, select } from './xe-generic.mjs';
import { reinstallHost } from './seed.mjs';
import { iscsidRunning, loadArray, loginReachable } from './storage.mjs';
import { join } from 'node:path';
import { syncXhadConf } from './ha-daemon.mjs';
import { managementMtu } from './mtu.mjs';
import { logicalVolumes, updateLvm } from './lvm.mjs';
import { loadHost, newUuid, powerOf, requestPower, updateHost, waitForPower, writeJson } from './store.mjs';

/** @typedef {import('./context.mjs').XeContext} XeContext */

/** Constants.fuse_time printed with OCaml's string_of_float (10.0 → "10."). */
const FUSE = '10.';

/** Whether the host record is a member the master can see right now. */
export function hostIsLive(labRoot, db, hostRec) {
  if (!hostRec?.labHost || powerOf(labRoot, hostRec.labHost) !== 'running') return false;
  const state = loadHost(labRoot, hostRec.labHost);
  // the record must be the host's current self: a forgotten-then-reinstalled host has a new uuid
  return !!state && state.uuid === hostRec.uuid && state.pool === db.lab.name && emergencyReason(labRoot, state) === undefined;
}

// ---- selection of the object an operation acts on --------------------------------------------

/** do_vm_op / do_host_op wording (cli_operations.ml), "matches VMs" included. */
const SELECT_ERRORS = {
  vm: ['No matching VMs found', 'Multiple matches VMs found. --multiple required to complete the operation'],
  host: ['No matching hosts found', 'Multiple matching hosts found. --multiple required to complete the operation'],
};

function selectOne(db, cls, params, ignore, byNameParam) {
  const { [byNameParam]: nameOrUuid, ...rest } = params;
  let objs = select(db, cls, rest, ignore);
  if (nameOrUuid !== undefined) objs = objs.filter((o) => o.uuid === nameOrUuid || o['name-label'] === nameOrUuid);
  const [none, many] = SELECT_ERRORS[cls];
  if (objs.length === 0) throw failure(none);
  if (objs.length > 1) throw failure(many);
  return objs[0];
}

/** Vm_selectors: vm=<name or uuid> or any VM field; never a template or a control domain. */
const selectVm = (db, params, ignore) => selectOne(db, 'vm', { ...params, 'is-control-domain': 'false' }, ignore, 'vm');

/** Host_selectors: host=<name or uuid> or any host field. */
const selectHost = (db, params, ignore) => selectOne(db, 'host', params, ignore, 'host');

// ---- host ------------------------------------------------------------------------------------

/** @param {XeContext} ctx */
function hostIsInEmergencyMode(ctx) {
  ctx.out.push(`${emergencyReason(ctx.labRoot, ctx.state) !== undefined}\n`);
}

/** host-enable / host-disable on the selected host, which must be reachable. */
function hostEnabled(enabled) {
  return (ctx, db) => {
    const host = selectHost(db, ctx.params, ['auto-enable']);
    if (!hostIsLive(ctx.labRoot, db, host)) throw apiError('HOST_OFFLINE', host.uuid);
    host.enabled = String(enabled);
  };
}

/** Moves the host's running user VMs to another live, enabled host. @param {XeContext} ctx */
function hostEvacuate(ctx, db) {
  const host = selectHost(db, ctx.params, ['network-uuid', 'batch-size']);
  const vms = Object.values(db.vm).filter((v) => v['resident-on'] === host.uuid && v['is-control-domain'] !== 'true' && v['power-state'] === 'running');
  if (vms.length === 0) return;
  const target = Object.values(db.host).find((h) => h.uuid !== host.uuid && h.enabled === 'true' && hostIsLive(ctx.labRoot, db, h));
  if (!target) throw apiError('NO_HOSTS_AVAILABLE');
  for (const vm of vms) vm['resident-on'] = target.uuid;
}

const FORGET_WARNINGS = [
  'WARNING: A host should only be forgotten if it is physically unrecoverable;',
  "WARNING: if possible, Hosts should be 'ejected' from the Pool instead.",
  'WARNING: Once a host has been forgotten it will have to be re-installed.',
  'WARNING: This operation is irreversible.',
];

/** host-forget asks for 'yes' on stdin unless --force (host_careful_op). @param {XeContext} ctx */
function hostForget(ctx, db) {
  const host = byUuid(db, 'host', required(ctx.params, 'uuid'));
  if (db.pool.master === host.uuid) throw apiError('HOST_CANNOT_DESTROY_SELF', host.uuid);
  if (hostIsLive(ctx.labRoot, db, host)) throw apiError('HOST_IS_LIVE', host.uuid);
  if (db.pool['ha-enabled'] === 'true') throw apiError('HA_IS_ENABLED');
  const running = Object.values(db.vm).filter((v) => v['resident-on'] === host.uuid && v['is-control-domain'] !== 'true' && v['power-state'] === 'running');
  if (running.length > 0) throw apiError('HOST_HAS_RESIDENT_VMS', host.uuid);
  if (ctx.params.force !== 'true' && !confirmed(ctx, FORGET_WARNINGS)) return;
  forgetHost(db, host.uuid);
}

/** Prints the warnings and "Type 'yes' to continue", reads the answer (cli_util.ml user_says_yes). */
function confirmed(ctx, warnings) {
  ctx.out.push(warnings.map((w) => `${w}\n`).join('') + "Type 'yes' to continue\n");
  const answer = ctx.readStdin().split('\n')[0] ?? '';
  if (answer.trim().toLowerCase() === 'yes') return true;
  ctx.out.push(`Aborted (you typed: '${answer}')\n`);
  return false;
}

/** Removes a host and everything that only it owned from the database. */
export function forgetHost(db, hostUuid) {
  delete db.host[hostUuid];
  for (const patch of Object.values(db.patch ?? {})) patch.hosts = patch.hosts.filter((h) => h !== hostUuid);
  for (const [uuid, dump] of Object.entries(db.host_crashdump ?? {})) if (dump['host-uuid'] === hostUuid) delete db.host_crashdump[uuid];
  for (const [uuid, pbd] of Object.entries(db.pbd)) if (pbd['host-uuid'] === hostUuid) delete db.pbd[uuid];
  const pifs = Object.keys(db.pif).filter((uuid) => db.pif[uuid]['host-uuid'] === hostUuid);
  for (const [uuid, bond] of Object.entries(db.bond)) if (pifs.includes(bond.master)) delete db.bond[uuid];
  for (const uuid of pifs) delete db.pif[uuid];
  for (const [uuid, vm] of Object.entries(db.vm)) {
    if (vm['resident-on'] !== hostUuid) continue;
    if (vm['is-control-domain'] === 'true') delete db.vm[uuid];
    else Object.assign(vm, { 'resident-on': '', 'power-state': 'halted' });
  }
  for (const [uuid, sr] of Object.entries(db.sr)) {
    if (sr.shared !== 'true' && !Object.values(db.pbd).some((p) => p['sr-uuid'] === uuid)) {
      delete db.sr[uuid];
      for (const [vdiUuid, vdi] of Object.entries(db.vdi)) if (vdi['sr-uuid'] === uuid) delete db.vdi[vdiUuid];
    }
  }
}

const EJECT_WARNINGS = [
  "WARNING: Ejecting a host from the pool will reinitialise that host's local SRs.",
  'WARNING: Any data contained with the local SRs will be lost.',
];

/**
 * pool-eject: the orderly way out (seed text and xe's own forget warning prefer it). The host
 * leaves the database and restarts as the master of a pool of its own, its local SRs wiped.
 * @param {XeContext} ctx
 */
function poolEject(ctx, db) {
  const host = byUuid(db, 'host', required(ctx.params, 'host-uuid'));
  if (db.pool['ha-enabled'] === 'true') throw apiError('HA_IS_ENABLED');
  if (db.pool.master === host.uuid) throw apiError('INTERNAL_ERROR', 'INTERNAL_ERROR: [ Xapi_pool.Cannot_eject_master ]');
  if (!hostIsLive(ctx.labRoot, db, host)) throw apiError('HOST_OFFLINE', host.uuid);
  if (Object.values(db.vm).some((v) => v['resident-on'] === host.uuid && v['is-control-domain'] !== 'true' && v['power-state'] !== 'halted')) {
    throw apiError('OPERATION_NOT_ALLOWED', 'VM resident on host');
  }
  if (ctx.params.force !== 'true' && !confirmed(ctx, EJECT_WARNINGS)) return;
  reinstallHost(ctx.labRoot, host.labHost);
  forgetHost(db, host.uuid);
  ctx.out.push(`Specified host will attempt to restart as a master of a new pool in ${FUSE} seconds...\n`);
}

// ---- pool: master moves and emergency mode -----------------------------------------------------

/** @param {XeContext} ctx */
function poolEmergencyTransitionToMaster(ctx, db) {
  // (a host that already calls itself master but is not the db's master finishes the move)
  if (ctx.state.role === 'master' && db.pool.master === ctx.state.uuid && ctx.params.force !== 'true') {
    ctx.out.push("Host agent is already master. Use '--force' to execute the operation anyway.\n");
    return;
  }
  // xapi_pool.ml: a host whose HA is still armed refuses (the HA and XenApp cloning notes: host-emergency-ha-disable first)
  if (ctx.state.haArmed) throw apiError('HA_IS_ENABLED');
  db.pool.master = ctx.state.uuid;
  updateHost(ctx.labRoot, ctx.host, (s) => Object.assign(s, { role: 'master', masterAddress: '' }));
  ctx.out.push(`Host agent will restart and transition to master in ${FUSE} seconds...\n`);
}

/** @param {XeContext} ctx */
function poolEmergencyResetMaster(ctx) {
  const address = required(ctx.params, 'master-address');
  if (ctx.state.haArmed) throw apiError('HA_IS_ENABLED');
  updateHost(ctx.labRoot, ctx.host, (s) => Object.assign(s, { role: 'slave', masterAddress: address }));
  ctx.out.push(`Host agent will restart and become slave of ${address} in ${FUSE} seconds...\n`);
}

/** Points every running member still following a lost master at this one; prints their uuids. */
function poolRecoverSlaves(ctx, db) {
  const me = db.host[ctx.state.uuid];
  for (const host of Object.values(db.host)) {
    if (host.uuid === me.uuid || !host.labHost || powerOf(ctx.labRoot, host.labHost) !== 'running') continue;
    const state = loadHost(ctx.labRoot, host.labHost);
    if (!state || state.pool !== db.lab.name || emergencyReason(ctx.labRoot, state) === undefined) continue;
    // a slave that reconnects takes the pool's HA state (disarms when HA was disabled meanwhile)
    updateHost(ctx.labRoot, host.labHost, (s) => Object.assign(s, { role: 'slave', masterAddress: me.address, haArmed: db.pool['ha-enabled'] === 'true' }));
    syncXhadConf(ctx.labRoot, db, host.labHost, db.pool['ha-enabled'] === 'true');
    ctx.out.push(`${host.uuid}\n`);
  }
}

/** @param {XeContext} ctx */
function poolDesignateNewMaster(ctx, db) {
  if (db.pool['ha-enabled'] === 'true') throw apiError('HA_IS_ENABLED');
  const target = byUuid(db, 'host', required(ctx.params, 'host-uuid'));
  if (db.pool.master === target.uuid) return;
  if (!hostIsLive(ctx.labRoot, db, target)) throw apiError('HOST_OFFLINE', target.uuid);
  // who follows the master is decided before anyone's role changes (liveness reads those roles)
  const live = Object.values(db.host).filter((h) => h.uuid === db.pool.master || hostIsLive(ctx.labRoot, db, h));
  for (const host of live) {
    const role = host.uuid === target.uuid ? 'master' : 'slave';
    updateHost(ctx.labRoot, host.labHost, (s) => Object.assign(s, { role, masterAddress: role === 'master' ? '' : target.address }));
  }
  db.pool.master = target.uuid;
}

// ---- pool: HA (the HA and XenApp cloning notes: the timeout must be given again after every disable/enable) ----------

/** @param {XeContext} ctx */
function poolHaEnable(ctx, db) {
  if (db.pool['ha-enabled'] === 'true') throw apiError('HA_IS_ENABLED');
  const srUuids = ctx.params['heartbeat-sr-uuids']?.split(',') ?? Object.values(db.sr).filter((s) => s.shared === 'true').map((s) => s.uuid).slice(0, 1);
  const srs = srUuids.map((uuid) => byUuid(db, 'sr', uuid));
  for (const sr of srs) if (sr.shared !== 'true') throw apiError('HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED', sr.uuid);
  for (const host of Object.values(db.host)) {
    if (!hostIsLive(ctx.labRoot, db, host)) throw apiError('HOST_OFFLINE', host.uuid);
    const attached = srs.every((sr) => Object.values(db.pbd).some((p) => p['sr-uuid'] === sr.uuid && p['host-uuid'] === host.uuid && p['currently-attached'] === 'true'));
    if (!attached) throw apiError('HA_HOST_CANNOT_ACCESS_STATEFILE');
  }
  const config = Object.fromEntries(Object.entries(ctx.params).filter(([k]) => k.startsWith('ha-config:')).map(([k, v]) => [k.slice('ha-config:'.length), v]));
  haOn(db, srs[0].uuid, config);
  armHosts(ctx.labRoot, db, true);
}

/** Each member's local HA flag (xapi's Localdb ha_armed), which pool-level HA switches. */
export function armHosts(labRoot, db, armed) {
  for (const host of Object.values(db.host)) {
    if (!host.labHost || !loadHost(labRoot, host.labHost)) continue;
    updateHost(labRoot, host.labHost, (s) => { s.haArmed = armed; });
    syncXhadConf(labRoot, db, host.labHost, armed);
  }
}

/** HA on with the given ha-config (only what was asked: no timeout means the 30 s default). */
export function haOn(db, srUuid, config) {
  const statefile = addVdi(db, srUuid, { 'name-label': 'Statefile for HA', type: 'ha_statefile', 'virtual-size': '4194304' });
  addVdi(db, srUuid, { 'name-label': 'Metadata for HA', type: 'redo_log', 'virtual-size': '268435456' });
  Object.assign(db.pool, { 'ha-enabled': 'true', 'ha-configuration': config, 'ha-statefiles': [statefile] });
  for (const host of Object.values(db.host)) host['ha-statefiles'] = [statefile];
}

/** Turns HA off and forgets its configuration: the next enable starts from the 30 s default. */
export function haOff(db) {
  for (const [uuid, vdi] of Object.entries(db.vdi)) if (['ha_statefile', 'redo_log'].includes(vdi.type)) delete db.vdi[uuid];
  Object.assign(db.pool, { 'ha-enabled': 'false', 'ha-configuration': {}, 'ha-statefiles': [] });
  for (const host of Object.values(db.host)) host['ha-statefiles'] = [];
}

function poolHaDisable(ctx, db) {
  if (db.pool['ha-enabled'] !== 'true') throw apiError('HA_NOT_ENABLED');
  haOff(db);
  armHosts(ctx.labRoot, db, false);
}

/** @param {XeContext} ctx */
function hostEmergencyHaDisable(ctx, db) {
  if (ctx.params.force !== 'true') throw failure(NO_FORCE);
  updateHost(ctx.labRoot, ctx.host, (s) => { s.haArmed = false; });
  syncXhadConf(ctx.labRoot, db, ctx.host, false);
  // the pool's flag follows when this host is or becomes master ("Slaves should reconnect and
  // automatically disable HA", XenServer 5.6 Administrator's Guide, Recovering an Unreachable Host)
  if (db) haOff(db);
}

// ---- VMs ---------------------------------------------------------------------------------------

export function addVdi(db, srUuid, fields) {
  const uuid = newUuid();
  db.vdi[uuid] = {
    uuid, 'name-description': '', 'is-a-snapshot': 'false', 'sr-uuid': srUuid, 'virtual-size': '0',
    'physical-utilisation': '0', location: uuid, type: 'user', sharable: 'false', 'read-only': 'false',
    managed: 'true', missing: 'false', 'other-config': {}, 'sm-config': {}, 'on-boot': 'persist',
    'allow-caching': 'false', tags: [], ...fields,
  };
  return uuid;
}

const VM_OP_PARAMS = ['force', 'on', 'paused', 'new-name-label', 'new-name-description', 'sr-uuid', 'vbd-params', 'vdi-params', 'params'];

/** @param {XeContext} ctx */
function vmStart(ctx, db) {
  const vm = selectVm(db, ctx.params, VM_OP_PARAMS);
  if (vm['power-state'] !== 'halted') throw apiError('VM_BAD_POWER_STATE', vm.uuid, 'halted', vm['power-state'].toLowerCase());
  assertBootable(db, vm);
  const on = ctx.params.on ? selectHost(db, { host: ctx.params.on }, []) : db.host[db.pool.master];
  if (!hostIsLive(ctx.labRoot, db, on)) throw apiError('HOST_OFFLINE', on.uuid);
  attachDisks(ctx.labRoot, db, vm, on);
  Object.assign(vm, { 'power-state': 'running', 'resident-on': on.uuid, 'dom-id': String(nextDomId(db)), 'start-time': new Date().toISOString() });
  if (vm.labHost) {
    writeJson(join(ctx.labRoot, 'xen', 'vms', `${vm.labHost}.json`), bootRecord(vm));
    requestPower(ctx.labRoot, vm.labHost, 'on');
    ctx.after.push(() => waitForPower(ctx.labRoot, vm.labHost, ['rebooting', 'running']));
  }
}

/**
 * What the storage manager does before a VM starts: every VBD's VDI (disks and the CD's ISO) must be
 * known, not marked missing, on an SR plugged on the host (else VDI_MISSING, which XenCenter words
 * as the notes' "the specified virtual disk could not be found"); an LVM disk's LV is activated on
 * the host, and a VHD whose footer is invalid fails in the backend.
 */
function attachDisks(labRoot, db, vm, host) {
  const lvs = logicalVolumes(labRoot, db, host.labHost);
  for (const vbd of Object.values(db.vbd).filter((b) => b['vm-uuid'] === vm.uuid && b.empty !== 'true')) {
    const vdi = db.vdi[vbd['vdi-uuid']];
    const plugged = vdi && Object.values(db.pbd).some((p) => p['sr-uuid'] === vdi['sr-uuid'] && p['host-uuid'] === host.uuid && p['currently-attached'] === 'true');
    if (!vdi || vdi.missing === 'true' || !plugged) throw apiError('VDI_MISSING', vdi?.['sr-uuid'] ?? '<unknown>', vbd['vdi-uuid']);
    const lv = lvs.find((l) => l.vdi === vdi.uuid);
    if (!lv && ['lvmoiscsi', 'lvmohba', 'lvm'].includes(db.sr[vdi['sr-uuid']]?.type)) throw apiError('VDI_MISSING', vdi['sr-uuid'], vdi.uuid);
    if (lv?.corrupt) throw rawError('SR_BACKEND_FAILURE_46', ['', `The VDI is not available [opterr=VHD ${vdi.uuid} corrupt]`, '']);
  }
  const inactive = lvs.filter((l) => !l.active && Object.values(db.vbd).some((b) => b['vm-uuid'] === vm.uuid && b['vdi-uuid'] === l.vdi));
  if (inactive.length) updateLvm(labRoot, (state) => { for (const l of inactive) state[l.vdi].inactiveOn = state[l.vdi].inactiveOn.filter((h) => h !== host.labHost); });
}

/** sr-scan: a VDI whose LV is gone is marked missing; one whose LV is back is not. */
function srScan(ctx, db) {
  const sr = byUuid(db, 'sr', required(ctx.params, 'uuid'));
  if (!['lvmoiscsi', 'lvmohba', 'lvm'].includes(sr.type)) return;
  const present = new Set(logicalVolumes(ctx.labRoot, db, ctx.host).map((l) => l.vdi));
  for (const vdi of Object.values(db.vdi).filter((d) => d['sr-uuid'] === sr.uuid)) vdi.missing = String(!present.has(vdi.uuid));
}

/** How the guest machine boots this time, for the lab server's guest side (PV kernel or HVM BIOS). */
function bootRecord(vm) {
  const mode = vm['HVM-boot-policy'] ? 'hvm' : 'pv';
  return { vm: vm.uuid, mode, 'HVM-boot-policy': vm['HVM-boot-policy'], 'PV-bootloader': vm['PV-bootloader'], 'PV-args': vm['PV-args'], startedAt: new Date().toISOString() };
}

/**
 * pygrub reads the kernel from the VM's bootable disk (the HVM-to-PV guide: "flag the root disk of the VM as
 * bootable so that pygrub knows where to look"); with no such disk the bootloader fails.
 */
function assertBootable(db, vm) {
  if (vm['HVM-boot-policy'] || vm['PV-bootloader'] !== 'pygrub') return;
  const bootable = Object.values(db.vbd).some((b) => b['vm-uuid'] === vm.uuid && b.type === 'Disk' && b.bootable === 'true');
  if (!bootable) throw apiError('BOOTLOADER_FAILED', vm.uuid, 'Unable to find partition containing kernel');
}

const nextDomId = (db) => 1 + Math.max(0, ...Object.values(db.vm).map((v) => Number(v['dom-id']) || 0));

/** @param {XeContext} ctx */
function vmShutdown(ctx, db) {
  const vm = selectVm(db, ctx.params, VM_OP_PARAMS);
  if (vm['power-state'] === 'halted') throw apiError('VM_BAD_POWER_STATE', vm.uuid, 'running', 'halted');
  Object.assign(vm, { 'power-state': 'halted', 'resident-on': '', 'dom-id': '-1' });
  if (vm.labHost) {
    requestPower(ctx.labRoot, vm.labHost, 'halt');
    // xe returns once the domain is gone; the guest's own hook then finds the VM already halted
    ctx.after.push(() => waitForPower(ctx.labRoot, vm.labHost, ['halted', 'off']));
  }
}

/** @param {XeContext} ctx */
function vmReboot(ctx, db) {
  const vm = selectVm(db, ctx.params, VM_OP_PARAMS);
  if (vm['power-state'] !== 'running') throw apiError('VM_BAD_POWER_STATE', vm.uuid, 'running', vm['power-state']);
  if (vm.labHost) requestPower(ctx.labRoot, vm.labHost, 'reboot');
}

/** @param {XeContext} ctx */
function vmResetPowerstate(ctx, db) {
  const vm = selectVm(db, ctx.params, VM_OP_PARAMS);
  if (ctx.params.force !== 'true') throw failure(NO_FORCE);
  Object.assign(vm, { 'power-state': 'halted', 'resident-on': '', 'dom-id': '-1' });
}

/**
 * vm-disk-list: "Disk N VBD:" and "Disk N VDI:" tables (cli_operations.ml vm_disk_list_aux).
 * Under --minimal the headers vanish and the first column of every non-empty table is kept, in
 * the reverse order of printing (cli_printer.ml prepends to its buffer): `vdi,vbd`.
 */
function vmDiskList(ctx, db) {
  const vm = selectVm(db, ctx.params, VM_OP_PARAMS);
  const vbds = Object.values(db.vbd).filter((b) => b['vm-uuid'] === vm.uuid && b.type === 'Disk');
  const vbdFields = selectFields(CLASS_SPECS.vbd, ctx.params['vbd-params'], ['uuid', 'vm-name-label', 'userdevice']);
  const vdiFields = selectFields(CLASS_SPECS.vdi, ctx.params['vdi-params'], ['uuid', 'name-label', 'virtual-size', 'sr-name-label']);
  /** @type {[string, string][][]} */
  const tables = [];
  const print = (header, fields, obj) => {
    const record = fields.map((f) => /** @type {[string, string]} */ ([fieldLabel(f), fieldText(f, obj, db)]));
    tables.push(record);
    if (!ctx.minimal) ctx.out.push(header, tableText([record], false));
  };
  vbds.forEach((vbd, n) => {
    print(`Disk ${n} VBD:\n`, vbdFields, vbd);
    const vdi = db.vdi[vbd['vdi-uuid']];
    if (vdi) print(`Disk ${n} VDI:\n`, vdiFields, vdi);
  });
  if (ctx.minimal) ctx.out.push(tableText(tables.filter((t) => t.length > 0).reverse(), true));
}

/** vm-cd-eject: empties the VM's CD drive (the iSCSI multipath notes: the "virtual disk could not be found" fix). */
function vmCdEject(ctx, db) {
  const vm = selectVm(db, ctx.params, VM_OP_PARAMS);
  const cd = Object.values(db.vbd).find((b) => b['vm-uuid'] === vm.uuid && b.type === 'CD');
  if (!cd) throw failure('No CDs found');
  if (cd.empty === 'true') throw apiError('VBD_IS_EMPTY', cd.uuid);
  Object.assign(cd, { empty: 'true', 'vdi-uuid': '' });
}

/** vm-copy (full copy, optionally to another SR) and vm-clone (same SR); prints the new uuid. */
function vmDuplicate(copy) {
  return (ctx, db) => {
    const vm = selectVm(db, ctx.params, VM_OP_PARAMS);
    const name = required(ctx.params, 'new-name-label');
    if (vm['power-state'] !== 'halted') throw apiError('VM_BAD_POWER_STATE', vm.uuid, 'halted', vm['power-state']);
    const targetSr = copy && ctx.params['sr-uuid'] ? byUuid(db, 'sr', ctx.params['sr-uuid']).uuid : undefined;
    const uuid = newUuid();
    const { labHost: _notTheGuest, ...fields } = vm;
    db.vm[uuid] = { ...structuredClone(fields), uuid, 'name-label': name, 'name-description': ctx.params['new-name-description'] ?? vm['name-description'], 'power-state': 'halted', 'resident-on': '', 'dom-id': '-1' };
    for (const vbd of Object.values(db.vbd).filter((b) => b['vm-uuid'] === vm.uuid)) {
      const source = db.vdi[vbd['vdi-uuid']];
      const vdiUuid = source ? addVdi(db, targetSr ?? source['sr-uuid'], { ...structuredClone(source), uuid: undefined, location: undefined }) : '';
      if (vdiUuid) Object.assign(db.vdi[vdiUuid], { uuid: vdiUuid, location: vdiUuid });
      const vbdUuid = newUuid();
      db.vbd[vbdUuid] = { ...structuredClone(vbd), uuid: vbdUuid, 'vm-uuid': uuid, 'vdi-uuid': vdiUuid, 'currently-attached': 'false' };
    }
    ctx.out.push(`${uuid}\n`);
  };
}

// ---- storage: PBDs ------------------------------------------------------------------------------

/**
 * Plugging an lvmoiscsi PBD makes the SM backend log in to the SR's portals on that host; with no
 * session it fails as the backend does (SR_BACKEND_FAILURE, an error the CLI prints raw).
 */
function pbdPlug(ctx, db) {
  const pbd = byUuid(db, 'pbd', required(ctx.params, 'uuid'));
  if (pbd['currently-attached'] === 'true') return;
  const host = db.host[pbd['host-uuid']];
  if (!hostIsLive(ctx.labRoot, db, host)) throw apiError('HOST_OFFLINE', host?.uuid ?? pbd['host-uuid']);
  if (db.sr[pbd['sr-uuid']]?.type === 'lvmoiscsi') {
    if (!iscsidRunning(ctx.labRoot, host.labHost)) throw rawError('SR_BACKEND_FAILURE_202', ['', 'General backend error [opterr=Unable to start iscsid]', '']);
    const array = loadArray(ctx.labRoot);
    const multipath = host['other-config']?.multipathing === 'true';
    const sessions = updateHost(ctx.labRoot, host.labHost, (s) => loginReachable(s, array, multipath));
    if (sessions === 0) throw rawError('SR_BACKEND_FAILURE_141', ['', 'Unable to connect to ISCSI service on target', '']);
  }
  pbd['currently-attached'] = 'true';
}

/**
 * pif-plug: brings the PIF up (interface-reconfigure up): a plugged PIF is reconfigured, so the
 * management interface takes the MTU its PIF and network now say (the host's running MTU, what
 * `ip link` shows). The connection over it stays up.
 */
function pifPlug(ctx, db) {
  const pif = byUuid(db, 'pif', required(ctx.params, 'uuid'));
  const host = db.host[pif['host-uuid']];
  if (!hostIsLive(ctx.labRoot, db, host)) throw apiError('HOST_OFFLINE', pif['host-uuid']);
  pif['currently-attached'] = 'true';
  if (pif.management === 'true') updateHost(ctx.labRoot, host.labHost, (s) => { s.runningMtu = managementMtu(db, host.uuid); });
}

function pbdUnplug(ctx, db) {
  const pbd = byUuid(db, 'pbd', required(ctx.params, 'uuid'));
  pbd['currently-attached'] = 'false';
}

/** Every xe operation beyond the generic ones. neverForward: allowed in emergency mode. */
export function operationCommands() {
  const op = (run, extra = {}) => ({ mutating: true, ...extra, run });
  return {
    'host-is-in-emergency-mode': op(hostIsInEmergencyMode, { mutating: false, neverForward: true, noDb: true }),
    'host-disable': op(hostEnabled(false)),
    'host-enable': op(hostEnabled(true)),
    'host-evacuate': op(hostEvacuate),
    'host-forget': op(hostForget, { reqd: ['uuid'] }),
    'host-emergency-ha-disable': op(hostEmergencyHaDisable, { neverForward: true }),
    'pool-emergency-transition-to-master': op(poolEmergencyTransitionToMaster, { neverForward: true }),
    'pool-emergency-reset-master': op(poolEmergencyResetMaster, { neverForward: true, noDb: true, reqd: ['master-address'] }),
    'pool-recover-slaves': op(poolRecoverSlaves),
    'pool-eject': op(poolEject, { reqd: ['host-uuid'] }),
    'pool-designate-new-master': op(poolDesignateNewMaster, { reqd: ['host-uuid'] }),
    'pool-ha-enable': op(poolHaEnable),
    'pool-ha-disable': op(poolHaDisable),
    'vm-start': op(vmStart),
    'vm-shutdown': op(vmShutdown),
    'vm-reboot': op(vmReboot),
    'vm-reset-powerstate': op(vmResetPowerstate),
    'vm-disk-list': op(vmDiskList, { mutating: false }),
    'vm-cd-eject': op(vmCdEject),
    'vm-copy': op(vmDuplicate(true), { reqd: ['new-name-label'] }),
    'vm-clone': op(vmDuplicate(false), { reqd: ['new-name-label'] }),
    'pbd-plug': op(pbdPlug, { reqd: ['uuid'] }),
    'pbd-unplug': op(pbdUnplug, { reqd: ['uuid'] }),
    'pif-plug': op(pifPlug, { reqd: ['uuid'] }),
    'sr-scan': op(srScan, { reqd: ['uuid'] }),
  };
}

