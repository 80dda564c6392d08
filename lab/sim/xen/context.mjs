/**
 * Who is running an xe command and where: the host's local state, its pool database, and whether
 * it can reach its pool master (a member that cannot is in emergency mode: xen-api
 * ocaml/xapi/xapi.ml sets slave_emergency_mode until the master answers).
 */
import { loadHost, loadPool, powerOf } from './store.mjs';

/**
 * @typedef {import('./store.mjs').PoolDb} PoolDb
 * @typedef {import('./store.mjs').HostState} HostState
 * @typedef {{ labRoot: string, host: string, state: HostState, params: Record<string, string>,
 *   minimal: boolean, out: string[], after: (() => unknown)[], readStdin: () => string }} XeContext
 */

/** The inventory host name of the db host record with this management address. */
export function labHostAt(db, address) {
  return Object.values(db.host).find((h) => h.address === address || h.hostname === address)?.labHost;
}

/**
 * Why this host cannot talk to its master, or undefined when it can (or is the master).
 * @returns {string | undefined} an API error code for the emergency mode
 */
export function emergencyReason(labRoot, state) {
  if (state.rejoinBlocked) return 'HOST_STILL_BOOTING';
  if (state.role === 'master') return undefined;
  const db = loadPool(labRoot, state.pool);
  if (!db) return 'HOST_STILL_BOOTING';
  const masterHost = labHostAt(db, state.masterAddress);
  if (!masterHost || powerOf(labRoot, masterHost) !== 'running') return 'HOST_STILL_BOOTING';
  const masterState = loadHost(labRoot, masterHost);
  if (masterState?.role !== 'master' || db.pool.master !== masterState.uuid) return 'HOST_STILL_BOOTING';
  if (!db.host[state.uuid]) return 'HOST_UNKNOWN_TO_MASTER';
  return undefined;
}
