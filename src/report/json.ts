import { z } from 'zod';
import { runEventSchemas, type EventSink, type RunEvent } from '../engine/events.ts';

/**
 * The `--json` schema version, first key of every line as `"v"`. It goes up when a line changes in
 * a way that breaks a reader (a field removed, renamed or its meaning changed); new kinds and new
 * optional fields come without a bump, so readers ignore kinds and fields they do not know.
 */
export const EVENTS_SCHEMA_VERSION = 1;

/** One `--json` line: `{"v":1,"kind":…,…}`, the event as the journal holds it with the version in front. */
export function jsonLine(event: RunEvent): string {
  return `${JSON.stringify({ v: EVENTS_SCHEMA_VERSION, ...event })}\n`;
}

/** `--json`: one event per line on stdout, the same events the journal stores. */
export class JsonReporter implements EventSink {
  constructor(private readonly out: { write(s: string): unknown } = process.stdout) {}
  emit(event: RunEvent): void { this.out.write(jsonLine(event)); }
}

const version = z.literal(EVENTS_SCHEMA_VERSION).describe('schema version of this line');
const versioned = Object.values(runEventSchemas).map((schema) => schema.extend({ v: version }));

/** A `--json` line as zod parses it; docs/events.schema.json is generated from this (`npm run schema`). */
export const jsonLineSchema = z.discriminatedUnion('kind', versioned as [typeof versioned[number], ...typeof versioned]);

/** The published JSON Schema of a `--json` line (draft 2020-12). */
export function eventsJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(jsonLineSchema, { target: 'draft-2020-12', io: 'input' }),
    title: `runbook --json event line, v${EVENTS_SCHEMA_VERSION}`,
  };
}
