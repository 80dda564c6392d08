/**
 * Waiting for a condition: the `waitFor` step; `runUntil`, the step that runs a command and then
 * waits for its effect (a VM start, a pool join, a toolstack restart, a shutdown from inside a
 * guest); and `pollUntil`, the loop under both.
 */
import { TimeoutError } from '../errors.ts';
import { change, noop, type CheckResult } from '../runbook/check.ts';
import type { ActionStep, Dynamic, StepContext } from '../runbook/types.ts';
import type { Command } from '../shell/command.ts';
import type { Shell } from '../shell/shell.ts';
import { appliedPlan, applyPlan, commonOf, resolve, type TaskCommon } from './resolve.ts';

/** Time as the poller sees it; tests pass a fake one so no test sleeps for real. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The wall clock; `sleep` ends early, rejecting with the signal's reason, when the signal aborts. */
export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => new Promise<void>((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return; }
    const onAbort = () => { clearTimeout(timer); reject(signal!.reason); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  }),
};

export interface PollOptions {
  timeoutMs: number;
  intervalMs?: number;
  clock?: Clock;
  signal?: AbortSignal;
  /** What is being waited for, for the timeout message. */
  what: string;
}

/** The condition did not hold in time; carries the last reason the condition gave. */
export class WaitTimeoutError extends TimeoutError {
  override name = 'WaitTimeoutError';
  constructor(what: string, timeoutMs: number, readonly lastReason: string) {
    super(what, timeoutMs);
    this.message = `${what}: still not so after ${Math.round(timeoutMs / 1000)} s: ${lastReason}`;
  }
}

/**
 * Asks `probe` until it says done, sleeping `intervalMs` between asks; throws WaitTimeoutError with
 * the last reason once `timeoutMs` has passed. A probe that throws counts as "not yet" (a host
 * restarting its toolstack refuses commands for a while), its message becoming the reason.
 * @example await pollUntil(() => vmIsHalted(ctx), { what: 'VM halted', timeoutMs: 300_000 })
 */
export async function pollUntil(probe: () => Promise<CheckResult> | CheckResult, options: PollOptions): Promise<CheckResult> {
  const clock = options.clock ?? realClock;
  const interval = options.intervalMs ?? 2000;
  const deadline = clock.now() + options.timeoutMs;
  for (;;) {
    const result = await askOnce(probe);
    if (result.done) return result;
    if (clock.now() + interval > deadline) throw new WaitTimeoutError(options.what, options.timeoutMs, result.reason);
    await clock.sleep(interval, options.signal);
  }
}

/** One ask of a probe; a throw is an answer ("not yet", with the error as the reason), not a failure. */
export async function askOnce(probe: () => Promise<CheckResult> | CheckResult): Promise<CheckResult> {
  try {
    return await probe();
  } catch (error) {
    return change(`not answering yet: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  }
}

export interface WaitForOptions<P = any, V = any> extends TaskCommon<P, V> {
  /** The condition, as a check: done when it holds, with a reason either way. */
  until: (ctx: StepContext<P, V>) => CheckResult | Promise<CheckResult>;
  timeoutMs: number;
  /** Between two asks; default 2 s. */
  intervalMs?: number;
  clock?: Clock;
}

const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`;

/**
 * Waits until a condition holds: check is the condition; apply asks again every `intervalMs` and
 * fails with the condition's last reason after `timeoutMs`. Dry-run says how long it would wait.
 * A condition that throws (its host not answering yet) counts as not holding yet.
 * @example waitFor({ id: 'vm-halted', title: 'wait for the guest to halt', until: (ctx) => xe.vmPowerIs(ctx.sh, 'Ubuntu', 'halted'), timeoutMs: 300_000 })
 */
export function waitFor<P = any, V = any>(options: WaitForOptions<P, V>): ActionStep<P, V> {
  if (!(options.timeoutMs > 0)) throw new RangeError(`waitFor ${options.id}: timeoutMs must be > 0`);
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      // A condition that cannot be asked yet (the guest's SSH still down) is "not yet", so apply gets to wait for it.
      const now = await askOnce(() => options.until(ctx));
      if (now.done) return noop(now.reason, now.outputs);
      return change(`${ctx.dryRun ? 'would wait' : 'waiting'} up to ${seconds(options.timeoutMs)}: ${now.reason}`, now.outputs);
    },
    async apply(ctx) {
      const held = await pollUntil(() => options.until(ctx), {
        what: options.title, timeoutMs: options.timeoutMs, intervalMs: options.intervalMs, clock: options.clock, signal: ctx.signal,
      });
      return held.outputs;
    },
  };
}

/** A noop/change from a yes/no question and the two reasons; keeps probes one line long. */
export const holds = (done: boolean, yes: string, no: string): CheckResult => (done ? noop(yes) : change(no));

export interface RunUntilOptions<P = any, V = any> extends TaskCommon<P, V> {
  /** The state wanted: what apply asks again, after running `commands`, until it holds. */
  until: (ctx: StepContext<P, V>) => CheckResult | Promise<CheckResult>;
  /** The step's check when it is not `until` (a restart nothing on the host asks for); default `until`. */
  check?: (ctx: StepContext<P, V>) => CheckResult | Promise<CheckResult>;
  /** The commands that start the change: dry-run shows them; after apply they say what ran. */
  commands: (ctx: StepContext<P, V>) => Command[] | Promise<Command[]>;
  /** The shell they run on, when not the step's: a shutdown inside the guest while `xe` on the master watches. */
  runOn?: (ctx: StepContext<P, V>) => Shell;
  /** The command takes its own connection down (sysprep's power-off): how it ends is not the outcome, the wait is. */
  dropsConnection?: boolean;
  /** What is waited for, for the timeout message. */
  waitingFor: string;
  /** How long apply waits for `until` once the commands ran. */
  waitTimeoutMs: Dynamic<number, P, V>;
  /** Between two asks; default 2 s. */
  intervalMs?: number;
  clock?: Clock;
}

/**
 * Runs a command, then waits until a condition holds: the step behind every "start it, then watch
 * for the effect" (`xe vm-start` until xe shows the VM running; a shutdown from inside the guest
 * until the master shows it halted). Its check is the condition (or `check`); apply runs the
 * commands, then asks `until` every `intervalMs` and fails with its last reason after `waitTimeoutMs`.
 * @example runUntil({ id: 'vm-halted', title: 'shut the guest down', commands: () => [cmd`shutdown -h now`], runOn: (ctx) => ctx.on(ctx.host.name), until: (ctx) => xe.vmPowerIs(ctx.sh, 'Ubuntu', 'halted'), waitingFor: 'VM halted', waitTimeoutMs: 300_000 })
 */
export function runUntil<P = any, V = any>(options: RunUntilOptions<P, V>): ActionStep<P, V> {
  return {
    ...commonOf(options),
    kind: 'action',
    check: (ctx) => (options.check ?? options.until)(ctx),
    commands: async (ctx) => appliedPlan(ctx as StepContext) ?? options.commands(ctx),
    async apply(ctx) {
      const plan = (await options.commands(ctx)).map((command) => ({ command }));
      const started = applyPlan(ctx as StepContext, plan, options.runOn?.(ctx));
      await (options.dropsConnection ? started.catch(() => undefined) : started);
      const timeoutMs = await resolve(options.waitTimeoutMs, ctx as StepContext);
      await pollUntil(() => options.until(ctx), { what: options.waitingFor, timeoutMs, intervalMs: options.intervalMs, clock: options.clock, signal: ctx.signal });
    },
  };
}
