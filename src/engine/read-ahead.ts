/**
 * Reads sent ahead. At real latency a host's run waits one round trip per command, and most of a
 * step's commands are reads whose text is known before they are due: the re-check asks what the
 * check asked, and the next step's check starts with a fact. So the last command of an apply goes
 * out as a frame (src/shell/frame.ts) with those reads behind it, and their answers wait here until
 * the check asks for them. An answer stands for "ran now" only while nothing else was sent to the
 * host since: any other command, a transfer or a reconnect throws every waiting answer away.
 */
import type { Command } from '../shell/command.ts';
import { frameNonce, frameScript, splitFrame, type FramePart } from '../shell/frame.ts';
import type { ExecResult } from '../transport/types.ts';

/** A read the engine expects a step to send next, as it would be sent. */
export interface AheadRead {
  command: Command;
  /** The transport host it runs on. */
  on: string;
  sudo: boolean;
}

/** An answer kept longer than this is not taken: the host may have moved on (an operator, a timer). */
export const READ_AHEAD_MAX_AGE_MS = 30_000;

interface Waiting {
  key: string;
  answer: FramePart;
  at: number;
}

const keyOf = (text: string, sudo: boolean): string => `${sudo ? 'sudo' : 'user'}\0${text}`;

/** One host's answers sent ahead, in the order they ran. */
export class ReadAhead {
  #waiting: Waiting[] = [];
  /** Reads asked side by side, sent as one frame. */
  readonly batch = new ReadBatch();

  /** Counts the clears: a frame's answers are kept only if nothing else went to the host while it was out. */
  #sent = 0;

  /** Marks that a command goes to the host now: what waited is stale; returns the mark for keep(). */
  sending(): number {
    this.clear();
    return this.#sent;
  }

  /**
   * Keeps the answers of a frame's reads (replacing whatever waited: the frame was sent after it),
   * unless another command went to the host after the frame did (`since`, from sending()): the
   * reads may then have run before it.
   */
  keep(reads: readonly AheadRead[], answers: readonly FramePart[], since = this.#sent, now = Date.now()): void {
    if (since !== this.#sent) return;
    this.#waiting = answers.map((answer, i) => ({ key: keyOf(reads[i].command.text, reads[i].sudo), answer, at: now }));
  }

  /**
   * The waiting answer to this read, taken once; answers before it that nobody asked for are
   * dropped (a check that took another path), as they would only be older still.
   */
  take(text: string, sudo: boolean, now = Date.now()): FramePart | undefined {
    const key = keyOf(text, sudo);
    const at = this.#waiting.findIndex((w) => w.key === key);
    if (at < 0) return undefined;
    const [taken] = this.#waiting.splice(0, at + 1).slice(-1);
    return now - taken.at <= READ_AHEAD_MAX_AGE_MS ? taken.answer : undefined;
  }

  /** Something was sent to the host (or it rebooted): no waiting answer says how it is now. */
  clear(): void {
    this.#waiting = [];
    this.#sent++;
  }

  get size(): number { return this.#waiting.length; }
}

/** Sends a finished command line to the host; the batch below calls it once per group of reads. */
export type SendText = (text: string, sudo: boolean) => Promise<ExecResult>;

interface Queued {
  text: string;
  sudo: boolean;
  send: SendText;
  resolve(result: ExecResult): void;
  reject(error: unknown): void;
}

/**
 * Reads a check asks side by side (`Promise.all`) go to the host as one frame: asked in the same
 * turn of the event loop, they are queued, then sent together, one round trip for all.
 */
export class ReadBatch {
  #queue: Queued[] = [];

  submit(text: string, sudo: boolean, send: SendText): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ text, sudo, send, resolve, reject });
      if (this.#queue.length === 1) setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const queued = this.#queue;
    this.#queue = [];
    for (const sudo of [false, true]) {
      const group = queued.filter((q) => q.sudo === sudo);
      if (group.length > 0) void sendTogether(group);
    }
  }
}

async function sendTogether(group: Queued[]): Promise<void> {
  const [first, ...rest] = group;
  try {
    if (rest.length === 0) { first.resolve(await first.send(first.text, first.sudo)); return; }
    const nonce = frameNonce();
    const result = await first.send(frameScript(nonce, first.text, rest.map((q) => q.text)), first.sudo);
    const parts = splitFrame(nonce, group.length, result.stdout, result.stderr);
    group.forEach((q, i) => q.resolve(parts[i]
      ? { ...parts[i], signal: null, durationMs: result.durationMs, timedOut: false }
      // Not reported (the frame was stopped or lost there): no status, as for a command cut off.
      : { stdout: i === 0 ? result.stdout : '', stderr: i === 0 ? result.stderr : '', code: null, signal: result.signal, durationMs: result.durationMs, timedOut: result.timedOut ?? false }));
  } catch (error) {
    group.forEach((q) => q.reject(error));
  }
}
