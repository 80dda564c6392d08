/**
 * What every task shares: its inputs resolved and validated (static ones when the runbook loads,
 * dynamic ones when the step runs), and its plan (the commands apply runs, with their stdin).
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { RunbookDefinitionError, RunbookError } from '../errors.ts';
import { Command, cmd } from '../shell/command.ts';
import type { ActionStep, Dynamic, StepContext } from '../runbook/types.ts';
import type { Shell } from '../shell/shell.ts';

/** The fields every step takes besides its task's own options. */
export type TaskCommon<P = any, V = any> = Pick<
  ActionStep<P, V>,
  'id' | 'title' | 'description' | 'when' | 'on' | 'timeoutMs' | 'retries' | 'retryDelayMs' | 'sensitive' | 'after'
>;

/** Options of a task whose values may each be Dynamic. */
export type DynamicOptions<T, P = any, V = any> = { [K in keyof T]: Dynamic<T[K], P, V> };

/** The host is not in a state the task can move from (a file where a directory should be). */
export class TaskError extends RunbookError {
  override name = 'TaskError';
  constructor(readonly stepId: string, message: string) {
    super(`step ${stepId}: ${message}`);
  }
}

const COMMON_KEYS = ['id', 'title', 'description', 'when', 'on', 'timeoutMs', 'retries', 'retryDelayMs', 'sensitive', 'after'] as const;

/**
 * The StepCommon fields of a task's options, without the task's own (they stay out of the step object).
 * @example return { ...commonOf(options), kind: 'action', check, commands }
 */
export function commonOf<P = any, V = any>(options: TaskCommon<P, V>): TaskCommon<P, V> {
  const common: Record<string, unknown> = {};
  for (const key of COMMON_KEYS) if (options[key] !== undefined) common[key] = options[key];
  return common as TaskCommon<P, V>;
}

const isDynamic = (value: unknown): value is (ctx: StepContext) => unknown => typeof value === 'function';

/**
 * A Dynamic value for this context: the value itself, or what its function returns.
 * @example const path = await resolve(options.path, ctx)
 */
export async function resolve<T>(value: Dynamic<T>, ctx: StepContext): Promise<T> {
  return isDynamic(value) ? (await value(ctx)) as T : value;
}

function formatIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || 'options'}: ${issue.message}`).join('; ');
}

function optionsOf(schema: z.ZodObject, input: object): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const key of Object.keys(schema.shape)) values[key] = (input as Record<string, unknown>)[key];
  return values;
}

/**
 * Checks a task's options when the runbook loads: all of them (cross-field rules included) when
 * none is dynamic, else each static one on its own. Throws RunbookDefinitionError naming the step.
 * @example checkOptions('marker', fileSchema, options)
 */
export function checkOptions(stepId: unknown, schema: z.ZodObject, input: object): void {
  if (typeof stepId !== 'string' || stepId === '') throw new RunbookDefinitionError('a step needs an id (a non-empty string)');
  const values = optionsOf(schema, input);
  const dynamicKeys = Object.keys(values).filter((key) => isDynamic(values[key]));
  if (dynamicKeys.length === 0) {
    const result = schema.safeParse(values);
    if (!result.success) throw new RunbookDefinitionError(`step ${stepId}: ${formatIssues(result.error)}`);
    return;
  }
  for (const [key, value] of Object.entries(values)) {
    if (dynamicKeys.includes(key)) continue;
    const result = (schema.shape[key] as z.ZodType).safeParse(value);
    if (!result.success) throw new RunbookDefinitionError(`step ${stepId}: ${key}: ${formatIssues(result.error)}`);
  }
}

/**
 * Resolves every option the schema names and validates the whole set; a dynamic value that comes
 * out wrong is a bug in the runbook, so it throws RunbookDefinitionError naming the step.
 * @example const { path, state } = await resolveOptions('marker', fileSchema, options, ctx)
 */
export async function resolveOptions<S extends z.ZodObject>(stepId: string, schema: S, input: object, ctx: StepContext): Promise<z.output<S>> {
  const values = optionsOf(schema, input);
  for (const key of Object.keys(values)) values[key] = await resolve(values[key], ctx);
  const result = schema.safeParse(values);
  if (!result.success) throw new RunbookDefinitionError(`step ${stepId}: a dynamic option resolved to a bad value: ${formatIssues(result.error)}`);
  return result.data;
}

/** One command of a plan, with the bytes it reads on stdin (file contents never go on a command line). */
export interface PlannedCommand {
  command: Command;
  stdin?: string | Buffer;
}

/**
 * Runs a plan's commands in order on the step's shell (or `sh`), each with its stdin; stops at the first failure.
 * @example await runPlan(ctx, [{ command: cmd`cat > ${path}`, stdin: content }])
 */
export async function runPlan(ctx: StepContext, plan: readonly PlannedCommand[], sh: Shell = ctx.sh): Promise<void> {
  // The last command may carry the reads the engine expects next (the re-check's) in its round trip.
  for (const [i, { command, stdin }] of plan.entries()) {
    const running = sh.run(command, { readAhead: i === plan.length - 1 });
    await (stdin === undefined ? running : running.stdin(stdin));
  }
}

/** Per step run (one ctx each): the plan its apply ran, as shown. */
const appliedPlans = new WeakMap<StepContext, Command[]>();

/**
 * Runs a plan like runPlan and remembers it, so that `commands(ctx)` asked after apply (the engine
 * journals them then) reports what ran rather than a fresh plan against the now-changed host.
 * @example async apply(ctx) { await applyPlan(ctx, (await diff(ctx)).plan) }
 */
export async function applyPlan(ctx: StepContext, plan: readonly PlannedCommand[], sh: Shell = ctx.sh): Promise<void> {
  appliedPlans.set(ctx, displayPlan(plan));
  await runPlan(ctx, plan, sh);
}

/**
 * The plan apply ran with this ctx, if it ran.
 * @example async commands(ctx) { return appliedPlan(ctx) ?? displayPlan((await diff(ctx)).plan) }
 */
export const appliedPlan = (ctx: StepContext): Command[] | undefined => appliedPlans.get(ctx);

/**
 * A short, safe description of bytes for a dry-run: size and hash, never the content itself.
 * @example describeBytes('hello\n') // '<content: 6 bytes, sha256 5891b5b522d5…>'
 */
export function describeBytes(data: string | Buffer): string {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  return `<content: ${bytes.length} bytes, sha256 ${sha256Hex(bytes).slice(0, 12)}…>`;
}

/**
 * The sha256 of bytes (a string as UTF-8), in hex: what `sha256sum` prints on the host.
 * @example sha256Hex('hello\n').startsWith('5891b5b5')
 */
export const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/**
 * The plan as ActionStep.commands shows it. A command that reads stdin is shown with a description
 * of its input; its text refuses to run, because run without its stdin it would empty the file.
 * @example commands: async (ctx) => displayPlan(await plan(ctx))
 */
export function displayPlan(plan: readonly PlannedCommand[]): Command[] {
  return plan.map(({ command, stdin }) => {
    if (stdin === undefined) return command;
    const refuse = cmd`echo ${'runbook: this command reads its content on stdin; only the step apply() can run it'} >&2; false`;
    return new Command(refuse.text, `${command.display} ${describeBytes(stdin)}`, command.secrets, command.dialect);
  });
}

/**
 * What a check read from the host, handed once to the apply (or dry-run's `commands`) that follows
 * it in the same step run (same ctx), so apply does not ask the host again: one round trip less,
 * and apply acts on exactly what the check judged. Taken, not kept: the re-check after apply (and a
 * retried apply) reads the host afresh. `key` (e.g. the resolved path) must match, so a dynamic
 * option that resolves differently the second time never gets another path's reading.
 * @example const seen = await reading.take(ctx, path, () => observe(ctx, path))
 */
export class CheckReading<T> {
  readonly #kept = new WeakMap<StepContext, { key: string; value: T }>();

  /** Reads the host for a check and keeps the answer for this step run's apply. */
  async fresh(ctx: StepContext, key: string, read: () => Promise<T>): Promise<T> {
    const value = await read();
    this.#kept.set(ctx, { key, value });
    return value;
  }

  /** The check's reading when there is one for this key, else a read of the host now. */
  async take(ctx: StepContext, key: string, read: () => Promise<T>): Promise<T> {
    const kept = this.#kept.get(ctx);
    this.#kept.delete(ctx);
    return kept && kept.key === key ? kept.value : read();
  }
}
