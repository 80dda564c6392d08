import { missingKeyFiles, parseParamPairs, validateHostVars, validateParams } from '../engine/validate.ts';
import { ValidationError, formatIssue, type ValidationIssue } from '../errors.ts';
import { loadInventory } from '../inventory/load.ts';
import type { InventoryHost } from '../inventory/types.ts';
import { runbookTypeErrors, typeErrorSummary, type RunbookTypeErrors } from '../runbook/typecheck.ts';
import type { Runbook } from '../runbook/types.ts';
import { loadRunbook } from './load-runbook.ts';
import { stateDirOf, terminalNotice, type Io } from './options.ts';
import { refuseManyTargets, targetHosts, wantsTypecheck } from './prepare.ts';

export interface CheckArgs {
  name: string;
  inventory: string;
  limit?: string;
  param: string[];
  stateDir?: string;
  /** Type-check the runbook file too (cached per edit); `--no-typecheck` or RUNBOOK_TYPECHECK=0 skip it. */
  typecheck?: boolean;
}

/**
 * `runbook check NAME --inventory INV [--limit P] [--param k=v]`: what apply validates before it
 * connects (the runbook's types, params, every target host's vars, its key file), per host,
 * without connecting. Exit 0 when all is ok, 1 otherwise.
 * @example runbook check leap-second --inventory prod.example
 */
export async function checkCommand(args: CheckArgs, io: Io): Promise<number> {
  const runbook = await loadRunbook(args.name, io.cwd);
  const stateDir = stateDirOf(args, io.env, io.cwd);
  const inventory = await loadInventory(args.inventory, { cwd: io.cwd, stateDir });
  const hosts = targetHosts(inventory, runbook.hosts ?? 'all', args.limit);
  refuseManyTargets(runbook, hosts, args.limit);
  const types = wantsTypecheck(args.typecheck, io.env) ? await runbookTypeErrors(runbook.file, stateDir, terminalNotice(io)) : undefined;
  const paramIssues = issuesOf(() => validateParams(runbook, parseParamPairs(args.param, io.env, runbook)));
  const lines = [`${runbook.name} against ${inventory.source}: ${hosts.length} host${hosts.length === 1 ? '' : 's'} (${runbook.hosts ?? 'all'}${args.limit ? ` limited to ${args.limit}` : ''})`];
  lines.push(`types: ${typesLine(types)}`);
  lines.push(paramIssues.length ? `params:\n${paramIssues.map(formatIssue).join('\n')}` : 'params: ok');
  let failed = paramIssues.length > 0 || (types?.errors.length ?? 0) > 0;
  const width = Math.max(...hosts.map((host) => host.name.length));
  for (const host of hosts) {
    const issues = hostIssues(runbook, host);
    failed ||= issues.length > 0;
    lines.push(issues.length ? `${host.name}:\n${issues.map((issue) => formatIssue({ ...issue, host: undefined })).join('\n')}` : `${host.name.padEnd(width)}  ok`);
  }
  io.stdout.write(`${lines.join('\n')}\n`);
  return failed ? 1 : 0;
}

function typesLine(types: RunbookTypeErrors | undefined): string {
  if (!types) return 'not checked (--no-typecheck or RUNBOOK_TYPECHECK=0)';
  if (types.outcome === 'unavailable') return 'not checked (the typescript package is not installed)';
  return types.errors.length ? typeErrorSummary(types.errors) : 'ok';
}

function hostIssues(runbook: Runbook, host: InventoryHost): ValidationIssue[] {
  return [...issuesOf(() => validateHostVars(runbook, [host])), ...missingKeyFiles([host])];
}

/** The validation problems `work` throws (none when it passes); any other error goes on up. */
function issuesOf(work: () => unknown): ValidationIssue[] {
  try {
    work();
    return [];
  } catch (error) {
    if (error instanceof ValidationError) return error.issues;
    throw error;
  }
}
