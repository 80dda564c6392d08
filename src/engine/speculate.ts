/**
 * The first read a step will send to its host, found before the step runs: its `when` and check
 * run against a shell that answers nothing. The first command they try to send is noted and ends
 * the trial; it counts only when it is a read (RunOptions.read: a fact), since it may then be sent
 * in the frame of the step before (src/engine/read-ahead.ts), where a step that changes anything
 * must never be run early. Nothing the trial does is kept: no output, no log, no fact.
 */
import type { Step, StepContext } from '../runbook/types.ts';
import { RunbookError } from '../errors.ts';
import { createShell, type Executor, type HostFacts, type Shell } from '../shell/shell.ts';
import type { Transport } from '../transport/types.ts';
import type { StepScope } from './context.ts';
import type { AheadRead } from './read-ahead.ts';

/** Ends a trial at its first command. */
class Tried extends RunbookError {
  override name = 'Tried';
}

/**
 * The step's first command on its own host when that is a plain read; undefined when it is not, when
 * the step runs elsewhere or is skipped, or when its `when` or check needs what is not known yet
 * (an output of the step before, still being applied).
 * @example const next = await firstReadOf(steps[i + 1], scope) // { command, on, sudo } | undefined
 */
export async function firstReadOf(step: Step, scope: StepScope): Promise<AheadRead | undefined> {
  if (step.on !== undefined && step.on !== scope.host.name) return undefined;
  if (!step.check) return undefined;
  const name = scope.host.name;
  const become = scope.inventoryHosts.get(name)?.become ?? false;
  let first: AheadRead | undefined;
  let tried = false;
  const trial: Executor = async (command, options) => {
    if (!tried && options.read && options.stdin === undefined && options.timeoutMs === undefined) first = { command, on: name, sudo: options.sudo ?? become };
    tried = true;
    throw new Tried('trial');
  };
  const ctx = trialContext(step, scope, createShell(name, trial, 'posix', peekOnly(scope.connections.factsOf(name))));
  const tryIt = async (): Promise<AheadRead | undefined> => {
    try {
      if (step.when && !(await step.when(ctx))) return undefined;
      await step.check!(ctx);
    } catch (error) {
      if (!(error instanceof Tried)) return undefined;
    }
    return first;
  };
  return withinTrialLimit(tryIt());
}

/**
 * What `work` finds when the step's callbacks may send nothing to any host; undefined when one tried
 * to (a read of the host, a fact not known yet), threw, or took too long. For what the engine must
 * know before a step runs: its `when`, and a host-judged step's probe and commands.
 * @example const known = await withoutHost(step, scope, async (ctx) => step.commands!(ctx)) // { value } | undefined
 */
export async function withoutHost<T>(step: Step, scope: StepScope, work: (ctx: StepContext) => Promise<T>): Promise<{ value: T } | undefined> {
  const nowhere: Executor = async () => { throw new Tried('trial'); };
  const ctx = trialContext(step, scope, createShell(scope.host.name, nowhere, 'posix', peekOnly(scope.connections.factsOf(scope.host.name))));
  return withinTrialLimit((async () => {
    try {
      return { value: await work(ctx) };
    } catch {
      return undefined;
    }
  })());
}

/** A trial that waits on its own (a sleep between asks) must not hold the round trip it is for. */
async function withinTrialLimit<T>(trial: Promise<T | undefined>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => { timer = setTimeout(resolve, TRIAL_LIMIT_MS, undefined); });
  try {
    return await Promise.race([trial, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long a trial may take before the frame goes without it (the next step's read, a step it would carry). */
const TRIAL_LIMIT_MS = 1000;

/** Facts already known answer as in the run; one not yet known is asked (and so tried), never kept. */
function peekOnly(facts: HostFacts): HostFacts {
  return { once: (key, ask) => (facts.known?.(key) ? facts.once(key, ask) : ask()) };
}

function trialContext(step: Step, scope: StepScope, sh: Shell): StepContext {
  const nowhere: Executor = async () => { throw new Tried('trial'); };
  const refuse = async (): Promise<never> => { throw new Tried('trial'); };
  const transport: Transport = {
    kind: 'ssh', host: scope.host.name, connect: refuse, exec: refuse, put: refuse, get: refuse, reconnect: refuse, close: async () => {},
  };
  return {
    host: scope.host, params: scope.params, sh,
    on: (other) => createShell(other, nowhere),
    transport, inventory: scope.inventory, outputs: scope.outputs,
    log: () => {}, dryRun: scope.dryRun, signal: new AbortController().signal,
    stepId: step.id, attemptId: `${scope.attemptId}/trial`,
  };
}
