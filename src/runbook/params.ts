import { z } from 'zod';
import { Secret } from '../shell/command.ts';

/**
 * A param or host var that holds a secret: validated as a non-empty string, handed to steps as a
 * `Secret` so it is quoted into commands but masked in every log, report and journal.
 * @example params: z.object({ poolPassword: secretString() })
 */
export const secretString = () => {
  const schema = z.string().min(1, 'must not be empty').transform((value) => new Secret(value));
  secretSchemas.add(schema);
  return schema;
};

// Which schemas secretString made, so a missing secret param is asked for in the environment, not on argv.
const secretSchemas = new WeakSet<object>();

/**
 * True for a schema secretString() made, also once described (`.describe()` and `.meta()` hand back
 * a copy whose `_zod.parent` is the original): its value comes from RUNBOOK_PARAM_<key>, never
 * from the command line.
 */
export function isSecretSchema(schema: unknown): boolean {
  for (let at = schema; typeof at === 'object' && at !== null; at = (at as { _zod?: { parent?: unknown } })._zod?.parent) {
    if (secretSchemas.has(at)) return true;
  }
  return false;
}

/** Replaces every Secret found in a value (deeply) by the mask, for run records and reports. */
export function redactSecrets(value: unknown): unknown {
  if (value instanceof Secret) return value.toJSON();
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactSecrets(v)]));
  }
  return value;
}

/** The texts of every Secret in a value, so free output (stderr, error messages) can be masked too. */
export function collectSecrets(value: unknown, found: string[] = []): string[] {
  if (value instanceof Secret) found.push(value.reveal());
  else if (Array.isArray(value)) value.forEach((v) => collectSecrets(v, found));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => collectSecrets(v, found));
  return found;
}
