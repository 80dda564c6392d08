import type { BatchView, HostClaims } from '../engine/claims.ts';
import type { HostResume } from '../engine/host.ts';
import { foldProgress, resumePlan, type ClaimTable, type HostResumePlan, type LockHolder, type ResumePlan, type StateBackend } from '../state/index.ts';

/** How often a controller looks again at a batch that other controllers still run. */
export const CLAIM_POLL_MS = 250;

export interface SharedClaimsOptions {
  state: StateBackend;
  runId: string;
  stepIds: readonly string[];
  /** Where resume picks each host up, as the journal stood when this controller started. */
  resume?: ReadonlyMap<string, HostResume>;
  /** Tells the operator why this controller waits (once per change of what it waits for). */
  notice(text: string): void;
}

/**
 * The engine's HostClaims over a run shared through the state database: a host is taken in the
 * claim table; one taken over from a controller that died is picked up where the journal (which
 * that controller wrote to) says it stopped, its step in flight re-checked as on any resume.
 */
export function sharedClaims(table: ClaimTable, options: SharedClaimsOptions): HostClaims {
  let lastWait = '';
  return {
    take: async (host) => {
      const taken = await table.take(host);
      if (taken === undefined) return undefined;
      if (taken === 'new') return { resume: options.resume?.get(host) };
      return { resume: await resumeFromJournal(options, host) };
    },
    ended: (host, status) => table.end(host, status),
    view: async (hosts): Promise<BatchView> => {
      const view = await table.view(hosts);
      return { ...view, running: view.running.map(({ host, holder }) => ({ host, by: holder && controllerName(holder) })) };
    },
    wait: async (running) => {
      const text = running.map((r) => `${r.host}${r.by ? ` (${r.by})` : ''}`).join(', ');
      if (text !== lastWait) options.notice(`waiting: hosts of this batch still run on other controllers: ${text}\n`);
      lastWait = text;
      await new Promise((resolve) => setTimeout(resolve, CLAIM_POLL_MS));
    },
  };
}

async function resumeFromJournal(options: SharedClaimsOptions, host: string): Promise<HostResume | undefined> {
  const progress = foldProgress((await options.state.readJournal(options.runId)).events);
  const planned = resumePlan(progress, options.stepIds).hosts.find((h) => h.host === host);
  return planned && hostResumeOf(planned);
}

/** "ana on ops-2 (pid 4242)" */
export function controllerName(holder: LockHolder): string {
  return `${holder.user} on ${holder.machine} (pid ${holder.pid})`;
}

/** Resume's plan as the engine takes it, host by host. */
export function resumeMap(plan: ResumePlan): Map<string, HostResume> {
  return new Map(plan.hosts.map((h) => [h.host, hostResumeOf(h)]));
}

function hostResumeOf(h: HostResumePlan): HostResume {
  return {
    done: new Map(h.done.map((id) => [id, h.outputs[id]])),
    confirmations: new Map(h.confirmation && h.startAt ? [[h.startAt, { by: h.confirmation.by, note: h.confirmation.note, evidence: h.confirmation.evidence }]] : []),
    inFlight: h.inFlight, attempts: new Map(Object.entries(h.attempts)),
  } satisfies HostResume;
}
