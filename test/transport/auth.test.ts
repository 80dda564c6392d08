import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { agentSocket, forgetPassphrase, identityCandidates, isEncryptedPrivateKey, readIdentities, sharedPrompt } from '../../src/transport/ssh/auth.ts';

describe('identityCandidates', () => {
  it('tries the inventory key, then the defaults ssh tries', () => {
    expect(identityCandidates({ inventoryKey: '/keys/lab', configured: [], home: '/home/op' })).toEqual([
      '/keys/lab', '/home/op/.ssh/id_ed25519', '/home/op/.ssh/id_ecdsa', '/home/op/.ssh/id_rsa',
    ]);
  });
  it('lets configured IdentityFiles replace the defaults, as ssh does', () => {
    expect(identityCandidates({ configured: ['/k/a', '/k/b', '/k/a'], home: '/home/op' })).toEqual(['/k/a', '/k/b']);
  });
});

describe('agentSocket', () => {
  it('ignores an unset or stale SSH_AUTH_SOCK', async () => {
    expect(await agentSocket({})).toBeUndefined();
    expect(await agentSocket({ SSH_AUTH_SOCK: '/nonexistent/agent.sock' })).toBeUndefined();
  });
});

describe('sharedPrompt', () => {
  it('asks once per key file however many hosts need it, and again after a wrong answer', async () => {
    const prompt = vi.fn(async (file: string) => `pass for ${file}`);
    const ask = sharedPrompt(prompt);
    const answers = await Promise.all([ask('/k/a'), ask('/k/a'), sharedPrompt(prompt)('/k/a'), ask('/k/b')]);
    expect(answers).toEqual(['pass for /k/a', 'pass for /k/a', 'pass for /k/a', 'pass for /k/b']);
    expect(prompt).toHaveBeenCalledTimes(2);
    forgetPassphrase(prompt, '/k/a');
    await ask('/k/a');
    expect(prompt).toHaveBeenCalledTimes(3);
  });
});

const hasKeygen = existsSync('/usr/bin/ssh-keygen');
if (!hasKeygen) console.warn('ssh-keygen not installed: skipping the key-format tests');

describe.skipIf(!hasKeygen)('isEncryptedPrivateKey on keys ssh-keygen wrote', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runbook-auth-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const make = (name: string, args: string[]) => {
    execFileSync('ssh-keygen', ['-q', '-a', '2', '-C', '', '-f', join(dir, name), ...args]); // -a 2: few KDF rounds, fast
    return join(dir, name);
  };

  it.each([
    ['ed25519, no passphrase', ['-t', 'ed25519', '-N', ''], false],
    ['ed25519, passphrase', ['-t', 'ed25519', '-N', 'secret phrase'], true],
    ['ecdsa, passphrase', ['-t', 'ecdsa', '-N', 'pw-secret'], true],
    ['rsa PEM, no passphrase', ['-t', 'rsa', '-b', '1024', '-m', 'PEM', '-N', ''], false],
    ['rsa PEM, passphrase', ['-t', 'rsa', '-b', '1024', '-m', 'PEM', '-N', 'pw-secret'], true],
    ['rsa PKCS8, passphrase', ['-t', 'rsa', '-b', '1024', '-m', 'PKCS8', '-N', 'pw-secret'], true],
  ])('%s', (name, args, encrypted) => {
    const file = make(name.replace(/\W+/g, '_'), args as string[]);
    expect(isEncryptedPrivateKey(readFileSync(file, 'utf8'))).toBe(encrypted);
  });

  it('reads the files that exist and skips the rest', async () => {
    const file = make('present', ['-t', 'ed25519', '-N', '']);
    const found = await readIdentities([join(dir, 'absent'), file]);
    expect(found.map((i) => [i.file, i.encrypted])).toEqual([[file, false]]);
  });
});
