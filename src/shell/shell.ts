import { RunbookError } from '../errors.ts';
import { buildCommand, maskSecrets, type Command, type Interpolation } from './command.ts';
import type { Dialect } from './quote.ts';

/** What a finished command left behind. Both the result and, when it fails, the error's payload. */
export interface ShellResult {
  command: Command;
  stdout: string;
  stderr: string;
  /** null: the far side never reported an exit status. */
  code: number | null;
  signal: string | null;
  durationMs: number;
  timedOut: boolean;
  /** True when the command exited 0. */
  ok: boolean;
}

/** A command that exited non-zero (or with no status); carries the result, with secrets masked. */
export class CommandError extends RunbookError {
  override name = 'CommandError';
  constructor(readonly result: ShellResult, readonly host: string) {
    super(describeFailure(result, host));
  }
}

function describeFailure(result: ShellResult, host: string): string {
  const mask = (s: string) => maskSecrets(s, result.command.secrets);
  const why = result.timedOut ? `timed out after ${result.durationMs} ms`
    : result.code === null ? (result.signal ? `killed by signal ${result.signal}` : 'ended with no exit status')
    : `exited ${result.code}`;
  const stderr = mask(result.stderr.trim()).split('\n').slice(-5).join('\n');
  return `${host}: \`${result.command.display}\` ${why}${stderr ? `\n${stderr}` : ''}`;
}

export interface RunOptions {
  nothrow?: boolean;
  timeoutMs?: number;
  stdin?: string | Buffer;
  /** Run through sudo for this command even if the host is not `become`. */
  sudo?: boolean;
  /**
   * The command only reads the host (a fact): the engine may send it early, in the round trip of
   * the command before it, and answer from that (src/engine/read-ahead.ts). Never set it on a
   * command that changes anything: it may then run when the step would not have sent it.
   */
  read?: boolean;
  /**
   * The last command an apply sends before its re-check: the reads the engine expects next (the
   * re-check's, the next step's first) may ride in its round trip.
   */
  readAhead?: boolean;
}

/** Runs one built command somewhere; supplied by the engine (journal, timeouts) or by tests. */
export type Executor = (command: Command, options: RunOptions) => Promise<ShellResult>;

/**
 * The promise a shell template returns. Nothing runs until it is awaited, so options chain first:
 * `await sh\`systemctl is-active ntpd\`.nothrow()`.
 */
export class ShellPromise implements PromiseLike<ShellResult> {
  #started?: Promise<ShellResult>;
  constructor(readonly command: Command, private readonly executor: Executor, private readonly options: RunOptions = {}) {}

  /** Resolve with the result even when the command fails. */
  nothrow(): ShellPromise { return this.with({ nothrow: true }); }
  timeout(ms: number): ShellPromise { return this.with({ timeoutMs: ms }); }
  stdin(data: string | Buffer): ShellPromise { return this.with({ stdin: data }); }
  sudo(): ShellPromise { return this.with({ sudo: true }); }
  /** Standard output without the trailing newline. */
  text(): Promise<string> { return this.then((r) => r.stdout.replace(/\r?\n$/, '')); }
  /** Non-empty output lines. */
  lines(): Promise<string[]> { return this.then((r) => r.stdout.split(/\r?\n/).filter((l) => l.length > 0)); }
  /** True when the command exits 0; never throws for a non-zero exit. */
  succeeds(): Promise<boolean> { return this.nothrow().then((r) => r.ok); }
  /** Marks a command that only reads the host (see RunOptions.read). */
  reads(): ShellPromise { return this.with({ read: true }); }

  then<A = ShellResult, B = never>(
    onFulfilled?: ((value: ShellResult) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    this.#started ??= this.executor(this.command, this.options);
    return this.#started.then(onFulfilled, onRejected);
  }

  private with(extra: RunOptions): ShellPromise {
    return new ShellPromise(this.command, this.executor, { ...this.options, ...extra });
  }
}

/** A tagged template that quotes every value and runs the command on one host. */
export interface Shell {
  (strings: TemplateStringsArray, ...values: Interpolation[]): ShellPromise;
  /** Runs a command built elsewhere (a typed task's plan). */
  run(command: Command, options?: RunOptions): ShellPromise;
  readonly host: string;
  readonly dialect: Dialect;
  /** What is known about this host for the whole run (init system, how a service is driven): asked once. */
  readonly facts: HostFacts;
}

/**
 * Answers about a host that hold for a run, each asked on the host once: a step's check, apply and
 * re-check, and every later step, reuse it. A failed ask is not kept, so the next one asks again.
 * @example const init = await sh.facts.once('init-system', () => gather(sh, initSystemCommand(), parseInitSystem))
 */
export interface HostFacts {
  once<T>(key: string, ask: () => Promise<T>): Promise<T>;
  /** Whether this fact was asked already (its answer kept, or on its way). */
  known?(key: string): boolean;
}

/** One host's facts for one run (the engine keeps one per host in its connections). */
export function createHostFacts(): HostFacts {
  const known = new Map<string, Promise<unknown>>();
  return {
    once<T>(key: string, ask: () => Promise<T>): Promise<T> {
      const kept = known.get(key);
      if (kept) return kept as Promise<T>;
      const asking = ask();
      known.set(key, asking);
      asking.catch(() => known.delete(key));
      return asking;
    },
    known: (key) => known.has(key),
  };
}

/**
 * Makes a shell bound to an executor; a non-zero exit rejects with CommandError unless nothrow.
 * `facts`: the host's facts for the run (default: kept by this shell alone).
 */
export function createShell(host: string, executor: Executor, dialect: Dialect = 'posix', facts: HostFacts = createHostFacts()): Shell {
  const checked: Executor = async (command, options) => {
    const result = await executor(command, options);
    if (!result.ok && !options.nothrow) throw new CommandError(result, host);
    return result;
  };
  const shell = (strings: TemplateStringsArray, ...values: Interpolation[]) =>
    new ShellPromise(buildCommand(dialect, strings, values), checked);
  return Object.assign(shell, {
    run: (command: Command, options: RunOptions = {}) => new ShellPromise(command, checked, options),
    host,
    dialect,
    facts,
  });
}
