import { UsageError } from '../errors.ts';

/**
 * Splits hosts into rolling batches (Ansible's `serial`): a count, or a percentage of all targets
 * rounded down but at least one. Without serial, one batch holds every host.
 */
export function batches<T>(hosts: readonly T[], serial?: number | string): T[][] {
  const size = batchSize(hosts.length, serial);
  const out: T[][] = [];
  for (let i = 0; i < hosts.length; i += size) out.push(hosts.slice(i, i + size));
  return out;
}

export function batchSize(total: number, serial?: number | string): number {
  if (serial === undefined || total === 0) return Math.max(total, 1);
  const text = String(serial).trim();
  const match = /^(\d+)(%?)$/.exec(text);
  if (!match) throw new UsageError(`--serial ${JSON.stringify(serial)}: expected a number or a percentage like 25%`);
  const value = Number(match[1]);
  const size = match[2] ? Math.floor((total * value) / 100) : value;
  if (value === 0) throw new UsageError('--serial must be more than 0');
  return Math.min(Math.max(size, 1), total);
}

/** Runs `work` over items with at most `limit` in flight; results in item order. */
export async function pool<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(limit, 1), items.length) }, worker));
  return results;
}

/**
 * Ansible's max_fail_percentage: the batch is aborted once the share of failed (or unreachable)
 * hosts in it is greater than the percentage. 0 means any failure stops the run.
 */
export function failLimitCrossed(failedInBatch: number, batchHosts: number, maxFailPercent?: number): boolean {
  if (maxFailPercent === undefined || failedInBatch === 0) return false;
  return (failedInBatch / batchHosts) * 100 > maxFailPercent;
}
