/** A JSON value: what a step may hand to later steps, so it can be journaled and restored on resume. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type Outputs = Record<string, Json>;

/** A check's answer, always with the reason a human reads in the dry-run and the journal. */
export interface CheckResult<O = Outputs> {
  done: boolean;
  reason: string;
  /** Values found while checking (a uuid, the current HA timeout) for later steps. */
  outputs?: O;
  /** For a step that writes a file's content: the text now and what it would become (`--diff`, plans). */
  content?: ContentChange;
}

/** A file's text now (null: no file yet) and after the step: what `--diff` and saved plans show. */
export interface ContentChange {
  path: string;
  before: string | null;
  after: string;
}

/**
 * Nothing to do, and why.
 * @example return noop('marker /tmp/leapsecond_2012_06_30 exists')
 */
export const noop = <O = never>(reason: string, outputs?: O): CheckResult<O> => ({ done: true, reason, outputs });

/**
 * Something to do, and why.
 * @example return change('ntpd is running')
 */
export const change = <O = never>(reason: string, outputs?: O): CheckResult<O> => ({ done: false, reason, outputs });

/** Throws unless the value survives JSON unchanged in kind (no undefined, functions, class instances). */
export function assertJson(value: unknown, where: string): asserts value is Json {
  const walk = (v: unknown, path: string): void => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
    if (typeof v === 'number') { if (!Number.isFinite(v)) throw new TypeError(`${where}${path} is ${v}, which JSON cannot hold`); return; }
    if (Array.isArray(v)) { v.forEach((item, i) => walk(item, `${path}[${i}]`)); return; }
    if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      for (const [k, item] of Object.entries(v as object)) walk(item, `${path}.${k}`);
      return;
    }
    throw new TypeError(`${where}${path} is not a JSON value (${typeof v}); outputs must be serialisable so resume can restore them`);
  };
  walk(value, '');
}
