import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseJumpSpec, parseSshConfig, resolveSshConfig } from '../../src/transport/ssh-config.ts';

const CONFIG = `
# global options apply to every host, but only where nothing earlier set them
ServerAliveInterval 30

Host db *.lab !bad.lab
  HostName %h.internal
  Port 2222
  User ops
  IdentityFile ~/.ssh/lab_%r
  ProxyJump ops@bastion:22

Host "quoted host"
  HostName=10.0.0.7
  port=2200

Match host foo
  User matched

Host bastion
  HostName 192.0.2.1
  ProxyJump none

Host *
  User nobody
  Port 22
  IdentityFile /keys/%h
`;

const context = { home: '/home/op', localUser: 'op' };
const resolve = (alias: string) => resolveSshConfig(parseSshConfig(CONFIG), alias, context);

describe('resolveSshConfig', () => {
  it('applies the first matching value and accumulates IdentityFile', () => {
    expect(resolve('web.lab')).toEqual({
      hostName: 'web.lab.internal',
      port: 2222,
      user: 'ops',
      identityFiles: ['/home/op/.ssh/lab_ops', '/keys/web.lab.internal'],
      proxyJump: 'ops@bastion:22',
    });
  });
  it('honours negated patterns', () => {
    expect(resolve('bad.lab')).toMatchObject({ hostName: 'bad.lab', port: 22, user: 'nobody' });
  });
  it('reads Keyword=value and quoted patterns', () => {
    expect(resolve('quoted host')).toMatchObject({ hostName: '10.0.0.7', port: 2200 });
    expect(resolve('host')).toMatchObject({ hostName: 'host' }); // one quoted pattern, not two
  });
  it('treats ProxyJump none as no jump', () => {
    expect(resolve('bastion').proxyJump).toBeUndefined();
  });
  it('never applies Match blocks', () => {
    expect(resolve('foo').user).toBe('nobody');
  });
  it('leaves an unconfigured alias as it is', () => {
    expect(resolveSshConfig(parseSshConfig(''), 'db9', context)).toEqual({ hostName: 'db9', port: undefined, user: undefined, identityFiles: [], proxyJump: undefined });
  });
});

describe('parseJumpSpec', () => {
  it.each([
    ['bastion', [{ host: 'bastion' }]],
    ['ops@bastion:2222', [{ user: 'ops', host: 'bastion', port: 2222 }]],
    ['a, b@c:23', [{ host: 'a' }, { user: 'b', host: 'c', port: 23 }]],
    ['ssh://ops@bastion:2200', [{ user: 'ops', host: 'bastion', port: 2200 }]],
    ['[::1]:2222', [{ host: '::1', port: 2222 }]],
    ['me@corp@bastion', [{ user: 'me@corp', host: 'bastion' }]],
  ])('%s', (spec, hops) => {
    expect(parseJumpSpec(spec)).toEqual(hops);
  });
  it.each(['@bastion', 'bastion:99999', 'bastion:x'])('refuses %s', (spec) => {
    expect(() => parseJumpSpec(spec)).toThrow(/malformed jump host/);
  });
});

const hasSsh = existsSync('/usr/bin/ssh');
if (!hasSsh) console.warn('ssh client not installed: skipping the ssh -G differential test (apt-get install openssh-client)');

describe.skipIf(!hasSsh)('against ssh -G', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runbook-sshcfg-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** ssh -G's view of hostname, port, user and proxyjump for one alias. */
  const sshG = (file: string, alias: string) => {
    const out = execFileSync('ssh', ['-G', '-F', file, alias], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const get = (key: string) => out.split('\n').find((l) => l.toLowerCase().startsWith(`${key} `))?.slice(key.length + 1);
    return { hostName: get('hostname'), port: Number(get('port')), user: get('user'), proxyJump: get('proxyjump') };
  };

  it.each(['web.lab', 'db', 'bad.lab', 'bastion', 'other'])('agrees on %s', (alias) => {
    const file = join(dir, 'config');
    writeFileSync(file, CONFIG.replace(/^Match host foo\n {2}User matched\n/m, ''));
    const ours = resolveSshConfig(parseSshConfig(CONFIG), alias, { home: '/root', localUser: 'root' });
    const theirs = sshG(file, alias);
    expect({ hostName: ours.hostName, port: ours.port ?? 22, user: ours.user ?? 'root', proxyJump: ours.proxyJump })
      .toEqual({ ...theirs, proxyJump: theirs.proxyJump });
  });
});
