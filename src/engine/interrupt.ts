import { setMaxListeners } from 'node:events';
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

  constructor(private readonly graceMs = 30_000) {
    // Every host's running step and command listens on this one signal (a 1,000-host run holds
    // 1,000+ listeners, each removed as its step ends). Node's default of 10 would print a
    // "possible memory leak" warning to the operator's terminal at the 11th host.
    setMaxListeners(0, this.#hard.signal);
  }

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
