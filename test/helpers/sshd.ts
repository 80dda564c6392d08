/**
 * Real OpenSSH servers for tests, the lab and the benchmark: `startSshd()` runs `/usr/sbin/sshd -D -e`
 * on a free 127.0.0.1 port with freshly generated host and client keys in a temp dir, and
 * `stop()` ends exactly the processes it started. Nothing outside the temp dir is touched, except
 * `/run/sshd` (sshd's privilege separation dir, created when missing) and, for `ensureTestUser`,
 * the user and sudoers.d file it names (and the test users of processes that are gone).
 *
 * @example
 * const sshd = await startSshd();
 * try { … connect to 127.0.0.1:sshd.port with sshd.clientKeyFile, trusting sshd.knownHostsLine … }
 * finally { await sshd.stop(); }
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { processEnded, processStartTicks } from '../../src/state/locks.ts';

const run = promisify(execFile);

export const SSHD_PATH = '/usr/sbin/sshd';
export const SFTP_SERVER_PATH = '/usr/lib/openssh/sftp-server';

/** Whether OpenSSH's server and key tools are installed; tests skip visibly when not. */
export const isSshdAvailable = (): boolean => existsSync(SSHD_PATH) && existsSync('/usr/bin/ssh-keygen');
/** Whether tests may create users and sudoers entries (root, with useradd and sudo installed). */
export const canManageUsers = (): boolean => process.getuid?.() === 0 && existsSync('/usr/sbin/useradd') && existsSync('/usr/bin/sudo');

export interface SshdOptions {
  /** `MaxSessions`; default 10 (OpenSSH's own default). */
  maxSessions?: number;
  /** Host key type; default ed25519. */
  hostKeyType?: 'ed25519' | 'ecdsa' | 'rsa';
  /** Serve the sftp subsystem; default true. */
  sftp?: boolean;
  /** Allow password authentication (checked against /etc/shadow unless `usePam`); default false. */
  passwordAuthentication?: boolean;
  /** Allow keyboard-interactive authentication (with `usePam`, PAM asks for the password); default false. */
  keyboardInteractive?: boolean;
  /** `UsePAM`; default false, so tests do not depend on the PAM stack. */
  usePam?: boolean;
  /** sshd's LogLevel; default INFO. VERBOSE adds, among others, "drop connection … past MaxStartups". */
  logLevel?: 'INFO' | 'VERBOSE' | 'DEBUG';
  /** `MaxStartups` (e.g. '2' to refuse a third unauthenticated connection); default '100:30:200' so tests are not throttled. */
  maxStartups?: string;
  /** Users whose authorized_keys get the generated client key; default the current user. */
  users?: string[];
  /** Reuse a host key (e.g. to restart "the same" server after a simulated reboot); default a new one. */
  hostKeyFile?: string;
  /** Reuse a client key pair (`.pub` beside it); default a new one. Keep it outside the old `dir`, which stop() removes. */
  clientKeyFile?: string;
  /** Listen on this port (e.g. to come back where a stopped server was); default a free one. */
  port?: number;
  /** Extra sshd_config lines, appended last (first value wins in sshd_config, so they cannot override). */
  extraConfig?: string[];
  /** How long to wait for "Server listening"; default 10 s. */
  startTimeoutMs?: number;
}

/** A running sshd and the files a client needs to reach it. */
export interface Sshd {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The listener's pid; per-connection sshd processes are its children. */
  readonly pid: number;
  /** The temp dir holding config, keys and authorized_keys; removed by stop(). */
  readonly dir: string;
  readonly hostKeyFile: string;
  /** The host public key line (`ssh-ed25519 AAAA… comment`). */
  readonly hostPublicKey: string;
  /** The host key blob (the base64 field decoded), as a client sees it during key exchange. */
  readonly hostKeyBlob: Buffer;
  /** An unencrypted ed25519 key authorized for `users`. */
  readonly clientKeyFile: string;
  readonly clientPublicKey: string;
  /** `[127.0.0.1]:port ssh-ed25519 AAAA…`: the known_hosts line for this server. */
  readonly knownHostsLine: string;
  /** Authorizes another public key line for a user (its own file under `dir`). */
  authorize(user: string, publicKeyLine: string): Promise<void>;
  /** sshd's stderr so far (`-e`), for failure messages. */
  log(): string;
  /** Pids of every process serving a connection (the listener's descendants). */
  sessionPids(): Promise<number[]>;
  /** SIGKILLs every process serving a connection: the network sees each connection cut. */
  killSessions(): Promise<number[]>;
  /** Stops the listener and its sessions, then removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Generates a key pair with ssh-keygen; returns the private key path (public key at `.pub`).
 * @example const key = await generateKey(join(dir, 'id'), { passphrase: 'pw' })
 */
export async function generateKey(
  path: string, options: { type?: 'ed25519' | 'ecdsa' | 'rsa'; passphrase?: string; comment?: string; kdfRounds?: number } = {},
): Promise<string> {
  const type = options.type ?? 'ed25519';
  const bits = type === 'rsa' ? ['-b', '2048'] : [];
  // Fewer bcrypt rounds than ssh-keygen's 16 keep encrypted-key tests fast; never use this for real keys.
  const rounds = options.kdfRounds === undefined ? [] : ['-a', String(options.kdfRounds)];
  await run('ssh-keygen', ['-q', '-t', type, ...bits, ...rounds, '-N', options.passphrase ?? '', '-C', options.comment ?? 'runbook-test', '-f', path]);
  return path;
}

/** Ports this process has handed out: the kernel may offer a just-closed port again at once. */
const portsGiven = new Set<number>();

/**
 * A TCP port free on 127.0.0.1 right now (the kernel picks it), never one this process handed
 * out before: ten sshds started at once could otherwise be offered the same just-closed port, and
 * when both listeners set SO_REUSEADDR before either listens, both can bind it, so two hosts of
 * the bench were one sshd (seen as one host's change made twice and another's never).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await kernelPort();
    if (portsGiven.has(port)) continue;
    portsGiven.add(port);
    return port;
  }
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts an sshd; retries with another port if the one picked was taken meanwhile.
 * @example const sshd = await startSshd({ maxSessions: 10 })
 */
export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  if (!isSshdAvailable()) throw new Error(`${SSHD_PATH} is not installed (apt-get install openssh-server)`);
  const dir = await mkdtemp(join(tmpdir(), 'runbook-sshd-'));
  // sshd reads authorized_keys as the target user, so the tree is world-readable; private keys stay 0600.
  await chmod(dir, 0o755);
  try {
    const keys = await prepareKeys(dir, options);
    for (let attempt = 0; ; attempt++) {
      try {
        return await launch(dir, keys, options.port ?? await freePort(), options);
      } catch (error) {
        if (attempt >= 2 || options.port !== undefined || !String(error).includes('Address already in use')) throw error;
      }
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

interface Keys {
  hostKeyFile: string;
  hostPublicKey: string;
  clientKeyFile: string;
  clientPublicKey: string;
}

async function prepareKeys(dir: string, options: SshdOptions): Promise<Keys> {
  const hostKeyFile = options.hostKeyFile ?? await generateKey(join(dir, 'host_key'), { type: options.hostKeyType, comment: 'runbook-test-host' });
  const clientKeyFile = options.clientKeyFile ?? await generateKey(join(dir, 'client_key'));
  const hostPublicKey = (await readFile(`${hostKeyFile}.pub`, 'utf8')).trim();
  const clientPublicKey = (await readFile(`${clientKeyFile}.pub`, 'utf8')).trim();
  await mkdir(join(dir, 'authorized_keys'), { mode: 0o755 });
  for (const user of options.users ?? [userInfo().username]) await appendAuthorized(dir, user, clientPublicKey);
  return { hostKeyFile, hostPublicKey, clientKeyFile, clientPublicKey };
}

async function appendAuthorized(dir: string, user: string, line: string): Promise<void> {
  const file = join(dir, 'authorized_keys', user);
  await writeFile(file, `${line}\n`, { flag: 'a', mode: 0o644 });
  await chmod(file, 0o644);
}

function sshdConfig(dir: string, keys: Keys, port: number, options: SshdOptions): string {
  return [
    `ListenAddress 127.0.0.1:${port}`,
    `HostKey ${keys.hostKeyFile}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys', '%u')}`,
    'PidFile none',
    'StrictModes no', // the temp tree is 0755 on purpose (see startSshd)
    `UsePAM ${options.usePam ? 'yes' : 'no'}`,
    'PermitRootLogin yes',
    `PasswordAuthentication ${options.passwordAuthentication ? 'yes' : 'no'}`,
    `KbdInteractiveAuthentication ${options.keyboardInteractive ? 'yes' : 'no'}`,
    `MaxSessions ${options.maxSessions ?? 10}`,
    `MaxStartups ${options.maxStartups ?? '100:30:200'}`,
    `LogLevel ${options.logLevel ?? 'INFO'}`,
    ...(options.sftp === false ? [] : [`Subsystem sftp ${SFTP_SERVER_PATH}`]),
    ...(options.extraConfig ?? []),
    '',
  ].join('\n');
}

/** Listeners still running; killed if the process exits without stopping them (a test run cut short). */
const running = new Set<ChildProcess>();
process.once('exit', () => { for (const child of running) child.kill('SIGKILL'); });

async function launch(dir: string, keys: Keys, port: number, options: SshdOptions): Promise<Sshd> {
  const configFile = join(dir, 'sshd_config');
  await writeFile(configFile, sshdConfig(dir, keys, port, options), { mode: 0o600 });
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 }).catch(() => undefined);
  const child = spawn(SSHD_PATH, ['-D', '-e', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => { log += chunk.toString('utf8'); });
  await waitForListening(child, () => log, options.startTimeoutMs ?? 10_000);
  return makeHandle(dir, keys, port, child, () => log);
}

function waitForListening(child: ChildProcess, log: () => string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (log().includes('Server listening on')) done();
    };
    const fail = (why: string) => { done(); child.kill('SIGKILL'); reject(new Error(`sshd did not start: ${why}\n${log()}`)); };
    const timer = setTimeout(() => fail(`no "Server listening" within ${timeoutMs} ms`), timeoutMs);
    const onExit = (code: number | null) => fail(`exited with ${code}`);
    const done = () => { clearTimeout(timer); child.stderr!.off('data', check); child.off('exit', onExit); resolve(); };
    child.stderr!.on('data', check);
    child.once('exit', onExit);
  });
}

function makeHandle(dir: string, keys: Keys, port: number, child: ChildProcess, log: () => string): Sshd {
  const [type, base64] = keys.hostPublicKey.split(/\s+/);
  let stopped: Promise<void> | undefined;
  const handle: Sshd = {
    host: '127.0.0.1',
    port,
    pid: child.pid!,
    dir,
    ...keys,
    hostKeyBlob: Buffer.from(base64, 'base64'),
    knownHostsLine: `[127.0.0.1]:${port} ${type} ${base64}`,
    authorize: (user, line) => appendAuthorized(dir, user, line),
    log,
    sessionPids: () => descendants(child.pid!),
    killSessions: async () => killAll(await descendants(child.pid!)),
    stop: () => (stopped ??= stopSshd(child, dir)),
  };
  return handle;
}

/** Children first, then theirs: every process under `pid`. */
async function descendants(pid: number): Promise<number[]> {
  const children = await childrenOf(pid);
  const nested = await Promise.all(children.map(descendants));
  return [...children, ...nested.flat()];
}

async function childrenOf(pid: number): Promise<number[]> {
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    return text.split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function killAll(pids: number[]): number[] {
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  return pids;
}

async function stopSshd(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    killAll(await descendants(child.pid!));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
  await rm(dir, { recursive: true, force: true });
}

/** A running `ssh-agent -D` holding some keys; `stop()` ends that agent only. */
export interface SshAgent {
  readonly socket: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts an ssh-agent in the foreground on a socket in `dir` and loads `keys` into it.
 * @example const agent = await startSshAgent(dir, [sshd.clientKeyFile]); env.SSH_AUTH_SOCK = agent.socket
 */
export async function startSshAgent(dir: string, keys: string[]): Promise<SshAgent> {
  const socket = join(dir, `agent.${process.pid}.${Date.now()}`);
  const child = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(socket, { force: true });
  };
  try {
    await waitFor(() => existsSync(socket), 5000, 'ssh-agent socket');
    for (const key of keys) await run('ssh-add', ['-q', key], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
  } catch (error) {
    await stop();
    throw error;
  }
  return { socket, pid: child.pid!, stop };
}

async function waitFor(test: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** What `ensureTestUser` may need from sudo for this user. */
export type SudoRule = 'password' | 'nopasswd' | 'none';

/** The comment `ensureTestUser` gives its users: whose they are, so a crashed run's can be removed later. */
const OWNER_COMMENT = 'runbook test user, pid ';
const ownerComment = (): string => `${OWNER_COMMENT}${process.pid} ${processStartTicks(process.pid) ?? ''}`.trimEnd();

/**
 * A user name for one test role that is this process's own: two test suites on one machine (two
 * checkouts, CI beside a developer) never create, change or delete each other's users.
 * @example testUserName('sudo') // 'rbt-sudo-48213'
 */
export const testUserName = (role: string): string => `rbt-${role}-${process.pid}`;

/**
 * Creates (idempotently) a local user with a password and a sudoers.d entry, for become tests.
 * `removeTestUser` undoes it. Needs root. Users a killed test process left behind are removed first.
 * @example await ensureTestUser(testUserName('sudo'), 'pw', 'password')
 */
export async function ensureTestUser(name: string, password: string, sudo: SudoRule): Promise<void> {
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(name)) throw new Error(`unsafe user name ${name}`);
  orphansRemoved ??= removeOrphanedTestUsers();
  await orphansRemoved;
  const exists = await run('id', ['-u', name]).then(() => true, () => false);
  if (!exists) await lockedRetry(() => run('useradd', ['-m', '-s', '/bin/sh', '-c', ownerComment(), name]));
  await lockedRetry(() => new Promise<void>((resolve, reject) => {
    const chpasswd = spawn('chpasswd', [], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    chpasswd.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    chpasswd.on('exit', (code) => (code === 0 ? resolve() : reject(Object.assign(new Error(`chpasswd exited ${code}: ${stderr}`), { stderr }))));
    chpasswd.stdin.end(`${name}:${password}\n`);
  }));
  const file = sudoersFile(name);
  if (sudo === 'none') { await rm(file, { force: true }); return; }
  const rule = `${name} ALL=(ALL:ALL) ${sudo === 'nopasswd' ? 'NOPASSWD: ' : ''}ALL\n`;
  await writeFile(file, rule, { mode: 0o440 });
  await run('visudo', ['-c', '-q', '-f', file]);
}

/** Removes the user, its home and its sudoers.d entry. */
export async function removeTestUser(name: string): Promise<void> {
  await rm(sudoersFile(name), { force: true });
  await lockedRetry(() => run('userdel', ['-r', name])).catch(() => undefined);
}

/** Once per process: the users of test processes that are gone, removed before this one adds its own. */
let orphansRemoved: Promise<void> | undefined;

/** Test users whose process is gone (killed before its afterAll): nobody else will remove them. */
async function removeOrphanedTestUsers(): Promise<void> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const [name, , , , comment] = line.split(':');
    if (!comment?.startsWith(OWNER_COMMENT)) continue;
    const [pid, startTicks] = comment.slice(OWNER_COMMENT.length).split(' ').map(Number);
    // The start time tells a later process that reused the pid from the owner (as for run locks).
    if (processEnded(pid, Number.isInteger(startTicks) ? startTicks : undefined)) await removeTestUser(name);
  }
}

/**
 * useradd, userdel and chpasswd each lock /etc/passwd or /etc/shadow and give up at once when
 * another holds it ("cannot lock /etc/passwd; try again later"): a suite beside this one may.
 */
async function lockedRetry<T>(work: () => Promise<T>, deadlineMs = 30_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await work();
    } catch (error) {
      const stderr = String((error as { stderr?: unknown }).stderr ?? '');
      if (!/lock/i.test(stderr) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200));
    }
  }
}

const sudoersFile = (name: string): string => `/etc/sudoers.d/${name.replace(/[^a-z0-9-]/g, '_')}`;
