/**
 * hostKey: reading the key a host presents (a real sshd on loopback, no authentication) and
 * replacing a host's lines in a known_hosts file.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as hostKey from '../../src/tasks/host-key.ts';
import { fingerprintSha256 } from '../../src/transport/ssh/known-hosts.ts';
import { isSshdAvailable, startSshd, type Sshd } from '../helpers/sshd.ts';

const KEY_A = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'base64');
const KEY_B = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'base64');
const HOST = { name: 'xs-03', address: '127.0.0.1', port: 2203 };

describe('hostKey.replaceKnownHost', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'host-key-test-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces the host\'s plain lines by one for the new key, keeps other hosts and markers, mode 0600', () => {
    const path = join(dir, 'known_hosts');
    const other = `[127.0.0.1]:2201 ssh-ed25519 ${KEY_B.toString('base64')}`;
    const revoked = `@revoked [127.0.0.1]:2203 ssh-ed25519 ${KEY_B.toString('base64')}`;
    writeFileSync(path, `${other}\n[127.0.0.1]:2203 ssh-ed25519 ${KEY_B.toString('base64')}\n${revoked}\n`);
    expect(hostKey.replaceKnownHost(path, HOST, KEY_A)).toBe(1);
    expect(readFileSync(path, 'utf8')).toBe(`${other}\n${revoked}\n[127.0.0.1]:2203 ssh-ed25519 ${KEY_A.toString('base64')}\n`);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('creates the file when there is none', () => {
    const path = join(dir, 'fresh_known_hosts');
    expect(hostKey.replaceKnownHost(path, HOST, KEY_A)).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe(`[127.0.0.1]:2203 ssh-ed25519 ${KEY_A.toString('base64')}\n`);
  });

  it('the project known_hosts lives in the state folder', () => {
    expect(hostKey.projectKnownHosts({ RUNBOOK_STATE_DIR: '/srv/state' })).toBe('/srv/state/known_hosts');
    expect(hostKey.projectKnownHosts({})).toBe('.runbook/known_hosts');
  });
});

describe.runIf(isSshdAvailable())('hostKey.presented (real sshd on loopback)', () => {
  let sshd: Sshd;
  beforeAll(async () => { sshd = await startSshd(); }, 30_000);
  afterAll(async () => { await sshd?.stop(); });

  it('reads the key the server presents without authenticating', async () => {
    const key = await hostKey.presented({ name: 'lab', address: sshd.host, port: sshd.port, user: 'nobody' });
    expect(key.equals(sshd.hostKeyBlob)).toBe(true);
    expect(hostKey.fingerprint(key)).toBe(fingerprintSha256(sshd.hostKeyBlob));
    expect(sshd.log()).not.toMatch(/Accepted /);
  }, 30_000);

  it('a host that does not answer presented no key', async () => {
    await expect(hostKey.presented({ name: 'gone', address: '127.0.0.1', port: 1, user: 'nobody' })).rejects.toThrow('gone ([127.0.0.1]:1) presented no host key: is it up?');
  }, 30_000);
});
