import { UsageError, ValidationError } from '../errors.ts';
import { loadInventory } from '../inventory/load.ts';
import { selectHosts } from '../inventory/pattern.ts';
import type { Inventory, InventoryHost } from '../inventory/types.ts';
import { collectSecrets } from '../runbook/params.ts';
import type { Runbook } from '../runbook/types.ts';
import { missingKeyFiles, parseParamPairs, validateHostVars, validateParams } from '../engine/validate.ts';
import { MASK } from '../shell/command.ts';
import { loadRunbook } from './load-runbook.ts';
import { typecheckRunbook } from '../runbook/typecheck.ts';

/** Everything checked before any host is touched: runbook, inventory, targets, params, host vars. */
export interface PreparedRun {
  runbook: Runbook & { file: string; hash: string };
  inventory: Inventory;
  hosts: InventoryHost[];
  params: unknown;
  hostVars: Map<string, unknown>;
  /** Secret texts (params and vars) to mask in every transcript. */
  secrets: string[];
}

export interface PrepareArgs {
  runbook: string;
  inventory: string;
  limit?: string;
  param?: string[];
  /** Type-check the runbook file first (cached per edit); `--no-typecheck` or RUNBOOK_TYPECHECK=0 skip it. */
  typecheck?: boolean;
  /** Hears "type-checking …" when the compiler is about to run (the CLI passes it on a terminal). */
  notice?: (text: string) => void;
  stateDir: string;
}

/** Loads and validates; throws a UsageError/ValidationError/… (exit 1) before any connection opens. */
export async function prepareRun(args: PrepareArgs, cwd: string, env: NodeJS.ProcessEnv): Promise<PreparedRun> {
  const runbook = await loadRunbook(args.runbook, cwd);
  if (wantsTypecheck(args.typecheck, env)) await typecheckRunbook(runbook.file, args.stateDir, args.notice);
  const inventory = await loadInventory(args.inventory, { cwd, stateDir: args.stateDir });
  const hosts = targetHosts(inventory, runbook.hosts ?? 'all', args.limit);
  refuseManyTargets(runbook, hosts, args.limit);
  const params = validateParams(runbook, parseParamPairs(args.param ?? [], env, runbook));
  return preparedFrom(runbook, inventory, hosts, params);
}

/** The end of every preparation (apply, resume, apply PLAN): host vars validated, key files there, the secrets to mask. */
export function preparedFrom(runbook: PreparedRun['runbook'], inventory: Inventory, hosts: InventoryHost[], params: unknown): PreparedRun {
  const hostVars = validateHostVars(runbook, hosts);
  refuseMissingKeys(hosts);
  const secrets = [...collectSecrets(params), ...[...hostVars.values()].flatMap((v) => collectSecrets(v))];
  return { runbook, inventory, hosts, params, hostVars, secrets };
}

/** Hosts recorded by name (a run's, a plan's), found again in the inventory; `gone` says why one that is not is refused. */
export function recordedHosts(names: readonly string[], inventory: Inventory, gone: (name: string) => string): InventoryHost[] {
  return names.map((name) => {
    const host = inventory.hosts.get(name);
    if (!host) throw new UsageError(gone(name));
    return host;
  });
}

/**
 * Params recorded earlier (run.json, a plan), validated again: the stored values, and the secrets
 * (stored as the mask, never in clear) from --param or RUNBOOK_PARAM_*; `missing` words the refusal
 * when a secret is not given. --param may also give a stored one again (the caller decides if it may differ).
 */
export function recordedParams(runbook: Runbook, recorded: Record<string, unknown>, extra: string[], env: NodeJS.ProcessEnv, missing: (names: string) => string): unknown {
  const given = parseParamPairs(extra, env, runbook);
  const stored = Object.fromEntries(Object.entries(recorded).filter(([k, v]) => v !== MASK && !(k in given)).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  const missingSecrets = Object.entries(recorded).filter(([k, v]) => v === MASK && !(k in given)).map(([k]) => `RUNBOOK_PARAM_${k}`);
  if (missingSecrets.length) throw new UsageError(missing(missingSecrets.join(', ')));
  return validateParams(runbook, { ...stored, ...given });
}

/** Shared with resume: a missing key file is bad input, refused before any host is touched. */
export function refuseMissingKeys(hosts: readonly InventoryHost[]): void {
  const issues = missingKeyFiles(hosts);
  if (issues.length) throw new ValidationError(issues);
}

/** The runbook's own pattern, narrowed by `--limit` (Ansible's `hosts:` ∩ `--limit`). */
export function targetHosts(inventory: Inventory, runbookPattern: string, limit?: string): InventoryHost[] {
  const targets = selectHosts(inventory, runbookPattern);
  if (!limit) return targets;
  const limited = new Set(selectHosts(inventory, limit).map((h) => h.name));
  const hosts = targets.filter((h) => limited.has(h.name));
  if (hosts.length === 0) throw new UsageError(`--limit ${limit} leaves no host of the runbook's targets (${runbookPattern})`);
  return hosts;
}

/** A one-host runbook (`oneHost: true`) refuses a run that targets more hosts, naming them and how to choose. */
export function refuseManyTargets(runbook: Runbook, hosts: readonly InventoryHost[], limit?: string): void {
  if (!runbook.oneHost || hosts.length === 1) return;
  const names = hosts.slice(0, 5).map((h) => h.name).join(', ') + (hosts.length > 5 ? `, … ${hosts.length - 5} more` : '');
  const matched = limit ? `--limit ${limit} matches ${hosts.length} of its targets` : `without --limit its targets (${runbook.hosts ?? 'all'}) are ${hosts.length} hosts`;
  throw new UsageError(`${runbook.name} acts on one host per run, and ${matched} (${names}): give --limit with the one host`);
}

/** The compiler check is on unless the flag or RUNBOOK_TYPECHECK=0 turns it off. */
export function wantsTypecheck(flag: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  return flag !== false && env.RUNBOOK_TYPECHECK !== '0';
}
