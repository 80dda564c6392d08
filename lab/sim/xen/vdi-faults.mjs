/**
 * `runbook lab fault XENHOST vdi-broken VM KIND`: a VM whose start fails with the notes' "the
 * specified virtual disk could not be found", broken at one layer of the storage stack:
 *   lv-inactive  the LVs of the VM's disks are inactive on every host (`lvs` shows -wi---)
 *   vhd-corrupt  the VHD in the VM's first disk has an invalid footer (`vhd-util check` fails)
 *   lv-gone      the first disk's LV is gone from the volume group (nothing left to repair)
 *   missing      xapi marks the first disk's VDI missing (a scan of the SR clears it)
 *   stale-iso    the VM's CD drive holds an ISO from an ISO SR no host has plugged any more (the
 *                notes' case: everything else is healthy; ejecting the ISO fixes it)
 * `--off` puts the VM's storage back as it was seeded.
 */
import { loadHost, newUuid, updatePool } from './store.mjs';
import { addVdi } from './xe-ops.mjs';
import { updateLvm } from './lvm.mjs';

const KINDS = ['lv-inactive', 'vhd-corrupt', 'lv-gone', 'missing', 'stale-iso'];

/** @param {string} labRoot @param {string} host @param {string[]} args @param {boolean} off */
export function vdiBroken(labRoot, host, args, off) {
  const [vmName, kind] = args;
  if (!off && !KINDS.includes(kind)) throw new Error(`vdi-broken VM KIND: KIND is one of ${KINDS.join(', ')}`);
  const { pool } = loadHost(labRoot, host);
  return updatePool(labRoot, pool, (db) => {
    const vm = Object.values(db.vm).find((v) => v['name-label'] === vmName && v['is-control-domain'] !== 'true');
    if (!vm) throw new Error(`no VM named ${vmName} in ${pool}`);
    const vbds = Object.values(db.vbd).filter((b) => b['vm-uuid'] === vm.uuid);
    const disks = vbds.filter((b) => b.type === 'Disk').map((b) => b['vdi-uuid']).filter((u) => db.vdi[u]);
    const hosts = Object.values(db.host).map((h) => h.labHost).filter(Boolean);
    if (off) return repairAll(labRoot, db, vbds, disks, vmName);
    if (kind === 'stale-iso') return staleIso(db, vbds, vmName);
    if (kind === 'missing') db.vdi[disks[0]].missing = 'true';
    else updateLvm(labRoot, (state) => {
      for (const vdi of kind === 'lv-inactive' ? disks : disks.slice(0, 1)) {
        const entry = (state[vdi] ??= {});
        if (kind === 'lv-inactive') entry.inactiveOn = hosts;
        if (kind === 'vhd-corrupt') entry.corrupt = true;
        if (kind === 'lv-gone') entry.gone = true;
      }
    });
    return `${vmName}: ${kind}`;
  });
}

function staleIso(db, vbds, vmName) {
  const cd = vbds.find((b) => b.type === 'CD');
  if (!cd) throw new Error(`${vmName} has no CD drive`);
  const sr = newUuid();
  db.sr[sr] = { uuid: sr, 'name-label': 'XenServer Tools', 'name-description': 'XenServer Tools ISOs', type: 'iso', 'content-type': 'iso', shared: 'true', 'physical-size': '-1', 'physical-utilisation': '-1', 'virtual-allocation': '0', 'other-config': { xensource_internal: 'true', xenserver_tools_sr: 'true' }, 'sm-config': {}, tags: [] };
  for (const host of Object.values(db.host)) {
    const pbd = newUuid();
    db.pbd[pbd] = { uuid: pbd, 'host-uuid': host.uuid, 'sr-uuid': sr, 'device-config': { location: '/opt/xensource/packages/iso', legacy_mode: 'true' }, 'currently-attached': 'false', 'other-config': {} };
  }
  const iso = addVdi(db, sr, { 'name-label': 'xs-tools.iso', 'virtual-size': '44040192', 'read-only': 'true', type: 'user', location: 'xs-tools.iso' });
  Object.assign(cd, { 'vdi-uuid': iso, empty: 'false' });
  return `${vmName}: CD holds xs-tools.iso from an ISO SR no host has plugged`;
}

function repairAll(labRoot, db, vbds, disks, vmName) {
  updateLvm(labRoot, (state) => { for (const vdi of disks) delete state[vdi]; });
  for (const vdi of disks) db.vdi[vdi].missing = 'false';
  const cd = vbds.find((b) => b.type === 'CD');
  if (cd) Object.assign(cd, { 'vdi-uuid': '', empty: 'true' });
  return `${vmName}: storage repaired`;
}
