import { z } from 'zod';
import { RunbookDefinitionError } from '../errors.ts';
import { parseWindowEnd } from '../engine/window.ts';
import type { ActionStep, AssertStep, ManualStep, Runbook, Step } from './types.ts';

const STEP_ID = /^[a-z0-9][a-z0-9._-]*$/i;
const SERIAL = /^\d+%?$/;

type AnySchema = z.ZodType;
type NoParams = z.ZodObject<{}>;

/** The definition as written, typed from its zod schemas so steps see typed params and host vars. */
export interface RunbookInput<PS extends AnySchema, VS extends AnySchema> {
  name: string;
  summary: string;
  description?: string;
  params?: PS;
  vars?: VS;
  hosts?: string;
  serial?: number | string;
  /** Default change window end: `'4h'` from the start, `'06:00'`, or an ISO time (`--window-end` wins). */
  windowEnd?: string;
  steps: Step<z.output<PS>, z.output<VS>>[];
}

/** A runbook's header, before its steps: the builder form's first half. */
export type RunbookHeader<PS extends AnySchema, VS extends AnySchema> = Omit<RunbookInput<PS, VS>, 'steps'>;

/** The builder form's second half: steps typed from the header's schemas. */
export interface RunbookBuilder<P, V> {
  steps(steps: Step<P, V>[]): Runbook<P, V>;
}

/**
 * Declares a runbook; the CLI loads `runbooks/NAME.ts` and takes its default export. Two forms:
 * with `steps` in the object, or header first and `.steps([...])` after. Prefer the second when
 * steps are typed tasks: TypeScript infers params and vars from the header before it reads the
 * steps, so `ctx.params` and `ctx.host.vars` are fully typed inside every task's callbacks.
 * @example export default defineRunbook({ name: 'hello', summary: 'say hello', params: z.object({ who: z.string() }) }).steps([command({ id: 'hi', title: 'say hi', run: (ctx) => cmd`echo hi ${ctx.params.who}` })])
 */
export function defineRunbook<PS extends AnySchema = NoParams, VS extends AnySchema = NoParams>(
  input: RunbookInput<PS, VS>,
): Runbook<z.output<PS>, z.output<VS>>;
export function defineRunbook<PS extends AnySchema = NoParams, VS extends AnySchema = NoParams>(
  header: RunbookHeader<PS, VS>,
): RunbookBuilder<z.output<PS>, z.output<VS>>;
export function defineRunbook(input: RunbookHeader<AnySchema, AnySchema> & { steps?: Step[] }): Runbook | RunbookBuilder<unknown, unknown> {
  if (input.steps === undefined) return { steps: (steps: Step[]) => finish({ ...input, steps }) };
  return finish(input as RunbookInput<AnySchema, AnySchema>);
}

function finish(input: RunbookInput<AnySchema, AnySchema>): Runbook {
  validateRunbook(input);
  return Object.freeze({ ...input, steps: [...input.steps] });
}

/** Structural checks a type checker cannot make: unique step ids, schemas that are zod, a sane serial. */
export function validateRunbook(input: RunbookInput<AnySchema, AnySchema>, file?: string): void {
  const fail = (message: string): never => { throw new RunbookDefinitionError(message, file); };
  if (!input || typeof input !== 'object') fail('the default export is not a runbook (use defineRunbook)');
  if (typeof input.name !== 'string' || !STEP_ID.test(input.name)) fail(`runbook name ${JSON.stringify(input.name)} must be letters, digits, ".", "_" or "-"`);
  if (typeof input.summary !== 'string' || input.summary.trim() === '') fail(`runbook ${input.name} needs a summary`);
  for (const key of ['params', 'vars'] as const) {
    const schema = input[key];
    if (schema !== undefined && !(schema instanceof z.ZodType)) fail(`${key} must be a zod schema (z.object({...}))`);
  }
  if (input.serial !== undefined && !SERIAL.test(String(input.serial))) fail(`serial ${JSON.stringify(input.serial)} must be a number or a percentage like "25%"`);
  if (input.windowEnd !== undefined && (typeof input.windowEnd !== 'string' || parseWindowEnd(input.windowEnd, new Date()) === null)) {
    fail(`windowEnd ${JSON.stringify(input.windowEnd)} must be a length like "4h", a time of day like "06:00" or an ISO time`);
  }
  if (!Array.isArray(input.steps) || input.steps.length === 0) fail(`runbook ${input.name} has no steps`);
  const seen = new Map<string, number>();
  input.steps.forEach((step, index) => {
    validateStep(step, index, fail);
    const earlier = seen.get(step.id);
    if (earlier !== undefined) fail(`duplicate step id "${step.id}" (steps ${earlier + 1} and ${index + 1}): ids key the journal and must be unique`);
    seen.set(step.id, index);
  });
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
  if (step.retries !== undefined && (!Number.isInteger(step.retries) || step.retries < 0)) fail(`${where}: retries must be a whole number ≥ 0`);
  if (step.timeoutMs !== undefined && !(step.timeoutMs > 0)) fail(`${where}: timeoutMs must be > 0`);
}
