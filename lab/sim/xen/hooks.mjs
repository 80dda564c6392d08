/**
 * What the XenServer domain does when the lab server changes a host's power (lab/README.md, Power):
 * called as onPowerChange(labRoot, host, state) with state running | rebooting | halted | off.
 *
 * - A XenServer host going down loses its iSCSI sessions and the VMs running on it; its pool members
 *   then find no master (if it was the master) and fall into emergency mode — that is computed on
 *   every xe call from the master's power state, so nothing else is written here.
 * - A XenServer host coming up logs in to its storage again when open-iscsi starts at boot (xapi
 *   plugs the SR's PBD, the SM backend logs in) and not otherwise; a member whose management
 *   bond has MTU 9000 does not rejoin its pool (the leap-second and bonding notes).
 * - A guest that powers off or on by itself (shutdown inside the guest) shows so in `xe vm-list`.
 */
import { emergencyReason } from './context.mjs';
import { managementMtu } from './mtu.mjs';
import { iscsidRunning, loadArray, loginReachable, multipathEnabled, pathsOf } from './storage.mjs';
import { join } from 'node:path';
import { reinstallHost } from './seed.mjs';
import { hostDir, isEnabledAtBoot, loadHost, loadPool, poolNames, readJson, requestPower, updateHost, updatePool } from './store.mjs';

/**
 * After the lab re-seeds a reinstalled host's folder: a XenServer host comes back as a fresh
 * install (seed.mjs reinstallHost); other machines have no XenServer state to reset.
 */
export function onReinstall(labRoot, host) {
  const role = readJson(join(hostDir(labRoot, host), 'host.json'), {}).role;
  if (!loadHost(labRoot, host) && role !== 'xenserver') return undefined;
  return reinstallHost(labRoot, host);
}

/** @param {string} labRoot @param {string} host inventory name @param {'running'|'rebooting'|'halted'|'off'} state */
export function onPowerChange(labRoot, host, state) {
  if (loadHost(labRoot, host)) return serverPowerChange(labRoot, host, state);
  return guestPowerChange(labRoot, host, state);
}

function serverPowerChange(labRoot, host, power) {
  const local = loadHost(labRoot, host);
  if (power !== 'running') {
    updateHost(labRoot, host, (s) => { s.iscsi.sessions = []; });
    if (loadPool(labRoot, local.pool)) updatePool(labRoot, local.pool, (db) => stopResidentVms(labRoot, db, local.uuid, power));
    return;
  }
  if (!loadPool(labRoot, local.pool)) return;
  updatePool(labRoot, local.pool, (db) => bootServer(labRoot, host, db));
}

/** VMs die with their host; a guest machine behind one is powered off with it. */
function stopResidentVms(labRoot, db, hostUuid, power) {
  for (const vm of Object.values(db.vm)) {
    if (vm['resident-on'] !== hostUuid || vm['is-control-domain'] === 'true' || vm['power-state'] !== 'running') continue;
    Object.assign(vm, { 'power-state': 'halted', 'resident-on': '', 'dom-id': '-1' });
    if (vm.labHost) requestPower(labRoot, vm.labHost, power === 'rebooting' ? 'halt' : 'off');
  }
}

function bootServer(labRoot, host, db) {
  const array = loadArray(labRoot);
  const onBoot = isEnabledAtBoot(labRoot, host, 'open-iscsi') && iscsidRunning(labRoot, host);
  const local = updateHost(labRoot, host, (s) => {
    s.iscsi.sessions = [];
    // a stale session does not survive a reboot (the iSCSI multipath notes: "give the server a reboot"); a cut link does
    for (const [portal, kind] of Object.entries(s.cutPaths ?? {})) if (kind === 'stale') delete s.cutPaths[portal];
    if (onBoot && hasSharedPbd(db, s.uuid)) loginReachable(s, array, multipathEnabled(labRoot, s, db));
    adoptCurrentMaster(db, s);
    s.rejoinBlocked = s.role === 'slave' && managementMtu(db, s.uuid) !== '1500' ? 'management MTU is not 1500' : undefined;
    // the interfaces come up with the MTU the pool database gives them
    s.runningMtu = managementMtu(db, s.uuid);
    return s;
  });
  for (const pbd of Object.values(db.pbd)) {
    if (pbd['host-uuid'] !== local.uuid || db.sr[pbd['sr-uuid']]?.type !== 'lvmoiscsi') continue;
    pbd['currently-attached'] = String(local.iscsi.sessions.length > 0);
  }
}

const hasSharedPbd = (db, hostUuid) => Object.values(db.pbd).some((p) => p['host-uuid'] === hostUuid && db.sr[p['sr-uuid']]?.shared === 'true');

/**
 * A former master that boots after another host took over follows the new master (the lab skips
 * the real split-brain, where an operator runs pool-emergency-reset-master on it).
 */
function adoptCurrentMaster(db, s) {
  if (s.role !== 'master' || db.pool.master === s.uuid || !db.host[db.pool.master]) return;
  Object.assign(s, { role: 'slave', masterAddress: db.host[db.pool.master].address });
}

export { managementMtu } from './mtu.mjs';

/** The VM behind a guest inventory host follows the guest's own power changes. */
function guestPowerChange(labRoot, host, power) {
  if (power === 'rebooting') return;
  for (const pool of poolNames(labRoot)) {
    const db = loadPool(labRoot, pool);
    if (!Object.values(db?.vm ?? {}).some((v) => v.labHost === host)) continue;
    updatePool(labRoot, pool, (fresh) => {
      for (const vm of Object.values(fresh.vm).filter((v) => v.labHost === host)) {
        if (power === 'running' && vm['power-state'] !== 'running') Object.assign(vm, { 'power-state': 'running', 'resident-on': vm['resident-on'] || fresh.pool.master });
        if (power !== 'running') Object.assign(vm, { 'power-state': 'halted', 'resident-on': '', 'dom-id': '-1' });
      }
    });
  }
}

/**
 * A XenServer host's domain state in a few lines, for `runbook lab state HOST` (humans):
 * pool and role, emergency mode, iSCSI sessions, paths, faults. Undefined for other hosts.
 * @returns {string[] | undefined}
 */
export function describeHost(labRoot, host) {
  const s = loadHost(labRoot, host);
  if (!s) return undefined;
  const db = loadPool(labRoot, s.pool);
  const me = db?.host[s.uuid];
  const reason = emergencyReason(labRoot, s);
  const array = loadArray(labRoot);
  const paths = pathsOf(s, array);
  return [
    `  xen       pool ${s.pool}  ${s.role}${s.role === 'slave' ? ` of ${s.masterAddress}` : ''}  uuid ${s.uuid}${reason ? `  EMERGENCY MODE (${reason})` : ''}`,
    `  xapi      enabled=${me?.enabled ?? '?'}  HA ${db?.pool['ha-enabled'] === 'true' ? `on ${JSON.stringify(db.pool['ha-configuration'])}` : 'off'}${s.haArmed ? ' (armed here)' : ''}  management MTU ${db ? managementMtu(db, s.uuid) : '?'}`,
    `  iscsi     ${s.iscsi.sessions.filter((x) => x.visible).map((x) => `[${x.sid}] ${x.portal}`).join(' ') || 'no sessions'}  nodes ${s.iscsi.nodes.length}`,
    `  multipath ${multipathEnabled(labRoot, s, db) ? `${paths.filter((p) => p.ok).length}/${paths.length} paths active` : 'inactive'}${Object.keys(s.cutPaths ?? {}).length ? `  cut: ${JSON.stringify(s.cutPaths)}` : ''}`,
  ];
}
