import { RunbookError } from '../errors.ts';
import { assertJson, type Json, type Outputs } from '../runbook/check.ts';
import type { OutputsView } from '../runbook/types.ts';

/** A step asked for a value an earlier step did not (or, in a dry-run, not yet) hand on. */
export class MissingOutputError extends RunbookError {
  override name = 'MissingOutputError';
  constructor(readonly stepId: string, readonly key?: string) {
    super(key ? `no value "${key}" from step "${stepId}"` : `step "${stepId}" has handed on no values`);
  }
}

/**
 * The explicit channel between steps of one host: values are JSON so the journal can hold them
 * and a resume (possibly on another machine) gets back exactly what the first run saw.
 */
export class HostOutputs implements OutputsView {
  readonly #byStep = new Map<string, Outputs>();

  constructor(restored?: Iterable<[string, Outputs]>) {
    for (const [step, values] of restored ?? []) this.#byStep.set(step, values);
  }

  record(stepId: string, given: Partial<Outputs> | undefined): Outputs | undefined {
    // An optional output left undefined is simply not handed on (JSON has no undefined).
    const values = Object.fromEntries(Object.entries(given ?? {}).filter(([, value]) => value !== undefined));
    if (Object.keys(values).length === 0) return this.#byStep.get(stepId);
    assertJson(values, `outputs of step "${stepId}"`);
    const merged = { ...this.#byStep.get(stepId), ...values };
    this.#byStep.set(stepId, merged);
    return merged;
  }

  of(stepId: string): Outputs | undefined {
    return this.#byStep.get(stepId);
  }

  get<T extends Json = Json>(stepId: string, key: string): T {
    const values = this.#byStep.get(stepId);
    if (!values) throw new MissingOutputError(stepId);
    if (!(key in values)) throw new MissingOutputError(stepId, key);
    return values[key] as T;
  }
}
