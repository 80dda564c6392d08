import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isValidHostName, isValidRemoteUser, proxyCommandLine } from '../../src/transport/ssh/proxy-command.ts';

const tokens = { host: '10.0.0.9', port: 2222, user: 'ops', alias: 'db' };
const fail = (message: string) => new Error(message);

describe('proxyCommandLine', () => {
  it('expands %h %p %r %n %% as OpenSSH does', () => {
    expect(proxyCommandLine('ssh -W %h:%p -l %r bastion # %n 100%%', tokens, fail)).toBe('ssh -W 10.0.0.9:2222 -l ops bastion # db 100%');
  });
  it('refuses an unknown token (ssh: "percent_expand: unknown key")', () => {
    expect(() => proxyCommandLine('nc %h %Z', tokens, fail)).toThrow('unknown token %Z');
  });
  it.each([
    [{ host: 'a;reboot' }, 'host name "a;reboot"'],
    [{ alias: '$(id)' }, 'host name "$(id)"'],
    [{ user: 'x`id`' }, 'user "x`id`"'],
  ])('refuses values with shell syntax: %j', (bad, message) => {
    expect(() => proxyCommandLine('nc %h %p', { ...tokens, ...bad }, fail)).toThrow(message);
  });
});

const hasSsh = existsSync('/usr/bin/ssh');

/** Whether `ssh -G` accepts the name as a host (`ssh NAME`) or as a user (`ssh -l NAME`). */
const sshAccepts = (args: string[]): boolean => {
  try {
    execFileSync('ssh', ['-G', '-F', '/dev/null', ...args], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

describe.skipIf(!hasSsh)('name checks against ssh -G (OpenSSH is the oracle)', () => {
  const NAMES = ['db', 'db-1.lab', '10.0.0.9', '::1', 'a b', 'a;b', 'a$b', 'a`b', 'a|b', 'a&b', 'a(b', 'a{b', 'a<b', "a'b", 'a"b', 'a\\b', '-oProxyCommand=x', 'a\tb', 'a-b', 'host$', 'a -b', 'ab\\', 'ä'];
  it.each(NAMES)('host %j', (name) => {
    expect(isValidHostName(name)).toBe(sshAccepts(['--', name]));
  });
  it.each(NAMES)('user %j', (name) => {
    expect(isValidRemoteUser(name)).toBe(sshAccepts(['-l', name, 'host']));
  });
});
