import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InventoryError } from '../../src/errors.ts';
import type { InventoryHost } from '../../src/inventory/types.ts';
import { describeRoute, resolveRoute } from '../../src/transport/ssh/route.ts';

const dir = mkdtempSync(join(tmpdir(), 'runbook-route-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const config = join(dir, 'config');
writeFileSync(config, [
  'Host db', '  HostName 10.0.0.9', '  Port 2222', '  User ops', '  IdentityFile /keys/db', '  ProxyJump bastion',
  'Host bastion', '  HostName 192.0.2.1', '  User jumper', '  IdentityFile /keys/bastion',
].join('\n'));

const host = (extra: Partial<InventoryHost> = {}): InventoryHost => ({
  name: 'db1', address: 'db', port: 22, connection: 'ssh', become: false, groups: ['all'], vars: {}, varSources: {}, ...extra,
});
const options = { home: '/home/op', sshConfigFile: config };

describe('resolveRoute', () => {
  it('takes HostName, Port, User, IdentityFile and ProxyJump from the config', async () => {
    expect(await resolveRoute(host(), options)).toEqual([
      { host: '192.0.2.1', port: 22, user: 'jumper', identityFiles: ['/keys/bastion'] },
      { host: '10.0.0.9', port: 2222, user: 'ops', identityFiles: ['/keys/db'] },
    ]);
  });

  it('lets the inventory win: port, user, key (first), jump var', async () => {
    const route = await resolveRoute(host({ port: 2200, user: 'root', privateKeyFile: '/inv/key', vars: { jump: 'me@hop:2022' } }), options);
    expect(route).toEqual([
      { host: 'hop', port: 2022, user: 'me', identityFiles: ['/home/op/.ssh/id_ed25519', '/home/op/.ssh/id_ecdsa', '/home/op/.ssh/id_rsa'] },
      { host: '10.0.0.9', port: 2200, user: 'root', identityFiles: ['/inv/key', '/keys/db'] },
    ]);
  });

  it('falls back to the local user, port 22 and the default keys without a config', async () => {
    expect(await resolveRoute(host({ address: '10.1.1.1' }), { home: '/home/op', sshConfigFile: false })).toEqual([
      { host: '10.1.1.1', port: 22, user: userInfo().username, identityFiles: ['/home/op/.ssh/id_ed25519', '/home/op/.ssh/id_ecdsa', '/home/op/.ssh/id_rsa'] },
    ]);
  });

  it('reports a malformed jump var as an inventory error naming where it came from', async () => {
    const bad = host({ vars: { jump: '@nowhere' }, varSources: { jump: 'inventory/prod.yaml:7 (group dc1)' } });
    await expect(resolveRoute(bad, options)).rejects.toThrow(InventoryError);
    await expect(resolveRoute(bad, options)).rejects.toThrow(/inventory\/prod\.yaml:7/);
  });

  it('expands ProxyCommand for the first hop and describes the route', async () => {
    const file = join(dir, 'proxy');
    writeFileSync(file, 'Host db\n  HostName 10.0.0.9\n  User ops\n  ProxyCommand ssh -W %h:%p -l %r gw # %n\n');
    const route = await resolveRoute(host(), { home: '/home/op', sshConfigFile: file });
    expect(route[0].proxyCommand).toBe('ssh -W 10.0.0.9:22 -l ops gw # db');
    expect(describeRoute(route)).toBe('ops@10.0.0.9:22 via proxy command "ssh -W 10.0.0.9:22 -l ops gw # db"');
    expect(describeRoute(await resolveRoute(host(), options))).toBe('ops@10.0.0.9:2222 via jump jumper@192.0.2.1:22');
  });

  it('takes ansible_ssh_common_args as ssh\'s command line: it wins over the config, ansible_port wins over it', async () => {
    const args = { ansible_ssh_common_args: '-p 2300 -l argsuser -J hop2 -i /args/key' };
    const route = await resolveRoute(host({ vars: args }), options);
    expect(route.map((hop) => [hop.host, hop.port, hop.user])).toEqual([['hop2', 22, userInfo().username], ['10.0.0.9', 2300, 'argsuser']]);
    expect(route[1].identityFiles).toEqual(['/args/key', '/keys/db']);
    const withPort = await resolveRoute(host({ port: 2022, vars: { ...args, ansible_port: 2022 } }), options);
    expect(withPort[1].port).toBe(2022);
  });

  it('reads the config named by -F in ansible_ssh_common_args instead of --ssh-config', async () => {
    const other = join(dir, 'other');
    writeFileSync(other, 'Host db\n  HostName 10.9.9.9\n');
    const route = await resolveRoute(host({ vars: { ansible_ssh_common_args: `-F ${other}` } }), options);
    expect(route).toEqual([expect.objectContaining({ host: '10.9.9.9', port: 22 })]);
  });

  it('refuses a --ssh-config file that does not exist', async () => {
    await expect(resolveRoute(host(), { home: '/home/op', sshConfigFile: join(dir, 'missing') })).rejects.toThrow(/ssh config file not found: .*missing/);
  });

  it('carries per-hop settings: known hosts files, accept-new, timeouts, agent', async () => {
    const file = join(dir, 'settings');
    writeFileSync(file, [
      'Host db', '  UserKnownHostsFile ~/kh_%h', '  StrictHostKeyChecking accept-new', '  ConnectTimeout 7',
      '  ServerAliveInterval 5', '  ServerAliveCountMax 2', '  IdentityAgent ~/agent.sock',
      'Host db2', '  IdentitiesOnly yes', 'Host db3', '  IdentityAgent none',
    ].join('\n'));
    const [db] = await resolveRoute(host(), { home: '/home/op', sshConfigFile: file });
    expect(db).toMatchObject({
      knownHostsFiles: ['/home/op/kh_db', '/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'], acceptNewHostKey: true,
      connectTimeoutMs: 7000, keepaliveIntervalMs: 5000, keepaliveCountMax: 2, agent: '/home/op/agent.sock',
    });
    expect((await resolveRoute(host({ address: 'db2' }), { home: '/home/op', sshConfigFile: file }))[0].agent).toBe(false);
    expect((await resolveRoute(host({ address: 'db3' }), { home: '/home/op', sshConfigFile: file }))[0].agent).toBe(false);
    expect((await resolveRoute(host({ vars: { ansible_timeout: 30 } }), { home: '/home/op', sshConfigFile: file }))[0].connectTimeoutMs).toBe(30_000);
  });

  it('runs the first jump host\'s ProxyCommand, and ignores later hops\' (ssh -J reaches them through the jump)', async () => {
    const file = join(dir, 'jump-proxy');
    writeFileSync(file, 'Host db\n  ProxyJump bastion\n  ProxyCommand nc never %h\nHost bastion\n  HostName 192.0.2.1\n  ProxyCommand nc %h %p # %n\n');
    const route = await resolveRoute(host(), { home: '/home/op', sshConfigFile: file });
    expect(route.map((hop) => hop.proxyCommand)).toEqual(['nc 192.0.2.1 22 # bastion', undefined]);
  });
});
