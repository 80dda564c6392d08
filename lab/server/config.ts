/**
 * The lab's on-disk layout and its `lab.json`: shared by the CLI side (lab/lab.ts) and the
 * background server (lab/server/main.ts), which talk only through these files.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** What a host simulates; decides its seeded state and its command set. */
export type LabRole = 'xenserver' | 'ubuntu-guest' | 'windows';

/** Power as the server reports it in `hosts/<host>/power/state`. */
export type PowerState = 'running' | 'rebooting' | 'halted' | 'off';

/** One simulated host as the server runs it. */
export interface LabHostConfig {
  /** Inventory host name. */
  name: string;
  role: LabRole;
  /** The XenServer pool this host is a member of (xenserver role only). */
  pool?: string;
  /** Requested port (0 = any free one) before start, the bound port after. */
  port: number;
  /** The host's merged inventory vars (iscsi_portals, pool_master, vm_name_label, …). */
  vars: Record<string, unknown>;
  /** Inventory groups the host is in, "all" excluded: the generated inventory repeats them. */
  groups: string[];
}

/** `<labRoot>/lab.json`. */
export interface LabConfig {
  version: 1;
  labRoot: string;
  /** The repository holding lab/bin and node_modules, bound into every host's namespace. */
  repoRoot: string;
  /** How long a rebooting (or powering-on) host refuses connections. */
  rebootDownMs: number;
  /**
   * The process the lab belongs to, if any: the server stops by itself once it is gone (a test
   * worker killed before its afterAll must not leave its lab running). Its start time tells a
   * reused pid apart.
   */
  owner?: { pid: number; startTicks?: number };
  /** The server's pid once it is up. */
  pid?: number;
  startedAt?: string;
  hosts: LabHostConfig[];
}

/** Every path of the layout documented in lab/README.md. */
export function labPaths(labRoot: string) {
  return {
    root: labRoot,
    config: join(labRoot, 'lab.json'),
    pid: join(labRoot, 'lab.pid'),
    log: join(labRoot, 'server.log'),
    clientKey: join(labRoot, 'id_ed25519'),
    inventory: join(labRoot, 'inventory.yaml'),
    knownHosts: join(dirname(labRoot), 'known_hosts'),
    hostKey: (host: string) => join(labRoot, 'hostkeys', host),
    hostDir: (host: string) => join(labRoot, 'hosts', host),
    pools: join(labRoot, 'pools'),
  };
}

/** The lab root of a state dir: `<stateDir>/lab`. */
export function labRootOf(stateDir: string): string {
  return join(stateDir, 'lab');
}

export function readConfig(labRoot: string): LabConfig {
  return JSON.parse(readFileSync(labPaths(labRoot).config, 'utf8')) as LabConfig;
}

export function writeConfig(config: LabConfig): void {
  writeFileAtomic(labPaths(config.labRoot).config, JSON.stringify(config, null, 2) + '\n');
}

/** Temp file + rename: the server and the CLI never see half a file. */
export function writeFileAtomic(path: string, data: string | Buffer, mode?: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, data, mode === undefined ? undefined : { mode });
  renameSync(temp, path);
}

/** The file's text trimmed, or `fallback` when it is missing. */
export function readTrimmed(path: string, fallback = ''): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return fallback;
  }
}
