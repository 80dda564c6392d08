import type { EventSink, RunEvent, RunEventInput } from './events.ts';

/**
 * Stamps events with the time and hands them to every sink. Step boundaries are awaited (the
 * journal has fsync'd them before the engine moves on); transcripts are not, but a failed write
 * of one surfaces at the next boundary, so a full disk stops the run instead of going unrecorded.
 */
export class EventBus {
  #deferredError: unknown;
  readonly #pending = new Set<Promise<void>>();

  constructor(private readonly sinks: EventSink[]) {}

  /**
   * Emits and waits until every sink has taken the event. Sinks go in order — the journal first —
   * so nothing is shown (a `--json` line, a recap) before it is on disk: a result a reporter
   * printed is a result a resume will find.
   */
  async emit(input: RunEventInput): Promise<void> {
    if (this.#deferredError) throw this.#deferredError;
    const event = { ...input, time: new Date().toISOString() } as RunEvent;
    for (const sink of this.sinks) await sink.emit(event);
  }

  /** Emits without waiting (command transcripts, log lines). */
  post(input: RunEventInput): void {
    const done = this.emit(input).catch((error) => { this.#deferredError ??= error; });
    this.#pending.add(done);
    void done.finally(() => this.#pending.delete(done));
  }

  /** Waits for posted events, then closes the sinks. */
  async close(): Promise<void> {
    await Promise.all(this.#pending);
    for (const sink of this.sinks) await sink.close?.();
    if (this.#deferredError) throw this.#deferredError;
  }
}
