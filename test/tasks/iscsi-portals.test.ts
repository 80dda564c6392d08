// Portal validation and ping (src/tasks/net.ts): the storage side of the iSCSI runbooks.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  allPingable, findSharedSubnet, ipv4Address, isIPv4, isPortal, parsePortal, pingable, portalsOnDistinctSubnets, subnetOf,
} from '../../src/tasks/net.ts';
import { fakeContext, fakeShell } from '../fixtures/tasks/fake.ts';

describe('addresses', () => {
  it.each([
    { text: '10.10.1.10', ok: true }, { text: '0.0.0.0', ok: true }, { text: '255.255.255.255', ok: true },
    { text: '256.1.1.1', ok: false }, { text: '10.10.1', ok: false }, { text: '010.10.1.10', ok: false },
    { text: '10.10.1.10 ', ok: false }, { text: '10.10.1.10;reboot', ok: false }, { text: '', ok: false }, { text: 'fe80::1', ok: false },
  ])('isIPv4($text) = $ok', ({ text, ok }) => {
    expect(isIPv4(text)).toBe(ok);
  });

  it('ipv4Address (a param or host var schema) takes what isIPv4 takes and says what it wants', () => {
    expect(ipv4Address.parse('10.10.0.52')).toBe('10.10.0.52');
    const bad = ipv4Address.safeParse('10.10.0.256');
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0].message).toBe('must be an IPv4 address (four decimal octets 0-255)');
  });

  it.each([
    { ip: '10.10.1.10', prefix: 24, want: '10.10.1.0/24' },
    { ip: '10.10.1.10', prefix: 16, want: '10.10.0.0/16' },
    { ip: '192.168.5.130', prefix: 25, want: '192.168.5.128/25' },
    { ip: '255.255.255.255', prefix: 32, want: '255.255.255.255/32' },
    { ip: '10.1.2.3', prefix: 0, want: '0.0.0.0/0' },
  ])('subnetOf($ip, $prefix) = $want', ({ ip, prefix, want }) => {
    expect(subnetOf(ip, prefix)).toBe(want);
  });

  it('subnetOf refuses bad input', () => {
    expect(() => subnetOf('10.1.1', 24)).toThrow(/not an IPv4 address/);
    expect(() => subnetOf('10.1.1.1', 33)).toThrow(/prefix must be 0–32/);
  });

  it.each([
    { text: '10.10.1.10', want: { address: '10.10.1.10', port: 3260 } },
    { text: '10.10.1.10:3261', want: { address: '10.10.1.10', port: 3261 } },
  ])('parsePortal($text)', ({ text, want }) => {
    expect(parsePortal(text)).toEqual(want);
  });

  it.each(['10.10.1.10:0', '10.10.1.10:70000', 'storage-a', '10.10.1.10:', '10.10.1.10:32:60'])('isPortal(%s) is false', (text) => {
    expect(isPortal(text)).toBe(false);
  });

  it.each([
    { portals: ['10.10.1.10', '10.10.2.10'], want: undefined },
    { portals: ['10.10.1.10', '10.10.2.10', '10.10.1.11:3260'], want: { first: '10.10.1.10', second: '10.10.1.11:3260', subnet: '10.10.1.0/24' } },
    { portals: ['10.10.1.10'], want: undefined },
  ])('findSharedSubnet($portals)', ({ portals, want }) => {
    expect(findSharedSubnet(portals)).toEqual(want);
  });
});

describe('portalsOnDistinctSubnets as a vars schema', () => {
  const vars = z.object({ portals: portalsOnDistinctSubnets() });
  const issues = (portals: unknown) => {
    const result = vars.safeParse({ portals });
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('accepts portals on their own subnets', () => {
    expect(issues(['10.10.1.10', '10.10.2.10:3260'])).toEqual([]);
  });

  it('names the two portals that share a subnet', () => {
    expect(issues(['10.10.1.10', '10.10.1.20'])).toEqual([
      'portals: portals 10.10.1.10 and 10.10.1.20 share subnet 10.10.1.0/24; each storage path needs its own subnet (the iSCSI multipath notes: storage NICs and controllers on different subnets, never bonded)',
    ]);
  });

  it('names a portal that is not an address, by index', () => {
    expect(issues(['10.10.1.10', 'san-b'])).toEqual(['portals.1: "san-b" is not an IPv4 portal (address or address:port)']);
  });

  it('wants at least one portal, and honours another prefix', () => {
    expect(issues([])).toHaveLength(1);
    expect(z.object({ p: portalsOnDistinctSubnets({ prefix: 16 }) }).safeParse({ p: ['10.10.1.10', '10.10.2.10'] }).success).toBe(false);
  });
});

describe('ping', () => {
  it.each([
    { code: 0, want: true }, { code: 1, want: false },
  ])('exit $code → $want', async ({ code, want }) => {
    expect(await pingable(fakeShell({ 'ping -c 1 -W 2 10.10.1.10': { code } }), '10.10.1.10')).toBe(want);
  });

  it('exit 2 is an error, not a "no"', async () => {
    await expect(pingable(fakeShell({ 'ping -c 1 -W 2 10.10.1.10': { code: 2, stderr: 'ping: sendmsg: Network is unreachable\n' } }), '10.10.1.10'))
      .rejects.toThrow(/exited 2: ping: sendmsg: Network is unreachable/);
  });

  it('allPingable names the portals that do not answer', async () => {
    const sh = fakeShell({ 'ping -c 1 -W 2 10.10.1.10': { code: 0 }, 'ping -c 1 -W 2 10.10.2.10': { code: 1 }, 'ping -c 1 -W 2 10.10.3.10': { code: 1 } });
    const step = allPingable({ id: 'ping', title: 't', addresses: ['10.10.1.10:3260', '10.10.2.10', '10.10.3.10'] });
    expect(await step.check(fakeContext({ sh }))).toMatchObject({ done: false, reason: 'no ping reply from 10.10.2.10, 10.10.3.10' });
    const ok = allPingable({ id: 'ping', title: 't', addresses: ['10.10.1.10'] });
    expect(await ok.check(fakeContext({ sh }))).toMatchObject({ done: true, reason: '10.10.1.10 answer a ping' });
  });
});
