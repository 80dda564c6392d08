import { describe, expect, it } from 'vitest';
import { change, noop } from '../../src/runbook/check.ts';
import { TimeoutError } from '../../src/errors.ts';
import { pollUntil, runUntil, waitFor, WaitTimeoutError } from '../../src/tasks/wait-for.ts';
import { cmd } from '../../src/shell/command.ts';
import { fakeClock, fakeContext, fakeShell } from '../fixtures/tasks/fake.ts';

/** A condition that holds from its `holdsFrom`-th ask on (0: never), counting asks. */
function condition(holdsFrom: number) {
  let asks = 0;
  const until = () => {
    asks++;
    return holdsFrom > 0 && asks >= holdsFrom ? noop('guest is up', { ip: '10.0.0.9' }) : change(`guest is down (ask ${asks})`);
  };
  return { until, asks: () => asks };
}

describe('pollUntil', () => {
  it.each([
    { holdsFrom: 1, timeoutMs: 10_000, sleeps: [] },
    { holdsFrom: 3, timeoutMs: 10_000, sleeps: [2000, 2000] },
  ])('holds at ask $holdsFrom → sleeps $sleeps', async ({ holdsFrom, timeoutMs, sleeps }) => {
    const clock = fakeClock();
    const { until } = condition(holdsFrom);
    const result = await pollUntil(until, { what: 'guest', timeoutMs, intervalMs: 2000, clock });
    expect(result.done).toBe(true);
    expect(clock.slept).toEqual(sleeps);
  });

  it('times out with the last reason, never sleeping past the deadline', async () => {
    const clock = fakeClock();
    const { until, asks } = condition(0);
    const error = await pollUntil(until, { what: 'guest up', timeoutMs: 5000, intervalMs: 2000, clock }).catch((e) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.message).toBe('guest up: still not so after 5 s: guest is down (ask 3)');
    expect(asks()).toBe(3);
    expect(clock.now()).toBeLessThanOrEqual(5000);
  });

  it('a probe that throws counts as not yet, and its message becomes the reason', async () => {
    let asks = 0;
    const probe = () => { asks++; if (asks < 2) throw new Error('xs-01: `xe host-list` exited 1\nConnection refused'); return noop('up'); };
    expect((await pollUntil(probe, { what: 'x', timeoutMs: 10_000, intervalMs: 1, clock: fakeClock() })).reason).toBe('up');
    const error = await pollUntil(() => { throw new Error('refused'); }, { what: 'x', timeoutMs: 1, intervalMs: 1, clock: fakeClock() }).catch((e) => e);
    expect(error.lastReason).toBe('not answering yet: refused');
  });

  it('stops when the signal aborts during a sleep', async () => {
    const controller = new AbortController();
    const clock = { now: () => 0, sleep: async () => { controller.abort(new Error('interrupted')); throw new Error('interrupted'); } };
    await expect(pollUntil(condition(0).until, { what: 'x', timeoutMs: 60_000, clock, signal: controller.signal })).rejects.toThrow('interrupted');
  });
});

describe('waitFor step', () => {
  const ctx = (dryRun = false) => fakeContext({ sh: fakeShell({}), dryRun });

  it('check is the condition: done → noop with its reason and outputs', async () => {
    const step = waitFor({ id: 'w', title: 'guest up', until: condition(1).until, timeoutMs: 300_000 });
    expect(await step.check(ctx())).toEqual({ done: true, reason: 'guest is up', outputs: { ip: '10.0.0.9' } });
  });

  it.each([
    { dryRun: true, reason: 'would wait up to 300 s: guest is down (ask 1)' },
    { dryRun: false, reason: 'waiting up to 300 s: guest is down (ask 1)' },
  ])('not yet, dryRun $dryRun → "$reason"', async ({ dryRun, reason }) => {
    const step = waitFor({ id: 'w', title: 'guest up', until: condition(0).until, timeoutMs: 300_000 });
    expect(await step.check(ctx(dryRun))).toMatchObject({ done: false, reason });
  });

  it('apply polls until it holds and hands on the outputs', async () => {
    const clock = fakeClock();
    const step = waitFor({ id: 'w', title: 'guest up', until: condition(4).until, timeoutMs: 60_000, intervalMs: 5000, clock });
    expect(await step.apply!(ctx())).toEqual({ ip: '10.0.0.9' });
    expect(clock.slept).toEqual([5000, 5000, 5000]);
  });

  it('apply fails with the last reason after the timeout (asks at 0, 5 and 10 s)', async () => {
    const step = waitFor({ id: 'w', title: 'guest up', until: condition(0).until, timeoutMs: 10_000, intervalMs: 5000, clock: fakeClock() });
    await expect(Promise.resolve(step.apply!(ctx()))).rejects.toThrow('guest up: still not so after 10 s: guest is down (ask 3)');
  });

  it('a condition that throws is "not yet" in check too, so apply can wait for the host', async () => {
    const step = waitFor({ id: 'w', title: 'guest ssh', until: () => { throw new Error('ubuntu-01: unreachable: connect ECONNREFUSED'); }, timeoutMs: 60_000 });
    expect(await step.check(ctx())).toMatchObject({ done: false, reason: 'waiting up to 60 s: not answering yet: ubuntu-01: unreachable: connect ECONNREFUSED' });
  });

  it('refuses a timeout that is not positive', () => {
    expect(() => waitFor({ id: 'w', title: 't', until: condition(1).until, timeoutMs: 0 })).toThrow(/timeoutMs must be > 0/);
  });
});

describe('runUntil step (run a command, then wait for its effect)', () => {
  const start = cmd`shutdown -h now`;

  it('check is the condition; apply runs the commands, then asks until it holds; commands then say what ran', async () => {
    const clock = fakeClock();
    const { until, asks } = condition(3);
    const sh = fakeShell({ 'shutdown -h now': {} });
    const step = runUntil({ id: 'halted', title: 'shut down', until, commands: () => [start], waitingFor: 'guest', waitTimeoutMs: 10_000, intervalMs: 1000, clock });
    const ctx = fakeContext({ sh });
    expect(await step.check(ctx)).toEqual(change('guest is down (ask 1)'));
    await step.apply!(ctx);
    expect(sh.ran).toEqual(['shutdown -h now']);
    expect(asks()).toBe(3);
    expect(clock.slept).toEqual([1000]);
    expect((await step.commands!(ctx)).map((c) => c.display)).toEqual(['shutdown -h now']);
  });

  it('runs on another shell when told (the guest), and waits on the step\'s (the master)', async () => {
    const master = fakeShell({});
    const guest = fakeShell({ 'shutdown -h now': {} }, 'guest');
    const step = runUntil({ id: 'h', title: 't', until: condition(1).until, commands: () => [start], runOn: (ctx) => ctx.on('guest'), waitingFor: 'guest', waitTimeoutMs: 5000, clock: fakeClock() });
    await step.apply!(fakeContext({ sh: master, shells: { guest } }));
    expect(guest.ran).toEqual(['shutdown -h now']);
    expect(master.ran).toEqual([]);
  });

  it('a command that takes its connection down: its failure is not the outcome, the wait is', async () => {
    const sh = fakeShell({ 'shutdown -h now': { code: 255, stderr: 'Connection to guest closed by remote host.' } });
    const dropping = runUntil({ id: 'h', title: 't', until: condition(1).until, commands: () => [start], dropsConnection: true, waitingFor: 'guest', waitTimeoutMs: 5000, clock: fakeClock() });
    await expect(Promise.resolve(dropping.apply!(fakeContext({ sh })))).resolves.toBeUndefined();
    const strict = runUntil({ id: 'h', title: 't', until: condition(1).until, commands: () => [start], waitingFor: 'guest', waitTimeoutMs: 5000, clock: fakeClock() });
    await expect(Promise.resolve(strict.apply!(fakeContext({ sh })))).rejects.toThrow(/shutdown -h now/);
  });

  it('fails with the condition\'s last reason after the wait; a separate check is the step\'s check', async () => {
    const sh = fakeShell({ 'shutdown -h now': {} });
    const step = runUntil({ id: 'h', title: 't', check: () => change('always restarted'), until: condition(0).until, commands: () => [start], waitingFor: 'guest up', waitTimeoutMs: 2000, intervalMs: 1000, clock: fakeClock() });
    const ctx = fakeContext({ sh });
    expect(await step.check(ctx)).toEqual(change('always restarted'));
    await expect(Promise.resolve(step.apply!(ctx))).rejects.toThrow('guest up: still not so after 2 s: guest is down (ask 3)');
  });
});
