/**
 * Connection settings from the ssh config and the inventory's ansible_* vars, against a real
 * OpenSSH server on 127.0.0.1: ProxyCommand (through a relay this test writes, which logs what it
 * was started with), UserKnownHostsFile, StrictHostKeyChecking, ansible_password and
 * ansible_become_user (real users: root only, skipped with the reason otherwise).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InventoryError, UnreachableError } from '../../src/errors.ts';
import type { InventoryHost } from '../../src/inventory/types.ts';
import { HostKeyError } from '../../src/transport/ssh/errors.ts';
import { createSshTransport, type SshOptions, type SshTransport } from '../../src/transport/ssh/transport.ts';
import { canManageUsers, ensureTestUser, isSshdAvailable, removeTestUser, startSshd, testUserName, type Sshd } from '../helpers/sshd.ts';

const haveSshd = isSshdAvailable();
const haveUsers = haveSshd && canManageUsers();
if (!haveSshd) console.warn('\n*** /usr/sbin/sshd not found: SKIPPING the ssh settings tests (apt-get install openssh-server) ***\n');
else if (!haveUsers) console.warn('\n*** not root, or no useradd/sudo: SKIPPING the ansible_password and ansible_become_user tests ***\n');

const LOGIN = haveUsers ? testUserName('login') : userInfo().username;
const BECOME_TO = testUserName('become');
const PASSWORD = `pw ${randomBytes(6).toString('hex')} $(touch /tmp/nope)`;

/** A relay: logs its argv, then carries stdin/stdout to 127.0.0.1:PORT, whatever host it was given. */
const RELAY = `
import { connect } from 'node:net';
import { appendFileSync } from 'node:fs';
const [host, port, user, alias, log] = process.argv.slice(2);
appendFileSync(log, [host, port, user, alias].join(' ') + '\\n');
const sock = connect(Number(port), '127.0.0.1');
process.stdin.pipe(sock);
sock.pipe(process.stdout);
sock.on('close', () => process.exit(0));
sock.on('error', () => process.exit(1));
`;

describe.skipIf(!haveSshd)('connection settings against OpenSSH', { timeout: 20_000 }, () => {
  let sshd: Sshd;
  let work: string;
  const open: SshTransport[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'runbook-settings-'));
    mkdirSync(join(work, 'home', '.ssh'), { recursive: true }); // no stray keys or config
    writeFileSync(join(work, 'relay.mjs'), RELAY);
    writeFileSync(join(work, 'empty_known_hosts'), '');
    if (haveUsers) {
      await ensureTestUser(LOGIN, PASSWORD, 'nopasswd');
      await ensureTestUser(BECOME_TO, randomBytes(12).toString('hex'), 'none');
    }
    sshd = await startSshd({ passwordAuthentication: true, users: [LOGIN] });
  });
  afterAll(async () => {
    await sshd?.stop();
    rmSync(work, { recursive: true, force: true });
    if (haveUsers) { await removeTestUser(LOGIN); await removeTestUser(BECOME_TO); }
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });

  const host = (extra: Partial<InventoryHost> = {}): InventoryHost => ({
    name: 'db1', address: '127.0.0.1', port: sshd.port, user: LOGIN, connection: 'ssh', become: false,
    privateKeyFile: sshd.clientKeyFile, groups: ['all'], vars: {}, varSources: {}, ...extra,
  });
  const config = (lines: string[]): string => {
    const file = join(work, `config-${randomBytes(4).toString('hex')}`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  };
  const transport = (target: InventoryHost, options: SshOptions): SshTransport => {
    const t = createSshTransport(target, {
      home: join(work, 'home'), agent: false, knownHostsFiles: [join(work, 'empty_known_hosts')],
      projectKnownHostsFile: join(work, `project-${randomBytes(4).toString('hex')}`), ...options,
    });
    open.push(t);
    return t;
  };

  describe('ProxyCommand', () => {
    /** HostName target.internal does not resolve: only the relay can reach the server. */
    const proxied = (knownHostsLine: string) => {
      const log = join(work, `relay-${randomBytes(4).toString('hex')}.log`);
      const known = join(work, `known-${randomBytes(4).toString('hex')}`);
      writeFileSync(known, `${knownHostsLine}\n`);
      const file = config([
        'Host db',
        '  HostName target.internal',
        `  Port ${sshd.port}`,
        `  UserKnownHostsFile ${known}`,
        `  ProxyCommand ${process.execPath} ${join(work, 'relay.mjs')} %h %p %r %n ${log}`,
      ]);
      return { log, file };
    };
    const keyLine = () => sshd.knownHostsLine.replace(/^\S+/, `[target.internal]:${sshd.port}`);

    it('connects through the proxy command, tokens expanded, the host key checked for the HostName', async () => {
      const { log, file } = proxied(keyLine());
      const t = transport(host({ address: 'db', port: 22 }), { sshConfigFile: file });
      const result = await t.exec('echo through');
      expect(result.stdout).toBe('through\n');
      expect(readFileSync(log, 'utf8')).toBe(`target.internal ${sshd.port} ${LOGIN} db\n`);
    });

    it('refuses the key when it is known only for the address the relay really dialled', async () => {
      const { log, file } = proxied(sshd.knownHostsLine); // [127.0.0.1]:port only
      const t = transport(host({ address: 'db', port: 22 }), { sshConfigFile: file });
      const error = await t.connect().then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(HostKeyError);
      expect((error as Error).message).toMatch(new RegExp(`host key for \\[target\\.internal\\]:${sshd.port} is not known`));
      expect(readFileSync(log, 'utf8')).toContain('target.internal');
    });

    it('refuses an inventory address with shell syntax before running anything', async () => {
      const log = join(work, 'relay-never.log');
      const file = config(['Host *', `  ProxyCommand ${process.execPath} ${join(work, 'relay.mjs')} %h %p %r %n ${log}`]);
      const t = transport(host({ address: 'db;touch${IFS}/tmp/pwned', port: 22 }), { sshConfigFile: file });
      await expect(t.connect()).rejects.toThrow(InventoryError);
      await expect(t.connect()).rejects.toThrow(/host name "db;touch\$\{IFS\}\/tmp\/pwned" contains characters a shell would interpret/);
      expect(existsSync(log)).toBe(false);
    });

    it('reports a failing proxy command with its exit status and stderr, as unreachable', async () => {
      const file = config(['Host db', '  ProxyCommand sh -c "echo no route to %h >&2; exit 3"']);
      const error = await transport(host({ address: 'db', port: 22 }), { sshConfigFile: file }).connect().then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(UnreachableError);
      expect((error as Error).message).toContain('(through proxy command "sh -c \\"echo no route to db >&2; exit 3\\"" exited with 3: no route to db)');
    });

    it('comes from ansible_ssh_common_args too, as Ansible users write it', async () => {
      const log = join(work, 'relay-args.log');
      const known = join(work, 'known-args');
      writeFileSync(known, `${keyLine()}\n`);
      const args = `-o ProxyCommand="${process.execPath} ${join(work, 'relay.mjs')} %h %p %r %n ${log}" -o UserKnownHostsFile=${known} -o HostName=target.internal`;
      const t = transport(host({ address: 'db', vars: { ansible_ssh_common_args: args } }), { sshConfigFile: false });
      expect((await t.exec('echo ok')).stdout).toBe('ok\n');
      expect(readFileSync(log, 'utf8')).toBe(`target.internal ${sshd.port} ${LOGIN} db\n`);
    });
  });

  describe('host keys', () => {
    it('reads UserKnownHostsFile instead of the default files', async () => {
      const known = join(work, 'user-known');
      writeFileSync(known, `${sshd.knownHostsLine}\n`);
      await expect(transport(host(), { sshConfigFile: config(['Host 127.0.0.1', `  UserKnownHostsFile ${known}`]) }).connect()).resolves.toBeUndefined();
      await expect(transport(host(), { sshConfigFile: config(['Host other', `  UserKnownHostsFile ${known}`]) }).connect()).rejects.toThrow(HostKeyError);
    });

    it('records an unknown key for a host whose config says StrictHostKeyChecking accept-new, and only there', async () => {
      const project = join(work, 'accept-new-project');
      const file = config(['Host 127.0.0.1', '  StrictHostKeyChecking accept-new']);
      await transport(host(), { sshConfigFile: file, projectKnownHostsFile: project }).connect();
      expect(readFileSync(project, 'utf8')).toContain(sshd.hostPublicKey.split(' ')[1]);
      const strict = config(['Host 127.0.0.1', '  StrictHostKeyChecking yes']);
      await expect(transport(host(), { sshConfigFile: strict }).connect()).rejects.toThrow(/is not known.*--accept-new-host-keys/s);
    });

    it('refuses StrictHostKeyChecking no before connecting, pointing at --accept-new-host-keys', async () => {
      // A bare listener as the host: any connection attempt would show up as a count.
      let connections = 0;
      const listener = createServer((socket) => { connections++; socket.destroy(); });
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      try {
        const file = config(['Host *', '  StrictHostKeyChecking no', '  UserKnownHostsFile /dev/null']);
        const t = transport(host({ port: (listener.address() as AddressInfo).port }), { sshConfigFile: file });
        await expect(t.connect()).rejects.toThrow(InventoryError);
        await expect(t.connect()).rejects.toThrow(new RegExp(`host db1: StrictHostKeyChecking no \\(${file}:2\\) would connect to an unverified host key.*--accept-new-host-keys`));
        expect(connections).toBe(0);
      } finally {
        listener.close();
      }
    });
  });

  describe.skipIf(!haveUsers)('ansible_password and ansible_become_user (real users)', () => {
    const known = () => { const f = join(work, 'known-users'); writeFileSync(f, `${sshd.knownHostsLine}\n`); return f; };

    it('logs in with ansible_password, which never shows when the transport is inspected', async () => {
      const t = transport(host({ privateKeyFile: undefined, vars: { ansible_password: PASSWORD } }), { sshConfigFile: false, knownHostsFiles: [known()] });
      expect((await t.exec('id -un')).stdout).toBe(`${LOGIN}\n`);
      expect(sshd.log()).toMatch(new RegExp(`Accepted password for ${LOGIN}`));
      expect(inspect(t, { depth: 10 })).not.toContain(PASSWORD);
    });

    it('runs become commands as ansible_become_user, and as root without it', async () => {
      const as = (vars: Record<string, unknown>) => transport(host({ vars }), { sshConfigFile: false, knownHostsFiles: [known()] });
      expect((await as({ ansible_become_user: BECOME_TO }).exec('id -un', { sudo: true })).stdout).toBe(`${BECOME_TO}\n`);
      expect((await as({}).exec('id -un', { sudo: true })).stdout).toBe('root\n');
      expect((await as({ ansible_become_user: BECOME_TO }).exec('id -un')).stdout).toBe(`${LOGIN}\n`);
    });

    it('writes files as ansible_become_user with { sudo: true }', async () => {
      const dir = join(work, 'owned');
      mkdirSync(dir);
      chmodSync(dir, 0o777);
      chmodSync(work, 0o711);
      const t = transport(host({ vars: { ansible_become_user: BECOME_TO } }), { sshConfigFile: false, knownHostsFiles: [known()] });
      await t.put(join(dir, 'f'), 'x', 0o600, { sudo: true });
      expect((await t.exec(`stat -c %U ${join(dir, 'f')}`)).stdout).toBe(`${BECOME_TO}\n`);
    });
  });
});
