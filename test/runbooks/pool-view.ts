/**
 * What the rebuild-rejoin-host tests (the cases and the kill -9 torture) read off the lab: the pool
 * as its database and host states hold it, the whole pool they must end in, and the lab's reinstall
 * of a host done the way a real one is (the operator's known_hosts left alone).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labReinstall } from '../../lab/lab.ts';
import type { RunbookLab } from './lab-helpers.ts';

export const knownHostsPath = (lab: RunbookLab): string => join(lab.stateDir, 'known_hosts');

/**
 * The lab's reinstall of a host (fresh XenServer state, new host key). The lab also rewrites the
 * project known_hosts for its own convenience; a real reinstall does not touch the operator's
 * known_hosts, so that file is put back as it was: the runbook's trust step must do the work.
 */
export async function reinstall(lab: RunbookLab, host: string): Promise<{ fingerprint: string; publicKey: string; knownHostsBefore: string }> {
  const knownHostsBefore = readFileSync(knownHostsPath(lab), 'utf8');
  const { fingerprint, publicKey } = await labReinstall({ stateDir: lab.stateDir, host });
  writeFileSync(knownHostsPath(lab), knownHostsBefore);
  return { fingerprint, publicKey, knownHostsBefore };
}

export interface PoolView {
  hosts: string[];
  master: string;
  allEnabled: boolean;
  ha: { enabled: string; timeout?: string };
  /** Per host: role as its own pool.conf says, and open iSCSI sessions. */
  local: Record<string, { pool: string; role: string; sessions: number }>;
  sharedPbdsAttached: boolean;
}

/** The pool as the lab's database and host states hold it. */
export function poolView(lab: RunbookLab, pool = 'pool-a'): PoolView {
  const root = lab.lab.labRoot;
  const db = JSON.parse(readFileSync(join(root, 'pools', `${pool}.json`), 'utf8'));
  const hosts = Object.values<any>(db.host).map((h) => h['name-label']).sort();
  const local: PoolView['local'] = {};
  for (const name of hosts) {
    const state = JSON.parse(readFileSync(join(root, 'xen', 'hosts', `${name}.json`), 'utf8'));
    local[name] = { pool: state.pool, role: state.role, sessions: state.iscsi.sessions.filter((s: any) => s.visible && !s.failed).length };
  }
  const shared = Object.values<any>(db.pbd).filter((p) => db.sr[p['sr-uuid']]?.shared === 'true');
  return {
    hosts,
    master: db.host[db.pool.master]?.['name-label'],
    allEnabled: Object.values<any>(db.host).every((h) => h.enabled === 'true'),
    ha: { enabled: db.pool['ha-enabled'], ...(db.pool['ha-configuration']?.timeout ? { timeout: db.pool['ha-configuration'].timeout } : {}) },
    local,
    sharedPbdsAttached: shared.length === hosts.length && shared.every((p) => p['currently-attached'] === 'true'),
  };
}

/** The pool whole again: three members enabled, one master, HA back with the HA and XenApp cloning notes' 120 s, both paths everywhere. */
export function wholePool(master: string): PoolView {
  const hosts = ['xs-01', 'xs-02', 'xs-03'];
  return {
    hosts,
    master,
    allEnabled: true,
    ha: { enabled: 'true', timeout: '120' },
    local: Object.fromEntries(hosts.map((h) => [h, { pool: 'pool-a', role: h === master ? 'master' : 'slave', sessions: 2 }])),
    sharedPbdsAttached: true,
  };
}
