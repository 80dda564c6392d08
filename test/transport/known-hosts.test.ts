import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkHostKey, entryMatchesHost, findHostEntries, fingerprintSha256, formatKnownHostLine, hostLookupName, keyKind,
  knownKeyTypes, parseKnownHosts, patternListMatches,
} from '../../src/transport/ssh/known-hosts.ts';

const hasKeygen = existsSync('/usr/bin/ssh-keygen');
if (!hasKeygen) console.warn('ssh-keygen not installed: skipping the known_hosts differential tests (apt-get install openssh-client)');

/** A key blob in wire form: string type, then the type-specific fields (random here). */
function fakeBlob(type: string, seed: number): Buffer {
  const typeBytes = Buffer.from(type);
  const body = Buffer.alloc(32, seed);
  const out = Buffer.alloc(4 + typeBytes.length + 4 + body.length);
  out.writeUInt32BE(typeBytes.length, 0);
  typeBytes.copy(out, 4);
  out.writeUInt32BE(body.length, 4 + typeBytes.length);
  body.copy(out, 8 + typeBytes.length);
  return out;
}

const KEY_A = fakeBlob('ssh-ed25519', 1);
const KEY_B = fakeBlob('ssh-ed25519', 2);
const KEY_RSA = fakeBlob('ssh-rsa', 3);
const b64 = (blob: Buffer) => blob.toString('base64');

describe('hostLookupName', () => {
  it.each([
    ['db1', 22, 'db1'],
    ['DB1.Example.COM', 22, 'db1.example.com'],
    ['10.0.0.5', 2222, '[10.0.0.5]:2222'],
    ['::1', 2200, '[::1]:2200'],
  ])('%s:%i → %s', (host, port, expected) => {
    expect(hostLookupName(host, port)).toBe(expected);
  });
});

describe('patternListMatches (OpenSSH match_hostname)', () => {
  it.each([
    ['db1', 'db1', true],
    ['db1,db2', 'db2', true],
    ['*.lab', 'web.lab', true],
    ['*.lab', 'lab', false],
    ['web?.lab', 'web1.lab', true],
    ['web?.lab', 'web10.lab', false],
    ['*.lab,!db.lab', 'db.lab', false],
    ['!db.lab,*.lab', 'db.lab', false],
    ['!db.lab', 'web.lab', false], // a negation alone never matches
    ['[10.0.0.5]:2222', '[10.0.0.5]:2222', true],
    ['[10.0.0.*]:2222', '[10.0.0.9]:2222', true],
    ['10.0.0.5', '[10.0.0.5]:2222', false],
    ['DB1', 'db1', true],
    ['a.b', 'axb', false], // dots are literal
  ])('%s vs %s → %s', (list, name, expected) => {
    expect(patternListMatches(list, name)).toBe(expected);
  });
});

describe('parseKnownHosts', () => {
  it('reads markers, comments, blank and broken lines as ssh does', () => {
    const text = [
      '# comment',
      '',
      `db1,db2 ssh-ed25519 ${b64(KEY_A)} comment here`,
      `@revoked * ssh-ed25519 ${b64(KEY_B)}`,
      `@cert-authority *.lab ssh-rsa ${b64(KEY_RSA)}`,
      `@bogus db1 ssh-ed25519 ${b64(KEY_A)}`,
      'db3 ssh-ed25519', // no key
      `db4 ssh-rsa ${b64(KEY_A)}`, // label does not match the blob
      `  db5\tssh-ed25519   ${b64(KEY_A)}`,
    ].join('\n');
    const entries = parseKnownHosts(text, '/kh');
    expect(entries.map((e) => [e.line, e.marker, e.hosts])).toEqual([
      [3, null, 'db1,db2'],
      [4, 'revoked', '*'],
      [5, 'cert-authority', '*.lab'],
      [9, null, 'db5'],
    ]);
    expect(entries[0].key.equals(KEY_A)).toBe(true);
  });
});

describe('checkHostKey', () => {
  const file = '/home/op/.ssh/known_hosts';
  const entries = parseKnownHosts([
    `db1 ssh-ed25519 ${b64(KEY_A)}`,
    `[db1]:2222 ssh-ed25519 ${b64(KEY_B)}`,
    `@revoked * ssh-ed25519 ${b64(fakeBlob('ssh-ed25519', 9))}`,
    `@cert-authority * ssh-ed25519 ${b64(fakeBlob('ssh-ed25519', 7))}`,
    `web ssh-rsa ${b64(KEY_RSA)}`,
  ].join('\n'), file);

  it('accepts the listed key', () => {
    expect(checkHostKey(entries, 'db1', KEY_A)).toMatchObject({ status: 'known', entry: { line: 1 } });
    expect(checkHostKey(entries, '[db1]:2222', KEY_B)).toMatchObject({ status: 'known', entry: { line: 2 } });
  });
  it('calls another key for a known host a change, naming the old entry', () => {
    expect(checkHostKey(entries, 'db1', KEY_B)).toMatchObject({ status: 'changed', known: [{ line: 1, file }] });
  });
  it('calls a key of another type for a known host a change too (no downgrade by key type)', () => {
    expect(checkHostKey(entries, 'web', KEY_A).status).toBe('changed');
  });
  it('reports an unknown host', () => {
    expect(checkHostKey(entries, 'db9', KEY_A).status).toBe('unknown');
  });
  it('refuses a revoked key even for an unknown host', () => {
    expect(checkHostKey(entries, 'db9', fakeBlob('ssh-ed25519', 9))).toMatchObject({ status: 'revoked', entry: { line: 3 } });
  });
  it('never takes a @cert-authority key as the host key', () => {
    expect(checkHostKey(entries, 'db9', fakeBlob('ssh-ed25519', 7)).status).toBe('unknown');
  });
  it('lists the known key types so they can be asked for first', () => {
    expect(knownKeyTypes(entries, 'web')).toEqual(['ssh-rsa']);
    expect(knownKeyTypes(entries, 'db9')).toEqual([]);
  });
});

describe('formatting', () => {
  it('writes the accept-new line', () => {
    expect(formatKnownHostLine('127.0.0.1', 2222, KEY_A)).toBe(`[127.0.0.1]:2222 ssh-ed25519 ${b64(KEY_A)}`);
    expect(formatKnownHostLine('Db1', 22, KEY_A)).toBe(`db1 ssh-ed25519 ${b64(KEY_A)}`);
  });
  it('names key kinds as ssh does', () => {
    expect(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa', 'ssh-dss'].map(keyKind)).toEqual(['ED25519', 'ECDSA', 'RSA', 'DSA']);
  });
});

describe.skipIf(!hasKeygen)('against OpenSSH ssh-keygen', () => {
  let dir: string;
  const keys: Record<string, string> = {};
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'runbook-kh-'));
    for (const type of ['ed25519', 'ecdsa', 'rsa']) {
      execFileSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-f', join(dir, type)]);
      keys[type] = readFileSync(join(dir, `${type}.pub`), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('computes the fingerprints ssh-keygen -lf prints', () => {
    for (const type of Object.keys(keys)) {
      const printed = execFileSync('ssh-keygen', ['-lf', join(dir, `${type}.pub`)], { encoding: 'utf8' }).split(' ')[1];
      expect(fingerprintSha256(Buffer.from(keys[type].split(' ')[1], 'base64'))).toBe(printed);
    }
  });

  /** Lines ssh-keygen -F reports for a lookup name (it prints "# Host NAME found: line N"). */
  const keygenFind = (file: string, name: string): number[] => {
    try {
      const out = execFileSync('ssh-keygen', ['-F', name, '-f', file], { encoding: 'utf8' });
      return [...out.matchAll(/found: line (\d+)/g)].map((m) => Number(m[1]));
    } catch {
      return []; // exit 1: not found
    }
  };

  // Lower-case only: ssh lower-cases the host before the lookup; ssh-keygen -F takes the name as given.
  const names = ['db1', 'db2', 'web.lab', 'db.lab', 'lab', '[10.0.0.5]:2222', '10.0.0.5', '[10.0.0.9]:2222', 'hashed.example', '[hashed.example]:2200', 'web1.lab', 'web10.lab', 'other'];

  it('finds the same lines as ssh-keygen -F, plain, wildcard, negated, markers and hashed', () => {
    const file = join(dir, 'known_hosts');
    const plain = [
      `db1,db2 ${keys.ed25519}`,
      `*.lab,!db.lab ${keys.ecdsa}`,
      `[10.0.0.5]:2222 ${keys.rsa}`,
      `[10.0.0.*]:2222 ${keys.ed25519}`,
      `web?.lab ${keys.rsa}`,
      `@revoked db2 ${keys.rsa}`,
      `@cert-authority *.lab ${keys.ed25519}`,
      `hashed.example ${keys.ed25519}`,
      `[hashed.example]:2200 ${keys.ecdsa}`,
    ].join('\n');
    writeFileSync(file, `${plain}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' }); // hashes every plain name in place
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('|1|');
    const entries = parseKnownHosts(text, file);
    for (const name of names) {
      const ours = findHostEntries(entries, hostLookupName(...splitName(name))).map((e) => e.line);
      expect({ name, lines: ours }).toEqual({ name, lines: keygenFind(file, name) });
    }
  });

  it('matches hashed entries ssh-keygen -H wrote, case-insensitively like ssh', () => {
    const file = join(dir, 'hashed');
    writeFileSync(file, `[db1.example]:2222 ${keys.ed25519}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const [entry] = parseKnownHosts(readFileSync(file, 'utf8'), file);
    expect(entry.hosts.startsWith('|1|')).toBe(true);
    expect(entryMatchesHost(entry, hostLookupName('DB1.example', 2222))).toBe(true);
    expect(entryMatchesHost(entry, hostLookupName('db1.example', 22))).toBe(false);
  });
});

/** `[h]:p` → [h, p]; `h` → [h, 22] (how a name given to ssh-keygen -F maps to host and port). */
function splitName(name: string): [string, number] {
  const bracketed = /^\[(.+)\]:(\d+)$/.exec(name);
  return bracketed ? [bracketed[1], Number(bracketed[2])] : [name, 22];
}
