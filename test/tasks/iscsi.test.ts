import { describe, expect, it } from 'vitest';
import type { ActionStep } from '../../src/runbook/types.ts';
import * as iscsi from '../../src/tasks/iscsi.ts';
import { fakeContext, fakeShell, fixture, planOf, type FakeEntry } from '../fixtures/tasks/fake.ts';

const NO_SESSIONS: FakeEntry = { code: 21, stderr: fixture('iscsi/session-none.stderr.txt') };
const NO_NODES: FakeEntry = { code: 21, stderr: fixture('iscsi/node-none.stderr.txt') };
const IQN = 'iqn.2006-01.com.example:storage';

describe('iscsiadm parsers', () => {
  it.each([
    { file: 'iscsi/session-two-portals.txt', want: [
      { transport: 'tcp', sid: 1, address: '10.10.1.10', port: 3260, tpgt: 1, target: IQN, nodeType: 'non-flash' },
      { transport: 'tcp', sid: 2, address: '10.10.2.10', port: 3260, tpgt: 1, target: IQN, nodeType: 'non-flash' },
    ] },
    { file: 'iscsi/session-legacy-no-node-type.txt', want: [{ transport: 'tcp', sid: 3, address: '10.10.1.10', port: 3260, tpgt: 1, target: 'iqn.2008-01.com.openfiler:store01.lun01' }] },
    { file: 'iscsi/session-ipv6.txt', want: [{ transport: 'tcp', sid: 7, address: 'fe80::5054:ff:fe12:3456', port: 3260, tpgt: 1, target: 'iqn.2003-01.org.linux-iscsi.lab:sn.1234', nodeType: 'non-flash' }] },
  ])('parseSessions($file)', ({ file, want }) => {
    expect(iscsi.parseSessions(fixture(file))).toEqual(want);
  });

  it('no sessions: exit 21 is an empty list, other failures are errors', () => {
    expect(iscsi.parseSessionResult({ stdout: '', stderr: 'iscsiadm: No active sessions.\n', code: 21 })).toEqual([]);
    expect(() => iscsi.parseSessionResult({ stdout: '', stderr: 'iscsiadm: can not connect to iSCSI daemon (111)!\n', code: 20 }))
      .toThrow(/iscsiadm -m session exited 20: iscsiadm: can not connect to iSCSI daemon/);
    expect(() => iscsi.parseSessions('something else\n')).toThrow(/not an iscsiadm session line/);
  });

  it('parseNodes reads discovery and node listings', () => {
    expect(iscsi.parseNodes(fixture('iscsi/discovery-sendtargets.txt'))).toEqual([
      { address: '10.10.1.10', port: 3260, tpgt: 1, target: IQN },
      { address: '10.10.1.10', port: 3260, tpgt: 1, target: 'iqn.2006-01.com.example:quorum' },
    ]);
    expect(iscsi.parseNodeResult({ stdout: '', stderr: 'iscsiadm: No records found\n', code: 21 })).toEqual([]);
    expect(iscsi.parseNodes('')).toEqual([]);
  });
});

interface Case { name: string; step: ActionStep; answers: Record<string, FakeEntry>; done?: boolean; reason?: string; commands?: string[]; error?: RegExp }

const cases: Case[] = [
  {
    name: 'discovered: no records for the portal → sendtargets discovery (the iSCSI multipath notes)',
    step: iscsi.discovered({ id: 'd', title: 't', portal: '10.10.2.10' }),
    answers: { 'iscsiadm -m node': fixture('iscsi/discovery-sendtargets.txt') },
    done: false, reason: 'no node records for portal 10.10.2.10:3260', commands: ['iscsiadm -m discovery -t sendtargets -p 10.10.2.10:3260'],
  },
  {
    name: 'discovered: records exist for the portal → noop naming its targets',
    step: iscsi.discovered({ id: 'd', title: 't', portal: '10.10.1.10:3260' }),
    answers: { 'iscsiadm -m node': fixture('iscsi/discovery-sendtargets.txt') },
    done: true, reason: `portal 10.10.1.10:3260 offers ${IQN}, iqn.2006-01.com.example:quorum`,
  },
  {
    name: 'discovered: no node database at all',
    step: iscsi.discovered({ id: 'd', title: 't', portal: '10.10.1.10' }), answers: { 'iscsiadm -m node': NO_NODES },
    done: false, reason: 'no node records for portal 10.10.1.10:3260',
  },
  {
    name: 'discovered refuses a dynamic portal that turns out not to be an address',
    step: iscsi.discovered({ id: 'd', title: 't', portal: () => '10.10.1.10; reboot' }), answers: {}, error: /not an iSCSI portal/,
  },
  {
    name: 'portalsDiscovered: discovers only the portals of the list without node records',
    step: iscsi.portalsDiscovered({ id: 'd', title: 't', portals: ['10.10.1.10', '10.10.2.10'] }),
    answers: { 'iscsiadm -m node': fixture('iscsi/discovery-sendtargets.txt') },
    done: false, reason: 'no node records for 10.10.2.10:3260', commands: ['iscsiadm -m discovery -t sendtargets -p 10.10.2.10:3260'],
  },
  {
    name: 'portalsDiscovered: every portal has records → noop naming them as given',
    step: iscsi.portalsDiscovered({ id: 'd', title: 't', portals: () => ['10.10.1.10', '10.10.2.10:3260'] }),
    answers: { 'iscsiadm -m node': fixture('iscsi/node-two-portals.txt') },
    done: true, reason: 'node records exist for 10.10.1.10, 10.10.2.10:3260',
  },
  {
    name: 'portalsDiscovered: no node database → every portal is discovered',
    step: iscsi.portalsDiscovered({ id: 'd', title: 't', portals: ['10.10.1.10', '10.10.2.10'] }), answers: { 'iscsiadm -m node': NO_NODES },
    done: false, reason: 'no node records for 10.10.1.10:3260, 10.10.2.10:3260',
    commands: ['iscsiadm -m discovery -t sendtargets -p 10.10.1.10:3260', 'iscsiadm -m discovery -t sendtargets -p 10.10.2.10:3260'],
  },
  {
    name: 'loggedIn all: one portal without a session → log in to that portal only (-L all would exit 15)',
    step: iscsi.loggedIn({ id: 'l', title: 't', all: true, portals: ['10.10.1.10', '10.10.2.10'] }),
    answers: { 'iscsiadm -m session': 'tcp: [1] 10.10.1.10:3260,1 iqn.2006-01.com.example:storage (non-flash)\n' },
    done: false, reason: 'no session to 10.10.2.10:3260', commands: ['iscsiadm -m node -p 10.10.2.10:3260 -l'],
  },
  {
    name: 'loggedIn all: sessions cover every portal → noop',
    step: iscsi.loggedIn({ id: 'l', title: 't', all: true, portals: ['10.10.1.10', '10.10.2.10:3260'] }),
    answers: { 'iscsiadm -m session': fixture('iscsi/session-two-portals.txt') }, done: true, reason: 'a session is open to every portal',
  },
  {
    name: 'loggedIn all without portals takes the node records as the list',
    step: iscsi.loggedIn({ id: 'l', title: 't', all: true }),
    answers: { 'iscsiadm -m session': NO_SESSIONS, 'iscsiadm -m node': fixture('iscsi/node-two-portals.txt') },
    done: false, reason: 'no session to 10.10.1.10:3260, 10.10.2.10:3260',
    commands: ['iscsiadm -m node -p 10.10.1.10:3260 -l', 'iscsiadm -m node -p 10.10.2.10:3260 -l'],
  },
  {
    name: 'loggedIn all with no sessions and no records says to discover first',
    step: iscsi.loggedIn({ id: 'l', title: 't', all: true }), answers: { 'iscsiadm -m session': NO_SESSIONS, 'iscsiadm -m node': NO_NODES }, error: /run discovery first/,
  },
  {
    name: 'loggedIn one target at one portal (the iSCSI multipath notes -T … -p … -l)',
    step: iscsi.loggedIn({ id: 'l', title: 't', target: 'iqn.2008-01.com.openfiler:store01.lun01', portal: '10.10.1.10' }),
    answers: { 'iscsiadm -m session': NO_SESSIONS },
    done: false, reason: 'no session to iqn.2008-01.com.openfiler:store01.lun01 at 10.10.1.10:3260',
    commands: ['iscsiadm -m node -T iqn.2008-01.com.openfiler:store01.lun01 -p 10.10.1.10:3260 -l'],
  },
  {
    name: 'loggedOut: open sessions → logout of all',
    step: iscsi.loggedOut({ id: 'o', title: 't', all: true }),
    answers: { 'iscsiadm -m session': fixture('iscsi/session-two-portals.txt') },
    done: false, reason: `2 session(s) open: ${IQN} at 10.10.1.10:3260, ${IQN} at 10.10.2.10:3260`, commands: ['iscsiadm -m node -U all'],
  },
  {
    name: 'loggedOut: no sessions (exit 21) → noop',
    step: iscsi.loggedOut({ id: 'o', title: 't', all: true }), answers: { 'iscsiadm -m session': NO_SESSIONS }, done: true, reason: 'no iSCSI session is open',
  },
];

it('portalsDiscovered refuses a static list with something that is not a portal, naming the step', () => {
  expect(() => iscsi.portalsDiscovered({ id: 'd', title: 't', portals: ['10.10.1.10', 'storage-a'] })).toThrow(/step d: portals/);
});

describe('iscsi steps', () => {
  it.each(cases)('$name', async (c) => {
    const sh = fakeShell(c.answers);
    const ctx = fakeContext({ sh });
    if (c.error) {
      await expect(Promise.resolve(c.step.check(ctx))).rejects.toThrow(c.error);
      return;
    }
    const result = await c.step.check(ctx);
    expect(result).toMatchObject({ done: c.done, reason: c.reason });
    if (c.commands) expect(await planOf(c.step, ctx)).toEqual(c.commands);
  });

  it('a hostile target name stays one quoted word', async () => {
    const step = iscsi.loggedIn({ id: 'l', title: 't', target: "iqn.x'; rm -rf / #", portal: '10.10.1.10' });
    expect(await planOf(step, fakeContext({ sh: fakeShell({}) }))).toEqual([`iscsiadm -m node -T 'iqn.x'\\''; rm -rf / #' -p 10.10.1.10:3260 -l`]);
  });
});

describe('iscsi options', () => {
  it.each([
    { make: () => iscsi.discovered({ id: 'd', title: 't', portal: 'san-a' }), error: /portal: must be an IPv4 portal/ },
    { make: () => iscsi.loggedIn({ id: 'l', title: 't', all: true, portals: ['10.10.1.10', '10.10.2'] }), error: /portals.1: must be an IPv4 portal/ },
  ])('refuses bad portals when the runbook loads', ({ make, error }) => {
    expect(make).toThrow(error);
  });
});
