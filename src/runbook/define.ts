import { z } from 'zod';
import { RunbookDefinitionError } from '../errors.ts';
import { parseWindowEnd } from '../engine/window.ts';
import { outputReaders } from './outputs.ts';
import type { ActionStep, AssertStep, ManualStep, Runbook, Step, WithOutputs } from './types.ts';

const STEP_ID = /^[a-z0-9][a-z0-9._-]*$/i;
const SERIAL = /^\d+%?$/;

/**
 * The core zod type, not the classic `z.ZodType`: checking a `z.object(...)` against the classic
 * type compares every method of it (and the variance of what each returns, recursively), which
 * took the compiler 0.7 s of the 1 s it spent checking leap-second. The core type is compared by
 * its internals alone. validateRunbook still requires a classic schema when the runbook loads.
 */
type AnySchema = z.core.$ZodType;
type NoParams = z.ZodObject<{}>;

/** A runbook's header, before its steps: name, texts, schemas, targets. */
export interface RunbookHeader<PS extends AnySchema, VS extends AnySchema> {
  name: string;
  summary: string;
  description?: string;
  params?: PS;
  vars?: VS;
  hosts?: string;
  serial?: number | string;
  /**
   * The runbook acts on one host per run (a rebuild, a VM's repair): a run whose targets after
   * `--limit` are not exactly one host is refused before any host is touched. Steps read the host
   * as `ctx.host`, so the operator names it once, with `--limit`.
   */
  oneHost?: boolean;
  /** Default change window end: `'4h'` from the start, `'06:00'`, or an ISO time (`--window-end` wins). */
  windowEnd?: string;
}

/** The definition as written, typed from its zod schemas so steps see typed params and host vars. */
export interface RunbookInput<PS extends AnySchema, VS extends AnySchema> extends RunbookHeader<PS, VS> {
  steps: Step<z.output<PS>, z.output<VS>>[];
}

/**
 * A step override for `extend`: each callback also gets the step it extends, to call through.
 * @example draft.extend(step, { check: async (ctx, base) => (await ready(ctx)) ? base.check(ctx) : change('not yet') })
 */
export type Extension<S> = {
  [K in keyof S]?: NonNullable<S[K]> extends (ctx: infer C) => infer R ? (ctx: C, base: S) => R : S[K];
};

/** A step declared with `outputs` (a zod object), typed for this runbook's params and vars. */
type Declared<S, OS> = S & { outputs: OS };

/**
 * The runbook being written: steps typed from the header's schemas, then `.steps([...])` ends it.
 * Every method is for the type checker as much as for the engine: `ctx.params` and
 * `ctx.host.vars` are typed in each callback, and `step.out.key` is typed from `outputs`.
 */
export interface RunbookDraft<P, V> {
  /**
   * A step of this runbook: a library task (`draft.step(service({...}))`) or a step written out.
   * With `outputs: z.object({...})` its check/apply hand on those values, read later as
   * `step.out.due(ctx)` (or `when: step.out.due`).
   * @example const looked = rb.step({ kind: 'assert', id: 'looked', title: 'look', outputs: z.object({ due: z.boolean() }), check: () => noop('ok', { due: true }) })
   */
  step<OS extends z.ZodObject>(step: Declared<ActionStep<P, V, z.output<OS>>, OS>): WithOutputs<ActionStep<P, V, z.output<OS>>, z.output<OS>>;
  step<OS extends z.ZodObject>(step: Declared<AssertStep<P, V, z.output<OS>>, OS>): WithOutputs<AssertStep<P, V, z.output<OS>>, z.output<OS>>;
  step<OS extends z.ZodObject>(step: Declared<ManualStep<P, V, z.output<OS>>, OS>): WithOutputs<ManualStep<P, V, z.output<OS>>, z.output<OS>>;
  step<S extends Step<P, V>>(step: S & { outputs?: undefined }): S;
  /**
   * A copy of a step with some fields replaced; a replaced callback gets the original step too.
   * @example rb.extend(xe.vmShutdown({...}), { when: (ctx, base) => needed(ctx) })
   */
  extend<O>(base: ActionStep<P, V, O>, patch: Extension<ActionStep<P, V, O>>): ActionStep<P, V, O>;
  extend<O>(base: AssertStep<P, V, O>, patch: Extension<AssertStep<P, V, O>>): AssertStep<P, V, O>;
  extend<O>(base: ManualStep<P, V, O>, patch: Extension<ManualStep<P, V, O>>): ManualStep<P, V, O>;
  /** Ends the runbook: the default export. */
  steps(steps: Step<P, V>[]): Runbook<P, V>;
}

/**
 * Declares a runbook; the CLI loads `runbooks/NAME.ts` and takes its default export. The header
 * comes first, so TypeScript knows params and vars before any step; steps that later steps refer
 * to are made with `.step(...)`, and `.steps([...])` lists them in order.
 * @example const rb = defineRunbook({ name: 'hello', summary: 'say hello', params: z.object({ who: z.string() }) }); export default rb.steps([command({ id: 'hi', title: 'say hi', run: (ctx) => cmd`echo hi ${ctx.params.who}` })])
 */
export function defineRunbook<PS extends AnySchema = NoParams, VS extends AnySchema = NoParams>(
  header: RunbookHeader<PS, VS>,
): RunbookDraft<z.output<PS>, z.output<VS>> {
  if (header && typeof header === 'object' && 'steps' in header) {
    throw new RunbookDefinitionError('defineRunbook takes the header only: list the steps with .steps([...]) after it');
  }
  return {
    step: withReaders as RunbookDraft<z.output<PS>, z.output<VS>>['step'],
    extend: extendStep as RunbookDraft<z.output<PS>, z.output<VS>>['extend'],
    steps: (steps) => finish({ ...header, steps } as RunbookInput<AnySchema, AnySchema>) as Runbook<z.output<PS>, z.output<VS>>,
  };
}

/** Gives a step that declared `outputs` one reader per declared key. */
function withReaders<S extends Step>(step: S): S {
  const declared = step && typeof step === 'object' ? (step as { outputs?: unknown }).outputs : undefined;
  if (declared === undefined) return step;
  if (!(declared instanceof z.ZodObject)) throw new RunbookDefinitionError(`step ${String(step.id)}: outputs must be a z.object({...})`);
  return { ...step, out: outputReaders(step.id, declared) };
}

function extendStep<S extends Step>(base: S, patch: Extension<S>): S {
  const extended: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    extended[key] = typeof value === 'function' ? (ctx: unknown) => value(ctx, base) : value;
  }
  return withReaders(extended as S);
}

function finish(input: RunbookInput<AnySchema, AnySchema>): Runbook {
  validateRunbook(input);
  // validateRunbook has found params and vars to be classic schemas (z.ZodType), as Runbook says.
  return Object.freeze({ ...input, steps: [...input.steps] }) as Runbook;
}

/** Structural checks a type checker cannot make: unique step ids, schemas that are zod, a sane serial. */
export function validateRunbook(input: RunbookInput<AnySchema, AnySchema>, file?: string): void {
  const fail = (message: string): never => { throw new RunbookDefinitionError(message, file); };
  if (!input || typeof input !== 'object') fail('the default export is not a runbook (use defineRunbook)');
  if (typeof input.steps === 'function') fail('the default export is defineRunbook\'s header without steps: end it with .steps([...])');
  if (typeof input.name !== 'string' || !STEP_ID.test(input.name)) fail(`runbook name ${JSON.stringify(input.name)} must be letters, digits, ".", "_" or "-"`);
  if (typeof input.summary !== 'string' || input.summary.trim() === '') fail(`runbook ${input.name} needs a summary`);
  for (const key of ['params', 'vars'] as const) {
    const schema = input[key];
    if (schema !== undefined && !(schema instanceof z.ZodType)) fail(`${key} must be a zod schema (z.object({...}))`);
  }
  if (input.serial !== undefined && !SERIAL.test(String(input.serial))) fail(`serial ${JSON.stringify(input.serial)} must be a number or a percentage like "25%"`);
  if (input.oneHost !== undefined && typeof input.oneHost !== 'boolean') fail(`oneHost ${JSON.stringify(input.oneHost)} must be true or false`);
  if (input.windowEnd !== undefined && (typeof input.windowEnd !== 'string' || parseWindowEnd(input.windowEnd, new Date()) === null)) {
    fail(`windowEnd ${JSON.stringify(input.windowEnd)} must be a length like "4h", a time of day like "06:00" or an ISO time`);
  }
  if (!Array.isArray(input.steps) || input.steps.length === 0) fail(`runbook ${input.name} has no steps`);
  const seen = new Map<string, number>();
  input.steps.forEach((step, index) => {
    validateStep(step, index, fail);
    validateAfter(step, index, seen, fail);
    const earlier = seen.get(step.id);
    if (earlier !== undefined) fail(`duplicate step id "${step.id}" (steps ${earlier + 1} and ${index + 1}): ids key the journal and must be unique`);
    seen.set(step.id, index);
  });
}

/** `after` names earlier steps of this runbook: a later or unknown one could never have changed first. */
function validateAfter(step: Step, index: number, earlier: ReadonlyMap<string, number>, fail: (m: string) => never): void {
  if (step.after === undefined) return;
  if (!Array.isArray(step.after)) fail(`step ${index + 1} (${step.id}): after must be a list of steps ([ntpStopped])`);
  for (const ref of step.after) {
    const id = ref && typeof ref === 'object' ? ref.id : undefined;
    if (typeof id !== 'string' || !earlier.has(id)) fail(`step ${index + 1} (${step.id}): after names ${JSON.stringify(id ?? ref)}, which is not an earlier step of this runbook`);
  }
}

function validateStep(step: Step, index: number, fail: (m: string) => never): void {
  const where = `step ${index + 1}${step && typeof step.id === 'string' ? ` (${step.id})` : ''}`;
  if (!step || typeof step !== 'object') fail(`${where} is not a step object`);
  if (typeof step.id !== 'string' || !STEP_ID.test(step.id)) fail(`${where}: id must be letters, digits, ".", "_" or "-"`);
  if (typeof step.title !== 'string' || step.title.trim() === '') fail(`${where}: needs a title`);
  if (step.kind === 'action') {
    const action = step as ActionStep;
    if (typeof action.check !== 'function') fail(`${where}: an action step needs check()`);
    if (typeof action.apply !== 'function' && typeof action.commands !== 'function') fail(`${where}: an action step needs apply() or commands()`);
  } else if (step.kind === 'assert') {
    if (typeof (step as AssertStep).check !== 'function') fail(`${where}: an assert needs check()`);
  } else if (step.kind === 'manual') {
    const manual = step as ManualStep;
    if (typeof manual.instructions !== 'string' || manual.instructions.trim() === '') fail(`${where}: a manual step needs instructions`);
    if (manual.evidence !== undefined && !(manual.evidence instanceof z.ZodObject)) fail(`${where}: evidence must be a z.object({...})`);
  } else {
    fail(`${where}: unknown kind ${JSON.stringify((step as { kind?: unknown }).kind)}`);
  }
  const declared = (step as { outputs?: unknown }).outputs;
  if (declared !== undefined && !(declared instanceof z.ZodObject)) fail(`${where}: outputs must be a z.object({...})`);
  if (step.retries !== undefined && (!Number.isInteger(step.retries) || step.retries < 0)) fail(`${where}: retries must be a whole number ≥ 0`);
  if (step.timeoutMs !== undefined && !(step.timeoutMs > 0)) fail(`${where}: timeoutMs must be > 0`);
}
