/**
 * The iSCSI storage a simulated XenServer host sees: the lab's storage array (one target on two
 * portals, each on its own subnet as the iSCSI multipath notes requires), the host's node records and sessions
 * (what open-iscsi keeps), and the SCSI paths multipath builds from them.
 */
import { join } from 'node:path';
import { loadPool, readJson, serviceOf, writeJson } from './store.mjs';

/**
 * `tools`: which dom0 userland prints: 'modern' (multipath-tools 0.4.9+ layout, iscsiadm's
 * "(non-flash)" suffix — the default) or 'xs6' (XenServer 5.x/6.x's CentOS 5 dom0: multipath-tools
 * 0.4.7's bracketed layout, open-iscsi 2.0-872 without the suffix).
 * @typedef {{ target: string, tpgt: number, port: number, portals: string[], tools?: 'modern' | 'xs6',
 *   luns: { lun: number, wwid: string, size: string, vendor: string, product: string }[] }} StorageArray
 * @typedef {import('./store.mjs').HostState} HostState
 */

export const DEFAULT_ARRAY = {
  target: 'iqn.2008-01.com.openfiler:store01.lun01', // the seed's own example (000)
  tpgt: 1,
  port: 3260,
  portals: ['10.10.1.10', '10.10.2.10'],
  luns: [{ lun: 0, wwid: '14f504e46494c4500535a516c74442d6c4b58542d6b6f3466', size: '500G', vendor: 'OPNFILER', product: 'VIRTUAL-DISK' }],
};

export const arrayPath = (labRoot) => join(labRoot, 'xen', 'storage.json');

/** @returns {StorageArray} */
export function loadArray(labRoot) {
  return readJson(arrayPath(labRoot), DEFAULT_ARRAY);
}

export function saveArray(labRoot, array) {
  writeJson(arrayPath(labRoot), array);
}

/** XenServer's init script is open-iscsi (the iSCSI multipath notes: `service open-iscsi restart`); iscsid elsewhere. */
export function iscsidRunning(labRoot, host) {
  return serviceOf(labRoot, host, 'open-iscsi') === 'running' && serviceOf(labRoot, host, 'iscsid') === 'running';
}

const subnetOf = (ip) => ip.split('.').slice(0, 3).join('.');

/**
 * Whether this host can reach `ip` on a storage network: it has a storage NIC on the portal's
 * subnet (the iSCSI multipath notes: "the network was not configured to connect") and no fault cut that link.
 */
export function canReach(array, state, ip) {
  if (!array.portals.includes(ip)) return false;
  if (state.cutPaths?.[ip] === 'network') return false;
  return Object.values(state.storageIps ?? {}).some((own) => subnetOf(own) === subnetOf(ip));
}

/**
 * `service open-iscsi stop` logs every session out (the init script does `iscsiadm -m node
 * --logoutall=all`); the lab's service tool only flips the state, so the first iSCSI command after
 * it drops what the daemon would have dropped.
 */
export function dropSessionsIfStopped(labRoot, host, state) {
  if (iscsidRunning(labRoot, host) || state.iscsi.sessions.length === 0) return false;
  state.iscsi.sessions = [];
  return true;
}

/** The /dev/sdX letter of the first free disk after sda (the local disk). */
function freeDevice(state) {
  const used = new Set(state.iscsi.sessions.map((s) => s.dev));
  for (let i = 1; i < 26; i++) {
    const dev = `sd${String.fromCharCode(97 + i)}`;
    if (!used.has(dev)) return { dev, index: i };
  }
  throw new Error('out of sd devices');
}

/** A new session (one SCSI host per session, as the iscsi_tcp driver creates). */
export function addSession(state, array, portal) {
  const sid = state.iscsi.nextSid++;
  const { dev, index } = freeDevice(state);
  const session = { sid, target: array.target, portal, port: array.port, tpgt: array.tpgt, hostNo: sid + 2, dev, minor: index * 16, visible: true, failed: false };
  state.iscsi.sessions.push(session);
  return session;
}

/** Sessions `iscsiadm -m session` lists (a path cut as "stale" lost its session but not its sd device). */
export const visibleSessions = (state) => state.iscsi.sessions.filter((s) => s.visible);

/** A node record per target portal found by discovery (what /etc/iscsi/nodes holds). */
export function recordNodes(state, array, portal) {
  for (const p of array.portals) {
    if (!state.iscsi.nodes.some((n) => n.portal === p && n.target === array.target)) {
      state.iscsi.nodes.push({ target: array.target, portal: p, port: array.port, tpgt: array.tpgt });
    }
  }
  if (!state.iscsi.discovered.includes(portal)) state.iscsi.discovered.push(portal);
}

/**
 * Logs in to the SR's portals that have no live session and can be reached: what the SM backend
 * does when it plugs an lvmoiscsi PBD (at boot too). With multipathing on it uses every portal
 * of the multihomelist; without, only the PBD's `target` portal (the first).
 * @returns {number} sessions now live for the array's target
 */
export function loginReachable(state, array, multipath = true) {
  for (const portal of multipath ? array.portals : array.portals.slice(0, 1)) {
    const live = state.iscsi.sessions.some((s) => s.portal === portal && s.visible);
    if (live || !canReach(array, state, portal)) continue;
    state.iscsi.sessions = state.iscsi.sessions.filter((s) => s.portal !== portal);
    recordNodes(state, array, portal);
    addSession(state, array, portal);
  }
  return visibleSessions(state).length;
}

/** Whether multipathing is on for this host: other-config:multipathing=true (XenServer 5.x/6.x). */
export function multipathEnabled(labRoot, state, db = loadPool(labRoot, state.pool)) {
  return db?.host[state.uuid]?.['other-config']?.multipathing === 'true';
}

/**
 * One SCSI path per session for each LUN: failed when the session's link is cut or the session
 * itself is gone (multipath keeps the stale sd device until it is removed).
 */
export function pathsOf(state, array) {
  return state.iscsi.sessions
    .filter((s) => s.target === array.target)
    .map((s) => ({ ...s, ok: s.visible && !s.failed && state.cutPaths?.[s.portal] !== 'network' }));
}
