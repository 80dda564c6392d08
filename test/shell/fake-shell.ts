/**
 * Test doubles for the shell: `fakeShell` answers from a table keyed by a command's display and
 * records what ran (pyinfra-style stubbed facts); `localShell` runs for real on this machine.
 */
import { createShell, type Executor, type Shell, type ShellResult } from '../../src/shell/shell.ts';
import type { CheckResult } from '../../src/runbook/check.ts';
import type { ActionStep, StepContext } from '../../src/runbook/types.ts';
import { LocalTransport } from '../../src/transport/local.ts';

export interface FakeAnswer {
  stdout?: string;
  stderr?: string;
  /** Exit code; 0 when left out. */
  code?: number | null;
}

/** Display → answer; a list gives successive answers (the last repeats), e.g. before and after apply. */
export type FakeTable = Record<string, FakeAnswer | FakeAnswer[]>;

export interface Ran {
  display: string;
  stdin?: string;
}

export interface FakeShell extends Shell {
  /** Every command run, in order, with its stdin. */
  readonly ran: Ran[];
}

/**
 * A Shell whose executor answers from the table; a command missing from it rejects, so a test
 * cannot pass by running something nobody expected.
 * @example const sh = fakeShell({ 'test -e /tmp/x || test -L /tmp/x': { code: 1 } })
 */
export function fakeShell(table: FakeTable, host = 'fake-host'): FakeShell {
  const ran: Ran[] = [];
  const calls = new Map<string, number>();
  const executor: Executor = async (command, options) => {
    const stdin = options.stdin === undefined ? undefined : options.stdin.toString();
    ran.push(stdin === undefined ? { display: command.display } : { display: command.display, stdin });
    const entry = table[command.display];
    if (entry === undefined) throw new Error(`fakeShell has no answer for \`${command.display}\``);
    const answers = Array.isArray(entry) ? entry : [entry];
    const call = calls.get(command.display) ?? 0;
    calls.set(command.display, call + 1);
    return toResult(command, answers[Math.min(call, answers.length - 1)]);
  };
  return Object.assign(createShell(host, executor), { ran });
}

function toResult(command: ShellResult['command'], answer: FakeAnswer): ShellResult {
  const code = answer.code === undefined ? 0 : answer.code;
  return { command, stdout: answer.stdout ?? '', stderr: answer.stderr ?? '', code, signal: null, durationMs: 0, timedOut: false, ok: code === 0 };
}

/** A Shell that runs on this machine through the real local transport. */
export function localShell(host = 'localhost'): Shell {
  const transport = new LocalTransport(host);
  const executor: Executor = async (command, options) => {
    const result = await transport.exec(command.text, { stdin: options.stdin, timeoutMs: options.timeoutMs ?? 20_000 });
    return { command, ...result, timedOut: result.timedOut ?? false, ok: result.code === 0 };
  };
  return createShell(host, executor);
}

/**
 * A StepContext around a shell; only what the generic tasks use is real, the rest throws if touched.
 * @example const ctx = fakeContext(fakeShell({...}), { params: { marker: '/tmp/x' } })
 */
export function fakeContext<P = Record<string, unknown>>(sh: Shell, extra: { params?: P; stepId?: string } = {}): StepContext<P, Record<string, unknown>> {
  const untouchable = (what: string) => () => { throw new Error(`fakeContext: ${what} is not part of this test`); };
  return {
    host: { name: sh.host, address: '127.0.0.1', port: 22, connection: 'local', become: false, groups: ['all'], vars: {} },
    params: (extra.params ?? {}) as P,
    sh,
    on: untouchable('ctx.on'),
    transport: new Proxy({}, { get: untouchable('ctx.transport') }) as StepContext['transport'],
    inventory: { host: untouchable('inventory.host'), group: untouchable('inventory.group'), has: () => false },
    outputs: { of: () => undefined, get: untouchable('outputs.get') },
    log: () => {},
    dryRun: false,
    signal: new AbortController().signal,
    stepId: extra.stepId ?? 'test-step',
    attemptId: 'run-1/1',
  };
}

/** What the engine's per-step loop would see: the first check, the commands shown, the re-check. */
export interface StepTrace {
  before: CheckResult;
  commands: string[];
  /** Undefined when nothing was applied or the step opts out of the re-check. */
  after?: CheckResult;
}

/**
 * Drives an action step as the engine does (check → apply, or its commands in order → re-check
 * unless verify is false), so task tests can assert the whole cycle.
 * @example const trace = await cycle(step, fakeContext(sh))
 */
export async function cycle(step: ActionStep, ctx: StepContext): Promise<StepTrace> {
  const before = await step.check(ctx);
  if (before.done) return { before, commands: [] };
  const commands = (await step.commands?.(ctx) ?? []).map((c) => c.display);
  if (step.apply) await step.apply(ctx);
  else for (const command of await step.commands!(ctx)) await ctx.sh.run(command);
  if (step.verify === false) return { before, commands };
  return { before, commands, after: await step.check(ctx) };
}

/** A check and, when it says change, the commands a dry-run would print: what task tables assert. */
export interface StepPlan {
  check: CheckResult;
  commands: string[];
}

/**
 * Runs a step's check and (when it says change) its commands, as a dry-run does.
 * @example expect(await plan(step, fakeContext(sh))).toEqual({ check: change('…'), commands: ['touch /x'] })
 */
export async function plan(step: ActionStep, ctx: StepContext): Promise<StepPlan> {
  const check = await step.check(ctx);
  const commands = check.done ? [] : (await step.commands?.(ctx) ?? []).map((c) => c.display);
  return { check, commands };
}
