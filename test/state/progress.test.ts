import { describe, expect, it } from 'vitest';
import type { RunEvent, StepStatus } from '../../src/engine/events.ts';
import type { Outputs } from '../../src/runbook/check.ts';
import { foldProgress, resumePlan, type HostResumePlan } from '../../src/state/progress.ts';

/** A tiny script language for journals: one host, terse helpers. */
let clock = 0;
const t = () => new Date(Date.UTC(2026, 10, 21, 23, 0, clock++)).toISOString();
const runStart = (hosts = ['h1'], resumed = false): RunEvent => ({ kind: 'run-start', time: t(), runId: 'r1', runbook: 'rb', hosts, dryRun: false, resumed });
const runEnd = (status: 'ok' | 'failed' | 'waiting' | 'interrupted', hosts = {}): RunEvent => ({ kind: 'run-end', time: t(), runId: 'r1', status, exitCode: 0, durationMs: 5, hosts });
const hostStart = (host = 'h1'): RunEvent => ({ kind: 'host-start', time: t(), host });
const hostEnd = (status: 'ok' | 'failed' | 'waiting', host = 'h1'): RunEvent => ({ kind: 'host-end', time: t(), host, status, durationMs: 5 });
const start = (step: string, attempt = 1, host = 'h1'): RunEvent => ({ kind: 'step-start', time: t(), host, step, title: step.toUpperCase(), attempt });
const result = (step: string, status: StepStatus, outputs?: Outputs, host = 'h1'): RunEvent => ({
  kind: 'step-result', time: t(), host, step, title: step.toUpperCase(), status, reason: `${step} ${status}`, durationMs: 7, outputs,
});
const ran = (step: string, status: StepStatus, outputs?: Outputs, host = 'h1') => [start(step, 1, host), result(step, status, outputs, host)];
const confirmed = (step: string, note = 'done', host = 'h1'): RunEvent => ({ kind: 'confirmation', time: t(), host, step, by: 'ana', note });

const STEPS = ['a', 'b', 'manual', 'c'];

describe('resumePlan', () => {
  const cases: { name: string; events: RunEvent[]; expected: Partial<HostResumePlan> }[] = [
    { name: 'nothing ran: start at the first step', events: [runStart()], expected: { done: [], startAt: 'a', why: 'not-run' } },
    { name: 'a step in flight is re-checked', events: [runStart(), hostStart(), ...ran('a', 'ok'), start('b')], expected: { done: ['a'], startAt: 'b', why: 'in-flight' } },
    { name: 'ok and changed are skipped, outputs restored', events: [runStart(), ...ran('a', 'ok', { uuid: 'u1' }), ...ran('b', 'changed', { n: 2 })], expected: { done: ['a', 'b'], outputs: { a: { uuid: 'u1' }, b: { n: 2 } }, startAt: 'manual', why: 'not-run' } },
    { name: 'a failed step is retried', events: [runStart(), ...ran('a', 'ok'), ...ran('b', 'failed'), hostEnd('failed')], expected: { done: ['a'], startAt: 'b', why: 'failed' } },
    { name: 'an unreachable step is retried', events: [runStart(), ...ran('a', 'unreachable')], expected: { startAt: 'a', why: 'unreachable' } },
    { name: 'a waiting manual step without confirmation waits again', events: [runStart(), ...ran('a', 'ok'), ...ran('b', 'ok'), ...ran('manual', 'waiting'), hostEnd('waiting'), runEnd('waiting')], expected: { done: ['a', 'b'], startAt: 'manual', why: 'waiting', confirmation: undefined } },
    { name: 'a waiting manual step confirmed after it continues', events: [runStart(), ...ran('a', 'ok'), ...ran('b', 'ok'), ...ran('manual', 'waiting'), runEnd('waiting'), confirmed('manual', 'ILO reinstall done')], expected: { startAt: 'manual', why: 'confirmed', confirmation: expect.objectContaining({ by: 'ana', note: 'ILO reinstall done' }) } },
    { name: 'a confirmation given before the step started does not count', events: [runStart(), confirmed('manual'), ...ran('a', 'ok'), ...ran('b', 'ok'), ...ran('manual', 'waiting')], expected: { startAt: 'manual', why: 'waiting' } },
    { name: 'a confirmation is used up once the step ends done: running it again waits again', events: [runStart(), ...ran('a', 'ok'), ...ran('b', 'ok'), ...ran('manual', 'waiting'), confirmed('manual'), runStart(['h1'], true), start('manual', 2), result('manual', 'changed'), runStart(['h1'], true), start('manual', 3), result('manual', 'waiting')], expected: { startAt: 'manual', why: 'waiting', confirmation: undefined } },
    { name: 'a confirmation survives a resume killed while the confirmed step runs', events: [runStart(), ...ran('a', 'ok'), ...ran('b', 'ok'), ...ran('manual', 'waiting'), confirmed('manual', 'approved'), runStart(['h1'], true), hostStart(), start('manual', 2)], expected: { done: ['a', 'b'], startAt: 'manual', why: 'in-flight', confirmation: expect.objectContaining({ by: 'ana', note: 'approved' }) } },
    { name: 'a confirmation survives an attempt whose check failed before it was used', events: [runStart(), ...ran('a', 'ok'), ...ran('b', 'ok'), ...ran('manual', 'waiting'), confirmed('manual', 'approved'), runStart(['h1'], true), start('manual', 2), result('manual', 'unreachable')], expected: { startAt: 'manual', why: 'unreachable', confirmation: expect.objectContaining({ note: 'approved' }) } },
    { name: 'a confirmation given while the step is in flight releases the wait it then ends in', events: [runStart(), ...ran('a', 'ok'), ...ran('b', 'ok'), start('manual'), confirmed('manual', 'early'), result('manual', 'waiting')], expected: { startAt: 'manual', why: 'confirmed', confirmation: expect.objectContaining({ note: 'early' }) } },
    { name: 'the confirmed step then ok: continue after it', events: [runStart(), ...ran('a', 'ok'), ...ran('b', 'ok'), ...ran('manual', 'waiting'), confirmed('manual'), runStart(['h1'], true), ...ran('manual', 'ok', { ticket: 'CHG1' })], expected: { done: ['a', 'b', 'manual'], outputs: { manual: { ticket: 'CHG1' } }, startAt: 'c', why: 'not-run' } },
    { name: 'skipped steps count as done', events: [runStart(), ...ran('a', 'skipped'), ...ran('b', 'ok')], expected: { done: ['a', 'b'], startAt: 'manual' } },
    { name: 'dry-run results never count as done', events: [runStart(), ...ran('a', 'would-change')], expected: { done: [], startAt: 'a', why: 'not-run' } },
    { name: 'everything done: nothing to start', events: [runStart(), ...['a', 'b', 'manual', 'c'].flatMap((s) => ran(s, 'ok')), hostEnd('ok'), runEnd('ok')], expected: { done: STEPS, startAt: undefined, why: undefined } },
    { name: 'an in-flight retry of a failed step is re-checked', events: [runStart(), ...ran('a', 'failed'), runStart(['h1'], true), start('a', 2)], expected: { done: [], startAt: 'a', why: 'in-flight' } },
    { name: 'a step inserted since (forced resume) starts there', events: [runStart(), ...ran('a', 'ok'), ...ran('manual', 'ok'), ...ran('c', 'ok')], expected: { done: ['a'], startAt: 'b', why: 'not-run' } },
    { name: 'a later result of an earlier-done step wins', events: [runStart(), ...ran('a', 'ok'), runStart(['h1'], true), ...ran('a', 'failed')], expected: { done: [], startAt: 'a', why: 'failed' } },
  ];
  it.each(cases)('$name', ({ events, expected }) => {
    const plan = resumePlan(foldProgress(events), STEPS);
    expect(plan.hosts).toHaveLength(1);
    const defined = Object.fromEntries(Object.entries(expected).filter(([, value]) => value !== undefined));
    expect(plan.hosts[0]).toMatchObject({ host: 'h1', ...defined });
    for (const [key, value] of Object.entries(expected)) if (value === undefined) expect(plan.hosts[0][key as keyof HostResumePlan]).toBeUndefined();
  });

  it('plans every target host, in run order, including hosts never started', () => {
    const events = [runStart(['h2', 'h1', 'h3']), ...ran('a', 'ok', undefined, 'h1'), ...ran('a', 'ok', undefined, 'h2'), start('b', 1, 'h2')];
    const plan = resumePlan(foldProgress(events), STEPS);
    expect(plan.hosts.map((h) => [h.host, h.startAt, h.why])).toEqual([['h2', 'b', 'in-flight'], ['h1', 'b', 'not-run'], ['h3', 'a', 'not-run']]);
  });

  it('names steps the journal knows but the runbook lost', () => {
    const plan = resumePlan(foldProgress([runStart(), ...ran('old', 'ok'), ...ran('a', 'ok')]), STEPS);
    expect(plan.unknownSteps).toEqual(['old']);
  });
});

describe('foldProgress', () => {
  it('tracks step details: status, reason, outputs, duration, attempts, confirmations', () => {
    const progress = foldProgress([runStart(), hostStart(), ...ran('a', 'failed'), start('a', 2), result('a', 'changed', { x: 1 }), ...ran('manual', 'waiting'), confirmed('manual', 'n1')]);
    const host = progress.byHost.h1;
    expect(host.steps.a).toMatchObject({ status: 'changed', reason: 'a changed', outputs: { x: 1 }, durationMs: 7, attempts: 2, title: 'A' });
    expect(host.steps.manual.confirmations).toEqual([expect.objectContaining({ by: 'ana', note: 'n1' })]);
    expect(host.inFlight).toBeUndefined();
    expect(Object.keys(host.steps)).toEqual(['a', 'manual']);
  });

  it('records the step in flight', () => {
    const progress = foldProgress([runStart(), hostStart(), ...ran('a', 'ok'), start('b', 1)]);
    expect(progress.byHost.h1.inFlight).toMatchObject({ step: 'b', attempt: 1, title: 'B' });
    expect(progress.byHost.h1.state).toBe('unfinished');
  });

  const runCases: { name: string; events: RunEvent[]; state: string; finished: boolean; segments: number }[] = [
    { name: 'no run-end: unfinished', events: [runStart(), hostStart()], state: 'unfinished', finished: false, segments: 1 },
    { name: 'run-end: its status', events: [runStart(), runEnd('failed')], state: 'failed', finished: true, segments: 1 },
    { name: 'a resume after a run-end reopens it', events: [runStart(), runEnd('waiting'), runStart(['h1'], true)], state: 'unfinished', finished: false, segments: 2 },
    { name: 'a resume that ended', events: [runStart(), runEnd('interrupted'), runStart(['h1'], true), runEnd('ok')], state: 'ok', finished: true, segments: 2 },
  ];
  it.each(runCases)('run state: $name', ({ events, state, finished, segments }) => {
    expect(foldProgress(events)).toMatchObject({ state, finished, segments, runId: 'r1', runbook: 'rb' });
  });

  it('counts hosts by state; a resumed host is unfinished again until its host-end', () => {
    const events = [
      runStart(['h1', 'h2', 'h3', 'h4']),
      hostStart('h1'), hostEnd('ok', 'h1'),
      hostStart('h2'), hostEnd('failed', 'h2'),
      hostStart('h3'), hostEnd('waiting', 'h3'),
      runEnd('failed'),
      runStart(['h2', 'h3', 'h4'], true), hostStart('h2'),
    ];
    const progress = foldProgress(events);
    expect(progress.counts).toEqual({ ok: 1, unfinished: 1, waiting: 1, 'not-started': 1 });
    expect(progress.hosts).toEqual(['h1', 'h2', 'h3', 'h4']);
  });

  it('is pure: the same events give the same progress, events untouched', () => {
    const events = [runStart(), ...ran('a', 'ok', { k: 'v' })];
    const copy = structuredClone(events);
    expect(foldProgress(events)).toEqual(foldProgress(events));
    expect(events).toEqual(copy);
  });
});
