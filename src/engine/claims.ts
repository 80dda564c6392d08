import type { HostStatus } from './events.ts';
import type { HostResume } from './host.ts';

/**
 * How this controller takes the hosts of a run that several controllers may share
 * (`runbook resume RUN --join`): a host is run by the one that takes it; a batch of `serial` ends
 * when its every host ended on whichever controller; the failure share counts them all.
 */
export interface HostClaims {
  /** The host is this controller's to run (with where to resume it), or undefined: another has it, or it ended. */
  take(host: string): Promise<{ resume?: HostResume } | undefined>;
  ended(host: string, status: HostStatus): Promise<void>;
  /** The batch across every controller now. */
  view(hosts: readonly string[]): Promise<BatchView>;
  /** Nothing of the batch is free but others still run some of it: pause before looking again. */
  wait(running: BatchView['running']): Promise<void>;
}

export interface BatchView {
  /** Nobody runs them, and they have not ended: free to take. */
  free: string[];
  /** Being run, here or by another controller (`by` names it). */
  running: { host: string; by?: string }[];
  /** Host status by host, on whichever controller it ended. */
  ended: Record<string, string>;
}

/** A run with one controller (the state folder, a dry-run): every host is this one's, once. */
export function soleClaims(resume?: ReadonlyMap<string, HostResume>): HostClaims {
  const ended: Record<string, string> = {};
  return {
    take: async (host) => (host in ended ? undefined : { resume: resume?.get(host) }),
    ended: async (host, status) => { ended[host] = status; },
    view: async (hosts) => ({ free: hosts.filter((h) => !(h in ended)), running: [], ended: pick(ended, hosts) }),
    wait: async () => undefined,
  };
}

/** Hosts of the batch that ended failed or unreachable, on any controller: what --max-fail-percent counts. */
export function failedIn(view: BatchView): number {
  return Object.values(view.ended).filter((status) => status === 'failed' || status === 'unreachable').length;
}

function pick(ended: Record<string, string>, hosts: readonly string[]): Record<string, string> {
  return Object.fromEntries(hosts.filter((h) => h in ended).map((h) => [h, ended[h]]));
}
