/**
 * State of the simulated XenServer domain: the pool database (one JSON file per pool, shared by
 * its hosts, as xapi's database is replicated to every member) and each host's local state (what
 * survives on the host itself when the pool master is gone: its pool role, its iSCSI node records
 * and sessions, the storage paths a fault cut).
 * Plain .mjs with node: imports only, so every simulated command starts fast.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { withFileLock } from '../../bin/_lib.mjs';
import { dirname, join } from 'node:path';

/** @typedef {Record<string, any>} Obj  a database object, keyed by its xe field names */
/**
 * @typedef {{ pool: Obj, host: Record<string, Obj>, vm: Record<string, Obj>, vbd: Record<string, Obj>,
 *   vdi: Record<string, Obj>, sr: Record<string, Obj>, pbd: Record<string, Obj>, pif: Record<string, Obj>,
 *   bond: Record<string, Obj>, network: Record<string, Obj>, lab: Obj }} PoolDb
 */

export const CLASSES = ['host', 'vm', 'vbd', 'vdi', 'sr', 'pbd', 'pif', 'bond', 'network', 'patch', 'host_crashdump'];

export const newUuid = () => randomUUID();

export function poolDbPath(labRoot, poolName) {
  return join(labRoot, 'pools', `${poolName}.json`);
}

export function hostDir(labRoot, host) {
  return join(labRoot, 'hosts', host);
}

/** @returns {any} parsed JSON, or `fallback` when the file does not exist */
export function readJson(path, fallback = undefined) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    if (/** @type {any} */ (error).code === 'ENOENT') return fallback;
    throw error;
  }
}

/** Temp file + rename: a reader running at the same time never sees half a file. */
export function writeJson(path, value) {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(temp, JSON.stringify(value, null, 1) + '\n');
  renameSync(temp, path);
}

const sleepMs = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Runs `fn` holding the lock of `path` (the pool database, a host's state): the kernel's flock,
 * which dies with its holder, so a kill -9 in the middle of an xe call never wedges the pool
 * (lab/bin/_lib.mjs withFileLock).
 * @template T @param {string} path @param {() => T} fn @returns {T}
 */
export function withLock(path, fn, timeoutMs = 30_000) {
  return withFileLock(path, fn, timeoutMs);
}

/** The names of every pool database in the lab. */
export function poolNames(labRoot) {
  try {
    return readdirSync(join(labRoot, 'pools')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
  } catch {
    return [];
  }
}

/** @returns {PoolDb | undefined} */
export function loadPool(labRoot, poolName) {
  return readJson(poolDbPath(labRoot, poolName));
}

/**
 * Read-modify-write of one pool database under its lock. `fn` mutates the db in place; its result
 * is returned. Nothing is written when `fn` throws, so a failed xe command changes nothing.
 * @template T @param {(db: PoolDb) => T} fn @returns {T}
 */
export function updatePool(labRoot, poolName, fn) {
  const path = poolDbPath(labRoot, poolName);
  return withLock(path, () => {
    const db = readJson(path);
    if (!db) throw new Error(`no pool database ${path}`);
    const result = fn(db);
    writeJson(path, db);
    return result;
  });
}

/** @returns {PoolDb} an empty database for a pool whose master is `masterUuid` */
export function emptyPool(name, masterUuid) {
  /** @type {any} */
  const db = { lab: { name, password: 'xenroot' } };
  for (const cls of CLASSES) db[cls] = {};
  db.pool = {
    uuid: newUuid(), 'name-label': name, 'name-description': '', master: masterUuid,
    'default-SR': '', 'other-config': {}, 'ha-enabled': 'false', 'ha-configuration': {},
    'ha-statefiles': [], 'ha-host-failures-to-tolerate': '0', 'ha-allow-overcommit': 'false',
    tags: [],
  };
  return db;
}

// ---- a host's local state ---------------------------------------------------------------------

/**
 * @typedef {{ pool: string, role: 'master' | 'slave', masterAddress: string, uuid: string,
 *   iqn: string, iscsi: { nodes: {target: string, portal: string, port: number}[],
 *     sessions: {sid: number, target: string, portal: string, port: number}[], nextSid: number,
 *     discovered: string[] },
 *   cutPaths: Record<string, 'stale' | 'network'>, storageIps: Record<string, string>,
 *   rejoinBlocked?: string }} HostState
 */

/**
 * Kept under $LAB_ROOT/xen/hosts rather than in the host's folder: the lab re-seeds (wipes) that
 * folder on a reinstall, and the rebuild needs to know what the host was.
 */
export function hostStatePath(labRoot, host) {
  return join(labRoot, 'xen', 'hosts', `${host}.json`);
}

/** @returns {HostState | undefined} */
export function loadHost(labRoot, host) {
  return readJson(hostStatePath(labRoot, host));
}

/** @template T @param {(state: HostState) => T} fn @returns {T} */
export function updateHost(labRoot, host, fn) {
  const path = hostStatePath(labRoot, host);
  return withLock(path, () => {
    const state = readJson(path);
    if (!state) throw new Error(`${host} is not a simulated XenServer host (no ${path})`);
    const result = fn(state);
    writeJson(path, state);
    return result;
  });
}

export function saveHost(labRoot, host, state) {
  writeJson(hostStatePath(labRoot, host), state);
}

// ---- facts owned by the lab infrastructure (LabA), read here ----------------------------------

/** running | rebooting | halted | off, as the lab server last wrote it (running when unset). */
export function powerOf(labRoot, host) {
  try {
    return readFileSync(join(hostDir(labRoot, host), 'power', 'state'), 'utf8').trim() || 'running';
  } catch {
    return 'running';
  }
}

/** running | stopped; a service the host never had a file for counts as running (booted default). */
export function serviceOf(labRoot, host, name) {
  try {
    return readFileSync(join(hostDir(labRoot, host), 'services', name), 'utf8').trim();
  } catch {
    return 'running';
  }
}

/** Whether the service starts at boot (LabA's `services/<name>.disabled` marker absent). */
export function isEnabledAtBoot(labRoot, host, name) {
  try {
    statSync(join(hostDir(labRoot, host), 'services', `${name}.disabled`));
    return false;
  } catch {
    return true;
  }
}

/** Asks the lab server to power a host: on | halt | reboot | off (lab/README.md, Power). */
export function requestPower(labRoot, host, request) {
  const dir = join(hostDir(labRoot, host), 'power');
  mkdirSync(dir, { recursive: true });
  const temp = join(dir, `.request.${process.pid}`);
  writeFileSync(temp, `${request}\n`);
  renameSync(temp, join(dir, 'request'));
}

/** Whether the lab server runs (its pid file names a live process): only then do power requests happen. */
export function labServerUp(labRoot) {
  try {
    const pid = Number(readFileSync(join(labRoot, 'lab.pid'), 'utf8').trim());
    if (!(pid > 0)) return false;
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return /** @type {any} */ (error).code === 'EPERM';
  }
}

/**
 * Waits (outside any lock) until the lab server reports `host` in one of `states`, as xe's VM
 * operations return only once the domain is down or started. No wait without a lab server.
 */
export function waitForPower(labRoot, host, states, timeoutMs = 60_000) {
  if (!labServerUp(labRoot)) return true;
  const deadline = Date.now() + timeoutMs;
  while (!states.includes(powerOf(labRoot, host))) {
    if (Date.now() > deadline) return false;
    sleepMs(50);
  }
  return true;
}
