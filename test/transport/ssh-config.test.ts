import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InventoryError } from '../../src/errors.ts';
import { parseJumpSpec, parseSshConfig, resolveSshConfig, type ResolveContext } from '../../src/transport/ssh/config.ts';

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
    expect(resolve('web.lab')).toMatchObject({
      hostName: 'web.lab.internal',
      port: 2222,
      user: 'ops',
      identityFiles: ['/home/op/.ssh/lab_ops', '/keys/web.lab.internal'],
      proxyJump: 'ops@bastion:22',
      serverAliveIntervalS: 30,
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
  it('applies Match blocks', () => {
    expect(resolve('foo').user).toBe('matched');
  });
  it('leaves an unconfigured alias as it is', () => {
    expect(resolveSshConfig(parseSshConfig(''), 'db9', context)).toEqual({ hostName: 'db9', identityFiles: [], sources: {} });
  });
  it('names where each winning value came from', () => {
    expect(resolveSshConfig(parseSshConfig(CONFIG, '/cfg'), 'db', context).sources).toMatchObject({ hostname: '/cfg:6', port: '/cfg:7', proxyjump: '/cfg:10' });
  });
});

describe('refusals: a setting runbook would otherwise ignore', () => {
  const refusal = (text: string, alias = 'db', extra: ResolveContext = {}) => {
    try {
      resolveSshConfig(parseSshConfig(text, '/etc/cfg'), alias, { ...context, hostLabel: 'db1', ...extra });
    } catch (error) {
      expect(error).toBeInstanceOf(InventoryError);
      return (error as Error).message;
    }
    return 'accepted';
  };
  it.each([
    ['Host db\n  Ciphers aes128-ctr\n', '/etc/cfg:2: host db1: ssh config: Ciphers aes128-ctr is not supported'],
    ['Host *\n  HostKeyAlias other\n', '/etc/cfg:2: host db1: ssh config: HostKeyAlias other is not supported'],
    ['Host db\n  NoSuchKeyword x\n', '/etc/cfg:2: host db1: ssh config: NoSuchKeyword x is not supported'],
    ['Match host db exec "test -f /x"\n  Port 2\n', '/etc/cfg:1: host db1: ssh config: Match exec is not supported'],
    ['Match localnetwork 10.0.0.0/8\n  Port 2\n', '/etc/cfg:1: host db1: ssh config: Match localnetwork is not supported'],
    ['Host db\n  CanonicalizeHostname yes\n', '/etc/cfg:2: host db1: ssh config: CanonicalizeHostname yes is not supported'],
    ['Host db\n  StrictHostKeyChecking maybe\n', '/etc/cfg:2: host db1: ssh config: StrictHostKeyChecking maybe is not one of'],
  ])('%j', (text, message) => {
    expect(refusal(text)).toContain(message);
  });
  it.each([
    ['a keyword in a block that does not apply', 'Host other\n  Ciphers aes128-ctr\n'],
    ['Match exec after a criterion that already failed (ssh skips it too)', 'Match host other exec "false"\n  Port 2\n'],
    ['a keyword listed in IgnoreUnknown', 'IgnoreUnknown UseKeychain,Foo*\nHost db\n  FooBar 1\n'],
    ['keywords OpenSSH itself ignores (deprecated)', 'Host *\n  UseRoaming no\n  Protocol 2\n  RSAAuthentication yes\n'],
    ['harmless settings of an interactive ssh', 'Host *\n  ServerAliveInterval 30\n  ControlMaster auto\n  ForwardAgent yes\n  AddKeysToAgent yes\n  CanonicalizeHostname no\n'],
  ])('accepts %s', (_what, text) => {
    expect(refusal(text)).toBe('accepted');
  });
});

describe('Include', () => {
  const home = mkdtempSync(join(tmpdir(), 'runbook-sshinc-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  it('reads relative paths under ~/.ssh, globs in order, inside the including block', () => {
    mkdirSync(join(home, '.ssh', 'conf.d'), { recursive: true });
    writeFileSync(join(home, '.ssh', 'conf.d', '20-b.conf'), 'Host db\n  User second\n  Port 2020\n');
    writeFileSync(join(home, '.ssh', 'conf.d', '10-a.conf'), 'Host db\n  User first\nHost other\n  Port 1\n');
    const text = 'Host db web\n  Include conf.d/*.conf\n  IdentityFile ~/k\nHost *\n  Port 9\n';
    expect(resolveSshConfig(parseSshConfig(text), 'db', { home, localUser: 'op' })).toMatchObject({ user: 'first', port: 2020, identityFiles: [join(home, 'k')] });
    // Included files' own Host lines end at the file's end: `Host other` does not swallow IdentityFile.
    expect(resolveSshConfig(parseSshConfig(text), 'web', { home, localUser: 'op' })).toMatchObject({ port: 9, identityFiles: [join(home, 'k')] });
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

/** Configs run through both resolvers; each alias (and `-l user`) must come out the same. */
const DIFFERENTIAL: Array<{ name: string; config: string; aliases: string[]; user?: string }> = [
  { name: 'the config above', config: CONFIG, aliases: ['web.lab', 'db', 'bad.lab', 'bastion', 'other', 'foo'] },
  {
    name: 'Match host/originalhost/user/localuser, negation, first value wins',
    config: [
      'Host db', '  HostName %h.lab', 'Match host db.lab', '  User fromhost', 'Match originalhost DB', '  Port 4',
      'Match !host *.lab', '  Port 5', 'Match user ops', '  ConnectTimeout 9', 'Match localuser root,op', '  ServerAliveInterval 11',
      'Match all', '  User everyone', '  StrictHostKeyChecking accept-new', '  UserKnownHostsFile ~/kh %d/kh_%h_%p',
    ].join('\n'),
    aliases: ['db', 'DB', 'web', 'x.lab'],
  },
  { name: 'the same with -l ops', config: 'Match user ops\n  Port 7\nHost *\n  User nobody\nMatch user nobody\n  Port 8\n', aliases: ['db'], user: 'ops' },
  { name: 'Match user sees User set earlier', config: 'Match user ops\n  Port 9\nHost *\n  User ops\nMatch user ops\n  Port 10\n', aliases: ['db'] },
  {
    name: 'Match final and canonical: a second pass where Host matches the HostName',
    config: 'Host db\n  HostName 10.0.0.9\nHost 10.0.0.9\n  User byaddress\nMatch canonical\n  ConnectTimeout 3\nMatch final\n  Port 1\n',
    aliases: ['db', 'web'],
  },
  { name: 'Match canonical without a final pass never matches', config: 'Match canonical\n  User can\n', aliases: ['db'] },
  { name: 'Host patterns are case-sensitive, %h is lower-cased', config: 'Host D*\n  HostName %h.lab\nHost db\n  Port 3\n', aliases: ['DB', 'db', 'Db'] },
  { name: 'ProxyCommand and ProxyJump share one slot', config: 'Host a\n  ProxyCommand none\n  ProxyJump j\nHost b\n  ProxyJump j\n  ProxyCommand nc %h %p\nHost c\n  ProxyCommand ssh -W %h:%p bastion\nHost e\n  ProxyCommand=sh -c "nc  %h %p"  # not a comment\nHost *\n  ProxyJump k\n', aliases: ['a', 'b', 'c', 'd', 'e'] },
];

describe.skipIf(!hasSsh)('against ssh -G (OpenSSH is the oracle)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runbook-sshcfg-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const FIELDS = ['hostname', 'port', 'user', 'proxyjump', 'proxycommand', 'connecttimeout', 'serveraliveinterval', 'stricthostkeychecking', 'userknownhostsfile'] as const;
  /** ssh -G's view of the fields runbook resolves. */
  const sshG = (file: string, alias: string, user?: string) => {
    const args = ['-G', '-F', file, ...(user ? ['-l', user] : []), alias];
    const out = execFileSync('ssh', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const get = (key: string) => out.split('\n').find((l) => l.startsWith(`${key} `))?.slice(key.length + 1);
    return Object.fromEntries(FIELDS.map((field) => [field, get(field)]));
  };
  const ours = (config: string, file: string, alias: string, user?: string) => {
    const host = resolveSshConfig(parseSshConfig(config, file), alias, { home: homedir(), localUser: userInfo().username, user });
    return {
      hostname: host.hostName, port: String(host.port ?? 22), user: user ?? host.user ?? userInfo().username,
      proxyjump: host.proxyJump, proxycommand: host.proxyCommand,
      connecttimeout: host.connectTimeoutS === undefined ? 'none' : String(host.connectTimeoutS),
      serveraliveinterval: String(host.serverAliveIntervalS ?? 0),
      stricthostkeychecking: host.strictHostKeyChecking ?? 'ask',
      userknownhostsfile: (host.userKnownHostsFiles ?? [join(homedir(), '.ssh', 'known_hosts'), join(homedir(), '.ssh', 'known_hosts2')]).join(' '),
    };
  };

  const cases = DIFFERENTIAL.flatMap((c) => c.aliases.map((alias) => ({ ...c, alias })));
  it.each(cases)('$name: $alias', ({ config, alias, user }) => {
    const file = join(dir, 'config');
    writeFileSync(file, config);
    expect(ours(config, file, alias, user)).toEqual(sshG(file, alias, user));
  });

  it('agrees on Include with a glob (absolute path)', () => {
    mkdirSync(join(dir, 'inc.d'), { recursive: true });
    writeFileSync(join(dir, 'inc.d', 'b.conf'), 'Host db\n  User b\n  Port 2002\n');
    writeFileSync(join(dir, 'inc.d', 'a.conf'), 'Host db\n  User a\nHost other\n  Port 1\n');
    const config = `Host db web\n  Include ${dir}/inc.d/*.conf\n  ConnectTimeout 4\nHost *\n  Port 9\n`;
    const file = join(dir, 'config');
    writeFileSync(file, config);
    for (const alias of ['db', 'web', 'other']) expect(ours(config, file, alias)).toEqual(sshG(file, alias));
  });
});
