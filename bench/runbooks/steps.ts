/**
 * Turns the bench's shell-text steps into runbook steps. Each step is the command task with its
 * check as `unless` (the host judges it: exit 0 means done), so consecutive steps go to a host as
 * one script; the marker gate is a check that hands on `due` to the steps it gates, as in
 * runbooks/leap-second.ts.
 */
import { cmd, command, noop, raw } from '../../src/index.ts';
import type { ActionStep, Step, StepContext } from '../../src/index.ts';
import type { BenchStep, Workload } from '../workloads.ts';

// `raw` is right here: the text is a constant of bench/workloads.ts and must reach the host's shell
// as written ($BENCH_HOST_DIR and $(date) expand there).
const shell = (text: string) => cmd`${raw(text)}`;

function actionStep(s: BenchStep, gate?: string): ActionStep {
  return command({
    id: s.id, title: s.title,
    ...(gate ? { when: (ctx: StepContext) => ctx.outputs.get<boolean>(gate, 'due') } : {}),
    run: shell(s.apply),
    // An `always` step has no guard: it always runs and is not re-checked.
    ...(s.always ? {} : { unless: shell(s.check) }),
  });
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
