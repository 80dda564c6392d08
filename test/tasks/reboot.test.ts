import { describe, expect, it } from 'vitest';
import type { Outputs } from '../../src/runbook/check.ts';
import { bootIdRecorded, parseRebootState, reboot, rebootStateCommand } from '../../src/tasks/reboot.ts';
import { fakeContext, fakeShell, fakeTransport, planOf, type FakeEntry } from '../fixtures/tasks/fake.ts';

const B0 = '0f6e3c1a-1111-4a2b-8c3d-000000000000';
const B1 = '7d2b9e4f-2222-4c5d-9e6f-111111111111';
const NOW = 1_764_000_000; // host clock, epoch seconds
const MARKER = '/var/lib/runbook/reboot-reboot';
const STATE = rebootStateCommand(MARKER).display;
const state = (boot: string, marker?: string): FakeEntry => `${boot}\n${NOW}\n${marker ?? ''}`;
const ATTEMPT = 'run-1/1'; // fakeContext's attemptId
const marker = (boot: string, agoSeconds = 60, host = 'xs-01', attempt: string | null = ATTEMPT) => `${boot}\n${NOW - agoSeconds}\n${host}\n${attempt === null ? '' : `${attempt}\n`}`;

describe('parseRebootState', () => {
  it.each([
    { name: 'no marker', text: `${B0}\n${NOW}\n`, marker: undefined },
    { name: 'a marker', text: `${B0}\n${NOW}\n${B1}\n${NOW - 5}\nxs-01\nrun-1/2\n`, marker: { bootId: B1, writtenAt: (NOW - 5) * 1000, host: 'xs-01', attemptId: 'run-1/2' } },
    { name: 'a marker of an older version (no attempt)', text: `${B0}\n${NOW}\n${B1}\n${NOW - 5}\nxs-01\n`, marker: { bootId: B1, writtenAt: (NOW - 5) * 1000, host: 'xs-01' } },
    { name: 'a torn marker (crash while writing) counts as none', text: `${B0}\n${NOW}\n${B1}\n`, marker: undefined },
  ])('$name', ({ text, marker }) => {
    expect(parseRebootState(text)).toEqual({ bootId: B0, now: NOW * 1000, ...(marker ? { marker } : {}) });
  });

  it('refuses output that is not a boot id', () => {
    expect(() => parseRebootState('cat: /proc/sys/kernel/random/boot_id: No such file\n')).toThrow(/not a boot id/);
  });
});

interface CheckCase { name: string; answer: FakeEntry; outputs: Record<string, Outputs>; since?: string; done: boolean; reason: string; handed?: Outputs }

describe('reboot check: resume must not reboot twice', () => {
  it.each<CheckCase>([
    { name: 'fresh run, no marker → reboot', answer: state(B0), outputs: {}, done: false, reason: `reboot (boot id now ${B0})` },
    {
      name: 'marker from before this boot → the reboot happened, noop',
      answer: state(B1, marker(B0)), outputs: {}, done: true, reason: `boot id ${B0} → ${B1}`, handed: { bootId: B1, previousBootId: B0 },
    },
    { name: 'marker of this very boot → issued, not happened yet', answer: state(B0, marker(B0)), outputs: {}, done: false, reason: 'has not happened yet' },
    { name: 'marker of this attempt two days old (a resume after a weekend) → still the reboot this attempt issued', answer: state(B1, marker(B0, 2 * 86_400)), outputs: {}, done: true, reason: `boot id ${B0} → ${B1}` },
    { name: 'marker of another run (issue 13: a crashed run\'s marker) → ignored, reboot', answer: state(B1, marker(B0, 60, 'xs-01', 'run-0/1')), outputs: {}, done: false, reason: `reboot (boot id now ${B1}); the marker left at` },
    { name: 'marker of an earlier attempt of this run (a failed try) → ignored, reboot', answer: state(B1, marker(B0, 60, 'xs-01', 'run-1/0')), outputs: {}, done: false, reason: 'attempt run-1/0 is not this attempt\'s: ignored' },
    { name: 'marker of an older version (no attempt id) → ignored, reboot', answer: state(B1, marker(B0, 60, 'xs-01', null)), outputs: {}, done: false, reason: 'by an older version' },
    { name: 'marker written by another host (shared /var/lib) → ignored', answer: state(B1, marker(B0, 60, 'xs-02')), outputs: {}, done: false, reason: 'reboot (' },
    {
      name: 'since: the boot id recorded earlier in the run differs → noop',
      answer: state(B1), outputs: { 'boot-before': { bootId: B0 } }, since: 'boot-before', done: true, reason: `rebooted since step boot-before recorded boot id ${B0}`,
    },
    { name: 'since: same boot id as recorded → reboot', answer: state(B0), outputs: { 'boot-before': { bootId: B0 } }, since: 'boot-before', done: false, reason: 'reboot (' },
  ])('$name', async ({ answer, outputs, since, done, reason, handed }) => {
    const step = reboot({ id: 'reboot', title: 't', since });
    const result = await step.check(fakeContext({ sh: fakeShell({ [STATE]: answer }), outputs, stepId: 'reboot' }));
    expect(result.done).toBe(done);
    expect(result.reason).toContain(reason);
    if (handed) expect(result.outputs).toEqual(handed);
  });
});

describe('reboot apply', () => {
  const commands = [
    "mkdir -p /var/lib/runbook && { cat /proc/sys/kernel/random/boot_id && date +%s && echo xs-01 && echo run-1/1; } > /var/lib/runbook/reboot-reboot && sync",
    "nohup sh -c 'sleep 1; reboot' >/dev/null 2>&1 &",
  ];

  it('plans the marker, then a detached reboot', async () => {
    expect(await planOf(reboot({ id: 'reboot', title: 't' }), fakeContext({ sh: fakeShell({}) }))).toEqual(commands);
  });

  it('writes the marker, reboots, reconnects, checks the new boot id; cleanup removes the marker', async () => {
    const sh = fakeShell({
      'cat /proc/sys/kernel/random/boot_id': [{ stdout: `${B0}\n` }, { stdout: `${B1}\n` }],
      [commands[0]]: '', [commands[1]]: '', [`rm -f ${MARKER}`]: '',
    });
    const { transport, reconnects } = fakeTransport();
    const step = reboot({ id: 'reboot', title: 't', timeoutMs: 600_000 });
    const outputs = await step.apply!(fakeContext({ sh, transport }));
    expect(outputs).toEqual({ bootId: B1, previousBootId: B0 });
    expect(reconnects).toEqual([{ timeoutMs: 600_000 }]);
    expect(sh.ran).toEqual(['cat /proc/sys/kernel/random/boot_id', ...commands, 'cat /proc/sys/kernel/random/boot_id']);
    await step.cleanup!(fakeContext({ sh, transport }));
    expect(sh.ran.at(-1)).toBe(`rm -f ${MARKER}`);
    expect(step.verify).toBe(false);
    expect(step.timeoutMs).toBeGreaterThan(600_000);
  });

  it('fails when the host comes back with the same boot id', async () => {
    const sh = fakeShell({ 'cat /proc/sys/kernel/random/boot_id': `${B0}\n`, [commands[0]]: '', [commands[1]]: '' });
    const step = reboot({ id: 'reboot', title: 't' });
    await expect(Promise.resolve(step.apply!(fakeContext({ sh, transport: fakeTransport().transport })))).rejects.toThrow(/boot id is still .*: it did not reboot/);
    expect(sh.ran).not.toContain(`rm -f ${MARKER}`);
  });

  it('passes on a reconnect failure (the host never came back) and keeps the marker', async () => {
    const sh = fakeShell({ 'cat /proc/sys/kernel/random/boot_id': `${B0}\n`, [commands[0]]: '', [commands[1]]: '' });
    const { transport } = fakeTransport(() => { throw new Error('xs-01: unreachable: no answer within 900 s'); });
    await expect(Promise.resolve(reboot({ id: 'reboot', title: 't' }).apply!(fakeContext({ sh, transport })))).rejects.toThrow(/unreachable/);
    expect(sh.ran).not.toContain(`rm -f ${MARKER}`);
  });

  it('quotes a hostile marker directory', async () => {
    const [write] = await planOf(reboot({ id: 'reboot', title: 't', markerDir: "/var/lib/x'; rm -rf / #" }), fakeContext({ sh: fakeShell({}) }));
    expect(write).toBe("mkdir -p '/var/lib/x'\\''; rm -rf / #' && { cat /proc/sys/kernel/random/boot_id && date +%s && echo xs-01 && echo run-1/1; } > '/var/lib/x'\\''; rm -rf / #/reboot-reboot' && sync");
  });
});

describe('bootIdRecorded', () => {
  it('hands on the current boot id, changing nothing', async () => {
    const step = bootIdRecorded({ id: 'boot-before', title: 't' });
    const result = await step.check(fakeContext({ sh: fakeShell({ 'cat /proc/sys/kernel/random/boot_id': `${B0}\n` }) }));
    expect(result).toEqual({ done: true, reason: `boot id is ${B0}`, outputs: { bootId: B0 } });
  });

  it('on resume keeps the journal\'s value rather than reading the host again', async () => {
    const sh = fakeShell({});
    const result = await bootIdRecorded({ id: 'boot-before', title: 't' }).check(fakeContext({ sh, outputs: { 'boot-before': { bootId: B0 } } }));
    expect(result.outputs).toEqual({ bootId: B0 });
    expect(sh.ran).toEqual([]);
  });
});

describe('reboot options', () => {
  it.each([
    { options: { timeoutMs: 0 }, error: /timeoutMs/ },
    { options: { markerDir: 'relative/dir' }, error: /markerDir: must be an absolute path/ },
  ])('refuses $options', ({ options, error }) => {
    expect(() => reboot({ id: 'reboot', title: 't', ...options })).toThrow(error);
  });
});
