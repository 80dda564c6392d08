import type { EventSink, RunEvent } from '../engine/events.ts';

/** `--json`: one event per line on stdout, the same events the journal stores. */
export class JsonReporter implements EventSink {
  constructor(private readonly out: { write(s: string): unknown } = process.stdout) {}
  emit(event: RunEvent): void { this.out.write(`${JSON.stringify(event)}\n`); }
}
