/**
 * The SSH transport against real OpenSSH servers (Debian's openssh-server) on loopback ports.
 * Skips, loudly, where sshd is not installed; CI installs it. The sudo tests need root (they
 * create users of their own (rbt-…-PID) and a sudoers.d entry, and remove them at the end).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { inspect } from 'node:util';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { UnreachableError } from '../../src/errors.ts';
import { createExecutor } from '../../src/engine/executor.ts';
import { CommandLedger } from '../../src/engine/ledger.ts';
import { ReadAhead } from '../../src/engine/read-ahead.ts';
import type { InventoryHost } from '../../src/inventory/types.ts';
import { cmd, secret } from '../../src/shell/command.ts';
import { AuthenticationError, HostKeyError, TransferError } from '../../src/transport/ssh/errors.ts';
import { Limiter } from '../../src/transport/limiter.ts';
import { createSshTransport, type SshOptions, type SshTransport } from '../../src/transport/ssh/transport.ts';
import {
  canManageUsers, ensureTestUser, freePort, generateKey, isSshdAvailable, removeTestUser, startSshAgent, startSshd, testUserName, type Sshd,
} from '../helpers/sshd.ts';

/** A real Limiter that also counts: the most slots ever held at once, and how many were taken. */
class PeakLimiter extends Limiter {
  peak = 0;
  acquired = 0;
  override async acquire(): Promise<() => void> {
    const release = await super.acquire();
    this.acquired++;
    this.peak = Math.max(this.peak, this.active);
    return release;
  }
}

const SUDO_USER = testUserName('sudo');
/**
 * Most tests log in as a plain user with /bin/sh as its shell: root's own shell startup on a
 * developer machine (pyenv, conda in ~/.bashrc, sourced by bash for ssh commands) can cost
 * hundreds of ms per command and fight over locks under load. Root logins get their own tests.
 */
const canCreateUsers = process.getuid?.() === 0 && existsSync('/usr/sbin/useradd');
const LOGIN = canCreateUsers ? testUserName('ssh') : userInfo().username;
const SUDO_PASSWORD = 'Sudo pass; $(touch /tmp/nope) \'quoted\'';
const haveSshd = isSshdAvailable();
const haveSudo = haveSshd && canManageUsers();
if (!haveSshd) console.warn('\n*** /usr/sbin/sshd not found: SKIPPING the real-OpenSSH transport tests (apt-get install openssh-server) ***\n');
else if (!haveSudo) console.warn('\n*** not root, or no useradd/sudo: SKIPPING the sudo tests of the ssh transport ***\n');

describe.skipIf(!haveSshd)('SshTransport against OpenSSH', { timeout: 20_000 }, () => {
  let sshd: Sshd;
  let work: string;
  let knownHosts: string;
  const open: SshTransport[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'runbook-ssh-test-'));
    chmodSync(work, 0o711); // the login user reaches files/ through it
    mkdirSync(join(work, 'files'), { mode: 0o777 });
    chmodSync(join(work, 'files'), 0o777);
    mkdirSync(join(work, 'home', '.ssh'), { recursive: true }); // an empty ~/.ssh: no stray keys or config
    if (canCreateUsers) await ensureTestUser(LOGIN, randomBytes(12).toString('hex'), 'none');
    sshd = await startSshd({ maxSessions: 10, passwordAuthentication: true, users: [LOGIN, 'root', SUDO_USER] });
    knownHosts = join(work, 'known_hosts');
    writeFileSync(knownHosts, `${sshd.knownHostsLine}\n`);
  });
  afterAll(async () => {
    await sshd?.stop();
    rmSync(work, { recursive: true, force: true });
    if (canCreateUsers) await removeTestUser(LOGIN);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });

  const hostFor = (server: Sshd, extra: Partial<InventoryHost> = {}): InventoryHost => ({
    name: 'target', address: '127.0.0.1', port: server.port, user: LOGIN, connection: 'ssh', become: false,
    privateKeyFile: server.clientKeyFile, groups: ['all'], vars: {}, varSources: {}, ...extra,
  });
  const baseOptions = (extra: SshOptions = {}): SshOptions => ({
    home: join(work, 'home'), sshConfigFile: false, agent: false, knownHostsFiles: [knownHosts],
    projectKnownHostsFile: join(work, 'project_known_hosts'), ...extra,
  });
  const transport = (host: InventoryHost = hostFor(sshd), options: SshOptions = {}): SshTransport => {
    const t = createSshTransport(host, baseOptions(options));
    open.push(t);
    return t;
  };
  const acceptedLogins = (server: Sshd) => server.log().split('\n').filter((l) => l.includes('Accepted publickey')).length;

  describe('commands', () => {
    it.each([['in the shell session', true], ['in exec channels', false]])('reports exit codes %s', async (_how, reuseShell) => {
      const t = transport(hostFor(sshd), { reuseShell });
      for (const [command, code] of [['true', 0], ['false', 1], ['exit 42', 42], ['exit 255', 255]] as const) {
        expect((await t.exec(command)).code).toBe(code);
      }
      const codes = await Promise.all(['true', 'false', 'exit 42', 'exit 255'].map((c) => t.exec(c))); // concurrently: session and channels
      expect(codes.map((r) => r.code)).toEqual([0, 1, 42, 255]);
    });

    it('reports signals as signals with no exit code, in exec channels', async () => {
      const t = transport(hostFor(sshd), { reuseShell: false });
      expect(await t.exec('kill -TERM $$')).toMatchObject({ code: null, signal: 'TERM' });
      expect(await t.exec('echo out; echo err >&2; kill -KILL $$')).toMatchObject({ code: null, signal: 'KILL', stdout: 'out\n', stderr: 'err\n' });
    });

    it('reports a signal as 128+N in the shell session, and a command that kills the session shell as unknown', async () => {
      const t = transport();
      expect(await t.exec('sh -c \'kill -TERM $$\'')).toMatchObject({ code: 143, signal: null });
      // $$ is the session's shell (as in any subshell): killing it ends the session, not the run.
      expect(await t.exec('echo out; kill -KILL $$')).toMatchObject({ code: null, stdout: 'out\n' });
      expect(await t.exec('echo next')).toMatchObject({ code: 0, stdout: 'next\n' });
    });

    it('runs sequential commands in one long-lived shell, each in its own subshell', async () => {
      const t = transport();
      const shells = new Set<string>();
      for (let i = 0; i < 5; i++) shells.add((await t.exec('cd /; X=set; echo "$$"')).stdout);
      expect(shells.size).toBe(1); // $$ in a subshell is its parent's: one shell for all five
      expect((await t.exec('pwd; echo "${X:-unset}"')).stdout).not.toMatch(/^\/\nset/);
      const plain = transport(hostFor(sshd), { reuseShell: false });
      const parents = new Set(await Promise.all([1, 2].map(async () => (await plain.exec('echo "$$"')).stdout)));
      expect(parents.size).toBe(2); // --no-reuse-shell: a new login shell per command
    });

    it('feeds stdin, binary-safe, then closes it', async () => {
      const t = transport();
      const data = randomBytes(1 << 20);
      const result = await t.exec('sha256sum', { stdin: data });
      expect(result.stdout.split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
      expect((await t.exec('cat')).stdout).toBe(''); // no stdin given: EOF at once, no hang
    });

    it('drains 10 MB of stdout while stderr also streams', async () => {
      const t = transport();
      const result = await t.exec("head -c 10485760 /dev/zero | tr '\\0' x; head -c 1048576 /dev/zero | tr '\\0' e >&2");
      expect(result.code).toBe(0);
      expect(result.stdout.length).toBe(10 * 1024 * 1024);
      expect(result.stderr.length).toBe(1024 * 1024);
      expect(/^x+$/.test(result.stdout)).toBe(true);
    });

    it('runs 50 commands at once over one connection to a MaxSessions 10 server, none failing', async () => {
      const t = transport();
      await t.connect();
      const loginsBefore = acceptedLogins(sshd);
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => t.exec(`sleep 0.1; echo ${i}`)));
      expect(results.map((r) => [r.code, r.stdout])).toEqual(Array.from({ length: 50 }, (_, i) => [0, `${i}\n`]));
      expect(acceptedLogins(sshd)).toBe(loginsBefore); // no second connection was opened
    });

    it('passes a hostile value through the quoting shell literally', async () => {
      const t = transport();
      const value = "'; touch /tmp/pwned #";
      const before = existsSync('/tmp/pwned') ? statSync('/tmp/pwned').mtimeMs : null;
      const command = cmd`printf %s ${value}`;
      expect((await t.exec(command.text)).stdout).toBe(value);
      expect((await t.exec('printf %s "$V"', { env: { V: value } })).stdout).toBe(value);
      expect(existsSync('/tmp/pwned') ? statSync('/tmp/pwned').mtimeMs : null).toBe(before);
    });

    // As root, OpenSSH refuses "signal" requests (no privilege separation), so the server-side timeout(1) must do it.
    // Root's limit is longer: its ~/.bashrc may be slow to run before the command starts.
    it.each([['a plain user', LOGIN, 300], ['root', 'root', 3000]])('closes a command at its timeout and stops it on the server, as %s', { timeout: 30_000 }, async (who, user, timeoutMs) => {
      const t = transport(hostFor(sshd, { user }));
      const result = await t.exec('echo started; sleep 37', { timeoutMs });
      expect(result).toMatchObject({ timedOut: true, code: null });
      if (who !== 'root') expect(result.stdout).toBe('started\n'); // root's shell may still be in ~/.bashrc
      // cut short: the command alone would run 37 s (how soon after the timeout is load's business)
      expect(result.durationMs).toBeLessThan(37_000);
      await vi.waitFor(async () => {
        expect((await t.exec("ps -eo args | grep -c '^sleep 37$' || true")).stdout.trim()).toBe('0');
      }, { timeout: 15_000, interval: 500 });
    });

    it('stops a command when its AbortSignal fires', async () => {
      const t = transport(hostFor(sshd), { killGraceMs: 200 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      const started = Date.now();
      const result = await t.exec('sleep 38', { signal: controller.signal });
      expect(result).toMatchObject({ code: null, timedOut: false });
      // cut short: the command alone would run 38 s
      expect(Date.now() - started).toBeLessThan(38_000);
    });
  });

  describe('files', () => {
    it('puts and gets bytes over sftp, with the mode asked for', async () => {
      const t = transport();
      const data = randomBytes(300_000);
      const path = join(work, 'files', 'sftp file');
      await t.put(path, data, 0o640);
      expect((await t.exec(cmd`stat -c %a ${path}`.text)).stdout.trim()).toBe('640');
      expect((await t.get(path)).equals(data)).toBe(true);
      await t.put(path, 'replaced', 0o600); // over an existing file: renamed into place
      expect((await t.get(path)).toString()).toBe('replaced');
      expect(readdirSync(join(work, 'files')).filter((f) => f.includes('.runbook-'))).toEqual([]);
      await expect(t.put(join(work, 'files', 'no-such-dir', 'x'), 'x')).rejects.toThrow(TransferError);
      await expect(t.get(join(work, 'files', 'missing'))).rejects.toThrow(TransferError);
    });

    it('falls back to exec + cat when the server has no sftp subsystem', async () => {
      const plain = await startSshd({ sftp: false, users: [LOGIN] });
      try {
        writeFileSync(knownHosts, `${sshd.knownHostsLine}\n${plain.knownHostsLine}\n`);
        const t = transport(hostFor(plain));
        const data = randomBytes(100_000);
        const path = join(work, 'files', "no sftp 'file'");
        await t.put(path, data, 0o600);
        expect((await t.exec(cmd`stat -c %a ${path}`.text)).stdout.trim()).toBe('600');
        expect((await t.get(path)).equals(data)).toBe(true);
        await expect(t.put(join(work, 'files', 'no-such-dir', 'x'), 'x')).rejects.toThrow(/cannot write/);
        expect(readdirSync(join(work, 'files')).filter((f) => f.includes('.runbook-'))).toEqual([]);
        await expect(t.get(join(work, 'files', 'missing'))).rejects.toThrow(/cannot read .*No such file/);
      } finally {
        await plain.stop();
        writeFileSync(knownHosts, `${sshd.knownHostsLine}\n`);
      }
    });
  });

  describe('host keys', () => {
    const fingerprintOf = (pubFile: string) => execFileSync('ssh-keygen', ['-lf', pubFile], { encoding: 'utf8' }).split(' ')[1];

    it('accepts a hashed known_hosts entry', async () => {
      const hashed = join(work, 'hashed_known_hosts');
      writeFileSync(hashed, `${sshd.knownHostsLine}\n`);
      execFileSync('ssh-keygen', ['-H', '-f', hashed], { stdio: 'ignore' });
      expect(readFileSync(hashed, 'utf8')).toMatch(/^\|1\|/);
      const t = transport(hostFor(sshd), { knownHostsFiles: [hashed] });
      expect((await t.exec('echo ok')).stdout).toBe('ok\n');
    });

    it('refuses an unknown host, then records it with acceptNewHostKeys as accept-new does', async () => {
      const empty = join(work, 'empty_known_hosts');
      const project = join(work, 'accept_new_known_hosts');
      writeFileSync(empty, '');
      const refused = transport(hostFor(sshd), { knownHostsFiles: [empty], projectKnownHostsFile: project });
      const error = await refused.connect().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HostKeyError);
      expect((error as HostKeyError).reason).toContain(fingerprintOf(`${sshd.hostKeyFile}.pub`));
      expect(existsSync(project)).toBe(false);

      const recorded = vi.fn();
      const accepting = transport(hostFor(sshd), { knownHostsFiles: [empty], projectKnownHostsFile: project, acceptNewHostKeys: true, onHostKeyRecorded: recorded });
      await accepting.connect();
      expect(recorded).toHaveBeenCalledWith({ host: '127.0.0.1', port: sshd.port, fingerprint: fingerprintOf(`${sshd.hostKeyFile}.pub`), file: project });
      expect(readFileSync(project, 'utf8')).toBe(`${sshd.knownHostsLine}\n`);
      expect(statSync(project).mode & 0o777).toBe(0o600);

      const later = transport(hostFor(sshd), { knownHostsFiles: [empty], projectKnownHostsFile: project });
      expect((await later.exec('echo known')).stdout).toBe('known\n');
    });

    it('refuses a changed key, even with acceptNewHostKeys, printing both fingerprints and the file:line', async () => {
      const other = await generateKey(join(work, `other_host_key_${Date.now()}`));
      const otherLine = `[127.0.0.1]:${sshd.port} ${readFileSync(`${other}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}`;
      const stale = join(work, 'stale_known_hosts');
      writeFileSync(stale, `# an old entry\n${otherLine}\n`);
      const t = transport(hostFor(sshd), { knownHostsFiles: [stale], acceptNewHostKeys: true });
      const error = await t.exec('true').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HostKeyError);
      expect(error).toBeInstanceOf(UnreachableError);
      const reason = (error as HostKeyError).reason;
      expect(reason).toContain('REMOTE HOST IDENTIFICATION HAS CHANGED');
      expect(reason).toContain(fingerprintOf(`${sshd.hostKeyFile}.pub`));
      expect(reason).toContain(fingerprintOf(`${other}.pub`));
      expect(reason).toContain(`${stale}:2`);
    });

    it('refuses a key marked @revoked', async () => {
      const revoked = join(work, 'revoked_known_hosts');
      const [, type, key] = sshd.knownHostsLine.split(' ');
      writeFileSync(revoked, `${sshd.knownHostsLine}\n@revoked * ${type} ${key}\n`);
      const t = transport(hostFor(sshd), { knownHostsFiles: [revoked] });
      await expect(t.connect()).rejects.toThrow(/REVOKED/);
    });
  });

  describe('authentication', () => {
    it('authenticates through the ssh-agent named by SSH_AUTH_SOCK', async () => {
      const agent = await startSshAgent(work, [sshd.clientKeyFile]);
      const saved = process.env.SSH_AUTH_SOCK;
      process.env.SSH_AUTH_SOCK = agent.socket;
      try {
        const t = transport(hostFor(sshd, { privateKeyFile: undefined }), { agent: undefined });
        expect((await t.exec('echo via agent')).stdout).toBe('via agent\n');
      } finally {
        if (saved === undefined) delete process.env.SSH_AUTH_SOCK; else process.env.SSH_AUTH_SOCK = saved;
        await agent.stop();
      }
    });

    it('honours an algorithms override, and says so when nothing matches', async () => {
      const t = transport(hostFor(sshd), { algorithms: { kex: ['curve25519-sha256'] } });
      expect((await t.exec('echo kex')).stdout).toBe('kex\n');
      const none = transport(hostFor(sshd), { algorithms: { kex: ['diffie-hellman-group1-sha1'] } });
      await expect(none.connect()).rejects.toThrow(/no matching key exchange/i);
    });

    it('decrypts an encrypted key with the passphrase prompt, asking once for many hosts', async () => {
      const key = await generateKey(join(work, `encrypted_${Date.now()}`), { passphrase: 'correct horse', kdfRounds: 2 });
      await sshd.authorize(LOGIN, readFileSync(`${key}.pub`, 'utf8').trim());
      const passphrase = vi.fn(async () => 'correct horse');
      const hosts = [transport(hostFor(sshd, { privateKeyFile: key }), { passphrase }), transport(hostFor(sshd, { privateKeyFile: key }), { passphrase })];
      await Promise.all(hosts.map((t) => t.connect()));
      expect(passphrase).toHaveBeenCalledTimes(1);

      const wrong = transport(hostFor(sshd, { privateKeyFile: key }), { passphrase: async () => 'wrong' });
      await expect(wrong.connect()).rejects.toThrow(/wrong passphrase/);
    });

    it('says which methods were tried when none is accepted', async () => {
      const stranger = await generateKey(join(work, `stranger_${Date.now()}`));
      const t = transport(hostFor(sshd, { privateKeyFile: stranger }));
      const error = await t.connect().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect((error as AuthenticationError).reason).toMatch(new RegExp(`authentication failed for ${LOGIN}@127\\.0\\.0\\.1:${sshd.port}; tried key ${stranger}; the server accepts: publickey, password`));
    });

    it.skipIf(!haveSudo)('uses a password only when one is given', async () => {
      await ensureTestUser(SUDO_USER, SUDO_PASSWORD, 'password');
      const host = hostFor(sshd, { user: SUDO_USER, privateKeyFile: undefined });
      await expect(transport(host).connect()).rejects.toThrow(/tried nothing/);
      const t = transport(host, { password: secret(SUDO_PASSWORD) });
      expect((await t.exec('id -un')).stdout).toBe(`${SUDO_USER}\n`);
    });
  });

  it.skipIf(!haveSudo || !existsSync('/etc/pam.d/sshd'))('answers PAM keyboard-interactive with the password', async () => {
    await ensureTestUser(SUDO_USER, SUDO_PASSWORD, 'password');
    const pam = await startSshd({ usePam: true, keyboardInteractive: true, passwordAuthentication: false });
    try {
      writeFileSync(knownHosts, `${sshd.knownHostsLine}\n${pam.knownHostsLine}\n`);
      const host = hostFor(pam, { user: SUDO_USER, privateKeyFile: undefined });
      const t = transport(host, { password: SUDO_PASSWORD });
      expect((await t.exec('id -un')).stdout).toBe(`${SUDO_USER}\n`);
      await expect(transport(host, { password: 'wrong' }).connect()).rejects.toThrow(/tried password, keyboard-interactive; the server accepts: publickey, keyboard-interactive/);
    } finally {
      await pam.stop();
      writeFileSync(knownHosts, `${sshd.knownHostsLine}\n`);
    }
  });

  describe.skipIf(!haveSudo)('become (sudo)', () => {
    beforeAll(() => ensureTestUser(SUDO_USER, SUDO_PASSWORD, 'password'));
    afterAll(() => removeTestUser(SUDO_USER));
    const sudoHost = () => hostFor(sshd, { user: SUDO_USER });

    it('runs sudo -n by default, which fails cleanly when a password is needed', async () => {
      const result = await transport(sudoHost()).exec('id -u', { sudo: true });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/password is required/);
    });

    it('feeds the password on stdin ahead of the command\'s own stdin, never into its output', async () => {
      const t = transport(sudoHost(), { becomePassword: secret(SUDO_PASSWORD) });
      expect((await t.exec('id -u', { sudo: true })).stdout).toBe('0\n');
      const piped = await t.exec('cat; printf %s "$X"', { sudo: true, stdin: 'payload\n', env: { X: "'; touch /tmp/pwned #" } });
      expect(piped).toMatchObject({ code: 0, stdout: "payload\n'; touch /tmp/pwned #" });
      expect(piped.stderr).not.toContain(SUDO_PASSWORD);
    });

    it('never shows the password when the transport is inspected or serialised', async () => {
      const t = transport(sudoHost(), { becomePassword: SUDO_PASSWORD, password: SUDO_PASSWORD });
      expect(inspect(t, { depth: 10 }) + JSON.stringify(t)).not.toContain(SUDO_PASSWORD);
    });

    it('puts and gets root-only files through sudo, atomically', async () => {
      const t = transport(sudoHost(), { becomePassword: secret(SUDO_PASSWORD) });
      const path = join(work, 'root-only.conf'); // work/ is root's and 0711: the login user cannot write there
      await expect(t.put(path, 'x')).rejects.toThrow(TransferError);
      await t.put(path, 'root data\n', 0o600, { sudo: true });
      expect(statSync(path).uid).toBe(0);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect((await t.get(path, { sudo: true })).toString()).toBe('root data\n');
      await expect(t.get(path)).rejects.toThrow(TransferError);
    });

    it('fails on a wrong password without echoing it', async () => {
      const result = await transport(sudoHost(), { becomePassword: 'not it' }).exec('id -u', { sudo: true, stdin: 'x' });
      expect(result.code).not.toBe(0);
      expect(result.stdout + result.stderr).not.toContain('not it');
    });

    it('drops the password when sudo needs none, so the command never reads it', async () => {
      await ensureTestUser(SUDO_USER, SUDO_PASSWORD, 'nopasswd');
      try {
        const result = await transport(sudoHost(), { becomePassword: SUDO_PASSWORD }).exec('cat', { sudo: true, stdin: 'only this' });
        expect(result).toMatchObject({ code: 0, stdout: 'only this' });
      } finally {
        await ensureTestUser(SUDO_USER, SUDO_PASSWORD, 'password');
      }
    });
  });

  describe('jump hosts', () => {
    let jump: Sshd;
    beforeAll(async () => {
      jump = await startSshd({ users: [LOGIN] });
      await jump.authorize(LOGIN, sshd.clientPublicKey);
    });
    afterAll(() => jump?.stop());
    const knownBoth = () => {
      const file = join(work, 'jump_known_hosts');
      writeFileSync(file, `${sshd.knownHostsLine}\n${jump.knownHostsLine}\n`);
      return file;
    };

    it('reaches the host through the inventory jump var, verifying both host keys', async () => {
      const before = acceptedLogins(jump);
      const host = hostFor(sshd, { vars: { jump: `${LOGIN}@127.0.0.1:${jump.port}` } });
      const t = transport(host, { knownHostsFiles: [knownBoth()], identityFiles: [sshd.clientKeyFile] });
      expect((await t.exec('echo behind the jump')).stdout).toBe('behind the jump\n');
      expect(acceptedLogins(jump)).toBe(before + 1);
    });

    it('follows a chain of jumps (comma list), one forwardOut per hop', async () => {
      const before = acceptedLogins(jump);
      const hop = `${LOGIN}@127.0.0.1:${jump.port}`;
      const t = transport(hostFor(sshd, { vars: { jump: `${hop},${hop}` } }), { knownHostsFiles: [knownBoth()], identityFiles: [sshd.clientKeyFile] });
      expect((await t.exec('echo two hops')).stdout).toBe('two hops\n');
      expect(acceptedLogins(jump)).toBe(before + 2);
    });

    it('refuses a jump host whose key is unknown', async () => {
      const host = hostFor(sshd, { vars: { jump: `${LOGIN}@127.0.0.1:${jump.port}` } });
      const t = transport(host, { identityFiles: [sshd.clientKeyFile] });
      await expect(t.connect()).rejects.toThrow(new RegExp(`host key for \\[127\\.0\\.0\\.1\\]:${jump.port} is not known`));
    });

    it('follows ~/.ssh/config: Host alias, HostName, Port, User, IdentityFile, ProxyJump', async () => {
      const config = join(work, 'ssh_config');
      writeFileSync(config, [
        'Host bastion', '  HostName 127.0.0.1', `  Port ${jump.port}`, `  User ${LOGIN}`, `  IdentityFile ${sshd.clientKeyFile}`,
        'Host db-behind', '  HostName 127.0.0.1', `  Port ${sshd.port}`, `  User ${LOGIN}`, `  IdentityFile ${sshd.clientKeyFile}`, '  ProxyJump bastion',
      ].join('\n'));
      const before = acceptedLogins(jump);
      const host = hostFor(sshd, { address: 'db-behind', port: 22, user: undefined, privateKeyFile: undefined });
      const t = transport(host, { knownHostsFiles: [knownBoth()], sshConfigFile: config });
      expect((await t.exec('whoami')).stdout).toBe(`${LOGIN}\n`);
      expect(acceptedLogins(jump)).toBe(before + 1);
    });
  });

  describe('unreachable hosts', () => {
    it('caps handshakes in flight, so a server with MaxStartups 2 takes a fan-out of 12 hosts', async () => {
      const strict = await startSshd({ maxStartups: '2', users: [LOGIN] });
      try {
        writeFileSync(knownHosts, `${sshd.knownHostsLine}\n${strict.knownHostsLine}\n`);
        const handshakes = new PeakLimiter(2);
        const fleet = Array.from({ length: 12 }, (_, i) => transport(hostFor(strict, { name: `h${i}` }), { handshakes }));
        const results = await Promise.all(fleet.map((t) => t.exec('echo ok')));
        expect(results.every((r) => r.stdout === 'ok\n')).toBe(true);
        // (a handshake sshd dropped past MaxStartups is retried and takes a slot again: at least 12)
        expect(handshakes.peak).toBe(2);
        expect(handshakes.acquired).toBeGreaterThanOrEqual(12);
      } finally {
        await strict.stop();
        writeFileSync(knownHosts, `${sshd.knownHostsLine}\n`);
      }
    });

    it('caps handshakes per server too, so hosts sharing one sshd are not dropped by its MaxStartups', async () => {
      const strict = await startSshd({ maxStartups: '3', users: [LOGIN], logLevel: 'VERBOSE' });
      try {
        writeFileSync(knownHosts, `${sshd.knownHostsLine}\n${strict.knownHostsLine}\n`);
        // One below the server's limit: sshd counts a connection until auth ends on its side, a little after ours.
        const PER_SERVER = 2;
        // Every handshake passes the process-wide limiter right after its server's slot, so the
        // process-wide peak is the per-server peak: counted at each acquisition, not sampled.
        const handshakes = new PeakLimiter(100);
        const fleet = Array.from({ length: 15 }, (_, i) => transport(hostFor(strict, { name: `h${i}` }), { handshakes, handshakesPerServer: PER_SERVER }));
        const results = await Promise.all(fleet.map((t) => t.exec('echo ok')));
        expect(results.every((r) => r.stdout === 'ok\n')).toBe(true);
        // Fifteen asked at once and never more than two in flight; (sshd's own count of one lags
        // behind ours by a moment, so under load it may drop one past MaxStartups; that one is
        // retried and counted again, which is why `acquired` is at least, not exactly, 15).
        expect(handshakes.peak).toBe(PER_SERVER);
        expect(handshakes.acquired).toBeGreaterThanOrEqual(15);
      } finally {
        await strict.stop();
        writeFileSync(knownHosts, `${sshd.knownHostsLine}\n`);
      }
    });

    it('reports a refused connection', async () => {
      const t = transport(hostFor(sshd, { port: await freePort() }));
      await expect(t.connect()).rejects.toThrow(/connection refused/);
    });

    it('times out a server that never speaks', async () => {
      const silent: Server = createServer(() => { /* accept and say nothing */ });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const port = (silent.address() as { port: number }).port;
        const t = transport(hostFor(sshd, { port }), { connectTimeoutMs: 500 });
        await expect(t.connect()).rejects.toThrow(/timed out after 500 ms/);
      } finally {
        silent.close();
      }
    });

    it('reports a connection cut mid-command as unreachable, then reconnects', async () => {
      const t = transport();
      await t.connect();
      const running = t.exec('sleep 23').catch((e: unknown) => e);
      // cut once the command runs on the server (its process is there), not after a guess of how long that takes
      await vi.waitFor(() => expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n')).toContain('sleep 23'), { timeout: 30_000, interval: 50 });
      await sshd.killSessions();
      const error = await running;
      expect(error).toBeInstanceOf(UnreachableError);
      expect((error as UnreachableError).reason).toMatch(/connection was lost/);
      // the bound is a safety net; the server is up, so this returns at the first try
      await t.reconnect({ timeoutMs: 60_000, intervalMs: 100 });
      expect((await t.exec('echo back')).stdout).toBe('back\n');
    });

    it('a frame whose connection is cut while its reads run still reports how its command ended', async () => {
      const t = transport();
      await t.connect();
      const ledger = new CommandLedger({ host: t.host, step: 's', attempt: 1, readsOutput: false, sensitive: false, emitDurable: async () => {}, post: () => {}, log: () => {} });
      ledger.applying = true;
      const execute = createExecutor({
        transport: t, host: t.host, stepId: 's', become: false, sensitive: false, runSecrets: [], signal: new AbortController().signal,
        emit: () => {}, ledger, readAhead: new ReadAhead(), expectedReads: async () => [{ command: cmd`sleep 24`, on: t.host, sudo: false }],
      });
      const running = execute(cmd`echo applied`, { readAhead: true });
      await vi.waitFor(() => expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n')).toContain('sleep 24'), { timeout: 30_000, interval: 50 });
      await sshd.killSessions();
      expect(await running).toMatchObject({ stdout: 'applied\n', code: 0, ok: true });
    });

    it('notices a host that goes silent without closing (keepalive), and reports it unreachable', async () => {
      const t = transport(hostFor(sshd), { keepaliveIntervalMs: 200, keepaliveCountMax: 2 });
      await t.connect();
      const frozen = await sshd.sessionPids();
      // The TCP connection stays open, nothing answers. A pid may already be gone: an earlier
      // test's connection (and its session shell) exiting after the list was read.
      frozen.forEach((pid) => { try { process.kill(pid, 'SIGSTOP'); } catch (error) { if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error; } });
      try {
        // Without keepalive this exec would wait forever (the test's own timeout would end it).
        await expect(t.exec('true')).rejects.toThrow(UnreachableError);
        expect(t.isConnected).toBe(false);
      } finally {
        frozen.forEach((pid) => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } });
      }
    });

    it('waits out a server that goes away and comes back (a reboot), with backoff', async () => {
      const keys = join(work, `reboot_${Date.now()}`);
      mkdirSync(keys);
      copyFileSync(sshd.hostKeyFile, join(keys, 'host')); copyFileSync(`${sshd.hostKeyFile}.pub`, join(keys, 'host.pub'));
      copyFileSync(sshd.clientKeyFile, join(keys, 'client')); copyFileSync(`${sshd.clientKeyFile}.pub`, join(keys, 'client.pub'));
      const options = { hostKeyFile: join(keys, 'host'), clientKeyFile: join(keys, 'client'), users: [LOGIN] };
      let server = await startSshd(options);
      writeFileSync(knownHosts, `${sshd.knownHostsLine}\n${server.knownHostsLine}\n`);
      try {
        const t = transport(hostFor(server, { privateKeyFile: join(keys, 'client') }));
        await t.connect();
        const port = server.port;
        const reboot = (async () => {
          await server.stop();
          await new Promise((resolve) => setTimeout(resolve, 800));
          server = await startSshd({ ...options, port });
        })();
        // a safety net, far beyond the 0.8 s down plus an sshd start on a loaded machine
        await t.reconnect({ timeoutMs: 90_000, intervalMs: 100 });
        await reboot;
        expect((await t.exec('echo up again')).stdout).toBe('up again\n');
      } finally {
        await server.stop();
        writeFileSync(knownHosts, `${sshd.knownHostsLine}\n`);
      }
    });
  });
});
