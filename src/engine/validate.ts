import { existsSync } from 'node:fs';
import { z } from 'zod';
import { ValidationError, type ValidationIssue } from '../errors.ts';
import type { InventoryHost } from '../inventory/types.ts';
import type { Runbook } from '../runbook/types.ts';
import { isSecretSchema } from '../runbook/params.ts';
import { didYouMean } from '../suggest.ts';

/**
 * `--param k=v` pairs as given, plus RUNBOOK_PARAM_<k> from the environment (for secrets). The
 * environment is shared by every runbook an operator runs from that shell, so with `runbook` given
 * only the params it declares are read from it (Terraform ignores a TF_VAR_ of an undeclared
 * variable alike); an unknown `--param` is still refused, since that one was typed for this run.
 */
export function parseParamPairs(pairs: readonly string[], env: NodeJS.ProcessEnv = process.env, runbook?: Runbook): Record<string, string> {
  const params: Record<string, string> = {};
  const declared = runbook ? declaredParams(runbook) : undefined;
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith('RUNBOOK_PARAM_') || value === undefined) continue;
    const name = key.slice('RUNBOOK_PARAM_'.length);
    if (!declared || declared.includes(name)) params[name] = value;
  }
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ValidationError([{ field: pair, message: 'expected --param key=value' }]);
    params[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return params;
}

/**
 * Command-line values are text; a schema may want a number, a boolean or a list. Each value is
 * tried as given, then as JSON (`restartNtp=false`, `portals=["10.0.1.1"]`), and the first form the
 * field's schema accepts is kept, so `name=007` stays a string where a string is wanted.
 */
function coerceParams(schema: z.ZodType, raw: Record<string, string>): Record<string, unknown> {
  const shape = schema instanceof z.ZodObject ? (schema.shape as Record<string, z.ZodType>) : {};
  const coerced: Record<string, unknown> = {};
  for (const [key, text] of Object.entries(raw)) {
    const field = shape[key];
    const asJson = tryJson(text);
    coerced[key] = field && !field.safeParse(text).success && asJson.ok && field.safeParse(asJson.value).success ? asJson.value : text;
  }
  return coerced;
}

function tryJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try { return { ok: true, value: JSON.parse(text) }; } catch { return { ok: false }; }
}

/** The param names a runbook's schema declares (none known for a schema that is not an object). */
function declaredParams(runbook: Runbook): string[] | undefined {
  const schema = runbook.params ?? z.object({});
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : undefined;
}

/** Validates params against the runbook's schema; unknown params are an error (a typo must not pass). */
export function validateParams<P>(runbook: Runbook<P>, raw: Record<string, string>): P {
  const schema = runbook.params ?? z.object({});
  const issues: ValidationIssue[] = [];
  if (schema instanceof z.ZodObject) {
    const known = Object.keys(schema.shape);
    for (const key of Object.keys(raw)) {
      if (!known.includes(key)) issues.push({ field: `param ${key}`, message: `unknown param (this runbook takes: ${known.join(', ') || 'none'})${didYouMean(key, known, '; ')}` });
    }
  }
  const result = schema.safeParse(coerceParams(schema, raw));
  if (!result.success) issues.push(...result.error.issues.map((i) => missingParam(i, schema, raw) ?? toIssue(i, 'param', undefined, {})));
  if (issues.length > 0) throw new ValidationError(issues);
  return (result as { data: P }).data;
}

/** A required param not given at all: say how to give it (a secret only through the environment, never argv). */
function missingParam(issue: z.core.$ZodIssue, schema: z.ZodType, raw: Record<string, string>): ValidationIssue | undefined {
  const key = issue.path.length === 1 ? String(issue.path[0]) : undefined;
  if (issue.code !== 'invalid_type' || key === undefined || key in raw || !(schema instanceof z.ZodObject)) return undefined;
  const field = (schema.shape as Record<string, z.ZodType>)[key];
  const how = isSecretSchema(field)
    ? `missing required secret param '${key}': set RUNBOOK_PARAM_${key} in the environment`
    : `missing required param '${key}': pass --param ${key}=… (or -e ${key}=…)`;
  return { field: `param ${key}`, message: how };
}

/** Validates every target host's merged vars against the runbook's `vars` schema; all problems at once. */
export function validateHostVars<V>(runbook: Runbook<unknown, V>, hosts: readonly InventoryHost[]): Map<string, V> {
  const validated = new Map<string, V>();
  const issues: ValidationIssue[] = [];
  for (const host of hosts) {
    if (!runbook.vars) { validated.set(host.name, host.vars as V); continue; }
    const result = runbook.vars.safeParse(host.vars);
    if (result.success) validated.set(host.name, { ...host.vars, ...(result.data as object) } as V);
    else issues.push(...result.error.issues.map((i) => toIssue(i, 'var', host.name, host.varSources)));
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return validated;
}

/**
 * A key file the inventory names must exist: otherwise every host would fail at connect time with
 * "tried nothing", after the hosts before it in the run may have been changed.
 */
export function missingKeyFiles(hosts: readonly InventoryHost[]): ValidationIssue[] {
  return hosts.filter((host) => host.privateKeyFile && !existsSync(host.privateKeyFile)).map((host) => {
    const field = 'ansible_ssh_private_key_file' in host.vars ? 'ansible_ssh_private_key_file' : 'ansible_private_key_file';
    return { host: host.name, field: `var ${field}`, message: `key file ${host.privateKeyFile} does not exist`, source: host.varSources[field] };
  });
}

function toIssue(issue: z.core.$ZodIssue, what: 'param' | 'var', host: string | undefined, sources: Record<string, string>): ValidationIssue {
  const path = issue.path.map(String);
  const root = path[0] ?? '';
  const field = `${what} ${path.join('.') || '(root)'}`;
  const source = root ? (sources[root] ?? (what === 'var' ? 'not set in the inventory' : undefined)) : undefined;
  return { host, field, message: issue.message, source };
}
