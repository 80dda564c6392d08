import { z } from 'zod';
import type { CheckResult } from '../runbook/check.ts';
import type { ManualStep, StepContext } from '../runbook/types.ts';
import { checkOptions, commonOf, type TaskCommon } from './resolve.ts';

export interface ManualOptions<P = any, V = any, E extends z.ZodObject = z.ZodObject> extends TaskCommon<P, V> {
  /** What the operator must do, step by step; shown at the prompt and in `describe`. */
  instructions: string;
  /** Fields the operator records when confirming (`--note`, a ticket number), validated with zod. */
  evidence?: E;
  /** An automated "already done?" answer; when it says noop, nobody is asked. */
  check?: (ctx: StepContext<P, V>) => CheckResult | Promise<CheckResult>;
}

const manualSchema = z.object({
  instructions: z.string().trim().min(1, 'a manual step needs instructions'),
  evidence: z.instanceof(z.ZodObject, { error: 'evidence must be a z.object({...})' }).optional(),
});

/**
 * A human action the run waits for: confirmed at a prompt or with `runbook confirm`.
 * @example manual({ id: 'reinstall', title: 'reinstall via ILO', instructions: 'Boot the ILO virtual media and reinstall XenServer 6.2', evidence: z.object({ ticket: z.string() }) })
 */
export function manual<P = any, V = any, E extends z.ZodObject = z.ZodObject>(options: ManualOptions<P, V, E>): ManualStep<P, V> {
  checkOptions(options.id, manualSchema, options);
  const step: ManualStep<P, V> = { ...commonOf(options), kind: 'manual', instructions: options.instructions };
  if (options.evidence) step.evidence = options.evidence;
  if (options.check) step.check = options.check;
  return step;
}
