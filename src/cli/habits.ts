import { UsageError } from '../errors.ts';
import { loadInventory } from '../inventory/load.ts';
import type { InventoryHost } from '../inventory/types.ts';

import { didYouMean } from '../suggest.ts';
import { loadRunbook } from './load-runbook.ts';
import { withState, type Io } from './options.ts';
import { targetHosts } from './prepare.ts';

/** What an Ansible user types out of habit, answered the way this tool works. */
interface TargetArgs { name: string; inventory: string; limit?: string; stateDir?: string; state?: string }

/** The runbook and the hosts it would run on: its own pattern narrowed by --limit. No params, no connection. */
async function targets(args: TargetArgs, io: Io) {
  const runbook = await loadRunbook(args.name, io.cwd);
  const inventory = await loadInventory(args.inventory, { cwd: io.cwd });
  const pattern = runbook.hosts ?? 'all';
  return { runbook, pattern, hosts: targetHosts(inventory, pattern, args.limit) };
}

/**
 * `apply --list-hosts`, as `ansible-playbook --list-hosts`: the hosts after the runbook's pattern
 * and --limit, one a line; exits 0 without connecting or checking params.
 */
export async function listHostsCommand(args: TargetArgs, io: Io): Promise<number> {
  const { runbook, pattern, hosts } = await targets(args, io);
  io.stdout.write(`runbook ${runbook.name}: hosts ${pattern}${args.limit ? `, limited to ${args.limit}` : ''}\n`);
  io.stdout.write(`  hosts (${hosts.length}):\n${hosts.map((h: InventoryHost) => `    ${h.name}\n`).join('')}`);
  return 0;
}

/**
 * `--start-at-step` is always refused. Ansible's --start-at-task skips what comes before on faith;
 * here a later step may rely on an earlier one's outputs or effects, and the journal is what proves
 * a step done. Two honest ways remain: `runbook resume RUN` (skips exactly what the journal shows
 * done), or apply again (every done step checks, finds nothing to do, and reports ok).
 */
export async function refuseStartAtStep(args: TargetArgs & { startAtStep: string }, io: Io): Promise<number> {
  const { runbook, hosts } = await targets(args, io);
  const ids = runbook.steps.map((s) => s.id);
  const unknown = ids.includes(args.startAtStep) ? '' : ` (and runbook ${runbook.name} has no step ${args.startAtStep}${didYouMean(args.startAtStep, ids)})`;
  const pending = await withState(args, io, (state) => state.findUnfinishedRuns(runbook.name, hosts.map((h) => h.name)));
  if (pending.length) {
    throw new UsageError(`--start-at-step is not supported${unknown}: run ${pending[0].id} of ${runbook.name} is unfinished on these hosts.\n` +
      `  continue it where its journal stopped:  runbook resume ${pending[0].id}`);
  }
  throw new UsageError(`--start-at-step is not supported${unknown}: runbook skips only the steps a run's journal shows done, ` +
    'because a later step may depend on what an earlier one did.\n' +
    '  an unfinished run:  runbook resume RUN (runbook runs lists them)\n' +
    '  otherwise apply again: steps already done check, find nothing to do and report ok');
}
