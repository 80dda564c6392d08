/**
 * The authoring API on the engine (fake hosts, no SSH): typed outputs read through the step
 * object, `after` making a dry-run say "may change" by itself, `extend`, and the one
 * defineRunbook form refusing what it cannot type.
 */
import { describe, expect, it } from 'vitest';
import { executeRun, type RunRequest } from '../../src/engine/run.ts';
import { change, cmd, defineRunbook, noop, service, z, type Step } from '../../src/index.ts';
import { RunbookDefinitionError } from '../../src/errors.ts';
import { validateRunbook } from '../../src/runbook/define.ts';
import { EventLog, FakeTransport, fakeInventory } from '../engine/fakes.ts';

/** A FAKE host: a running service `svc` that `/etc/init.d/svc stop|start` moves, and `stat` for a flag. */
function fakeHost(state = { running: true, flag: false }) {
  return (command: string) => {
    if (command.startsWith('if test -d /run/systemd/system') && command.includes('/etc/init.d/svc')) return { code: 0, stdout: 'init.d\n' };
    if (/^\/etc\/init\.d\/svc status$/.test(command)) return { code: state.running ? 0 : 3 };
    if (command === '/etc/init.d/svc stop') { state.running = false; return { code: 0 }; }
    if (command === '/etc/init.d/svc start') { state.running = true; return { code: 0 }; }
    if (command === 'touch /flag') { state.flag = true; return { code: 0 }; }
    return { code: 1, stderr: `FAKE host: no ${command}` };
  };
}

function request(runbook: RunRequest['runbook'], dryRun: boolean, handler = fakeHost(), log = new EventLog()): RunRequest {
  const inventory = fakeInventory(1);
  return {
    runId: 'authoring', hosts: [...inventory.hosts.values()], params: {}, hostVars: new Map(), dryRun, forks: 1,
    runbook, inventory, transports: (h) => new FakeTransport(h.name, (c) => handler(c)), sinks: [log], runSecrets: [],
  };
}

/** The leap-second shape: look once, stop, change, start again after the stop. */
function restartRunbook() {
  const runbook = defineRunbook({ name: 'restart', summary: 'stop, touch, start (test)' });
  const looked = runbook.step({
    kind: 'assert', id: 'looked', title: 'look', outputs: z.object({ due: z.boolean(), name: z.string(), note: z.string().optional() }),
    check: () => noop('due', { due: true, name: 'svc' }),
  });
  const stopped = runbook.step(service({ id: 'stopped', title: 'stop', when: looked.out.due, name: looked.out.name, state: 'stopped' }));
  return runbook.steps([
    looked,
    stopped,
    { kind: 'action', id: 'flagged', title: 'flag', check: (ctx) => (looked.out.note(ctx) === undefined ? change('no flag') : noop('?')), commands: () => [cmd`touch /flag`], verify: false },
    service({ id: 'started', title: 'start', after: [stopped], name: looked.out.name, state: 'started' }),
  ]);
}

describe('typed outputs and after', () => {
  it('a dry-run reports a step after a predicted change as "may change (after …)" with its commands, asking no check', async () => {
    const log = new EventLog();
    await executeRun(request(restartRunbook(), true, fakeHost(), log));
    const results = log.results();
    expect(results.map((r) => [r.step, r.status])).toEqual([['looked', 'ok'], ['stopped', 'would-change'], ['flagged', 'would-change'], ['started', 'may-change']]);
    expect(results[3].reason).toBe('(after stopped) its check cannot know before stopped is applied');
    expect(results[3].commands).toEqual(['/etc/init.d/svc start']);
  });

  it('a step that says what a changed host needs (commandsAfterChange) shows that in a dry-run after a predicted change, and only there', async () => {
    const runbook = defineRunbook({ name: 'after-change', summary: 'after a change (test)' });
    const stopped = runbook.step(service({ id: 'stopped', title: 'stop', name: 'svc', state: 'stopped' }));
    const asked: string[] = [];
    const started: Step = {
      kind: 'action', id: 'started', title: 'start', after: [stopped],
      check: () => change('not running'),
      commands: () => { asked.push('commands'); return [cmd`/etc/init.d/svc start`]; },
      commandsAfterChange: () => { asked.push('after a change'); return [cmd`/etc/init.d/svc start`, cmd`/etc/init.d/svc status`]; },
    };
    const log = new EventLog();
    await executeRun(request(runbook.steps([stopped, started]), true, fakeHost(), log));
    expect(log.results()[1]).toMatchObject({ status: 'may-change', commands: ['/etc/init.d/svc start', '/etc/init.d/svc status'] });
    expect(asked).toEqual(['after a change']);
    const real = new EventLog();
    await executeRun(request(runbook.steps([stopped, started]), false, fakeHost({ running: true, flag: false }), real));
    expect(real.results()[1].commands).toEqual(['/etc/init.d/svc start']);
  });

  it('a real run reads the typed values (an optional one not handed on reads as undefined) and checks after steps normally', async () => {
    const state = { running: true, flag: false };
    const log = new EventLog();
    const summary = await executeRun(request(restartRunbook(), false, fakeHost(state), log));
    expect(summary.exitCode).toBe(0);
    expect(log.results().map((r) => r.status)).toEqual(['ok', 'changed', 'changed', 'changed']);
    expect(state).toEqual({ running: true, flag: true });
  });

  it('extend replaces part of a step and can call through to the step it extends', async () => {
    const runbook = defineRunbook({ name: 'ext', summary: 'extend (test)', params: z.object({ skip: z.boolean().default(false) }) });
    const base = service({ id: 'stopped', title: 'stop', name: 'svc', state: 'stopped' });
    const extended = runbook.extend(base, { title: 'stop unless told not to', check: async (ctx, original) => (ctx.params.skip ? noop('told to skip') : original.check(ctx)) });
    expect([extended.id, extended.title, base.title]).toEqual(['stopped', 'stop unless told not to', 'stop']);
    const log = new EventLog();
    await executeRun({ ...request(runbook.steps([extended]), true, fakeHost(), log), params: { skip: true } });
    expect(log.results().map((r) => [r.status, r.reason])).toEqual([['ok', 'told to skip']]);
  });
});

describe('defineRunbook refuses what it cannot type or run', () => {
  const runbook = () => defineRunbook({ name: 'bad', summary: 'bad (test)' });
  const step = (id: string) => ({ kind: 'action' as const, id, title: id, check: () => noop('fine'), commands: () => [] });

  it.each([
    ['an after naming a later step', () => { const later = step('later'); return runbook().steps([{ ...step('first'), after: [later] }, later]); }, /step 1 \(first\): after names "later", which is not an earlier step/],
    ['an after naming no step', () => runbook().steps([{ ...step('first'), after: ['first' as never] }]), /after names "first"/],
    ['outputs that are not a zod object', () => runbook().step({ ...step('x'), outputs: 'due' as never }), /step x: outputs must be a z\.object/],
    ['a header exported without .steps', () => validateRunbook(runbook() as never), /end it with \.steps\(\[\.\.\.\]\)/],
    ['steps in the header (the old second form)', () => defineRunbook({ name: 'old', summary: 'old', steps: [step('a')] } as never), /takes the header only/],
  ])('%s', (_name, make, message) => {
    expect(make).toThrow(RunbookDefinitionError);
    expect(make).toThrow(message);
  });
});
