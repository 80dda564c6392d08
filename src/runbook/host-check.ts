/**
 * A check the host judges by itself: one command that exits 0 when the step is done. The engine
 * needs nothing of the controller between a step's check, apply and re-check then, so it may send
 * several such steps to a host as one script (src/engine/frame.ts): at 100 ms a round trip, twenty
 * steps cost one wait instead of twenty.
 */
import type { Command } from '../shell/command.ts';
import { change, noop, type CheckResult } from './check.ts';
import type { StepContext } from './types.ts';

/** What a host-judged step asks its host. */
export interface HostCheck {
  /** Exits 0 when the step is done; absent: the step is never done (it always applies, unverified). */
  probe?: Command;
}

/** The `check` and `hostCheck` of a step, built from one probe so the two can never disagree. */
export interface HostJudged<P, V> {
  check(ctx: StepContext<P, V>): Promise<CheckResult<never>>;
  hostCheck(ctx: StepContext<P, V>): Promise<HostCheck>;
}

/**
 * A step's check as one command on its host: done when it exits 0. `probeOf` undefined: the step
 * always applies (`always` says why).
 * @example return { ...hostJudged((ctx) => cmd`grep -qx value=1 /etc/app.conf`), kind: 'action', commands }
 */
export function hostJudged<P, V>(probeOf: (ctx: StepContext<P, V>) => Command | undefined | Promise<Command | undefined>, always = 'always runs'): HostJudged<P, V> {
  return {
    async hostCheck(ctx) {
      const probe = await probeOf(ctx);
      return probe ? { probe } : {};
    },
    async check(ctx) {
      const probe = await probeOf(ctx);
      if (!probe) return change(always);
      const result = await ctx.sh.run(probe, { nothrow: true, read: true });
      if (result.ok) return noop(`\`${probe.display}\` exits 0`);
      return change(`\`${probe.display}\` ${result.code === null ? 'ended with no exit status' : `exits ${result.code}`}`);
    },
  };
}
