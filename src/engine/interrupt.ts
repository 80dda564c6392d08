import { RunbookError } from '../errors.ts';

export class InterruptedError extends RunbookError {
  override name = 'InterruptedError';
  constructor(message = 'interrupted') { super(message); }
}

/**
 * Ctrl-C handling: the first interrupt stops new steps and lets running ones finish, up to a
 * grace period; then (or at a second interrupt) running commands are killed. Either way the
 * journal is left resumable.
 */
export class Interrupt {
  readonly #hard = new AbortController();
  #requested = false;
  #timer?: NodeJS.Timeout;

  constructor(private readonly graceMs = 30_000) {}

  get requested(): boolean { return this.#requested; }
  get hardSignal(): AbortSignal { return this.#hard.signal; }

  request(): void {
    if (this.#requested) { this.stopNow(); return; }
    this.#requested = true;
    this.#timer = setTimeout(() => this.stopNow(), this.graceMs);
    this.#timer.unref();
  }

  stopNow(): void {
    this.#requested = true;
    if (!this.#hard.signal.aborted) this.#hard.abort(new InterruptedError('interrupted: running commands were stopped'));
  }

  dispose(): void { if (this.#timer) clearTimeout(this.#timer); }
}
