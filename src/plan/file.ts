import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { z } from 'zod';
import { hostStatusSchema, stepStatusSchema, type HostStatus, type StepStatus } from '../engine/events.ts';
import { UsageError } from '../errors.ts';
import type { InventoryHost } from '../inventory/types.ts';
import { currentUser, snapshotHost, type HostSnapshot } from '../state/runs.ts';

/**
 * A saved plan (`runbook plan -o FILE`): a dry-run written down for a change board to review and
 * for `runbook apply FILE` to carry out exactly. JSON with a schema version, sealed by a sha256
 * over its content, so a plan edited by hand (or cut short) is refused.
 */
export const PLAN_KIND = 'runbook-plan';
export const PLAN_VERSION = 1;

/** One step on one host as the dry-run found it. */
export interface PlannedStep {
  id: string;
  title: string;
  status: StepStatus;
  reason: string;
  /** The exact commands apply would send (secrets masked). */
  commands?: string[];
  /** Unified diff of the content it would write (none for a sensitive step). */
  diff?: string;
}

export interface PlannedHost {
  status: HostStatus;
  steps: PlannedStep[];
}

/** Everything the plan says, in the order a reader wants it; `sha256` seals it. */
export interface PlanBody {
  kind: typeof PLAN_KIND;
  version: typeof PLAN_VERSION;
  runbook: { name: string; file: string; sha256: string };
  /** The inventory as given (`lab`, `prod`), the file it resolved to, and each planned host as resolved (secret vars masked). */
  inventory: { ref: string; source: string; hosts: Record<string, HostSnapshot> };
  /** `--limit` as given; the planned hosts are `hostOrder`. */
  limit?: string;
  /** Params as validated; secrets masked and never stored (apply takes them from the environment again). */
  params: Record<string, unknown>;
  policy: { serial?: string; maxFailPercent?: number };
  createdBy: string;
  machine: string;
  createdAt: string;
  /** After this the plan is refused: re-plan. */
  expiresAt?: string;
  /** The dry-run that made it, in the journal (`runbook show ID`). */
  dryRunId: string;
  hostOrder: string[];
  hosts: Record<string, PlannedHost>;
}

export interface Plan extends PlanBody {
  sha256: string;
}

const plannedStep = z.object({
  id: z.string(), title: z.string(), status: stepStatusSchema, reason: z.string(),
  commands: z.array(z.string()).optional(), diff: z.string().optional(),
});
const hostSnapshot = z.object({
  address: z.string(), port: z.number(), user: z.string().optional(), connection: z.enum(['ssh', 'local']), become: z.boolean(),
  privateKeyFile: z.string().optional(), groups: z.array(z.string()), varsHash: z.string(), vars: z.record(z.string(), z.unknown()),
});
const planSchema = z.object({
  kind: z.literal(PLAN_KIND), version: z.literal(PLAN_VERSION),
  runbook: z.object({ name: z.string(), file: z.string(), sha256: z.string() }),
  inventory: z.object({ ref: z.string(), source: z.string(), hosts: z.record(z.string(), hostSnapshot) }),
  limit: z.string().optional(),
  params: z.record(z.string(), z.unknown()),
  policy: z.object({ serial: z.string().optional(), maxFailPercent: z.number().optional() }),
  createdBy: z.string(), machine: z.string(), createdAt: z.string(), expiresAt: z.string().optional(),
  dryRunId: z.string(), hostOrder: z.array(z.string()),
  hosts: z.record(z.string(), z.object({ status: hostStatusSchema, steps: z.array(plannedStep) })),
  sha256: z.string(),
});

/** JSON with object keys sorted, so the seal does not depend on key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return item;
    return Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }) ?? 'null';
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * The seal: sha256 of the plan's content as canonical JSON, without the seal itself. It shows a
 * plan was not edited or cut short since it was written; it is not a signature (whoever can
 * write the file can re-seal it), so keep plans where change tickets are kept.
 */
export const sealOf = (body: PlanBody): string => sha256(canonicalJson(body));

export function sealPlan(body: PlanBody): Plan {
  return { ...body, sha256: sealOf(body) };
}

/** A plan's text: indented JSON, readable in a ticket or a review tool. */
export const planText = (plan: Plan): string => `${JSON.stringify(plan, null, 2)}\n`;

/** Snapshots of the planned hosts, as run.json keeps them: compared again at apply. */
export function snapshotHosts(hosts: readonly InventoryHost[]): Record<string, HostSnapshot> {
  return Object.fromEntries(hosts.map((h) => [h.name, snapshotHost(h)]));
}

export const planAuthor = (): { createdBy: string; machine: string } => ({ createdBy: currentUser(), machine: os.hostname() });

/**
 * Reads a plan file and checks it is one, of this version, sealed as written, and not expired.
 * Every refusal is a UsageError (exit 1) naming the file: nothing has been touched.
 * @example const plan = await readPlan('tonight.plan.json')
 */
export async function readPlan(file: string, now = new Date()): Promise<Plan> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`plan ${file}: cannot read it (${error.code ?? error.message})`);
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`plan ${file} is not valid JSON (${(error as Error).message}): refused`);
  }
  const kind = (json as { kind?: unknown; version?: unknown } | null);
  if (kind?.kind !== PLAN_KIND) throw new UsageError(`${file} is not a runbook plan (no "kind": "${PLAN_KIND}")`);
  if (kind.version !== PLAN_VERSION) throw new UsageError(`plan ${file} has schema version ${JSON.stringify(kind.version)}; this runbook reads version ${PLAN_VERSION}: re-plan`);
  const parsed = planSchema.safeParse(json);
  if (!parsed.success) throw new UsageError(`plan ${file} is malformed (${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message}): refused`);
  const { sha256: seal, ...body } = parsed.data as Plan;
  if (sealOf(body as PlanBody) !== seal) throw new UsageError(`plan ${file} was edited after it was written (its content no longer matches its sha256): refused. Make a new plan with runbook plan`);
  refuseExpired(parsed.data as Plan, file, now);
  return parsed.data as Plan;
}

function refuseExpired(plan: Plan, file: string, now: Date): void {
  if (plan.expiresAt === undefined || now.getTime() < Date.parse(plan.expiresAt)) return;
  throw new UsageError(`plan ${file} expired at ${plan.expiresAt} (made ${plan.createdAt} by ${plan.createdBy}): refused. Make a new plan with runbook plan`);
}

/** Whether any planned host has changes pending, or a step that would fail. */
export function planOutlook(plan: Pick<PlanBody, 'hosts'>): { changes: number; failures: number } {
  const steps = Object.values(plan.hosts).flatMap((h) => h.steps);
  return {
    changes: steps.filter((s) => s.status === 'would-change' || s.status === 'may-change').length,
    failures: steps.filter((s) => s.status === 'failed' || s.status === 'unreachable').length,
  };
}
