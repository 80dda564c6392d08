/**
 * Several steps in one round trip. Consecutive host-judged steps (`hostCheck`: a probe the host
 * judges alone, and a `commands` list) go to their host as one script (src/shell/frame.ts): each
 * probe, then, only where it failed, the commands and the probe again, stopping at the first
 * failure as the engine stops a host. When the script returns, each step runs as it always does
 * against the answers: its check, apply and re-check take them in order instead of sending, so the
 * journal gets the same events (check, commands with their status and output, re-check, result)
 * as for steps sent one by one.
 *
 * What a frame gives up is each command's end being durable before the next goes out: the first
 * step's start is durable before the frame is sent and names the steps sent with it, and a run
 * killed mid-frame re-checks them all on resume (docs/JOURNAL.md).
 */
import { maskSecrets, type Command } from '../shell/command.ts';
import { FRAME_END, frameNonce, readParts, stepsScript, type LabelledPart } from '../shell/frame.ts';
import type { ActionStep, Step } from '../runbook/types.ts';
import type { ExecResult, Transport } from '../transport/types.ts';
import type { StepScope } from './context.ts';
import type { ReadAhead } from './read-ahead.ts';
import { withoutHost } from './speculate.ts';

/** A step planned into a frame: what its probe and commands are (resolved before it is sent). */
export interface FramedStep {
  step: ActionStep;
  /** Absent: its `when` is false (it will be skipped; nothing of it is sent). */
  sends?: { probe?: Command; commands: Command[]; recheck: boolean };
}

/** Steps a frame cannot carry: they need the controller between their commands, or a limit of their own. */
function carriable(step: Step): step is ActionStep {
  return step.kind === 'action' && step.hostCheck !== undefined && step.apply === undefined && step.commands !== undefined
    && step.on === undefined && step.cleanup === undefined && !step.retries && step.timeoutMs === undefined;
}

/**
 * The steps from the start of `candidates` that may share one frame, each with its probe and
 * commands found without touching the host. Ends before the first that cannot: the wrong kind,
 * a `when` or probe or commands that need to ask the host (or an earlier step's output), a secret
 * in a command (the frame's text would carry it into any error about the frame), a probe-less step
 * the engine would re-check.
 */
export async function planFrame(candidates: readonly Step[], scope: StepScope): Promise<FramedStep[]> {
  const planned: FramedStep[] = [];
  for (const step of candidates) {
    if (!carriable(step)) break;
    const framed = await plan(step, scope);
    if (!framed) break;
    planned.push(framed);
  }
  return planned;
}

async function plan(step: ActionStep, scope: StepScope): Promise<FramedStep | undefined> {
  const known = await withoutHost(step, scope, async (ctx) => {
    if (step.when && !(await step.when(ctx))) return undefined;
    return { check: await step.hostCheck!(ctx), commands: await step.commands!(ctx) };
  });
  if (!known) return undefined;
  if (!known.value) return { step };
  const { check: { probe }, commands } = known.value;
  const recheck = step.verify !== false;
  if ((probe === undefined && recheck) || [probe, ...commands].some((c) => c && (c.hasSecrets || c.dialect !== 'posix'))) return undefined;
  return { step, sends: { probe, commands, recheck } };
}

/** How many steps of a plan would send something: a frame is worth sending for two or more. */
export const sending = (planned: readonly FramedStep[]): number => planned.filter((f) => f.sends).length;

/** One step's share of a frame's answers, taken in order by the commands it sends. */
export class FrameAnswers {
  readonly #parts: { command: Command; result: ExecResult }[];

  /** `cut`: why the frame ended before it said how everything went; thrown at a command it has no answer for. */
  constructor(readonly on: string, readonly sudo: boolean, readonly stepId: string, parts: { command: Command; result: ExecResult }[], private readonly cut?: Error) {
    this.#parts = [...parts];
  }

  /**
   * The answer the frame got for this command. Throws when the frame was cut before it, or when the
   * step asks something else, or more, than the frame ran for it: a carried step never sends a
   * command of its own (nothing it did not plan may reach the host, and its events' waits for the
   * journal are shared, which holds only while nothing goes to the host between them).
   */
  take(command: Command, sudo: boolean): ExecResult {
    const next = this.#parts.shift();
    if (!next) {
      throw this.cut ?? new Error(`step ${this.stepId}: asked \`${command.display}\` after everything its frame ran for it`);
    }
    if (next.command.text !== command.text || sudo !== this.sudo) {
      this.#parts.length = 0;
      throw new Error(`step ${this.stepId}: asked \`${command.display}\` where its frame ran \`${next.command.display}\` (its probe or commands changed between planning and running)`);
    }
    return next.result;
  }

  /** Answers the step never asked for: commands that ran on the host without the step's say. */
  get unasked(): Command[] { return this.#parts.map((p) => p.command); }
}

/** A frame sent: each carried step's answers. */
export interface SentFrame {
  /** Every step the frame covers, in order (one its `when` skips included): the first leads. */
  steps: string[];
  answers: Map<string, FrameAnswers>;
  /** When it was sent (performance.now()): the first step's time includes the wait. */
  sentAt: number;
}

export interface FrameTarget {
  transport: Transport;
  sudo: boolean;
  signal: AbortSignal;
  dryRun: boolean;
  /** The host's waiting read-ahead answers: stale once the frame goes. */
  readAhead: ReadAhead;
  runSecrets: readonly string[];
}

/**
 * Sends the planned steps as one script and hands each its answers. A lost connection or a script
 * cut short is not an error here: each step meets it at the first command it has no answer for.
 */
export async function sendFrame(planned: readonly FramedStep[], target: FrameTarget): Promise<SentFrame> {
  const sentAt = performance.now();
  const scripted = planned.filter((f): f is Required<FramedStep> => f.sends !== undefined);
  const nonce = frameNonce();
  const arrived = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const onOutput = (stream: 'stdout' | 'stderr', chunk: Buffer) => { arrived[stream].push(chunk); };
  target.readAhead.sending();
  const script = stepsScript(nonce, scripted.map(({ sends }) => ({ probe: sends.probe?.text, commands: sends.commands.map((c) => c.text), recheck: sends.recheck })), target.dryRun);
  let result: ExecResult | undefined;
  let lost: unknown;
  try {
    result = await target.transport.exec(script, { sudo: target.sudo, signal: target.signal, onOutput });
  } catch (error) {
    lost = error;
  }
  // The connection went mid-frame: what had arrived still says how the parts before it ended.
  const parts = result
    ? readParts(nonce, result.stdout, result.stderr)
    : readParts(nonce, Buffer.concat(arrived.stdout).toString('utf8'), Buffer.concat(arrived.stderr).toString('utf8'));
  const ended = parts.some((p) => p.label === FRAME_END);
  const cut = ended ? undefined : result ? cutShort(target, scripted, result, nonce) : lost instanceof Error ? lost : new Error(String(lost));
  const answers = new Map<string, FrameAnswers>();
  scripted.forEach((f, i) => answers.set(f.step.id, new FrameAnswers(target.transport.host, target.sudo, f.step.id, answersOf(parts, i, f.sends), cut)));
  return { steps: planned.map((f) => f.step.id), answers, sentAt };
}

/** Step i's parts, each with the command it answers (`i.c`/`i.r`: the probe, `i.aJ`: command J). */
function answersOf(parts: readonly LabelledPart[], i: number, sends: Required<FramedStep>['sends']): { command: Command; result: ExecResult }[] {
  const own = parts.filter((p) => p.label.startsWith(`${i}.`));
  return own.map((p) => {
    const kind = p.label.slice(`${i}.`.length);
    const command = kind === 'c' || kind === 'r' ? sends.probe! : sends.commands[Number(kind.slice(1))];
    return { command, result: { stdout: p.stdout, stderr: p.stderr, code: p.code, signal: null, durationMs: 0, timedOut: false } };
  });
}

function cutShort(target: FrameTarget, scripted: readonly FramedStep[], result: ExecResult, nonce: string): Error {
  const how = result.timedOut ? 'timed out' : result.signal ? `killed by signal ${result.signal}` : result.code === null ? 'no exit status' : `exit ${result.code}`;
  const lines = result.stderr.trim().split('\n').filter((line) => !line.startsWith(`${nonce}:`));
  const stderr = maskSecrets(lines.slice(-5).join('\n'), target.runSecrets);
  const ids = scripted.map((f) => f.step.id).join(', ');
  return new Error(`${target.transport.host}: the script of steps ${ids} ended before it said how each went (${how})${stderr ? `\n${stderr}` : ''}`);
}
