import type { Step } from '../runbook/types.ts';
import type { RunProgress } from '../state/progress.ts';
import { quotePosix } from '../shell/quote.ts';
import { schemaFields } from './describe.ts';

/** A paused run lists this many waiting hosts by name; `runbook show` has the rest. */
const LISTED_HOSTS = 10;

export interface PauseInput {
  runId: string;
  /** Host → the manual step it waits at. */
  waiting: ReadonlyMap<string, string>;
  /** The runbook's steps, for each manual step's evidence fields. */
  steps?: readonly Step[];
  /** The --state-dir the run was given: the commands must find the same run. */
  stateDir?: string;
}

/**
 * What a paused run tells the operator: per waiting host the exact `runbook confirm` command, each
 * evidence field as `--evidence name=<name>`, then the resume command.
 * The `<name>` placeholders are left unquoted on purpose: pasted unedited, the shell refuses the
 * line (a redirection with no file) rather than recording a placeholder as evidence.
 * @example confirmHints({ runId: 'R', waiting: new Map([['xs-01', 'reinstall']]) }) // ['to confirm …', '  runbook confirm R --host xs-01 --step reinstall', …]
 */
export function confirmHints(input: PauseInput): string[] {
  if (input.waiting.size === 0) return [];
  const extra = input.stateDir ? ` --state-dir ${quotePosix(input.stateDir)}` : '';
  const hosts = [...input.waiting];
  const lines = ['to confirm a manual step once it is done:'];
  for (const [host, step] of hosts.slice(0, LISTED_HOSTS)) {
    const { required, optional } = evidenceFields(input.steps, step);
    lines.push(`  runbook confirm ${input.runId} --host ${quotePosix(host)} --step ${quotePosix(step)}${required.map(evidenceArg).join('')}${extra}`);
    if (optional.length) lines.push(`      optional:${optional.map(evidenceArg).join('')}`);
  }
  if (hosts.length > LISTED_HOSTS) lines.push(`  … and ${hosts.length - LISTED_HOSTS} more waiting hosts (runbook show ${input.runId}${extra} lists them)`);
  lines.push(`then continue with: runbook resume ${input.runId}${extra}`);
  return lines;
}

const evidenceArg = (name: string): string => ` --evidence ${name}=<${name}>`;

function evidenceFields(steps: readonly Step[] | undefined, id: string): { required: string[]; optional: string[] } {
  const step = steps?.find((s) => s.id === id);
  const fields = step?.kind === 'manual' ? schemaFields(step.evidence) : [];
  return { required: fields.filter((f) => f.required).map((f) => f.name), optional: fields.filter((f) => !f.required).map((f) => f.name) };
}

/**
 * Host → the manual step it waits at with no confirmation yet, from a run's journal (for
 * `runbook show`); hosts someone already confirmed need only `runbook resume`.
 */
export function unconfirmedWaits(progress: RunProgress): Map<string, string> {
  const waiting = new Map<string, string>();
  for (const host of progress.hosts) {
    const state = progress.byHost[host];
    if (state.state !== 'waiting') continue;
    const step = Object.values(state.steps).find((s) => s.status === 'waiting' && !s.confirmation);
    if (step) waiting.set(host, step.step);
  }
  return waiting;
}
