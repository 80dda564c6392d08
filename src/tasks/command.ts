import { z } from 'zod';
import { RunbookDefinitionError } from '../errors.ts';
import { change, noop, type CheckResult } from '../runbook/check.ts';
import { hostJudged } from '../runbook/host-check.ts';
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
  /**
   * Done when this command exits 0 on the host (Puppet exec's `unless`): `unless: cmd\`grep -qx
   * value=1 /etc/app.conf\``. The host judges it alone, so consecutive such steps share one round
   * trip. It must only read; it runs again after `run` as the re-check.
   */
  unless?: Dynamic<Command, P, V>;
  /** Your own "already done?" answer; not combinable with creates/removes/unless. */
  check?: (ctx: StepContext<P, V>) => CheckResult | Promise<CheckResult>;
}

const path = z.string().min(1).refine((p) => !p.includes('\0'), 'a path cannot hold a NUL byte');

const RUN_SHAPE = 'run must be a Command built with cmd`…` or a non-empty array of them';

const commandSchema = z.object({
  run: z.union([z.instanceof(Command), z.array(z.instanceof(Command)).min(1, RUN_SHAPE)], { error: RUN_SHAPE }),
  creates: path.optional(),
  removes: path.optional(),
  unless: z.instanceof(Command, { error: 'unless must be a Command built with cmd`…`' }).optional(),
});

/** Ansible's order: `creates` first, then `removes`; either one holding means there is nothing to do. */
async function guardCheck(ctx: StepContext, creates: string | undefined, removes: string | undefined): Promise<CheckResult> {
  if (creates !== undefined && await pathExists(ctx.sh, creates)) return noop(`${creates} exists`);
  if (removes !== undefined && !await pathExists(ctx.sh, removes)) return noop(`${removes} does not exist`);
  const reasons = [creates !== undefined && `${creates} does not exist`, removes !== undefined && `${removes} exists`];
  return change(reasons.filter(Boolean).join(' and '));
}

/** One kind of guard per step: a check of your own, path guards, or a command the host judges. */
function refuseMixedGuards(options: CommandOptions): void {
  const hasPathGuard = options.creates !== undefined || options.removes !== undefined;
  if (options.check !== undefined && (hasPathGuard || options.unless !== undefined)) {
    throw new RunbookDefinitionError(`step ${options.id}: give either check or creates/removes/unless, not both`);
  }
  if (options.unless !== undefined && hasPathGuard) {
    throw new RunbookDefinitionError(`step ${options.id}: give either unless or creates/removes, not both`);
  }
}

/**
 * Runs commands, guarded so a rerun does nothing: Ansible's command/shell with creates/removes, or
 * Puppet's exec with `unless`. Without any guard it always runs (and is not re-checked: nothing could
 * say it worked). A step guarded by `unless`, or by nothing, is judged on the host alone: the engine
 * sends a run of such steps to the host in one script.
 * @example command({ id: 'leap-marker', title: 'mark the host', run: cmd`touch /tmp/leap`, creates: '/tmp/leap' })
 */
export function command<P = any, V = any>(options: CommandOptions<P, V>): ActionStep<P, V> {
  checkOptions(options.id, commandSchema, options);
  refuseMixedGuards(options);
  const hasPathGuard = options.creates !== undefined || options.removes !== undefined;
  const resolved = (ctx: StepContext<P, V>) => resolveOptions(options.id, commandSchema, options, ctx);
  const commands = async (ctx: StepContext<P, V>) => {
    const { run } = await resolved(ctx);
    return Array.isArray(run) ? run : [run];
  };
  const common = { ...commonOf(options), kind: 'action' as const, commands };
  if (options.check) return { ...common, check: options.check, verify: true };
  if (hasPathGuard) {
    return {
      ...common,
      async check(ctx) {
        const { creates, removes } = await resolved(ctx);
        return guardCheck(ctx, creates, removes);
      },
      verify: true,
    };
  }
  const guarded = options.unless !== undefined;
  return {
    ...common,
    ...hostJudged<P, V>(async (ctx) => guarded ? (await resolved(ctx)).unless : undefined, 'no guard: always runs'),
    verify: guarded,
  };
}
