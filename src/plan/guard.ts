import type { CheckNow, PlanGuard } from '../engine/plan-guard.ts';
import type { StepOutcome } from '../engine/step.ts';
import type { PlanBody, PlannedStep } from './file.ts';

/** A planned step, and whether an earlier step of its host was planned to change (the plan then could not see what this one will find). */
interface Expectation {
  step: PlannedStep;
  afterChange: boolean;
}

const CHANGES = new Set(['would-change', 'may-change']);

/**
 * The guard of `runbook apply PLAN`: before each step, the check's answer now is held against the
 * plan's. The same answer goes on; any other stops the host as stale with both answers shown, so
 * nothing runs that nobody reviewed. A step after a planned change was checked against a host
 * that had not changed yet: there a planned change may turn out done or need other commands, but
 * a step planned as "ok" that now wants a change is still stale. `refreshStale` (--refresh-stale)
 * lets a step planned as a change go on with what its check finds now (its new commands are
 * journaled); a change nobody planned is still refused. A step that runs `on` another host (the
 * pool master) and was planned as a change on several hosts is made once, by the first of them:
 * the others find it done, which is what was reviewed, not a hand fix.
 * @example executeRun({ ..., guard: planGuard(plan, { refreshStale: false }) })
 */
export function planGuard(plan: Pick<PlanBody, 'hosts'>, options: { refreshStale: boolean }): PlanGuard {
  const expected = expectations(plan);
  // `step@target` of each planned change a host of this run went on to apply on another host (the
  // pool master): a later host planned to make the same change there finds it done, as reviewed.
  const appliedOnTarget = new Set<string>();
  return {
    vet(host: string, stepId: string, now: CheckNow): StepOutcome | undefined {
      const planned = expected.get(host)?.get(stepId);
      if (!planned) return stale(`the plan has no result for ${stepId} on ${host} (it stopped this host earlier)`, now);
      const target = now.on === undefined ? undefined : `${stepId}@${now.on}`;
      if (target && now.done && planned.step.status === 'would-change' && appliedOnTarget.has(target)) return undefined;
      const outcome = verdict(planned, now, options.refreshStale);
      if (target && !outcome && !now.done) appliedOnTarget.add(target);
      return outcome;
    },
  };
}

function expectations(plan: Pick<PlanBody, 'hosts'>): Map<string, Map<string, Expectation>> {
  const byHost = new Map<string, Map<string, Expectation>>();
  for (const [host, planned] of Object.entries(plan.hosts)) {
    let afterChange = false;
    const steps = new Map<string, Expectation>();
    for (const step of planned.steps) {
      steps.set(step.id, { step, afterChange });
      if (CHANGES.has(step.status)) afterChange = true;
    }
    byHost.set(host, steps);
  }
  return byHost;
}

function verdict({ step, afterChange }: Expectation, now: CheckNow, refresh: boolean): StepOutcome | undefined {
  const planned = describePlanned(step);
  switch (step.status) {
    case 'ok': return now.done ? undefined : stale(`the plan found nothing to do (${planned})`, now);
    case 'may-change': return undefined;
    case 'would-change':
      if (afterChange || refresh) return undefined;
      if (now.done) return stale(`the plan would change it (${planned})`, now);
      return sameChange(step, now) ? undefined : stale(`the plan would change it differently (${planned})`, now);
    default:
      return stale(`the plan recorded ${planned}`, now);
  }
}

/** The same reason, the same commands, the same diff: what was reviewed is what would run. */
function sameChange(step: PlannedStep, now: CheckNow): boolean {
  return step.reason === now.reason && JSON.stringify(step.commands ?? []) === JSON.stringify(now.commands ?? []) && (step.diff ?? '') === (now.diff ?? '');
}

const describePlanned = (step: PlannedStep): string => `${step.status}: ${step.reason}`;

function stale(planSaid: string, now: CheckNow): StepOutcome {
  const nowSays = now.done ? `ok: ${now.reason}` : `would change: ${now.reason}`;
  return { status: 'stale', reason: `stale: ${planSaid}; the check now says ${nowSays}`, ...(now.commands ? { commands: now.commands } : {}), ...(now.diff ? { diff: now.diff } : {}) };
}
