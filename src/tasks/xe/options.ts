/** What every xe step takes: the option schemas checked when a runbook loads, and the waiting knobs. */
import { z } from 'zod';
import type { Dynamic } from '../../runbook/types.ts';
import type { TaskCommon } from '../resolve.ts';
import type { Clock, RunUntilOptions } from '../wait-for.ts';
import { UUID } from './command.ts';

// Option schemas, checked when the runbook loads (dynamic values are checked by the facts they feed).
export const ref = z.string().min(1, 'needs a uuid or a name-label');
export const uuidText = z.string().regex(UUID, 'must be a XenServer uuid');
export const seconds = z.number().int().positive();
export const hostSchema = z.object({ host: ref });

/** Options every xe step takes: the usual step fields; `on` is usually the pool master. */
export type XeStepOptions<P = any, V = any> = TaskCommon<P, V>;

export interface HostOptions<P = any, V = any> extends XeStepOptions<P, V> {
  /** The host's uuid or name-label. */
  host: Dynamic<string, P, V>;
}

/** Waiting knobs of the steps whose command returns before its effect is visible. */
export interface WaitOptions { waitTimeoutMs?: number; intervalMs?: number; clock?: Clock }

/** A step's waiting knobs as runUntil takes them, with the step's own default timeout. */
export const waitingOf = (options: WaitOptions, waitingFor: string, defaultMs: number): Pick<RunUntilOptions, 'waitingFor' | 'waitTimeoutMs' | 'intervalMs' | 'clock'> => ({
  waitingFor, waitTimeoutMs: options.waitTimeoutMs ?? defaultMs, intervalMs: options.intervalMs, clock: options.clock,
});
