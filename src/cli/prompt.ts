import { userInfo } from 'node:os';
import { createInterface, type Interface } from 'node:readline';
import type { Confirmation, Prompter } from '../engine/step.ts';
import type { Json } from '../runbook/check.ts';
import type { ManualStep } from '../runbook/types.ts';
import { schemaFields } from '../report/describe.ts';
import type { Io } from './options.ts';

/** Who is running this: the login behind sudo if there is one (the journal names people, not root). */
export function operatorName(env: NodeJS.ProcessEnv = process.env): string {
  const user = env.SUDO_USER || userInfo().username;
  return env.RUNBOOK_OPERATOR || user;
}

/** Whatever else draws on the terminal (the live progress): a prompt holds it while open. */
export interface Terminal {
  /** Stops other output until the returned function is called. */
  hold(): () => void;
}

/** Writes to the terminal past the live area: a line written under it would be erased by its next redraw. */
export function writeAbove(terminal: Terminal | undefined, stream: { write(s: string): unknown }, text: string): void {
  const release = terminal?.hold();
  stream.write(text);
  release?.();
}

/**
 * Asks at the terminal, one manual step at a time even when several hosts reach one together:
 * shows the instructions, asks for each evidence field (re-asking until zod accepts it), and
 * records the operator's answer; "n" leaves the host waiting. While a prompt is open it owns the
 * terminal: the live progress is paused and erased, so nothing draws over the question.
 */
export class TerminalPrompter implements Prompter {
  #queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly io: Io, private readonly terminal?: Terminal) {}

  confirm(step: ManualStep, host: string): Promise<Confirmation | null> {
    const turn = this.#queue.then(() => this.ask(step, host));
    this.#queue = turn.catch(() => undefined);
    return turn;
  }

  private async ask(step: ManualStep, host: string): Promise<Confirmation | null> {
    const release = this.terminal?.hold();
    const answers = new Answers(this.io);
    try {
      this.io.stderr.write(`\n── MANUAL STEP on ${host}: ${step.title} (${step.id})\n${step.instructions.trim()}\n\n`);
      if (!(await this.askDone(answers))) return null;
      const evidence = step.evidence ? await this.askEvidence(answers, step) : undefined;
      if (step.evidence && !evidence) return null;
      const note = await answers.next('Note (optional): ');
      if (note === null) return null;
      return { by: operatorName(this.io.env), ...(note ? { note } : {}), ...(evidence ? { evidence } : {}) };
    } finally {
      answers.close();
      release?.();
    }
  }

  /** Only y or n count: a stray Enter pressed during the run must not decide anything. */
  private async askDone(answers: Answers): Promise<boolean> {
    for (;;) {
      const answer = (await answers.next('Done? [y = confirm / n = leave waiting] '))?.toLowerCase();
      if (answer === null || answer === undefined || answer === 'n' || answer === 'no') return false;
      if (answer === 'y' || answer === 'yes') return true;
    }
  }

  /** Each field by name; an empty answer leaves an optional field out. Undefined if input ended. */
  private async askEvidence(answers: Answers, step: ManualStep): Promise<Record<string, Json> | undefined> {
    const schema = step.evidence!;
    for (;;) {
      const raw: Record<string, string> = {};
      for (const field of schemaFields(schema)) {
        const answer = await answers.next(`  ${field.name}${field.description ? ` (${field.description})` : ''}: `);
        if (answer === null) return undefined;
        if (answer !== '') raw[field.name] = answer;
      }
      const parsed = schema.safeParse(raw);
      if (parsed.success) return parsed.data as Record<string, Json>;
      this.io.stderr.write(`  not accepted: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\n`);
      answers.discardTypedAhead(); // lines typed for the questions after these would land one field off
    }
  }
}

/**
 * The operator's lines, in order. readline emits every line of a burst (typed ahead, pasted) at
 * once, and `question()` keeps only the first: the rest were lost and each later answer landed in
 * the field before its own. Here every line is queued and goes to the next question.
 */
class Answers {
  readonly #rl: Interface;
  readonly #lines: string[] = [];
  #waiter?: (line: string | null) => void;
  #closed = false;

  constructor(private readonly io: Io) {
    this.#rl = createInterface({ input: io.stdin, output: io.stderr, terminal: Boolean(io.stdin.isTTY) });
    this.#rl.on('line', (line) => this.take(line));
    this.#rl.on('close', () => { this.#closed = true; this.#waiter?.(null); });
    // In raw mode Ctrl-C reaches readline, not the process: hand it on, so it interrupts the run.
    this.#rl.on('SIGINT', () => { io.stderr.write('^C\n'); this.close(); process.kill(process.pid, 'SIGINT'); });
  }

  /** The next line, trimmed; null once input has ended (the host is left waiting). */
  next(question: string): Promise<string | null> {
    const queued = this.#lines.shift();
    if (queued !== undefined) { this.io.stderr.write(`${question}${queued}\n`); return Promise.resolve(queued); }
    if (this.#closed) return Promise.resolve(null);
    this.#rl.setPrompt(question);
    this.#rl.prompt();
    return new Promise((resolve) => { this.#waiter = (line) => { this.#waiter = undefined; resolve(line); }; });
  }

  discardTypedAhead(): void { this.#lines.length = 0; }

  close(): void { this.#rl.close(); }

  private take(raw: string): void {
    const line = raw.trim();
    if (this.#waiter) this.#waiter(line);
    else this.#lines.push(line);
  }
}
