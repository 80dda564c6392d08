/**
 * `xe pool-join`: a standalone host (a fresh install is the master of its own one-host pool) moves
 * its records into the pool of the master it names, takes the pool's network configuration (seed
 * 002: "the network interfaces took the configuration of the pool") and plugs the pool's shared
 * SRs, as xapi does when the joined host restarts (xen-api ocaml/xapi/xapi_pool.ml join).
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { apiError, authenticationFailed, failure } from './errors.mjs';
import { labHostAt } from './context.mjs';
import { required } from './xe-generic.mjs';
import { iscsidRunning, loadArray, loginReachable } from './storage.mjs';
import { loadHost, loadPool, newUuid, poolDbPath, powerOf, updateHost, updatePool } from './store.mjs';

/** @typedef {import('./context.mjs').XeContext} XeContext */

/** The pool whose running master answers at `address`, or undefined. */
function poolAnsweringAt(labRoot, address) {
  let names = [];
  try {
    names = readdirSync(join(labRoot, 'pools')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
  } catch {
    return undefined;
  }
  return names.find((name) => {
    const db = loadPool(labRoot, name);
    const labHost = db && labHostAt(db, address);
    if (!labHost || powerOf(labRoot, labHost) !== 'running') return false;
    const state = loadHost(labRoot, labHost);
    return state?.role === 'master' && db.pool.master === state.uuid && state.pool === name;
  });
}

/** @param {XeContext} ctx */
export function poolJoin(ctx) {
  const address = required(ctx.params, 'master-address');
  const user = required(ctx.params, 'master-username');
  const password = required(ctx.params, 'master-password');
  const own = loadPool(ctx.labRoot, ctx.state.pool);
  if (ctx.state.role !== 'master' || !own) throw failure('Host is already a member of a pool');
  if (Object.keys(own.host).length > 1) throw apiError('POOL_JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS');
  if (Object.values(own.vm).some((v) => v['is-control-domain'] !== 'true' && v['power-state'] === 'running')) {
    throw apiError('POOL_JOINING_HOST_CANNOT_HAVE_RUNNING_VMS');
  }
  const target = poolAnsweringAt(ctx.labRoot, address);
  if (!target || target === ctx.state.pool) {
    ctx.out.push('Host cannot contact destination host: connection refused.\nCheck destination host has services running and accessible from this host.\n');
    return;
  }
  updatePool(ctx.labRoot, target, (db) => {
    if (user !== 'root' || password !== db.lab.password) throw authenticationFailed();
    if (db.pool['ha-enabled'] === 'true') throw apiError('HA_IS_ENABLED');
    mergeHost(ctx, own, db, address);
  });
  rmSync(poolDbPath(ctx.labRoot, ctx.state.pool), { force: true });
  ctx.out.push('Host agent will restart and attempt to join pool in 10. seconds...\n');
}

/** Moves this host's objects from its standalone db into the pool's db. */
function mergeHost(ctx, own, db, masterAddress) {
  const me = ctx.state.uuid;
  db.host[me] = { ...own.host[me], enabled: 'true' };
  for (const cls of ['vm', 'vbd', 'vdi', 'sr', 'pbd']) Object.assign(db[cls], own[cls]);
  const networkByName = Object.fromEntries(Object.values(db.network).map((n) => [n['name-label'], n.uuid]));
  for (const pif of Object.values(own.pif)) {
    const ownNet = own.network[pif['network-uuid']];
    db.pif[pif.uuid] = { ...pif, 'network-uuid': networkByName[ownNet?.['name-label']] ?? pif['network-uuid'] };
    if (!networkByName[ownNet?.['name-label']] && ownNet) db.network[ownNet.uuid] = ownNet;
  }
  adoptPoolBond(db, me);
  const plugged = updateHost(ctx.labRoot, ctx.host, (s) => {
    Object.assign(s, { pool: db.lab.name, role: 'slave', masterAddress });
    const multipath = db.host[me]['other-config']?.multipathing === 'true';
    return iscsidRunning(ctx.labRoot, ctx.host) ? loginReachable(s, loadArray(ctx.labRoot), multipath) : 0;
  });
  addSharedPbds(db, me, plugged > 0);
}

/** Recreates the pool's management bond on this host (eth0+eth1, balance-slb) and moves management onto it. */
function adoptPoolBond(db, hostUuid) {
  const poolBond = Object.values(db.bond)[0];
  if (!poolBond) return;
  const bondNetwork = db.pif[poolBond.master]?.['network-uuid'];
  const mine = Object.values(db.pif).filter((p) => p['host-uuid'] === hostUuid);
  const management = mine.find((p) => p.management === 'true');
  const slaves = mine.filter((p) => ['eth0', 'eth1'].includes(p.device));
  const masterPif = newUuid();
  db.pif[masterPif] = {
    ...management, uuid: masterPif, device: 'bond0', physical: 'false', 'network-uuid': bondNetwork,
    MAC: slaves[0]?.MAC ?? management?.MAC, 'other-config': {}, management: 'true',
  };
  for (const slave of slaves) Object.assign(slave, { management: 'false', 'IP-configuration-mode': 'None', IP: '', netmask: '', gateway: '' });
  const bondUuid = newUuid();
  db.bond[bondUuid] = { uuid: bondUuid, master: masterPif, slaves: slaves.map((p) => p.uuid), mode: 'balance-slb', properties: {}, 'primary-slave': slaves[0]?.uuid ?? '', 'links-up': String(slaves.length) };
}

function addSharedPbds(db, hostUuid, attached) {
  for (const sr of Object.values(db.sr).filter((s) => s.shared === 'true')) {
    const template = Object.values(db.pbd).find((p) => p['sr-uuid'] === sr.uuid);
    const uuid = newUuid();
    db.pbd[uuid] = { uuid, 'host-uuid': hostUuid, 'sr-uuid': sr.uuid, 'device-config': { ...(template?.['device-config'] ?? {}) }, 'currently-attached': String(attached), 'other-config': {} };
  }
}
