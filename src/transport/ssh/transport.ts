/**
 * The SSH transport, on ssh2 (only this folder, transport/ssh/, imports it). One connection per host for the
 * whole run; commands go to one long-lived shell on it (session.ts), or to exec channels
 * (bounded below the server's MaxSessions) when they need stdin, the shell is busy, or the host
 * has no Unix shell. Strict host keys from OpenSSH known_hosts, OpenSSH-style auth (auth.ts picks
 * the credentials, auth-methods.ts offers them), SFTP transfers (sftp.ts), the route
 * route.ts resolves (ssh config, ansible_* vars: jump hosts, a proxy command), sudo as the
 * become user.
 */
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { inspect } from 'node:util';
import type {
  Algorithms, AuthenticationType, ClientChannel, ConnectConfig, SFTPWrapper, ServerHostKeyAlgorithm,
} from 'ssh2';
import { UnreachableError } from '../../errors.ts';
import { ssh2 } from './ssh2.ts';
import type { InventoryHost } from '../../inventory/types.ts';
import { Secret } from '../../shell/command.ts';
import { agentSocket, readIdentities, sharedPrompt, type PassphrasePrompt } from './auth.ts';
import { AuthAttempts } from './auth-methods.ts';
import { sftpRead, sftpWrite } from './sftp.ts';
import { HostKeyChecker } from './host-keys.ts';
import { fingerprintSha256 } from './known-hosts.ts';
import { Limiter } from '../limiter.ts';
import { catFileCommand, catToFileCommand, stagingPath, wrapCommand } from './remote-command.ts';
import { connectError, HandshakeDroppedError, HostKeyError, TransferError, type HandshakeFailure } from './errors.ts';
import { describeEndpoint, resolveHostRoute, type Endpoint, type Route } from './route.ts';
import { openProxyCommand, type ProxyProcess } from './proxy-command.ts';
import { collect, notStarted, type ChannelLimits, type RawResult } from './channel.ts';
import { openShellSession, sessionStartCommand, type ShellSession } from './session.ts';
import type { ExecOptions, ExecResult, Transport } from '../types.ts';

const { Client } = ssh2;
type Client = InstanceType<typeof ssh2.Client>;

/** The server-side `timeout` fires this long after the client's, so the client's verdict comes first. */
const SERVER_TIMEOUT_MARGIN_MS = 500;

/** Tries per hop when the server drops the connection before its banner (MaxStartups). */
const HANDSHAKE_ATTEMPTS = 4;

/** How long a failed handshake waits for its proxy command to exit, so the error can quote its stderr. */
const PROXY_EXIT_WAIT_MS = 1000;

/** How long reconnect() lets a "still up?" probe take before deciding the host vanished silently. */
const PROBE_TIMEOUT_MS = 5000;

/**
 * Handshakes in flight across the whole process: key exchanges are the controller's main CPU
 * cost when a fan-out starts, and a bound keeps the event loop (keepalives, output) responsive.
 * 50, not more: at 500 hosts a cap of 100 raised peak RSS from 175 MB to 223 MB (over the
 * 200 MB target) for 13% off a 100-host connect (bench/results/ANALYSIS.md).
 * @example handshakeLimiter.limit = 20 // from a --max-handshakes flag
 */
export const handshakeLimiter = new Limiter(50);

/**
 * Handshakes in flight per server (address and port): OpenSSH's MaxStartups (10:30:100) starts
 * dropping unauthenticated connections past 10 (and counts one until auth ends on its side, a
 * little after ours), so hosts behind one address (a NAT, the lab) queue here at 8; distinct
 * hosts do not wait for each other.
 */
const HANDSHAKES_PER_SERVER = 8;
const serverHandshakes = new Map<string, Limiter>();

/** A host key accepted under acceptNewHostKeys and appended to `file`. */
export interface HostKeyRecorded {
  host: string;
  port: number;
  /** `SHA256:…`, as `ssh` prints it. */
  fingerprint: string;
  file: string;
}

/** Options shared by every host of a run; per-host facts come from the inventory and ssh config. */
export interface SshOptions {
  /** Read in order; default OpenSSH's: `~/.ssh/known_hosts`, `~/.ssh/known_hosts2`, `/etc/ssh/ssh_known_hosts`, `/etc/ssh/ssh_known_hosts2`. */
  knownHostsFiles?: string[];
  /** The project's known_hosts: also read, and where accepted keys are written (mode 0600). Default `.runbook/known_hosts`. */
  projectKnownHostsFile?: string;
  /** `--accept-new-host-keys`: record unknown hosts (OpenSSH's accept-new). A changed key is refused regardless. */
  acceptNewHostKeys?: boolean;
  /** Told when acceptNewHostKeys records a key, to print OpenSSH's "Permanently added" warning. */
  onHostKeyRecorded?: (event: HostKeyRecorded) => void;
  /** Default {@link handshakeLimiter}, shared by every transport. */
  handshakes?: Limiter;
  /** Handshakes in flight to one server (address:port) across the process; default 8, below OpenSSH's MaxStartups start of 10. */
  handshakesPerServer?: number;
  /** Exec/sftp channels open at once per connection; default 8, below OpenSSH's MaxSessions 10. */
  maxChannels?: number;
  /** sudo's password (`--ask-become-pass`); without it sudo runs with `-n`. Sent on stdin only. */
  becomePassword?: string | Secret;
  /** Password authentication, tried last and only when given. */
  password?: string | Secret;
  /** ssh-agent socket; default `SSH_AUTH_SOCK`; `false` to not use an agent. */
  agent?: string | false;
  /** Extra private key files, tried after the inventory's key. */
  identityFiles?: string[];
  /** Asked (once per file per run) for an encrypted key's passphrase; without it such keys are skipped. */
  passphrase?: PassphrasePrompt;
  /** Default `~/.ssh/config`; `false` to ignore it. */
  sshConfigFile?: string | false;
  /** Home directory for `~/.ssh` defaults (tests point it elsewhere). */
  home?: string;
  /** TCP connect, key exchange and auth, per hop; default 15 s. */
  connectTimeoutMs?: number;
  /** Keepalive every this long (default 15 s); after `keepaliveCountMax` (default 3) unanswered, the host is gone. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** ssh2's algorithm lists, e.g. `{ kex: ['curve25519-sha256'] }` for an old or hardened server. */
  algorithms?: Algorithms;
  /** After a timeout's TERM, wait this long before KILL and closing the channel; default 2 s. */
  killGraceMs?: number;
  /**
   * Run commands through one long-lived shell per connection (session.ts) instead of an
   * exec channel each; default true. Commands with stdin (a sudo password, `cat` transfers) and
   * commands issued while the shell is busy still take exec channels.
   */
  reuseShell?: boolean;
}

/** OpenSSH's UserKnownHostsFile and GlobalKnownHostsFile defaults. */
const defaultKnownHostsFiles = (home: string): string[] => [
  join(home, '.ssh', 'known_hosts'), join(home, '.ssh', 'known_hosts2'), '/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2',
];


/**
 * Makes the transport for one inventory host; nothing connects until the first command.
 * @example const t = createSshTransport(host, { acceptNewHostKeys: true }); await t.exec('uptime')
 */
export function createSshTransport(host: InventoryHost, options: SshOptions = {}): SshTransport {
  return new SshTransport(host, options);
}

/** An established chain of clients (jump hops first, the target last) that dies as one. */
class Link {
  alive = true;
  readonly channels: Limiter;
  /** The connection's shell session, once started (null: the host has no Unix shell). */
  shell?: ShellSession | null;
  /** Set while a shell session is starting, so concurrent commands start only one. */
  shellStarting?: Promise<void>;
  readonly dropped: Promise<void>;
  #markDropped!: () => void;

  constructor(readonly clients: Client[], maxChannels: number) {
    this.channels = new Limiter(maxChannels);
    this.dropped = new Promise((resolve) => { this.#markDropped = resolve; });
    for (const client of clients) {
      client.on('end', () => this.end()).on('close', () => this.end()).on('error', () => this.end());
    }
  }

  get target(): Client { return this.clients[this.clients.length - 1]; }

  end(): void {
    if (!this.alive) return;
    this.alive = false;
    this.#markDropped();
    for (const client of [...this.clients].reverse()) client.end();
  }
}

/**
 * Options of put/get beyond the Transport interface: `sudo` moves the bytes through `sudo` and
 * `cat` instead of sftp, for files only root may read or write (`become` hosts).
 */
export interface TransferOptions {
  sudo?: boolean;
}

/**
 * A Transport over one SSH connection per host.
 * @example const ssh = new SshTransport(host, {}); const { stdout } = await ssh.exec('hostname')
 */
export class SshTransport implements Transport {
  readonly kind = 'ssh' as const;
  readonly host: string;
  #link?: Link;
  #connecting?: Promise<Link>;
  #route?: Promise<Route>;
  #sftpMissing = false;
  /** Set when a host cannot run a shell session (Windows): exec channels from then on. */
  #noShellSession = false;
  readonly #hostKeys = new Map<string, HostKeyChecker>();
  readonly #prompt?: PassphrasePrompt;

  private readonly options: SshOptions;

  constructor(readonly inventoryHost: InventoryHost, options: SshOptions = {}) {
    this.host = inventoryHost.name;
    // Held as Secrets, so logging or inspecting the transport shows a mask, never a password.
    this.options = { ...options, becomePassword: asSecret(options.becomePassword), password: asSecret(options.password) };
    this.#prompt = options.passphrase && sharedPrompt(options.passphrase);
  }

  /** What `console.log`/`util.inspect` show: never the inventory's vars, which may hold ansible_password. */
  [inspect.custom](): string {
    return `SshTransport { host: ${JSON.stringify(this.host)}, connected: ${this.isConnected} }`;
  }

  /** True while the connection is up. */
  get isConnected(): boolean { return this.#link?.alive ?? false; }

  /** Opens the connection now (it opens on first use anyway); throws UnreachableError. */
  async connect(): Promise<void> {
    await this.ensureLink();
  }

  /**
   * Runs a finished command line in its own exec channel, queued while the connection has
   * `maxChannels` open. A connection that dropped earlier is reopened first; one that drops
   * during the command rejects with UnreachableError. With `sudo`, sudo's password (if any) goes
   * on stdin only. A timed-out or aborted command reports `code: null`.
   * @example await ssh.exec('systemctl is-active ntpd', { timeoutMs: 10_000 })
   */
  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const started = performance.now();
    const become = options.sudo ? await this.become() : {};
    const becomePassword = become.password;
    const serverTimeoutMs = options.timeoutMs === undefined ? undefined : options.timeoutMs + SERVER_TIMEOUT_MARGIN_MS;
    const wrap = (timeoutShell?: string) =>
      wrapCommand(command, { sudo: options.sudo, env: options.env, stdin: options.stdin, becomePassword, becomeUser: become.user, serverTimeoutMs, timeoutShell });
    // Bytes for stdin (the caller's, or a sudo password) need a channel of their own.
    const needsStdin = options.stdin !== undefined || becomePassword !== undefined;
    const raw = (!needsStdin && await this.runInShell(wrap('/bin/sh').text, options, serverTimeoutMs))
      || await this.withChannel((link) => { const remote = wrap(); return this.run(link, remote.text, remote.stdin, options); });
    return {
      stdout: raw.stdout.toString('utf8'),
      stderr: raw.stderr.toString('utf8'),
      code: raw.code,
      signal: raw.signal,
      durationMs: Math.round(performance.now() - started),
      timedOut: raw.timedOut,
    };
  }

  /**
   * Writes a file atomically (staged beside it, then renamed), as the login user over sftp when
   * the server has it, else with `cat` on stdin; with `{ sudo: true }` as root through sudo.
   * @example await ssh.put('/etc/ntp.conf', text, 0o644, { sudo: true })
   */
  async put(path: string, data: string | Buffer, mode = 0o644, options: TransferOptions = {}): Promise<void> {
    const bytes = Buffer.from(data);
    await this.withChannel(async (link) => {
      const sftp = options.sudo ? null : await this.openSftp(link);
      if (!sftp) return this.putByExec(link, path, bytes, mode, options);
      try {
        await sftpWrite(sftp, path, bytes, mode);
      } catch (error) {
        throw this.transferFailure(link, `cannot write ${path}`, error);
      } finally {
        sftp.end();
      }
    });
  }

  /**
   * Reads a file as the login user (sftp, else `cat`), or as root with `{ sudo: true }`; a
   * missing file rejects with TransferError.
   * @example const grub = (await ssh.get('/boot/grub/menu.lst')).toString('utf8')
   */
  async get(path: string, options: TransferOptions = {}): Promise<Buffer> {
    return this.withChannel(async (link) => {
      const sftp = options.sudo ? null : await this.openSftp(link);
      if (!sftp) return this.getByExec(link, path, options);
      try {
        return await sftpRead(sftp, path);
      } catch (error) {
        throw this.transferFailure(link, `cannot read ${path}`, error);
      } finally {
        sftp.end();
      }
    });
  }

  /**
   * After a reboot: waits for the current connection to drop (probing it, since a host that
   * vanishes without a FIN only shows up as silence), then reconnects with doubling backoff.
   * A host that never drops is disconnected at the deadline and reconnected: the reboot step's
   * boot-id check, not this method, decides whether a reboot happened.
   */
  async reconnect({ timeoutMs, intervalMs = 1000 }: { timeoutMs: number; intervalMs?: number }): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await this.waitForDrop(deadline, intervalMs);
    let delay = intervalMs;
    for (;;) {
      const left = deadline - Date.now();
      try {
        await this.ensureLink(Math.max(1, Math.min(left, this.connectTimeoutMs)));
        return;
      } catch (error) {
        if (!(error instanceof UnreachableError) || error instanceof HostKeyError) throw error;
        if (Date.now() + delay >= deadline) throw new UnreachableError(this.host, `did not come back within ${timeoutMs} ms (last: ${error.reason})`);
        await sleep(delay);
        delay = Math.min(delay * 2, Math.max(intervalMs, 10_000));
      }
    }
  }

  /** Closes the connection (jump hops included); a later exec opens a new one. */
  async close(): Promise<void> {
    this.#link?.end();
    (await this.#connecting?.catch(() => undefined))?.end(); // a connection still opening is closed once open
    this.#link = undefined;
  }

  private get connectTimeoutMs(): number { return this.options.connectTimeoutMs ?? 15_000; }

  /** The host's route, resolved once: config files and ansible_* vars, refusals included. */
  private route(): Promise<Route> {
    return (this.#route ??= resolveHostRoute(this.inventoryHost, this.options));
  }

  /** Who sudo runs commands as (ansible_become_user; root when unset) and with which password (the host's, else the run's). */
  private async become(): Promise<{ user?: string; password?: string }> {
    const { vars } = await this.route();
    return { user: vars.becomeUser, password: reveal(vars.becomePassword ?? this.options.becomePassword) };
  }

  /** Host keys for one hop: its UserKnownHostsFile when the config sets one, else OpenSSH's defaults; plus the project's file. */
  private hostKeysFor(endpoint: Endpoint): HostKeyChecker {
    const home = this.options.home ?? homedir();
    const project = this.options.projectKnownHostsFile ?? join(process.cwd(), '.runbook', 'known_hosts');
    const files = [...(endpoint.knownHostsFiles ?? this.options.knownHostsFiles ?? defaultKnownHostsFiles(home)), project];
    const acceptNew = (this.options.acceptNewHostKeys ?? false) || (endpoint.acceptNewHostKey ?? false);
    const key = `${files.join('\0')}\0${acceptNew}`;
    let checker = this.#hostKeys.get(key);
    if (!checker) this.#hostKeys.set(key, checker = new HostKeyChecker({ files, recordFile: project, acceptNew }));
    return checker;
  }

  /** The live connection, opening it if there is none; concurrent callers share one attempt. */
  private ensureLink(timeoutMs = this.connectTimeoutMs): Promise<Link> {
    if (this.#link?.alive) return Promise.resolve(this.#link);
    this.#connecting ??= this.establish(timeoutMs).then(
      (link) => {
        this.#link = link;
        this.#connecting = undefined;
        // Start the shell now: its round trip overlaps the engine's own work (the step's journal
        // write) instead of delaying the first command.
        if (this.options.reuseShell !== false && !this.#noShellSession) this.shellOf(link).catch(() => undefined);
        return link;
      },
      (error: unknown) => { this.#connecting = undefined; throw error; },
    );
    return this.#connecting;
  }

  /** Connects hop by hop: the first directly, each next one through a `forwardOut` of the previous. */
  private async establish(timeoutMs: number): Promise<Link> {
    const route = (await this.route()).hops;
    const clients: Client[] = [];
    try {
      for (const index of route.keys()) clients.push(await this.openHop(route, index, clients[index - 1], timeoutMs));
    } catch (error) {
      for (const client of clients.reverse()) client.end();
      throw error;
    }
    return new Link(clients, this.options.maxChannels ?? 8);
  }

  /**
   * One hop, inside a handshake slot. A server that hangs up before its banner is retried with
   * jittered backoff: sshd's MaxStartups drops new connections at random past its threshold, and
   * it counts a connection until authentication ends on its side, a little after it ends on ours.
   */
  private async openHop(route: Endpoint[], index: number, previous: Client | undefined, timeoutMs: number): Promise<Client> {
    const endpoint = route[index];
    const label = index < route.length - 1 ? `jump host ${describeEndpoint(endpoint)}` : describeEndpoint(endpoint);
    const handshakes = this.options.handshakes ?? handshakeLimiter;
    const server = this.serverLimiter(endpoint);
    for (let attempt = 1; ; attempt++) {
      const proxy = !previous && endpoint.proxyCommand ? openProxyCommand(endpoint.proxyCommand) : undefined;
      const via = previous ? await this.forward(previous, endpoint, route[index - 1]) : proxy?.sock;
      try {
        // The server's slot first: waiting for it must not hold one of the process-wide slots.
        return await server.run(() => handshakes.run(() => this.handshake(endpoint, via, label, this.hopTimeoutMs(endpoint, timeoutMs), proxy)));
      } catch (error) {
        proxy?.sock.destroy();
        if (!(error instanceof HandshakeDroppedError) || attempt >= HANDSHAKE_ATTEMPTS) throw error;
        await sleep(100 * 2 ** attempt * (0.5 + Math.random()));
      }
    }
  }

  /** ConnectTimeout/ansible_timeout replace the default; a reconnect's shorter deadline still bounds it. */
  private hopTimeoutMs(endpoint: Endpoint, timeoutMs: number): number {
    if (endpoint.connectTimeoutMs === undefined) return timeoutMs;
    return timeoutMs === this.connectTimeoutMs ? endpoint.connectTimeoutMs : Math.min(timeoutMs, endpoint.connectTimeoutMs);
  }

  private serverLimiter(endpoint: Endpoint): Limiter {
    const key = `${endpoint.host}:${endpoint.port}`;
    let limiter = serverHandshakes.get(key);
    if (!limiter) serverHandshakes.set(key, limiter = new Limiter(this.options.handshakesPerServer ?? HANDSHAKES_PER_SERVER));
    return limiter;
  }

  private forward(jump: Client, next: Endpoint, jumpEndpoint: Endpoint): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      jump.forwardOut('127.0.0.1', 0, next.host, next.port, (error, stream) => {
        if (error) reject(new UnreachableError(this.host, `jump host ${describeEndpoint(jumpEndpoint)} could not reach ${next.host}:${next.port}: ${error.message}`));
        else resolve(stream);
      });
    });
  }

  /** One SSH handshake: key exchange with the host key verified, then auth. */
  private async handshake(endpoint: Endpoint, sock: Duplex | undefined, where: string, timeoutMs: number, proxy?: ProxyProcess): Promise<Client> {
    const hostKeys = this.hostKeysFor(endpoint);
    const knownTypes = await hostKeys.knownTypes(endpoint.host, endpoint.port);
    const failure: HandshakeFailure = { where: proxy ? `${where} (through ${proxy.describe()})` : where, error: { message: '' }, timeoutMs, tried: [] };
    const attempts = await this.authAttempts(endpoint, failure);
    const client = new Client();
    return new Promise((resolve, reject) => {
      let failed = false;
      const fail = (error: HandshakeFailure['error']) => {
        if (failed) return;
        failed = true;
        clearTimeout(timer);
        client.end();
        if (!proxy) { reject(connectError(this.host, { ...failure, error })); return; }
        // The proxy's own words (its stderr, its exit) say why far better than "connection closed".
        void proxy.ended(PROXY_EXIT_WAIT_MS).then(() => {
          failure.where = `${where} (through ${proxy.describe()})`;
          reject(connectError(this.host, { ...failure, error }));
        });
      };
      const timer = setTimeout(() => fail({ message: 'timeout', code: 'RUNBOOK_TIMEOUT' }), timeoutMs);
      client.on('ready', () => {
        clearTimeout(timer);
        // Small request packets (exec, EOF) otherwise wait on Nagle + delayed ACK: ~200 ms per command.
        client.setNoDelay(true);
        resolve(client);
      });
      client.on('error', (error: Error & { level?: string; code?: string }) => {
        if (error.level !== 'agent') fail(error); // a dead agent only means the next method is tried
      });
      client.on('close', () => fail({ message: 'the connection closed during the handshake' }));
      client.connect(this.clientConfig(endpoint, sock, knownTypes, failure, attempts, hostKeys));
    });
  }

  private clientConfig(endpoint: Endpoint, sock: Duplex | undefined, knownTypes: string[], failure: HandshakeFailure, attempts: AuthAttempts, hostKeys: HostKeyChecker): ConnectConfig {
    return {
      ...(sock ? { sock } : { host: endpoint.host, port: endpoint.port }),
      username: endpoint.user,
      keepaliveInterval: this.options.keepaliveIntervalMs ?? endpoint.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: this.options.keepaliveCountMax ?? endpoint.keepaliveCountMax ?? 3,
      readyTimeout: 0, // our own timer covers the hop, whether over TCP or through a jump
      algorithms: { ...this.options.algorithms, serverHostKey: this.options.algorithms?.serverHostKey ?? hostKeyAlgorithms(knownTypes) },
      hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
        hostKeys.verify(endpoint.host, endpoint.port, key).then((decision) => {
          if (!decision.ok) failure.hostKeyRefusal = decision.reason;
          else if (decision.recorded) this.options.onHostKeyRecorded?.({ host: endpoint.host, port: endpoint.port, fingerprint: fingerprintSha256(key), file: decision.recorded });
          verify(decision.ok);
        }, (error: Error) => {
          failure.hostKeyRefusal = `cannot check the host key of ${describeEndpoint(endpoint)}: ${error.message}`;
          verify(false);
        });
      },
      authHandler: (methodsLeft, _partial, next) => {
        if (methodsLeft) failure.serverMethods = methodsLeft;
        void attempts.next(methodsLeft).then((method) => next(method ?? (false as unknown as AuthenticationType)));
      },
    };
  }

  /** The credentials for one hop, offered lazily so a passphrase is asked only if it is needed. */
  private async authAttempts(endpoint: Endpoint, failure: HandshakeFailure): Promise<AuthAttempts> {
    const agent = this.options.agent === false || endpoint.agent === false ? undefined : endpoint.agent ?? this.options.agent ?? await agentSocket();
    const identities = await readIdentities(endpoint.identityFiles);
    const password = reveal(endpoint.password ?? this.options.password);
    return new AuthAttempts(endpoint.user, { agent, identities, password, prompt: this.#prompt }, failure.tried);
  }

  /**
   * Runs a command in the connection's shell session when it is free, or returns null so the
   * caller takes an exec channel (the shell is busy with another command, the host has no Unix
   * shell, or every channel slot is taken).
   */
  private async runInShell(text: string, options: ExecOptions, serverTimeoutMs: number | undefined): Promise<RawResult | null> {
    if (this.options.reuseShell === false || this.#noShellSession) return null;
    const link = await this.ensureLink();
    const shell = await this.shellOf(link);
    // Lost while the shell was starting: the command never ran, and a silent reconnect would hide it.
    if (!link.alive) throw new UnreachableError(this.host, 'the connection was lost');
    if (!shell || shell.busy) return null;
    return shell.run(text, { ...this.limits(link, options), serverTimeoutMs });
  }

  /** How a command on `link` is bounded, for exec channels and the shell session alike. */
  private limits(link: Link, options: ExecOptions): ChannelLimits {
    return {
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      killGraceMs: this.options.killGraceMs ?? 2000,
      lost: () => (link.alive ? undefined : new UnreachableError(this.host, 'the connection was lost while a command was running')),
      onOutput: options.onOutput,
    };
  }

  /** The link's live shell session, starting one (in a channel slot it keeps) if there is none. */
  private async shellOf(link: Link): Promise<ShellSession | null> {
    if (link.shellStarting) await link.shellStarting;
    if (link.shell === null || link.shell?.alive) return link.shell;
    const release = link.channels.tryAcquire();
    if (!release) return null;
    link.shellStarting = this.startShell(link, release).then(
      (shell) => {
        link.shell = shell;
        // No ready line on a live connection: no Unix shell (cmd.exe), or one too slow to trust.
        if (shell === null && link.alive) this.#noShellSession = true;
      },
      () => { link.shell = undefined; }, // a refused channel (a full server): exec channels this time, a shell next time
    ).finally(() => { link.shellStarting = undefined; });
    await link.shellStarting;
    return link.shell ?? null;
  }

  private startShell(link: Link, release: () => void): Promise<ShellSession | null> {
    const nonce = randomBytes(12).toString('hex');
    return new Promise<ShellSession | null>((resolve, reject) => {
      link.target.exec(sessionStartCommand(nonce), (error, channel) => {
        if (error) { release(); reject(error); return; }
        resolve(openShellSession(channel, nonce, this.connectTimeoutMs, release));
      });
    });
  }

  /** Runs `work` holding one of the connection's channel slots. */
  private async withChannel<T>(work: (link: Link) => Promise<T>): Promise<T> {
    const link = await this.ensureLink();
    const release = await link.channels.acquire();
    try {
      return await work(link);
    } finally {
      release();
    }
  }

  private async run(link: Link, text: string, stdin: Buffer | undefined, options: ExecOptions): Promise<RawResult> {
    // Aborted while queued for a channel: it never started, so there is nothing to stop.
    if (options.signal?.aborted) return notStarted();
    return this.openExec(link, text, (channel) => collect(channel, stdin, this.limits(link, options)));
  }

  /**
   * Opens an exec channel and hands it to `use` inside ssh2's callback: a fast command's output,
   * exit status and close can arrive in the same TCP read as the open confirmation, and ssh2 emits
   * them synchronously, before any `await` would resume. A refusal while the link is up (a full
   * server) is retried briefly.
   */
  private async openExec<T>(link: Link, text: string, use: (channel: ClientChannel) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise<T>((resolve, reject) => {
          link.target.exec(text, (error, channel) => (error ? reject(error) : resolve(use(channel))));
        });
      } catch (error) {
        if (error instanceof UnreachableError) throw error;
        if (!link.alive) throw new UnreachableError(this.host, 'the connection was lost');
        if (attempt === 3) throw new UnreachableError(this.host, `the server refused a session channel: ${(error as Error).message}`);
        await sleep(100 * 2 ** attempt);
      }
    }
  }

  /** An sftp session, or null when the server has no sftp subsystem (then exec + cat is used). */
  private async openSftp(link: Link): Promise<SFTPWrapper | null> {
    if (this.#sftpMissing) return null;
    try {
      return await new Promise<SFTPWrapper>((resolve, reject) => {
        link.target.sftp((error, sftp) => (error ? reject(error) : resolve(sftp)));
      });
    } catch (error) {
      if (!link.alive) throw new UnreachableError(this.host, 'the connection was lost');
      if (!/subsystem/i.test((error as Error).message)) throw new TransferError(this.host, `cannot start sftp: ${(error as Error).message}`);
      this.#sftpMissing = true; // "Unable to start subsystem: sftp": the server will not grow one during the run
      return null;
    }
  }

  private async putByExec(link: Link, path: string, data: Buffer, mode: number, options: TransferOptions): Promise<void> {
    const remote = await this.wrapTransfer(catToFileCommand(path, mode, stagingPath(path)), data, options);
    const result = await this.run(link, remote.text, remote.stdin, {});
    if (result.code !== 0) throw new TransferError(this.host, `cannot write ${path}: ${result.stderr.toString('utf8').trim()}`);
  }

  private async getByExec(link: Link, path: string, options: TransferOptions): Promise<Buffer> {
    const remote = await this.wrapTransfer(catFileCommand(path), undefined, options);
    const result = await this.run(link, remote.text, remote.stdin, {});
    if (result.code !== 0) throw new TransferError(this.host, `cannot read ${path}: ${result.stderr.toString('utf8').trim()}`);
    return result.stdout;
  }

  /** A transfer command, through sudo (its password on stdin ahead of the data) when asked. */
  private async wrapTransfer(command: string, data: Buffer | undefined, options: TransferOptions) {
    const become = options.sudo ? await this.become() : {};
    return wrapCommand(command, { sudo: options.sudo, stdin: data, becomePassword: become.password, becomeUser: become.user });
  }

  private transferFailure(link: Link, what: string, error: unknown): Error {
    if (!link.alive) return new UnreachableError(this.host, `the connection was lost (${what})`);
    return new TransferError(this.host, `${what}: ${(error as Error).message}`);
  }

  /**
   * Waits until the link is gone, probing it every interval; at the deadline, drops it ourselves.
   * A probe gets a generous limit (a busy host answers slowly, and calling it gone too early would
   * reconnect to the host before it went down); silence past that means it vanished without a FIN.
   */
  private async waitForDrop(deadline: number, intervalMs: number): Promise<void> {
    const link = this.#link;
    while (link?.alive && Date.now() < deadline) {
      const dropped = await Promise.race([link.dropped.then(() => true), sleep(intervalMs).then(() => false)]);
      const probeMs = Math.max(1, Math.min(Math.max(intervalMs, PROBE_TIMEOUT_MS), deadline - Date.now()));
      if (dropped || !(await this.answers(link, probeMs))) break;
    }
    link?.end();
  }

  /** Whether the connection still runs a trivial command within `timeoutMs`, channel opening included. */
  private async answers(link: Link, timeoutMs: number): Promise<boolean> {
    const probe = this.run(link, 'true', undefined, { timeoutMs }).then((result) => result.code === 0, () => false);
    let timer: NodeJS.Timeout | undefined;
    const silence = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs + SERVER_TIMEOUT_MARGIN_MS); });
    return Promise.race([probe, silence]).finally(() => clearTimeout(timer));
  }
}

/** ssh2's host key algorithms, reordered so the types known_hosts has for this host come first, as `ssh` does. */
const HOST_KEY_ALGORITHMS: ServerHostKeyAlgorithm[] = [
  'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa',
];

function hostKeyAlgorithms(knownTypes: readonly string[]): ServerHostKeyAlgorithm[] {
  const preferred = knownTypes.flatMap((type) => (type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type]));
  const known = HOST_KEY_ALGORITHMS.filter((algo) => preferred.includes(algo))
    .sort((a, b) => preferred.indexOf(a) - preferred.indexOf(b));
  return [...known, ...HOST_KEY_ALGORITHMS.filter((algo) => !known.includes(algo))];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const reveal = (value: string | Secret | undefined): string | undefined => (value instanceof Secret ? value.reveal() : value);

const asSecret = (value: string | Secret | undefined): Secret | undefined => (typeof value === 'string' ? new Secret(value) : value);
