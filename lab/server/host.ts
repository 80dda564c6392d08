/**
 * One simulated host inside the lab server: its ssh2 Server on a loopback port, its connections
 * and running commands, its mount namespace, and its power (reboot, halt, off, on, reinstall).
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { labPaths, readTrimmed, writeFileAtomic, type LabHostConfig, type PowerState } from './config.ts';
import { fingerprint, generateKey, newBootId, updateKnownHosts } from './keys.ts';
import { HostNamespace } from './namespace.ts';
import { runChannel, type ChannelRun } from './session.ts';

/** What every host shares: the lab's paths, client key, reboot delay, hooks and log. */
export interface HostContext {
  labRoot: string;
  repoRoot: string;
  aliasBase: string;
  rebootDownMs: number;
  clientKey: ssh2.ParsedKey;
  log(message: string): void;
  /** LabB's onPowerChange hook (lab/sim/xen/hooks.mjs), when it exists. */
  powerChanged(host: string, state: string): Promise<void>;
  /** Re-seeds a host's folder (lab/estate.ts), for reinstall. */
  reseed(host: LabHostConfig): Promise<void>;
  /** Called after each command ends: a command may have asked any host for a power change. */
  commandEnded(): void;
}

const GRACE_MS = 100;
const REQUESTER_WAIT_MS = 10_000;

export class LabHost {
  state: PowerState = 'running';
  private server?: ssh2.Server;
  private readonly clients = new Set<ssh2.Connection>();
  private readonly runs = new Set<ChannelRun>();
  private readonly namespace: HostNamespace;
  private transition: Promise<void> = Promise.resolve();
  /** After the first listen a taken port is waited for (another process may briefly hold it). */
  private hasListened = false;

  constructor(readonly config: LabHostConfig, private readonly ctx: HostContext) {
    this.namespace = new HostNamespace(config.name, ctx.labRoot, ctx.repoRoot, ctx.aliasBase);
  }

  get name(): string {
    return this.config.name;
  }

  get dir(): string {
    return labPaths(this.ctx.labRoot).hostDir(this.name);
  }

  /** Brings the host up as it was left: running (or mid-reboot) hosts listen, halted ones stay down. */
  async start(): Promise<void> {
    const persisted = readTrimmed(join(this.dir, 'power', 'state'), 'running') as PowerState;
    if (persisted === 'halted' || persisted === 'off') {
      this.state = persisted;
      return;
    }
    if (persisted === 'rebooting') return this.boot();
    await this.namespace.start();
    this.writeEntry();
    await this.listen();
  }

  /** Acts on `power/request` if a command or the CLI wrote one; serialised per host. */
  checkRequest(): void {
    const path = join(this.dir, 'power', 'request');
    if (!existsSync(path)) return;
    // Line 1: the request; line 2: LAB_SESSION of the command that wrote it, when a lab tool did.
    const [request = '', session = ''] = readTrimmed(path).split('\n').map((line) => line.trim());
    rmSync(path, { force: true });
    this.transition = this.transition.then(() => this.act(request, session)).catch((error) => this.ctx.log(`${this.name}: ${request}: ${error}`));
  }

  private async act(request: string, session: string): Promise<void> {
    this.ctx.log(`${this.name}: power request ${request} while ${this.state}`);
    const up = this.state === 'running';
    if (request === 'reboot' && up) {
      await this.afterRequester(session);
      await this.goDown('rebooting');
      await sleep(this.ctx.rebootDownMs);
      await this.boot();
    } else if (request === 'halt' && up) {
      await this.afterRequester(session);
      await this.goDown('halted');
    } else if (request === 'off' && up) {
      await this.goDown('off');
    } else if (request === 'on' && (this.state === 'halted' || this.state === 'off')) {
      this.setState('rebooting');
      await sleep(this.ctx.rebootDownMs);
      await this.boot();
    } else if (request === 'reinstall') {
      await this.reinstall();
    }
  }

  /**
   * "Shortly after the command returns": the command that asked (`reboot`, `sysprep /shutdown`)
   * gets to finish and report its exit status first (bounded: `reboot; sleep 600` is cut short).
   */
  private async afterRequester(session: string): Promise<void> {
    const requester = [...this.runs].find((run) => run.session === session);
    if (requester) await Promise.race([requester.done, sleep(REQUESTER_WAIT_MS)]);
    await sleep(GRACE_MS);
  }

  /** Power lost or going down: every command killed, every connection cut, the port closed. */
  private async goDown(state: PowerState): Promise<void> {
    this.setState(state);
    for (const run of this.runs) run.kill('SIGKILL');
    for (const client of this.clients) destroyClient(client);
    this.clients.clear();
    await this.closeListener();
    this.namespace.stop();
    rmSync(this.entryPath, { force: true });
    await this.ctx.powerChanged(this.name, state);
  }

  /** A boot: new boot id, enabled services started, the leap-second livelock gone, port open. */
  private async boot(): Promise<void> {
    writeFileAtomic(join(this.dir, 'proc', 'boot_id'), `${newBootId()}\n`);
    this.startEnabledServices();
    rmSync(join(this.dir, 'clock', 'stuck'), { force: true });
    await this.namespace.start();
    this.writeEntry();
    // The domain side (pool database, sessions) is up to date before the first connection.
    await this.ctx.powerChanged(this.name, 'running');
    await this.listen();
    this.setState('running');
  }

  private startEnabledServices(): void {
    const services = join(this.dir, 'services');
    if (!existsSync(services)) return;
    for (const name of readdirSync(services)) {
      if (name.startsWith('.') || name.endsWith('.disabled')) continue;
      const enabled = !existsSync(join(services, `${name}.disabled`));
      writeFileAtomic(join(services, name), enabled ? 'running\n' : 'stopped\n');
    }
  }

  /** A fresh install: state re-seeded, a new host key (known_hosts updated), then a boot. */
  private async reinstall(): Promise<void> {
    if (this.state === 'running') await this.goDown('halted');
    await this.ctx.reseed(this.config);
    // The fresh folder says "running"; it is not until boot() has the port open again.
    this.setState('rebooting');
    const keyPath = labPaths(this.ctx.labRoot).hostKey(this.name);
    const publicLine = generateKey(keyPath, `lab-host-${this.name}`);
    updateKnownHosts(labPaths(this.ctx.labRoot).knownHosts, [{ port: this.config.port, publicLine }]);
    this.ctx.log(`${this.name}: reinstalled, host key ${fingerprint(publicLine)}`);
    await this.boot();
  }

  private setState(state: PowerState): void {
    this.state = state;
    writeFileAtomic(join(this.dir, 'power', 'state'), `${state}\n`);
  }

  /** Listens on the host's port (a free one the first time when the port is 0). */
  private async listen(): Promise<void> {
    const hostKey = readFileSync(labPaths(this.ctx.labRoot).hostKey(this.name));
    const server = new ssh2.Server({ hostKeys: [hostKey], ident: 'RunbookLab_1.0' }, (client) => this.accept(client));
    // At first start a taken port is the user's problem; after a reboot, wait for it a little.
    const attempts = this.hasListened ? 50 : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        await listenOnce(server, this.config.port);
        break;
      } catch (error) {
        if (attempt >= attempts || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
        await sleep(200);
      }
    }
    server.on('error', (error: Error) => this.ctx.log(`${this.name}: ${error.message}`));
    this.hasListened = true;
    this.config.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  private async closeListener(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: ssh2.Connection): void {
    if (this.state !== 'running') return destroyClient(client);
    this.clients.add(client);
    client.on('error', () => {});
    client.on('close', () => this.clients.delete(client));
    client.on('authentication', (auth) => this.authenticate(auth));
    client.on('ready', () => {
      client.on('session', (acceptSession) => this.serveSession(client, acceptSession()));
    });
  }

  /** Public key auth with the lab client key only; the signature is verified, not just the key. */
  private authenticate(auth: ssh2.AuthContext): void {
    if (auth.method !== 'publickey') return auth.reject(['publickey']);
    const allowed = this.ctx.clientKey;
    const offered = auth.key.data;
    const expected = allowed.getPublicSSH();
    const sameKey = auth.key.algo === allowed.type && offered.length === expected.length && timingSafeEqual(offered, expected);
    if (!sameKey) return auth.reject(['publickey']);
    if (auth.signature && auth.blob && allowed.verify(auth.blob, auth.signature, auth.hashAlgo) !== true) {
      return auth.reject(['publickey']);
    }
    auth.accept();
  }

  private serveSession(client: ssh2.Connection, session: ssh2.Session): void {
    const env: Record<string, string> = {};
    session.on('env', (accept, _reject, info) => {
      if (!/^(LAB_|PATH$)/.test(info.key)) env[info.key] = info.val;
      accept?.();
    });
    session.on('pty', (accept) => accept?.());
    session.on('window-change', (accept) => accept?.());
    const start = (command: string, channel: ssh2.ServerChannel, viaShell = true) => this.startCommand(client, channel, command, env, viaShell);
    session.on('exec', (accept, _reject, info) => start(info.command, accept()));
    session.on('shell', (accept, reject) => (this.config.role === 'windows' ? reject() : start('exec /bin/sh', accept())));
    session.on('subsystem', (accept, reject, info) => {
      const sftpServer = findSftpServer();
      if (info.name !== 'sftp' || !sftpServer) return reject();
      start(`exec ${sftpServer}`, accept(), false);
    });
    session.on('signal', (accept, _reject, info) => {
      accept?.();
      for (const run of this.runs) if (run.client === client) run.kill(`SIG${info.name}` as NodeJS.Signals);
    });
  }

  /** Runs one channel's command; `viaShell` false for sftp-server, which no cmd.exe wraps. */
  private startCommand(client: ssh2.Connection, channel: ssh2.ServerChannel, command: string, requested: Record<string, string>, viaShell: boolean): void {
    const sessionId = randomUUID();
    const env: Record<string, string> = { ...this.commandEnv(requested), LAB_SESSION: sessionId };
    // Windows OpenSSH runs an exec request as `cmd.exe /c COMMAND`: the lab's cmd gets the line as is.
    if (viaShell && this.config.role === 'windows') {
      env.LAB_CMDLINE = command;
      command = 'exec node "$LAB_BIN/_wincmd.mjs"';
    }
    const run = runChannel({ host: this, client, channel, command, env, namespace: this.namespace, session: sessionId });
    this.runs.add(run);
    run.done.finally(() => {
      this.runs.delete(run);
      this.ctx.commandEnded();
    });
  }

  /** The environment of the contract in lab/README.md, plus what the client asked for. */
  private commandEnv(requested: Record<string, string>): Record<string, string> {
    const labRoot = `${this.ctx.aliasBase}/lab`;
    const labBin = `${this.ctx.aliasBase}/repo/lab/bin`;
    const pool = this.config.pool;
    return {
      LANG: 'C',
      TERM: 'dumb',
      ...requested,
      PATH: `${labBin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      HOME: '/root',
      USER: 'root',
      LOGNAME: 'root',
      SHELL: '/bin/sh',
      LAB_ROOT: labRoot,
      LAB_BIN: labBin,
      LAB_HOST: this.name,
      LAB_HOST_DIR: `${labRoot}/hosts/${this.name}`,
      LAB_ROLE: this.config.role,
      ...(pool ? { LAB_POOL: pool, LAB_POOL_DB: `${labRoot}/pools/${pool}.json` } : {}),
    };
  }

  /** Lab shutdown: commands and connections ended, port closed, namespace released. */
  async stop(): Promise<void> {
    for (const run of this.runs) run.kill('SIGKILL');
    for (const client of this.clients) destroyClient(client);
    await this.closeListener();
    this.namespace.stop();
    rmSync(this.entryPath, { force: true });
  }

  private get entryPath(): string {
    return join(this.ctx.labRoot, 'run', `${this.name}.env`);
  }

  /**
   * `run/<host>.env`: what lab/server/enter.sh needs to run a command on this host from a real
   * OpenSSH sshd (the namespace's way in and the command environment), while the host is up.
   */
  private writeEntry(): void {
    const env = { ...this.commandEnv({}), LAB_ENTER: this.namespace.enterArgs().join(' ') };
    const lines = Object.entries(env).map(([key, value]) => `export ${key}='${value.replace(/'/g, `'\\''`)}'`);
    writeFileAtomic(this.entryPath, `${lines.join('\n')}\n`);
  }
}

/** Cuts the TCP connection under a client, as a power loss or crash would (no SSH disconnect). */
export function destroyClient(client: ssh2.Connection): void {
  const socket = (client as unknown as { _sock?: { destroy(): void } })._sock;
  if (socket) socket.destroy();
  else client.end();
}

let sftpServerPath: string | null | undefined;
function findSftpServer(): string | undefined {
  sftpServerPath ??= ['/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server', '/usr/lib/ssh/sftp-server'].find(existsSync) ?? null;
  return sftpServerPath ?? undefined;
}

function listenOnce(server: ssh2.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
