/**
 * A counting semaphore with a FIFO queue: bounds SSH handshakes in flight (OpenSSH's MaxStartups
 * drops bursts) and exec channels per connection (MaxSessions refuses the eleventh).
 */
export class Limiter {
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  /** @example const channels = new Limiter(8) */
  constructor(private limitValue: number) {
    Limiter.check(limitValue);
  }

  get limit(): number { return this.limitValue; }
  /** Raising the limit starts queued work at once; lowering it lets running work finish. */
  set limit(value: number) {
    Limiter.check(value);
    this.limitValue = value;
    this.pump();
  }

  get active(): number { return this.#active; }
  get queued(): number { return this.#waiting.length; }

  /**
   * Waits for a slot; the returned function gives it back (calling it twice is harmless).
   * @example const release = await limiter.acquire(); try { … } finally { release(); }
   */
  acquire(): Promise<() => void> {
    return new Promise((resolve) => {
      this.#waiting.push(() => resolve(this.releaser()));
      this.pump();
    });
  }

  /**
   * A slot now, or null when all are taken (for work that has a fallback rather than a queue).
   * @example const release = link.channels.tryAcquire(); if (!release) return useExecChannel()
   */
  tryAcquire(): (() => void) | null {
    if (this.#active >= this.limitValue || this.#waiting.length > 0) return null;
    this.#active++;
    return this.releaser();
  }

  /** Runs `work` inside a slot. @example await limiter.run(() => handshake()) */
  async run<T>(work: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await work();
    } finally {
      release();
    }
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active--;
      this.pump();
    };
  }

  private pump(): void {
    while (this.#active < this.limitValue && this.#waiting.length > 0) {
      this.#active++;
      this.#waiting.shift()!();
    }
  }

  private static check(value: number): void {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`a limit must be a positive integer, got ${value}`);
  }
}
