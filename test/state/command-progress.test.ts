import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.ts';
import { foldProgress, resumePlan } from '../../src/state/progress.ts';

const T = '2026-12-04T12:00:00.000Z';
const start = (attempt: number, resumed = false): RunEvent => ({ kind: 'step-start', time: T, host: 'xs-01', step: 'take-over', title: 't', attempt, ...(resumed ? { resumed } : {}) });
const cmdStart = (command: string, attempt = 1, applyTry = 1): RunEvent => ({ kind: 'command-start', time: T, host: 'xs-01', step: 'take-over', attempt, applyTry, on: 'xs-02', command });
const cmdEnd = (command: string, attempt = 1, applyTry = 1): RunEvent => ({
  kind: 'command-end', time: T, host: 'xs-01', step: 'take-over', attempt, applyTry, on: 'xs-02', command,
  code: 0, signal: null, timedOut: false, stdout: 'out', stderr: '', outputKept: true,
});
const runStart: RunEvent = { kind: 'run-start', time: T, runId: 'r', runbook: 'rb', hosts: ['xs-01'], dryRun: false };
const plan = (events: RunEvent[]) => resumePlan(foldProgress([runStart, ...events]), ['take-over']).hosts[0];

describe('resume plan: the commands an attempt in flight finished', () => {
  it('hands on the ended commands and names the one sent without an end', () => {
    const events = [start(1), cmdStart('xe host-emergency-ha-disable force=true'), cmdEnd('xe host-emergency-ha-disable force=true'), cmdStart('xe pool-emergency-transition-to-master')];
    expect(plan(events)).toMatchObject({ startAt: 'take-over', why: 'in-flight', inFlight: { attempt: 1, applyTry: 1, ended: [{ command: 'xe host-emergency-ha-disable force=true', on: 'xs-02', stdout: 'out' }] } });
    expect(foldProgress([runStart, ...events]).byHost['xs-01'].inFlight?.unconfirmed).toEqual({ on: 'xs-02', command: 'xe pool-emergency-transition-to-master' });
  });

  it('a resume that continues the attempt keeps what it finished, and adds to it', () => {
    const events = [start(1), cmdEnd('a'), start(1, true), cmdEnd('b')];
    expect(plan(events).inFlight?.ended.map((c) => c.command)).toEqual(['a', 'b']);
  });

  it('a new attempt (the step failed, then started again) starts with nothing finished', () => {
    const failed: RunEvent = { kind: 'step-result', time: T, host: 'xs-01', step: 'take-over', title: 't', status: 'failed', reason: 'x', durationMs: 1 };
    const events = [start(1), cmdEnd('a'), failed, start(2), cmdEnd('b', 2)];
    expect(plan(events).inFlight).toMatchObject({ attempt: 2, ended: [{ command: 'b' }] });
    expect(plan([start(1), cmdEnd('a'), failed]).attempts).toEqual({ 'take-over': 1 });
  });

  it('a later apply try (retries) counts alone: a retry is meant to repeat', () => {
    const events = [start(1), cmdEnd('a'), cmdEnd('b', 1, 2)];
    expect(plan(events).inFlight).toMatchObject({ applyTry: 2, ended: [{ command: 'b' }] });
  });

  it('an old journal (no command events) resumes the step whole', () => {
    expect(plan([start(1)]).inFlight).toEqual({ step: 'take-over', attempt: 1, applyTry: 1, ended: [] });
  });
});
