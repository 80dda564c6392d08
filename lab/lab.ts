/**
 * The lab's programmatic API, used by `runbook lab …` and by every test that needs simulated hosts:
 *
 *   const lab = await labUp({ stateDir, portBase: 0, rebootDownMs: 200 });
 *   // … drive lab.inventoryPath with the CLI or the engine …
 *   await lab.stop();
 *
 * The CLI side and the background server (lab/server/main.ts) share only files under the lab root.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError } from '../src/errors.ts';
import { processStartTicks } from '../src/state/locks.ts';
import { importSim, readEstate, renderInventory, seedHost, seedMissing, selectHosts } from './estate.ts';
import {
  labPaths,
  labRootOf,
  readConfig,
  readTrimmed,
  writeConfig,
  writeFileAtomic,
  type LabConfig,
  type LabHostConfig,
  type LabRole,
  type PowerState,
} from './server/config.ts';
import { readFaults, writeFaults } from './server/faults.ts';
import { ensureKey, fingerprint, generateKey, updateKnownHosts } from './server/keys.ts';
import type { ServerMessage } from './server/main.ts';
import { probeNamespaces } from './server/namespace.ts';

/** The repository holding lab/, inventory/ and node_modules. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SERVER_MAIN = join(REPO_ROOT, 'lab', 'server', 'main.ts');
const DEFAULT_ESTATE = join(REPO_ROOT, 'inventory', 'lab.yaml');
const START_TIMEOUT_MS = 20_000;

export interface LabOptions {
  /** Default: RUNBOOK_STATE_DIR, else `.runbook` in `cwd`. */
  stateDir?: string;
  cwd?: string;
}

export interface LabUpOptions extends LabOptions {
  /** First port (hosts get consecutive ones); 0 = free ports. Default 2201. */
  portBase?: number;
  /** `--hosts`: names, groups, ranges (`xs-[01:50]`), comma-separated. Default: the whole estate. */
  hosts?: string;
  /** An Ansible YAML inventory describing the estate. Default inventory/lab.yaml. */
  estate?: string;
  /** How long a rebooting host refuses connections. Default 2000 ms. */
  rebootDownMs?: number;
  /**
   * A process the lab lives no longer than (it stops by itself when that process is gone).
   * Default: $RUNBOOK_LAB_OWNER_PID, which the test set-up sets to each test worker's pid, so a
   * killed test run leaves no lab behind; unset, the lab runs until `lab down`.
   */
  ownerPid?: number;
}

export interface LabHostInfo {
  name: string;
  role: LabRole;
  pool?: string;
  port: number;
  /** SHA256 fingerprint of the host key, as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
}

/** A running lab. */
export interface Lab {
  stateDir: string;
  labRoot: string;
  pid: number;
  /** The generated inventory (real ports, absolute key path). */
  inventoryPath: string;
  knownHostsPath: string;
  /** The client private key every lab host accepts. */
  keyPath: string;
  hosts: LabHostInfo[];
  /** Same as labDown for this lab. */
  stop(): Promise<void>;
}

/** The absolute state dir the options name. */
export function stateDirOf(options: LabOptions = {}): string {
  const cwd = options.cwd ?? process.cwd();
  return resolve(cwd, options.stateDir ?? process.env.RUNBOOK_STATE_DIR ?? '.runbook');
}

/**
 * Starts a lab in the background and resolves once every host accepts connections.
 * Example: `const lab = await labUp({ stateDir: tmp, portBase: 0 })`.
 */
export async function labUp(options: LabUpOptions = {}): Promise<Lab> {
  const stateDir = stateDirOf(options);
  const labRoot = labRootOf(stateDir);
  const running = runningPid(labRoot);
  if (running) throw new UsageError(`the lab in ${stateDir} is already up (pid ${running}); \`runbook lab down\` first`);
  assertNamespaces();
  const estate = readEstate(resolve(options.cwd ?? process.cwd(), options.estate ?? DEFAULT_ESTATE));
  const hosts = selectHosts(estate, options.hosts, portBaseChecked(options.portBase ?? 2201));
  assertPortsFit(hosts);
  prepareLabRoot(labRoot, hosts);
  await seedMissing(labRoot, REPO_ROOT, hosts);
  writeConfig({ version: 1, labRoot, repoRoot: REPO_ROOT, rebootDownMs: options.rebootDownMs ?? 2000, hosts, ...ownerOf(options) });
  const pid = await startServer(labRoot);
  const config = readConfig(labRoot);
  writeFileAtomic(labPaths(labRoot).pid, `${pid}\n`);
  writeFileAtomic(labPaths(labRoot).inventory, renderInventory(estate, config.hosts, labPaths(labRoot).clientKey));
  updateKnownHosts(labPaths(labRoot).knownHosts, config.hosts.map((host) => ({ port: host.port, publicLine: hostPublicLine(labRoot, host.name) })));
  return labHandle(stateDir, labRoot, pid, config.hosts);
}

/** The owner the lab is bound to: the option, else $RUNBOOK_LAB_OWNER_PID, else none. */
function ownerOf(options: LabUpOptions): Pick<LabConfig, 'owner'> {
  const given = options.ownerPid ?? process.env.RUNBOOK_LAB_OWNER_PID;
  if (given === undefined || given === '') return {};
  const pid = Number(given);
  if (!Number.isInteger(pid) || pid <= 0) throw new UsageError(`lab owner must be a pid, got ${JSON.stringify(given)} (ownerPid or RUNBOOK_LAB_OWNER_PID)`);
  return { owner: { pid, startTicks: processStartTicks(pid) } };
}

/** 0 (free ports) or a real port: NaN or 3.5 would otherwise reach the server as "any port". */
function portBaseChecked(portBase: number): number {
  if (Number.isInteger(portBase) && portBase >= 0 && portBase <= 65535) return portBase;
  throw new UsageError(`lab port base must be 0 (free ports) or a port 1-65535, got ${portBase}`);
}

/** Hosts get consecutive ports from the base: the last one must still be a port. */
function assertPortsFit(hosts: LabHostConfig[]): void {
  const last = hosts.at(-1);
  if (last && last.port > 65535) throw new UsageError(`lab port base too high: ${hosts.length} hosts need ports up to ${last.port} (max 65535)`);
}

let namespacesChecked = false;
function assertNamespaces(): void {
  if (namespacesChecked) return;
  const problem = probeNamespaces();
  if (problem) {
    throw new UsageError(
      `the lab needs a mount namespace (unshare -m as root, unshare -Urm otherwise) and none can be made here: ${problem}\n` +
        'Run it where user namespaces are enabled (sysctl kernel.unprivileged_userns_clone=1) or as root.',
    );
  }
  namespacesChecked = true;
}

/** Keys (client + one per host) and the folders; existing keys are kept so known_hosts stays valid. */
function prepareLabRoot(labRoot: string, hosts: LabHostConfig[]): void {
  mkdirSync(join(labRoot, 'hostkeys'), { recursive: true, mode: 0o700 });
  mkdirSync(join(labRoot, 'hosts'), { recursive: true });
  mkdirSync(join(labRoot, 'pools'), { recursive: true });
  ensureKey(labPaths(labRoot).clientKey, 'runbook-lab-client');
  for (const host of hosts) ensureKey(labPaths(labRoot).hostKey(host.name), `lab-host-${host.name}`);
}

/** Spawns lab/server/main.ts detached and waits for its "ready" over IPC. */
async function startServer(labRoot: string): Promise<number> {
  const log = openSync(labPaths(labRoot).log, 'a');
  const loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, ['--import', loader, SERVER_MAIN, labRoot], {
    cwd: labRoot,
    detached: true,
    env,
    stdio: ['ignore', log, log, 'ipc'],
  });
  try {
    const message = await waitForMessage(child);
    if (message.kind === 'failed') throw new Error(message.error);
  } catch (error) {
    if (child.pid) killTree(child.pid);
    const message = (error as Error).message;
    const hint = message.includes('EADDRINUSE') ? ' (another lab or program holds that port: --port-base 0 picks free ones)' : '';
    const tail = readTrimmed(labPaths(labRoot).log).split('\n').slice(-15).join('\n');
    throw new UsageError(`the lab did not start: ${message}${hint}\n${tail}`);
  }
  child.unref();
  child.channel?.unref();
  return child.pid!;
}

function waitForMessage(child: ReturnType<typeof spawn>): Promise<ServerMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve(message as ServerMessage);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}`));
    });
  });
}

function hostPublicLine(labRoot: string, host: string): string {
  return readTrimmed(`${labPaths(labRoot).hostKey(host)}.pub`);
}

function labHandle(stateDir: string, labRoot: string, pid: number, hosts: LabHostConfig[]): Lab {
  const paths = labPaths(labRoot);
  return {
    stateDir,
    labRoot,
    pid,
    inventoryPath: paths.inventory,
    knownHostsPath: paths.knownHosts,
    keyPath: paths.clientKey,
    hosts: hosts.map((host) => ({
      name: host.name,
      role: host.role,
      pool: host.pool,
      port: host.port,
      hostKeyFingerprint: fingerprint(hostPublicLine(labRoot, host.name)),
    })),
    stop: () => labDown({ stateDir }).then(() => undefined),
  };
}

/** The lab server's pid when it is running (checked against its command line, not just the pid). */
function runningPid(labRoot: string): number | undefined {
  const pid = Number(readTrimmed(labPaths(labRoot).pid));
  if (!pid) return undefined;
  const cmdline = readTrimmed(`/proc/${pid}/cmdline`);
  return cmdline.includes('lab/server/main.ts') && cmdline.includes(labRoot) ? pid : undefined;
}

/** Stops exactly the server `lab up` started (and its process group). Example: `await labDown({ stateDir })`. */
export async function labDown(options: LabOptions = {}): Promise<{ stopped: boolean; pid?: number }> {
  const labRoot = labRootOf(stateDirOf(options));
  const pid = runningPid(labRoot);
  rmSync(labPaths(labRoot).pid, { force: true });
  if (!pid) return { stopped: false };
  signal(pid, 'SIGTERM');
  const exited = await waitForExit(pid, 5000);
  // The server is its group's leader: whatever it leaves (a namespace holder) goes with the group.
  killTree(pid);
  if (!exited) await waitForExit(pid, 2000);
  await waitForGroupGone(pid, 3000);
  return { stopped: true, pid };
}

/** Waits until no live process is left in process group `pgid` (a killed holder takes a moment). */
async function waitForGroupGone(pgid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (groupMembers(pgid).length > 0 && Date.now() < deadline) await sleep(20);
}

/** Live (non-zombie) processes whose process group is `pgid`, read from /proc. */
export function groupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      const stat = readTrimmed(`/proc/${pid}/stat`);
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return stat !== '' && fields[0] !== 'Z' && Number(fields[2]) === pgid;
    })
    .map(Number);
}

function killTree(pid: number): void {
  signal(-pid, 'SIGKILL');
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(20);
  }
  return !isAlive(pid);
}

function isAlive(pid: number): boolean {
  const stat = readTrimmed(`/proc/${pid}/stat`);
  // A zombie (state Z) has exited; it only waits for its parent to reap it.
  return stat !== '' && !/^\d+ \(.*\) Z/.test(stat);
}

/** `lab reset`: down, state wiped (keys included), up again with the same options. */
export async function labReset(options: LabUpOptions = {}): Promise<Lab> {
  await labDown(options);
  rmSync(labRootOf(stateDirOf(options)), { recursive: true, force: true });
  return labUp(options);
}

export interface LabHostStatus {
  name: string;
  role: LabRole;
  pool?: string;
  port: number;
  power: PowerState;
  bootId: string;
  services: Record<string, string>;
}

export interface LabStatus {
  up: boolean;
  pid?: number;
  stateDir: string;
  inventoryPath?: string;
  hosts: LabHostStatus[];
}

/** What is running: pid, and per host port, power, boot id, services. */
export function labStatus(options: LabOptions = {}): LabStatus {
  const stateDir = stateDirOf(options);
  const labRoot = labRootOf(stateDir);
  if (!existsSync(labPaths(labRoot).config)) return { up: false, stateDir, hosts: [] };
  const config = readConfig(labRoot);
  const pid = runningPid(labRoot);
  return {
    up: pid !== undefined,
    pid,
    stateDir,
    inventoryPath: labPaths(labRoot).inventory,
    hosts: config.hosts.map((host) => hostStatus(labRoot, host)),
  };
}

function hostStatus(labRoot: string, host: LabHostConfig): LabHostStatus {
  const dir = labPaths(labRoot).hostDir(host.name);
  const servicesDir = join(dir, 'services');
  const services = existsSync(servicesDir)
    ? Object.fromEntries(
        readdirSync(servicesDir)
          .filter((name) => !name.startsWith('.') && !name.endsWith('.disabled'))
          .map((name) => [name, readTrimmed(join(servicesDir, name))]),
      )
    : {};
  return {
    name: host.name,
    role: host.role,
    pool: host.pool,
    port: host.port,
    power: readTrimmed(join(dir, 'power', 'state'), 'running') as PowerState,
    bootId: readTrimmed(join(dir, 'proc', 'boot_id')),
    services,
  };
}

/** One line of a host's mutations.jsonl. */
export interface Mutation {
  time: string;
  host: string;
  argv: string[];
}

/** Every mutating simulated call on a host, oldest first. Example: `readMutations(stateDir, 'xs-01')`. */
export function readMutations(stateDir: string, host: string): Mutation[] {
  const file = join(labPaths(labRootOf(resolve(stateDir))).hostDir(host), 'mutations.jsonl');
  const lines = readTrimmed(file).split('\n').filter(Boolean);
  return lines.flatMap((line) => {
    try {
      return [JSON.parse(line) as Mutation];
    } catch {
      return []; // a torn last line from a killed command
    }
  });
}

export interface LabFaultOptions extends LabOptions {
  host: string;
  kind: string;
  args?: string[];
  /** Remove the fault (power-off --off powers the host back on). */
  off?: boolean;
}

/**
 * Injects (or with `off` removes) a fault and returns a one-line description.
 * Example: `await labFault({ stateDir, host: 'xs-02', kind: 'power-off' })`.
 */
export async function labFault(options: LabFaultOptions): Promise<string> {
  const labRoot = labRootOf(stateDirOf(options));
  const config = readConfig(labRoot);
  const host = config.hosts.find((h) => h.name === options.host);
  if (!host) throw new UsageError(`no host ${options.host} in the lab (hosts: ${config.hosts.map((h) => h.name).join(', ')})`);
  const args = options.args ?? [];
  const off = options.off === true;
  const dir = labPaths(labRoot).hostDir(host.name);
  switch (options.kind) {
    case 'power-off':
      return powerFault(labRoot, config, host.name, off);
    case 'leap-second':
      return leapSecondFault(dir, host, off);
    case 'slow':
      return commandFault(dir, 'slow', args, off);
    case 'hang':
      return commandFault(dir, 'hang', args, off);
    case 'hang-after':
      return hangAfterFault(dir, args, off, config);
    case 'drop-connection':
      writeFaults(dir, { ...readFaults(dir), dropConnection: !off });
      return off ? `${host.name}: connections no longer dropped` : `${host.name}: the next command's connection will be cut before it reports its exit`;
    default:
      return simFault(labRoot, host.name, options.kind, args, off);
  }
}

async function powerFault(labRoot: string, config: LabConfig, host: string, off: boolean): Promise<string> {
  if (!runningPid(labRoot)) throw new UsageError('the lab is not up: power faults need its server');
  const dir = labPaths(labRoot).hostDir(host);
  const now = readTrimmed(join(dir, 'power', 'state'), 'running');
  if (!off && (now === 'off' || now === 'halted')) return `${host}: already ${now}`;
  if (off && now === 'running') return `${host}: already running`;
  writeFileAtomic(join(dir, 'power', 'request'), off ? 'on\n' : 'off\n');
  const wanted: PowerState = off ? 'running' : 'off';
  await waitForPower(dir, wanted, config.rebootDownMs + 10_000);
  return off ? `${host}: powered on` : `${host}: powered off`;
}

/** Waits until the server reports `wanted` in power/state. */
async function waitForPower(hostDir: string, wanted: PowerState, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (readTrimmed(join(hostDir, 'power', 'state')) !== wanted) {
    if (Date.now() > deadline) throw new Error(`${hostDir}: power did not reach ${wanted} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** The 2012-06-30 livelock: ntpd running and the clock marked stuck until `date -s` (the leap-second and bonding notes). */
function leapSecondFault(dir: string, host: LabHostConfig, off: boolean): string {
  const stuck = join(dir, 'clock', 'stuck');
  if (off) {
    rmSync(stuck, { force: true });
    return `${host.name}: leap-second livelock cleared`;
  }
  const ntp = host.role === 'ubuntu-guest' ? 'ntp' : 'ntpd';
  writeFileAtomic(join(dir, 'services', ntp), 'running\n');
  writeFileAtomic(stuck, 'leap second 2012-06-30T23:59:60Z inserted; futex livelock until the clock is set\n');
  return `${host.name}: leap-second livelock (${ntp} running, clock stuck)`;
}

/**
 * `hang-after CMD [HOST]`: the next command using CMD runs, every command after it (on HOST, by
 * default this host) hangs; `--off` lifts both.
 */
function hangAfterFault(dir: string, [word, on]: string[], off: boolean, config: LabConfig): string {
  const faults = readFaults(dir);
  if (off) {
    writeFaults(dir, { ...faults, hangAfter: [], hangAfterOn: undefined, hangAll: false });
    return 'hang-after cleared';
  }
  if (!word) throw new UsageError('fault hang-after needs a COMMAND');
  if (on !== undefined && !config.hosts.some((h) => h.name === on)) throw new UsageError(`fault hang-after ${word} ${on}: no host ${on} in the lab`);
  writeFaults(dir, { ...faults, hangAfter: [word], hangAfterOn: on });
  return `commands${on ? ` on ${on}` : ''} after the next ${word} now hang until their channels are closed`;
}

function commandFault(dir: string, kind: 'slow' | 'hang', args: string[], off: boolean): string {
  const [word, seconds] = args;
  const faults = readFaults(dir);
  if (!word && !off) throw new UsageError(`fault ${kind} needs a COMMAND${kind === 'slow' ? ' and SECONDS' : ''}`);
  if (kind === 'slow') {
    const slow = { ...(faults.slow ?? {}) };
    if (off) word ? delete slow[word] : Object.keys(slow).forEach((k) => delete slow[k]);
    else if (!(Number(seconds) >= 0)) throw new UsageError(`fault slow ${word}: SECONDS must be a number, got "${seconds ?? ''}"`);
    else slow[word!] = Number(seconds);
    writeFaults(dir, { ...faults, slow });
    return off ? `slow ${word ?? 'commands'} cleared` : `${word} now starts ${seconds} s late`;
  }
  const hang = (faults.hang ?? []).filter((w) => off && !word ? false : w !== word);
  if (!off) hang.push(word!);
  // `hang --off` without CMD lifts every hang, the one a `hang-after` armed included.
  const after = off && !word ? { hangAfter: [], hangAfterOn: undefined, hangAll: false } : {};
  writeFaults(dir, { ...faults, hang, ...after });
  return off ? `hang ${word ?? 'commands'} cleared` : `${word} now hangs until its channel is closed`;
}

async function simFault(labRoot: string, host: string, kind: string, args: string[], off: boolean): Promise<string> {
  const faults = await importSim(REPO_ROOT, 'faults.mjs');
  if (!faults?.applyFault) {
    throw new UsageError(`unknown fault kind "${kind}" (power-off, leap-second, slow, hang, hang-after, drop-connection, cut-path, jumbo-mtu)`);
  }
  let result: unknown;
  try {
    result = await faults.applyFault(labRoot, host, kind, args, off);
  } catch (error) {
    // The domain faults reject bad kinds and arguments with plain errors: a user mistake, not a bug.
    throw new UsageError((error as Error).message);
  }
  return typeof result === 'string' ? result : `${host}: ${kind}${off ? ' removed' : ' injected'}`;
}

/**
 * A reinstalled host: fresh state and a new host key (known_hosts updated), like a bare-metal
 * reinstall from the rebuild runbook. Resolves with the new key's fingerprint once it is back.
 */
export async function labReinstall(options: LabOptions & { host: string }): Promise<{ fingerprint: string; publicKey: string }> {
  const labRoot = labRootOf(stateDirOf(options));
  const config = readConfig(labRoot);
  const host = config.hosts.find((h) => h.name === options.host);
  if (!host) throw new UsageError(`no host ${options.host} in the lab`);
  const keyPath = labPaths(labRoot).hostKey(host.name);
  const before = hostPublicLine(labRoot, host.name);
  if (runningPid(labRoot)) {
    writeFileAtomic(join(labPaths(labRoot).hostDir(host.name), 'power', 'request'), 'reinstall\n');
    await waitForNewKey(labRoot, host.name, before, config.rebootDownMs + 15_000);
    await waitForPower(labPaths(labRoot).hostDir(host.name), 'running', config.rebootDownMs + 15_000);
  } else {
    seedHost(labRoot, host);
    const publicLine = generateKey(keyPath, `lab-host-${host.name}`);
    updateKnownHosts(labPaths(labRoot).knownHosts, [{ port: host.port, publicLine }]);
    await (await importSim(REPO_ROOT, 'hooks.mjs'))?.onReinstall?.(labRoot, host.name);
  }
  const publicKey = hostPublicLine(labRoot, host.name);
  return { fingerprint: fingerprint(publicKey), publicKey };
}

async function waitForNewKey(labRoot: string, host: string, before: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (hostPublicLine(labRoot, host) === before) {
    if (Date.now() > deadline) throw new Error(`${host}: reinstall did not finish within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** A host's state for humans (`runbook lab state HOST`). */
export function labHostState(options: LabOptions & { host: string }): string {
  const stateDir = stateDirOf(options);
  const labRoot = labRootOf(stateDir);
  const status = labStatus(options).hosts.find((h) => h.name === options.host);
  if (!status) throw new UsageError(`no host ${options.host} in the lab`);
  const dir = labPaths(labRoot).hostDir(status.name);
  const offset = Number(readTrimmed(join(dir, 'clock', 'offset'), '0'));
  const stuck = existsSync(join(dir, 'clock', 'stuck'));
  const faults = readFaults(dir);
  const boot = existsSync(join(dir, 'boot')) ? readdirSync(join(dir, 'boot')).sort() : [];
  const mutations = readMutations(stateDir, status.name);
  return [
    `${status.name} (${status.role}${status.pool ? `, pool ${status.pool}` : ''}) port ${status.port}`,
    `  power     ${status.power}  boot id ${status.bootId}`,
    `  clock     offset ${offset} s${stuck ? '  STUCK (leap-second livelock)' : ''}`,
    `  services  ${Object.entries(status.services).map(([n, s]) => `${n}=${s}`).join(' ') || '(none)'}`,
    `  faults    ${JSON.stringify(faults) === '{}' ? '(none)' : JSON.stringify(faults)}`,
    `  /boot     ${boot.join(' ')}`,
    `  mutations ${mutations.length}`,
    ...mutations.slice(-10).map((m) => `    ${m.time} ${m.argv.join(' ')}`),
  ].join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
