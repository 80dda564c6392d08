import { userInfo } from 'node:os';
import { createInterface } from 'node:readline/promises';
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

/**
 * Asks at the terminal, one manual step at a time even when several hosts reach one together:
 * shows the instructions, asks for each evidence field (re-asking until zod accepts it), and
 * records the operator's answer; "n" leaves the host waiting.
 */
export class TerminalPrompter implements Prompter {
  #queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly io: Io) {}

  confirm(step: ManualStep, host: string): Promise<Confirmation | null> {
    const turn = this.#queue.then(() => this.ask(step, host));
    this.#queue = turn.catch(() => undefined);
    return turn;
  }

  private async ask(step: ManualStep, host: string): Promise<Confirmation | null> {
    const rl = createInterface({ input: this.io.stdin, output: this.io.stderr, terminal: Boolean(this.io.stdin.isTTY) });
    try {
      this.io.stderr.write(`\n── MANUAL STEP on ${host}: ${step.title} (${step.id})\n${step.instructions.trim()}\n\n`);
      const answer = (await rl.question('Done? [y = confirm / n = leave waiting] ')).trim().toLowerCase();
      if (answer !== 'y' && answer !== 'yes') return null;
      const evidence = step.evidence ? await this.askEvidence(rl, step) : undefined;
      const note = (await rl.question('Note (optional): ')).trim();
      return { by: operatorName(this.io.env), ...(note ? { note } : {}), ...(evidence ? { evidence } : {}) };
    } finally {
      rl.close();
    }
  }

  private async askEvidence(rl: ReturnType<typeof createInterface>, step: ManualStep): Promise<Record<string, Json>> {
    const schema = step.evidence!;
    for (;;) {
      const raw: Record<string, string> = {};
      for (const field of schemaFields(schema)) {
        raw[field.name] = (await rl.question(`  ${field.name}${field.description ? ` (${field.description})` : ''}: `)).trim();
      }
      const parsed = schema.safeParse(raw);
      if (parsed.success) return parsed.data as Record<string, Json>;
      this.io.stderr.write(`  not accepted: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\n`);
    }
  }
}
