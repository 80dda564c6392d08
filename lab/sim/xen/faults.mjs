/**
 * XenServer-domain faults for `runbook lab fault HOST KIND [ARGS..] [--off]`:
 *   cut-path [PORTAL] [network]  one storage path down. Default (the iSCSI multipath notes' case: a host that
 *       sees only some paths): the session to PORTAL (default: the last portal) is gone and its
 *       path shows `failed faulty running`; discovery and login repair it. With `network`, the
 *       link itself is down: ping gets 100% loss, discovery and login to it fail until --off.
 *   jumbo-mtu  the host's management bond gets MTU 9000, configured and running (the leap-second and bonding notes): after
 *       its next reboot a member does not rejoin its pool.
 *   ha-on [TIMEOUT]  HA enabled on the host's pool with ha-config:timeout (default 120); --off
 *       disables it (and, as in XenServer, forgets the timeout).
 *   multipath-off  the host's multipathing turned off (other-config:multipathing=false).
 *   crash oom|segfault|panic  what a crash leaves: kern.log lines, or a crash dump (crash.mjs).
 *   vdi-broken VM lv-inactive|vhd-corrupt|lv-gone|missing|stale-iso  a VM whose disk "could not be
 *       found", broken at one storage layer (vdi-faults.mjs).
 * applyFault returns a one-line description of what changed.
 */
import { crashFault } from './crash.mjs';
import { vdiBroken } from './vdi-faults.mjs';
import { managementMtu } from './hooks.mjs';
import { armHosts, haOff, haOn } from './xe-ops.mjs';
import { loadArray } from './storage.mjs';
import { loadHost, loadPool, updateHost, updatePool } from './store.mjs';

export { reinstallHost } from './seed.mjs';

/** @param {string} labRoot @param {string} host @param {string} kind @param {string[]} args @param {boolean} off */
export function applyFault(labRoot, host, kind, args = [], off = false) {
  const state = loadHost(labRoot, host);
  if (!state) throw new Error(`${host} is not a simulated XenServer host`);
  const fault = FAULTS[kind];
  if (!fault) throw new Error(`unknown fault '${kind}' (known: ${Object.keys(FAULTS).join(', ')})`);
  return fault(labRoot, host, args, off);
}

const FAULTS = {
  'cut-path': cutPath,
  'jumbo-mtu': jumboMtu,
  'ha-on': haFault,
  'multipath-off': multipathOff,
  crash: crashFault,
  'vdi-broken': vdiBroken,
};

function cutPath(labRoot, host, args, off) {
  const array = loadArray(labRoot);
  const portal = args.find((a) => array.portals.includes(a)) ?? array.portals[array.portals.length - 1];
  const mode = args.includes('network') ? 'network' : 'stale';
  return updateHost(labRoot, host, (s) => {
    s.cutPaths ??= {};
    if (off) {
      const was = s.cutPaths[portal];
      delete s.cutPaths[portal];
      for (const session of s.iscsi.sessions) if (session.portal === portal && was === 'stale') Object.assign(session, { visible: true, failed: false });
      return `${host}: storage path to ${portal} restored`;
    }
    s.cutPaths[portal] = mode;
    for (const session of s.iscsi.sessions) if (session.portal === portal && mode === 'stale') Object.assign(session, { visible: false, failed: true });
    return mode === 'network' ? `${host}: storage link to ${portal} down` : `${host}: iSCSI session to ${portal} lost, its path failed`;
  });
}

function jumboMtu(labRoot, host, _args, off) {
  const { pool, uuid } = loadHost(labRoot, host);
  return updatePool(labRoot, pool, (db) => {
    const pif = Object.values(db.pif).find((p) => p['host-uuid'] === uuid && p.management === 'true');
    if (!pif) throw new Error(`${host} has no management PIF`);
    const { mtu: _old, ...rest } = pif['other-config'] ?? {};
    pif['other-config'] = off ? rest : { ...rest, mtu: '9000' };
    // configured and running: the bond was created with MTU 9000 (the leap-second and bonding notes)
    updateHost(labRoot, host, (s) => { s.runningMtu = managementMtu(db, uuid); });
    return `${host}: management ${pif.device} MTU ${managementMtu(db, uuid)}`;
  });
}

function haFault(labRoot, host, args, off) {
  const { pool } = loadHost(labRoot, host);
  return updatePool(labRoot, pool, (db) => {
    haOff(db);
    armHosts(labRoot, db, !off);
    if (off) return `${pool}: HA disabled`;
    const sr = Object.values(db.sr).find((s) => s.shared === 'true');
    haOn(db, sr?.uuid ?? '', { timeout: args[0] ?? '120' });
    return `${pool}: HA enabled, timeout ${args[0] ?? '120'}`;
  });
}

function multipathOff(labRoot, host, _args, off) {
  const { pool, uuid } = loadHost(labRoot, host);
  if (!loadPool(labRoot, pool)) throw new Error(`${host} has no pool database`);
  return updatePool(labRoot, pool, (db) => {
    const h = db.host[uuid];
    const value = String(off);
    h['other-config'] = { ...h['other-config'], multipathing: value };
    return `${host}: multipathing ${off ? 'on' : 'off'}`;
  });
}
