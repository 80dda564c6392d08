import type { Step } from '../runbook/types.ts';

/**
 * In a dry-run, the first step this one acts `after` that would change on this host: its check
 * cannot know yet (ntpd is still running until ntp-stopped really stops it), so the engine says
 * "may change" instead of asking it. Undefined when the check can be trusted.
 * @example changedBefore(ntpStarted, new Set(['ntp-stopped'])) // 'ntp-stopped'
 */
export function changedBefore(step: Step, predicted: ReadonlySet<string>): string | undefined {
  return step.after?.map((earlier) => earlier.id).find((id) => predicted.has(id));
}

/** The reason a step reports when it waits on an earlier predicted change. */
export const afterReason = (earlier: string): string => `(after ${earlier}) its check cannot know before ${earlier} is applied`;
