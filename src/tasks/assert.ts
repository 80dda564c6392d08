import type { CheckResult } from '../runbook/check.ts';
import type { AssertStep, StepContext } from '../runbook/types.ts';
import { RunbookDefinitionError } from '../errors.ts';
import { commonOf, type TaskCommon } from './resolve.ts';

export interface AssertOptions<P = any, V = any> extends TaskCommon<P, V> {
  /** Holds (noop) or fails the host with its reason (change): `noop('pool has 4 hosts')`. */
  that: (ctx: StepContext<P, V>) => CheckResult | Promise<CheckResult>;
}

/**
 * A precondition: the host stops here, failed with the reason, unless `that` answers noop.
 * @example assert({ id: 'ha-off', title: 'HA is disabled', that: async (ctx) => (await haEnabled(ctx)) ? change('HA is enabled') : noop('HA is off') })
 */
export function assert<P = any, V = any>(options: AssertOptions<P, V>): AssertStep<P, V> {
  if (typeof options.that !== 'function') {
    throw new RunbookDefinitionError(`step ${String(options.id)}: that must be a function (ctx) => noop(…) | change(…)`);
  }
  return { ...commonOf(options), kind: 'assert', check: (ctx) => options.that(ctx) };
}
