/** Where the human view writes: a terminal (isTTY, columns, rows) or a pipe. */
export type Out = { write(s: string): unknown; isTTY?: boolean; columns?: number; rows?: number };

/**
 * A redrawn block of lines under the scrolling log, for live per-host progress on a terminal.
 * A prompt can pause it: the block is erased and nothing redraws until it resumes, so the
 * operator's question and typed answer stay on screen.
 */
export class LiveArea {
  #drawn = 0;
  #timer?: NodeJS.Timeout;
  #ticker?: NodeJS.Timeout;
  #paused = false;
  #stopped = false;

  constructor(private readonly out: Out, private readonly lines: () => string[]) {
    this.startTicker();
  }

  printAbove(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
    this.schedule();
  }

  /** Redraws at most ten times a second, however many hosts report. */
  schedule(): void {
    if (this.#paused || this.#stopped) return;
    this.#timer ??= setTimeout(() => { this.#timer = undefined; this.redraw(); }, 100);
  }

  /** Erases the block and stops redrawing until `resume`. */
  pause(): void {
    this.#paused = true;
    this.stopTimers();
    this.clear();
  }

  resume(): void {
    this.#paused = false;
    if (this.#stopped) return;
    this.startTicker();
    this.redraw();
  }

  stop(): void {
    this.#stopped = true;
    this.stopTimers();
    this.clear();
  }

  private startTicker(): void {
    // Elapsed times move even when no event comes: redraw twice a second.
    this.#ticker = setInterval(() => this.redraw(), 500);
    this.#ticker.unref();
  }

  private stopTimers(): void {
    clearInterval(this.#ticker);
    if (this.#timer) clearTimeout(this.#timer);
    this.#ticker = this.#timer = undefined;
  }

  private redraw(): void {
    if (this.#paused || this.#stopped) return;
    this.clear();
    const lines = this.lines();
    const width = Math.max((this.out.columns ?? 80) - 1, 20);
    for (const line of lines) this.out.write(`${line.slice(0, width + 20)}\n`);
    this.#drawn = lines.length;
  }

  private clear(): void {
    if (this.#drawn > 0) this.out.write(`\u001b[${this.#drawn}A\u001b[0J`);
    this.#drawn = 0;
  }
}
