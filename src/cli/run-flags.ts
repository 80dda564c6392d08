import { UsageError } from '../errors.ts';
import { batchSize } from '../engine/schedule.ts';
import type { RunFlags } from './apply.ts';

/**
 * Checks the numbers a run is given before anything is recorded: a bad flag is a usage error
 * (exit 1), and exit 1 leaves no run behind to block the next apply.
 * @example checkRunFlags(args, prepared.hosts.length, args.serial) // UsageError: --serial "abc": expected a number…
 */
export function checkRunFlags(flags: RunFlags, hostCount: number, serial?: string): void {
  if (!Number.isInteger(flags.forks) || flags.forks < 1) throw new UsageError(`--forks ${flags.forks}: expected a whole number of hosts, 1 or more`);
  const percent = flags.maxFailPercent;
  if (percent !== undefined && (!Number.isFinite(percent) || percent < 0 || percent > 100)) throw new UsageError(`--max-fail-percent ${percent}: expected a percentage from 0 to 100`);
  const handshakes = flags.maxHandshakes;
  if (handshakes !== undefined && (!Number.isInteger(handshakes) || handshakes < 1)) throw new UsageError(`--max-handshakes ${handshakes}: expected a whole number, 1 or more`);
  // The batch size of a serial the runbook itself declares was checked when it was defined.
  if (serial !== undefined) batchSize(Math.max(hostCount, 1), serial);
}
