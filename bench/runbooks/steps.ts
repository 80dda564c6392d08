/**
 * Turns the bench's shell-text steps into runbook steps (check → apply → re-check, as any task).
 * Every check only reads the host (test, grep, service status), so it is marked a read: the engine
 * may send it ahead, as it does the library's facts.
 */
import { change, cmd, noop, raw } from '../../src/index.ts';
import type { ActionStep, Step, StepContext } from '../../src/index.ts';
import type { BenchStep, Workload } from '../workloads.ts';

// `raw` is right here: the text is a constant of bench/workloads.ts and must reach the host's shell
// as written ($BENCH_HOST_DIR and $(date) expand there).
const shell = (text: string) => cmd`${raw(text)}`;

function actionStep(s: BenchStep, gate?: string): ActionStep {
  return {
    kind: 'action', id: s.id, title: s.title,
    ...(gate ? { when: (ctx: StepContext) => ctx.outputs.get<boolean>(gate, 'due') } : {}),
    async check(ctx) {
      if (s.always) return change(`${s.title}: always`);
      return (await ctx.sh.run(shell(s.check), { nothrow: true, read: true })).ok ? noop(`${s.title}: already`) : change(`${s.title}: needed`);
    },
    commands: () => [shell(s.apply)],
    ...(s.always ? { verify: false } : {}),
  };
}

function gateStep(id: string, check: string): ActionStep {
  return {
    kind: 'action', id, title: 'look for the marker',
    async check(ctx) {
      const fixed = (await ctx.sh.run(shell(check), { nothrow: true, read: true })).ok;
      return noop(fixed ? 'marker exists' : 'no marker: fix due', { due: !fixed });
    },
    commands: () => [],
  };
}

/** The runbook steps of a workload. */
export function stepsOf(w: Workload): Step[] {
  const gate = w.markerGate;
  return [...(gate ? [gateStep(gate.id, gate.check)] : []), ...w.steps.map((s) => actionStep(s, s.gated ? gate?.id : undefined))];
}
