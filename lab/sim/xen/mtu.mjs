/**
 * The management interface's MTU, configured (the pool database) and running (what the host's
 * interfaces have now: `ip link`). The notes' XenServer 6.1 symptom: a bonded management interface
 * at MTU 9000 makes a rebooted member unable to rejoin its pool.
 */
import { loadHost, loadPool } from './store.mjs';

/** The MTU of the host's management PIF (its own other-config:mtu, else its network's). */
export function managementMtu(db, hostUuid) {
  const pif = Object.values(db.pif).find((p) => p['host-uuid'] === hostUuid && p.management === 'true');
  if (!pif) return '1500';
  return pif['other-config']?.mtu ?? db.network[pif['network-uuid']]?.MTU ?? '1500';
}

/**
 * The host's management devices (bridge, bond, its slaves) and the MTU they run with: set at boot,
 * by the jumbo-mtu fault and by `xe pif-plug` of the management PIF; 1500 when never set.
 */
export function managementDevices(labRoot, host) {
  const state = loadHost(labRoot, host);
  const db = state && loadPool(labRoot, state.pool);
  const pif = db && Object.values(db.pif).find((p) => p['host-uuid'] === state.uuid && p.management === 'true');
  if (!pif) return {};
  const bond = Object.values(db.bond).find((b) => b.master === pif.uuid);
  const slaves = bond ? bond.slaves.map((u) => db.pif[u]?.device).filter(Boolean) : [];
  const mtu = String(state.runningMtu ?? '1500');
  const bridge = db.network[pif['network-uuid']]?.bridge ?? 'xenbr0';
  return Object.fromEntries([bridge, pif.device, ...slaves].map((d) => [d, { mtu, mac: pif.MAC }]));
}
