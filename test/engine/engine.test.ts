import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { executeRun, type RunRequest } from '../../src/engine/run.ts';
import { batches, batchSize, failLimitCrossed } from '../../src/engine/schedule.ts';
import { defineRunbook } from '../../src/runbook/define.ts';
import { change, noop } from '../../src/runbook/check.ts';
import { cmd, secret } from '../../src/shell/command.ts';
import type { Step } from '../../src/runbook/types.ts';
import { EventLog, FakeTransport, fakeInventory } from './fakes.ts';
import { Interrupt } from '../../src/engine/interrupt.ts';
import { UnreachableError } from '../../src/errors.ts';

/** A step that is done once `flag` is set in the fake host state, and sets it by running a command. */
function flagStep(id: string, state: Map<string, Set<string>>): Step {
  return {
    kind: 'action', id, title: `set ${id}`,
    check: async (ctx) => (await ctx.sh`test -e /flags/${id}`.succeeds()) ? noop(`${id} is set`) : change(`${id} is not set`),
    commands: () => [cmd`touch /flags/${id}`],
  };
}

/** A FAKE host filesystem of flags: `test -e /flags/X` and `touch /flags/X`. */
function flagHandler(state: Map<string, Set<string>>, delayMs = 0) {
  return async (command: string, host: string) => {
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    const flags = state.get(host) ?? state.set(host, new Set()).get(host)!;
    const m = /^(test -e|touch) \/flags\/(\S+)$/.exec(command);
    if (!m) return { code: 127, stderr: `unknown: ${command}` };
    if (m[1] === 'touch') { flags.add(m[2]); return { code: 0 }; }
    return { code: flags.has(m[2]) ? 0 : 1 };
  };
}

function request(over: Partial<RunRequest> & Pick<RunRequest, 'runbook' | 'inventory'>): RunRequest {
  return {
    runId: 'test-run', hosts: [...over.inventory.hosts.values()], params: {}, hostVars: new Map(),
    dryRun: false, forks: 10, transports: () => { throw new Error('no transports'); }, sinks: [], runSecrets: [],
    ...over,
  };
}

describe('serial batches', () => {
  it.each([
    [10, undefined, 10], [10, 3, 3], [10, '25%', 2], [3, '25%', 1], [10, '100%', 10], [4, 10, 4],
  ])('%i hosts, serial %s → batches of %i', (total, serial, size) => {
    expect(batchSize(total, serial)).toBe(size);
  });
  it('keeps every host once, in order', () => {
    expect(batches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });
  it('refuses nonsense', () => {
    expect(() => batchSize(4, 'half')).toThrow(/serial/);
    expect(() => batchSize(4, 0)).toThrow(/more than 0/);
  });
  it('max fail percent is "greater than", as Ansible has it', () => {
    expect(failLimitCrossed(1, 4, 25)).toBe(false);
    expect(failLimitCrossed(2, 4, 25)).toBe(true);
    expect(failLimitCrossed(1, 4, 0)).toBe(true);
    expect(failLimitCrossed(3, 4, undefined)).toBe(false);
  });
});

describe('executeRun', () => {
  const twoSteps = (state: Map<string, Set<string>>) => defineRunbook({ name: 't', summary: 'test' }).steps([flagStep('a', state), flagStep('b', state)]);

  it('applies, re-checks, and a second run is all ok', async () => {
    const state = new Map<string, Set<string>>();
    const inventory = fakeInventory(3);
    const log = new EventLog();
    const transports = (h: { name: string }) => new FakeTransport(h.name, flagHandler(state));
    const first = await executeRun(request({ runbook: twoSteps(state), inventory, transports, sinks: [log] }));
    expect(first.exitCode).toBe(0);
    expect(log.results().map((r) => r.status)).toEqual(Array(6).fill('changed'));
    const again = new EventLog();
    await executeRun(request({ runbook: twoSteps(state), inventory, transports, sinks: [again] }));
    expect(again.results().map((r) => `${r.status}:${r.reason}`)).toContain('ok:a is set');
    expect(again.results().every((r) => r.status === 'ok')).toBe(true);
  });

  it('dry-run runs only checks, lists the commands, and changes nothing', async () => {
    const state = new Map<string, Set<string>>();
    const inventory = fakeInventory(2);
    const log = new EventLog();
    const fakes: FakeTransport[] = [];
    const transports = (h: { name: string }) => { const t = new FakeTransport(h.name, flagHandler(state)); fakes.push(t); return t; };
    const summary = await executeRun(request({ runbook: twoSteps(state), inventory, transports, sinks: [log], dryRun: true }));
    expect(summary.exitCode).toBe(0);
    expect([...state.values()].every((s) => s.size === 0)).toBe(true);
    expect(fakes.flatMap((f) => f.ran).every((c) => c.startsWith('test -e'))).toBe(true);
    const a = log.results('h01')[0];
    expect(a).toMatchObject({ status: 'would-change', reason: 'a is not set', commands: ['touch /flags/a'] });
  });

  it('a step whose check still says change after apply fails (a lying apply cannot pass)', async () => {
    const liar: Step = { kind: 'action', id: 'liar', title: 'never converges', check: () => change('not yet'), apply: () => undefined };
    const log = new EventLog();
    const summary = await executeRun(request({
      runbook: defineRunbook({ name: 't', summary: 's' }).steps([liar]), inventory: fakeInventory(1),
      transports: (h) => new FakeTransport(h.name, () => ({})), sinks: [log],
    }));
    expect(summary.exitCode).toBe(2);
    expect(log.results()[0]).toMatchObject({ status: 'failed', reason: 'still needs a change after apply: not yet' });
  });

  it('a failed step stops that host only; unreachable is not failed', async () => {
    const state = new Map<string, Set<string>>();
    const log = new EventLog();
    const transports = (h: { name: string }) => new FakeTransport(h.name, async (c, host) => host === 'h02' && c.startsWith('touch') ? { code: 1, stderr: 'disk full' } : flagHandler(state)(c, host), {
      onConnect: (host) => { if (host === 'h03') throw new UnreachableError(host, 'connection refused'); },
    });
    const summary = await executeRun(request({ runbook: twoSteps(state), inventory: fakeInventory(3), transports, sinks: [log] }));
    const byHost = Object.fromEntries(summary.hosts.map((h) => [h.host, h.status]));
    expect(byHost).toEqual({ h01: 'changed', h02: 'failed', h03: 'unreachable' });
    expect(log.results('h02').map((r) => r.step)).toEqual(['a']);
    expect(log.results('h02')[0].reason).toMatch(/touch \/flags\/a` exited 1/);
    expect(summary.exitCode).toBe(2);
  });

  it('forks bounds the hosts in flight; serial runs batch after batch', async () => {
    const state = new Map<string, Set<string>>();
    let inFlight = 0; let peak = 0;
    const order: string[] = [];
    const transports = (h: { name: string }) => new FakeTransport(h.name, async (c, host) => {
      inFlight++; peak = Math.max(peak, inFlight); order.push(host);
      try { return await flagHandler(state, 5)(c, host); } finally { inFlight--; }
    });
    await executeRun(request({ runbook: twoSteps(state), inventory: fakeInventory(12), transports, forks: 3 }));
    expect(peak).toBe(3);
    state.clear(); peak = 0; order.length = 0;
    await executeRun(request({ runbook: twoSteps(state), inventory: fakeInventory(6), transports, forks: 10, serial: 2 }));
    expect(peak).toBe(2);
    expect(new Set(order.slice(0, 8))).toEqual(new Set(['h01', 'h02']));
  });

  it('max-fail-percent stops the run once crossed', async () => {
    const log = new EventLog();
    const failing: Step = { kind: 'action', id: 'x', title: 'x', check: () => change('x'), commands: () => [cmd`false`] };
    const summary = await executeRun(request({
      runbook: defineRunbook({ name: 't', summary: 's' }).steps([failing]), inventory: fakeInventory(6),
      transports: (h) => new FakeTransport(h.name, () => ({ code: 1 })), sinks: [log], serial: 3, forks: 1, maxFailPercent: 50,
    }));
    expect(summary.hosts.filter((h) => h.status === 'failed')).toHaveLength(2);
    expect(summary.hosts.filter((h) => h.status === 'interrupted')).toHaveLength(4);
    expect(log.events.some((e) => e.kind === 'warning' && /50%/.test(e.message))).toBe(true);
  });

  it('dry-run marks a later step "may change" when it depends on a value an earlier change would produce', async () => {
    const steps: Step[] = [
      { kind: 'action', id: 'find', title: 'find uuid', check: () => change('vm not created'), apply: () => ({ uuid: 'u-1' }) },
      { kind: 'action', id: 'use', title: 'use uuid', check: (ctx) => change(`set ${ctx.outputs.get('find', 'uuid')}`), commands: (ctx) => [cmd`xe vm-start uuid=${ctx.outputs.get<string>('find', 'uuid')}`] },
    ];
    const log = new EventLog();
    await executeRun(request({ runbook: defineRunbook({ name: 't', summary: 's' }).steps(steps), inventory: fakeInventory(1), transports: (h) => new FakeTransport(h.name, () => ({})), sinks: [log], dryRun: true }));
    expect(log.results().map((r) => r.status)).toEqual(['would-change', 'may-change']);
  });

  it('outputs flow between steps and secrets never reach the events', async () => {
    const log = new EventLog();
    const pw = 'hunter2-top-secret';
    const steps: Step[] = [
      { kind: 'action', id: 'join', title: 'join', check: (ctx) => ctx.outputs.of('join') ? noop('joined') : change('not joined'),
        apply: async (ctx) => { await ctx.sh`echo ${secret(pw)} ${(ctx.params as { x: string }).x}`; return { joined: true }; } },
    ];
    const runbook = defineRunbook({ name: 't', summary: 's', params: z.object({ x: z.string() }) }).steps(steps);
    const transports = (h: { name: string }) => new FakeTransport(h.name, (c) => ({ stdout: `${c}\n`, stderr: `error near ${pw}` }));
    await executeRun(request({ runbook, inventory: fakeInventory(1), transports, sinks: [log], params: { x: 'hello' }, runSecrets: [pw] }));
    const text = JSON.stringify(log.events);
    expect(text).not.toContain(pw);
    expect(text).toContain('echo ******** hello');
    expect(log.results()[0]).toMatchObject({ status: 'changed', outputs: { joined: true } });
  });

  it('an interrupt lets the running step finish and starts no new one (exit 130)', async () => {
    const state = new Map<string, Set<string>>();
    const interrupt = new Interrupt(10_000);
    const transports = (h: { name: string }) => new FakeTransport(h.name, async (c, host) => {
      if (c === 'touch /flags/a') interrupt.request();
      return flagHandler(state, 5)(c, host);
    });
    const log = new EventLog();
    const summary = await executeRun(request({ runbook: twoSteps(state), inventory: fakeInventory(1), transports, sinks: [log], interrupt }));
    expect(summary.exitCode).toBe(130);
    expect(log.results().map((r) => `${r.step}:${r.status}`)).toEqual(['a:changed']);
    expect(state.get('h01')).toEqual(new Set(['a']));
  });

  it('a thousand hosts in flight share the run\'s stop signal without a listener warning or a listener left behind', async () => {
    // Every host's running step listens for the run's hard stop. Node warns at an 11th listener on
    // one signal ("MaxListenersExceededWarning … possible memory leak"), which a run of 11 hosts
    // printed to the operator's terminal; the listeners are removed as each step ends.
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => { warnings.push(warning); };
    process.on('warning', onWarning);
    try {
      const state = new Map<string, Set<string>>();
      const interrupt = new Interrupt();
      const hosts = 1000;
      const summary = await executeRun(request({
        runbook: twoSteps(state), inventory: fakeInventory(hosts), forks: hosts, interrupt,
        transports: (h) => new FakeTransport(h.name, flagHandler(state, 20)),
      }));
      await new Promise((resolve) => setImmediate(resolve)); // a warning is emitted on the next tick
      expect(summary.exitCode).toBe(0);
      expect(summary.hosts).toHaveLength(hosts);
      expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
      expect(getEventListeners(interrupt.hardSignal, 'abort')).toHaveLength(0);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a reporter sees an event only after the journal (the first sink) has taken it', async () => {
    const seen: string[] = [];
    const journal = { emit: async (e: { kind: string }) => { await new Promise((r) => setTimeout(r, 2)); seen.push(`journal:${e.kind}`); } };
    const reporter = { emit: (e: { kind: string }) => { seen.push(`report:${e.kind}`); } };
    const state = new Map<string, Set<string>>();
    await executeRun(request({ runbook: twoSteps(state), inventory: fakeInventory(1), transports: (h) => new FakeTransport(h.name, flagHandler(state)), sinks: [journal as never, reporter as never] }));
    const results = seen.filter((s) => s.endsWith('step-result'));
    expect(results).toEqual(['journal:step-result', 'report:step-result', 'journal:step-result', 'report:step-result']);
  });

  it('a step timeout fails the step even if its code ignores the signal', async () => {
    const slow: Step = { kind: 'action', id: 'slow', title: 'slow', timeoutMs: 50, check: () => new Promise(() => {}), commands: () => [] };
    const log = new EventLog();
    const summary = await executeRun(request({ runbook: defineRunbook({ name: 't', summary: 's' }).steps([slow]), inventory: fakeInventory(1), transports: (h) => new FakeTransport(h.name, () => ({})), sinks: [log] }));
    expect(summary.exitCode).toBe(2);
    expect(log.results()[0].reason).toMatch(/timed out after 50 ms/);
  });
});
