import { z } from 'zod';
import { RunbookDefinitionError } from '../errors.ts';
import { change, noop, type CheckResult } from '../runbook/check.ts';
import type { ActionStep, Dynamic, StepContext } from '../runbook/types.ts';
import { Command } from '../shell/command.ts';
import { pathExists } from './facts.ts';
import { checkOptions, commonOf, resolveOptions, type TaskCommon } from './resolve.ts';

export interface CommandOptions<P = any, V = any> extends TaskCommon<P, V> {
  /** What to run, built with `cmd`; several commands run in order and stop at the first failure. */
  run: Dynamic<Command | Command[], P, V>;
  /** Done when this path exists (Ansible's `creates`). */
  creates?: Dynamic<string, P, V>;
  /** Done when this path does not exist (Ansible's `removes`). */
  removes?: Dynamic<string, P, V>;
  /** Your own "already done?" answer; not combinable with creates/removes. */
  check?: (ctx: StepContext<P, V>) => CheckResult | Promise<CheckResult>;
}

const path = z.string().min(1).refine((p) => !p.includes('\0'), 'a path cannot hold a NUL byte');

const RUN_SHAPE = 'run must be a Command built with cmd`…` or a non-empty array of them';

const commandSchema = z.object({
  run: z.union([z.instanceof(Command), z.array(z.instanceof(Command)).min(1, RUN_SHAPE)], { error: RUN_SHAPE }),
  creates: path.optional(),
  removes: path.optional(),
});

/** Ansible's order: `creates` first, then `removes`; either one holding means there is nothing to do. */
async function guardCheck(ctx: StepContext, creates: string | undefined, removes: string | undefined): Promise<CheckResult> {
  if (creates !== undefined && await pathExists(ctx.sh, creates)) return noop(`${creates} exists`);
  if (removes !== undefined && !await pathExists(ctx.sh, removes)) return noop(`${removes} does not exist`);
  const reasons = [creates !== undefined && `${creates} does not exist`, removes !== undefined && `${removes} exists`];
  return change(reasons.filter(Boolean).join(' and '));
}

/**
 * Runs commands, guarded so a rerun does nothing: Ansible's command/shell with creates/removes.
 * Without any guard it always runs (and is not re-checked: nothing could say it worked).
 * @example command({ id: 'leap-marker', title: 'mark the host', run: cmd`touch /tmp/leap`, creates: '/tmp/leap' })
 */
export function command<P = any, V = any>(options: CommandOptions<P, V>): ActionStep<P, V> {
  checkOptions(options.id, commandSchema, options);
  const hasGuard = options.creates !== undefined || options.removes !== undefined;
  if (options.check !== undefined && hasGuard) {
    throw new RunbookDefinitionError(`step ${options.id}: give either check or creates/removes, not both`);
  }
  const resolved = (ctx: StepContext<P, V>) => resolveOptions(options.id, commandSchema, options, ctx);
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      if (options.check) return options.check(ctx);
      if (!hasGuard) return change('no guard: always runs');
      const { creates, removes } = await resolved(ctx);
      return guardCheck(ctx, creates, removes);
    },
    async commands(ctx) {
      const { run } = await resolved(ctx);
      return Array.isArray(run) ? run : [run];
    },
    verify: options.check !== undefined || hasGuard,
  };
}
