import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InventoryError } from '../../src/errors.ts';
import type { InventoryHost } from '../../src/inventory/types.ts';
import { resolveRoute } from '../../src/transport/ssh-route.ts';

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
});
