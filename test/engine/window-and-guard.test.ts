/** The change window's end (issue 17) on FAKE hosts with a FAKE clock, and the plan guard as a table. */
import { describe, expect, it } from 'vitest';
import { EXIT, executeRun, type RunRequest } from '../../src/engine/run.ts';
import { parseWindowEnd } from '../../src/engine/window.ts';
import { planGuard } from '../../src/plan/guard.ts';
import type { PlannedStep } from '../../src/plan/file.ts';
import { defineRunbook } from '../../src/runbook/define.ts';
import { change, noop } from '../../src/runbook/check.ts';
import type { Step } from '../../src/runbook/types.ts';
import { EventLog, FakeTransport, fakeInventory } from './fakes.ts';

/** A step done once its flag is set on the FAKE host; applying it sets the flag and moves the FAKE clock on. */
function clockStep(id: string, flags: Set<string>, clock: { now: number }): Step {
  return {
    kind: 'action', id, title: `set ${id}`,
    check: () => (flags.has(id) ? noop(`${id} is set`) : change(`${id} is not set`)),
    apply: () => { flags.add(id); clock.now += 60_000; },
  };
}

describe('--window-end', () => {
  it('no step starts after the window ends: the run stops resumable, says so, exits 7', async () => {
    const clock = { now: Date.parse('2026-12-04T22:00:00Z') };
    const flags = new Set<string>();
    const runbook = defineRunbook({ name: 'w', summary: 'window test' }).steps(['a', 'b', 'c'].map((id) => clockStep(id, flags, clock)));
    const inventory = fakeInventory(1);
    const log = new EventLog();
    const request: RunRequest = {
      runId: 'window-run', runbook, inventory, hosts: [...inventory.hosts.values()], params: {}, hostVars: new Map(), dryRun: false, forks: 1,
      transports: (h) => new FakeTransport(h.name, () => ({})), sinks: [log], runSecrets: [],
      // Each applied step takes a FAKE minute: the window closes after the second.
      windowEnd: new Date(clock.now + 90_000), clock: () => clock.now,
    };
    const summary = await executeRun(request);
    expect(summary.exitCode).toBe(EXIT.windowClosed);
    expect(summary.status).toBe('interrupted');
    expect(log.results().map((r) => [r.step, r.status])).toEqual([['a', 'changed'], ['b', 'changed']]);
    expect(log.events.find((e) => e.kind === 'run-start')).toMatchObject({ windowEnd: '2026-12-04T22:01:30.000Z' });
    expect(log.events.find((e) => e.kind === 'warning')).toMatchObject({ message: expect.stringMatching(/^the change window ended at 2026-12-04T22:01:30\.000Z: no step started after it; runbook resume window-run continues the run$/) });
  });

  it.each([
    ['+2h', '2026-12-05T00:00:00.000Z'],
    ['90m', '2026-12-04T23:30:00.000Z'],
    ['1h30m', '2026-12-04T23:30:00.000Z'],
    ['2026-12-05T06:00:00Z', '2026-12-05T06:00:00.000Z'],
    ['2026-12-05T06:00:00+01:00', '2026-12-05T05:00:00.000Z'],
  ])('%s from 22:00Z ends at %s', (text, iso) => {
    expect(parseWindowEnd(text, new Date('2026-12-04T22:00:00Z'))?.toISOString()).toBe(iso);
  });

  it('a time of day is its next occurrence; nonsense is null', () => {
    const now = new Date(2026, 11, 4, 22, 0);
    expect(parseWindowEnd('06:00', now)).toEqual(new Date(2026, 11, 5, 6, 0));
    expect(parseWindowEnd('23:15', now)).toEqual(new Date(2026, 11, 4, 23, 15));
    for (const bad of ['tonight', '25:00', '', '6']) expect(parseWindowEnd(bad, now)).toBeNull();
  });

  it('a runbook-level windowEnd that cannot be read is refused where it is defined', () => {
    expect(() => defineRunbook({ name: 'w', summary: 's', windowEnd: 'tonight' }).steps([clockStep('a', new Set(), { now: 0 })])).toThrow(/windowEnd "tonight" must be a length/);
  });
});

const step = (status: PlannedStep['status'], reason: string, commands?: string[]): PlannedStep => ({ id: 's', title: 's', status, reason, ...(commands ? { commands } : {}) });

describe('the plan guard: the check now against the plan', () => {
  const now = (done: boolean, reason: string, commands?: string[]) => ({ done, reason, ...(commands ? { commands } : {}) });
  it.each<[string, PlannedStep[], ReturnType<typeof now>, boolean, 'go' | RegExp]>([
    ['ok, still ok', [step('ok', 'set')], now(true, 'set'), false, 'go'],
    ['ok, now wants a change', [step('ok', 'set')], now(false, 'unset', ['touch x']), false, /^stale: the plan found nothing to do \(ok: set\); the check now says would change: unset$/],
    ['the same change', [step('would-change', 'unset', ['touch x'])], now(false, 'unset', ['touch x']), false, 'go'],
    ['other commands', [step('would-change', 'unset', ['touch x'])], now(false, 'unset', ['touch y']), false, /would change it differently/],
    ['fixed by hand', [step('would-change', 'unset', ['touch x'])], now(true, 'set'), false, /^stale: the plan would change it \(would-change: unset\); the check now says ok: set$/],
    ['fixed by hand, --refresh-stale', [step('would-change', 'unset', ['touch x'])], now(true, 'set'), true, 'go'],
    ['other commands, --refresh-stale', [step('would-change', 'unset', ['touch x'])], now(false, 'unset', ['touch y']), true, 'go'],
    ['an unplanned change, --refresh-stale', [step('ok', 'set')], now(false, 'unset'), true, /the plan found nothing to do/],
    ['planned to fail', [step('failed', 'no quorum')], now(true, 'quorum'), false, /the plan recorded failed: no quorum/],
  ])('%s', (_name, planned, check, refreshStale, expected) => {
    const guard = planGuard({ hosts: { h01: { status: 'changed', steps: planned } } }, { refreshStale });
    const verdict = guard.vet('h01', 's', check);
    if (expected === 'go') expect(verdict).toBeUndefined();
    else expect(verdict).toMatchObject({ status: 'stale', reason: expect.stringMatching(expected) });
  });

  it('after a planned change, a planned change may turn out done or other; an unplanned one is still stale', () => {
    const guard = planGuard({ hosts: { h01: { status: 'changed', steps: [step('would-change', 'stop'), { ...step('would-change', 'start'), id: 't' }, { ...step('ok', 'fine'), id: 'u' }] } } }, { refreshStale: false });
    expect(guard.vet('h01', 't', now(true, 'started'))).toBeUndefined();
    expect(guard.vet('h01', 'u', now(false, 'broken'))).toMatchObject({ status: 'stale' });
    expect(guard.vet('h01', 'missing', now(true, 'x'))).toMatchObject({ status: 'stale', reason: expect.stringMatching(/the plan has no result for missing on h01/) });
  });

  it('a change planned on the pool master for several hosts is made by the first; the others find it done, a hand fix elsewhere is still stale', () => {
    const planned = { status: 'changed' as const, steps: [step('would-change', 'HA off', ['xe pool-ha-enable'])] };
    const guard = planGuard({ hosts: { h01: planned, h02: planned, h03: planned } }, { refreshStale: false });
    const onMaster = (done: boolean) => ({ ...now(done, done ? 'HA on' : 'HA off', done ? undefined : ['xe pool-ha-enable']), on: 'master' });
    expect(guard.vet('h02', 's', onMaster(true))).toMatchObject({ status: 'stale' });
    expect(guard.vet('h01', 's', onMaster(false))).toBeUndefined();
    expect(guard.vet('h02', 's', onMaster(true))).toBeUndefined();
    expect(guard.vet('h03', 's', now(true, 'HA on'))).toMatchObject({ status: 'stale' });
  });
});
