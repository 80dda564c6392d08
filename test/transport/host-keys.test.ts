import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UnreachableError } from '../../src/errors.ts';
import { HostKeyChecker } from '../../src/transport/ssh/host-keys.ts';
import { fingerprintSha256 } from '../../src/transport/ssh/known-hosts.ts';
import { AuthenticationError, connectError, HandshakeDroppedError, HostKeyError } from '../../src/transport/ssh/errors.ts';

function blob(seed: number): Buffer {
  const type = Buffer.from('ssh-ed25519');
  const out = Buffer.alloc(4 + type.length + 4 + 32, seed);
  out.writeUInt32BE(type.length, 0);
  type.copy(out, 4);
  out.writeUInt32BE(32, 4 + type.length);
  return out;
}

describe('HostKeyChecker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runbook-hostkeys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('records a new host once even when many connections meet it at the same moment', async () => {
    const recordFile = join(dir, 'sub', 'known_hosts');
    const checker = new HostKeyChecker({ files: [join(dir, 'absent'), recordFile], recordFile, acceptNew: true });
    const decisions = await Promise.all(Array.from({ length: 5 }, () => checker.verify('10.0.0.5', 2222, blob(1))));
    expect(decisions.every((d) => d.ok)).toBe(true);
    expect(readFileSync(recordFile, 'utf8')).toBe(`[10.0.0.5]:2222 ssh-ed25519 ${blob(1).toString('base64')}\n`);
    expect(statSync(recordFile).mode & 0o777).toBe(0o600);
    expect(await checker.verify('10.0.0.5', 2222, blob(2))).toMatchObject({ ok: false, reason: expect.stringContaining(`${recordFile}:1`) });
  });

  it('starts a new line when the file lacks a final newline', async () => {
    const recordFile = join(dir, 'no_newline');
    writeFileSync(recordFile, `other ssh-ed25519 ${blob(3).toString('base64')}`);
    await new HostKeyChecker({ files: [recordFile], recordFile, acceptNew: true }).verify('db1', 22, blob(4));
    expect(readFileSync(recordFile, 'utf8').split('\n')).toEqual([`other ssh-ed25519 ${blob(3).toString('base64')}`, `db1 ssh-ed25519 ${blob(4).toString('base64')}`, '']);
  });

  it('sees every change to a file at once, though it parses an unchanged file only once', async () => {
    const file = join(dir, 'changing');
    const checker = new HostKeyChecker({ files: [file], recordFile: file, acceptNew: false });
    const line = (seed: number) => `db2 ssh-ed25519 ${blob(seed).toString('base64')}\n`;
    writeFileSync(file, line(6));
    expect(await checker.verify('db2', 22, blob(6))).toEqual({ ok: true });
    writeFileSync(file, line(7)); // same size, same second: only the content differs
    expect(await checker.verify('db2', 22, blob(6))).toMatchObject({ ok: false, reason: expect.stringContaining('HAS CHANGED') });
    expect(await checker.verify('db2', 22, blob(7))).toEqual({ ok: true });
    writeFileSync(`${file}.new`, `@revoked ${line(7)}`);
    renameSync(`${file}.new`, file); // replaced by rename, as ssh-keygen -R does
    expect(await checker.verify('db2', 22, blob(7))).toMatchObject({ ok: false, reason: expect.stringContaining('REVOKED') });
    rmSync(file);
    expect(await checker.verify('db2', 22, blob(7))).toMatchObject({ ok: false, reason: expect.stringContaining('not known') });
  });

  it('explains an unknown host with the fingerprint and the files it looked in', async () => {
    const checker = new HostKeyChecker({ files: [join(dir, 'a'), join(dir, 'b')], recordFile: join(dir, 'b'), acceptNew: false });
    const decision = await checker.verify('db9', 22, blob(5));
    expect(decision).toMatchObject({ ok: false });
    const reason = (decision as { reason: string }).reason;
    expect(reason).toContain(fingerprintSha256(blob(5)));
    expect(reason).toContain(`${join(dir, 'a')}, ${join(dir, 'b')}`);
    expect(reason).toContain('--accept-new-host-keys');
  });
});

describe('connectError', () => {
  const base = { where: 'root@10.0.0.9:22', timeoutMs: 15000, tried: [] as string[] };
  it.each([
    [{ message: 'x', code: 'ECONNREFUSED' }, /connection refused by root@10\.0\.0\.9:22/],
    [{ message: 'x', code: 'ENOTFOUND' }, /cannot resolve/],
    [{ message: 'x', code: 'EHOSTUNREACH' }, /no route to/],
    [{ message: 'timeout', code: 'RUNBOOK_TIMEOUT' }, /timed out after 15000 ms connecting to root@10\.0\.0\.9:22/],
    [{ message: 'Connection lost before handshake' }, /closed the connection before the handshake/],
    [{ message: 'weird' }, /ssh to root@10\.0\.0\.9:22 failed: weird/],
  ])('%o', (error, message) => {
    const mapped = connectError('db1', { ...base, error });
    expect(mapped).toBeInstanceOf(UnreachableError);
    expect(mapped.reason).toMatch(message);
  });
  it('puts a host key refusal first, whatever the socket said', () => {
    expect(connectError('db1', { ...base, error: { message: 'Host denied' }, hostKeyRefusal: 'changed!' })).toBeInstanceOf(HostKeyError);
  });
  it('lists what auth tried and what the server accepts', () => {
    const error = connectError('db1', { ...base, error: { message: 'All configured authentication methods failed', level: 'client-authentication' }, tried: ['agent (/s)', 'key /k'], serverMethods: ['publickey'] });
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error.message).toBe('db1: unreachable: authentication failed for root@10.0.0.9:22; tried agent (/s), key /k; the server accepts: publickey');
  });
  it('marks a drop before the banner as worth retrying', () => {
    expect(connectError('db1', { ...base, error: { message: 'read ECONNRESET', code: 'ECONNRESET' } })).toBeInstanceOf(HandshakeDroppedError);
  });
});
