import type { StepOutcome } from './step.ts';

/** A step's check as it answers now, in a run that applies a saved plan. */
export interface CheckNow {
  done: boolean;
  reason: string;
  /** What apply would send (when not done). */
  commands?: string[];
  diff?: string;
  /** The host the step runs on when it names one (`on`: the pool master), even if that is its own. */
  on?: string;
}

/**
 * Holds each check of a plan-applying run against the plan: `undefined` lets the step go on (to
 * ok, or to apply what was reviewed); an outcome (status "stale") stops the host there.
 */
export interface PlanGuard {
  vet(host: string, stepId: string, now: CheckNow): StepOutcome | undefined;
}
