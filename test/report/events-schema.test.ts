import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SCHEMA_FILE, schemaText } from '../../scripts/events-schema.ts';
import { jsonLine, jsonLineSchema } from '../../src/report/json.ts';

describe('the published --json schema', () => {
  it('docs/events.schema.json is what npm run schema writes from the zod schemas', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(schemaText());
  });

  it('a line is the event with "v" in front, byte for byte otherwise', () => {
    const event = { kind: 'warning', time: '2026-12-04T12:00:00.000Z', message: 'x' } as const;
    expect(jsonLine(event)).toBe(`{"v":1,${JSON.stringify(event).slice(1)}\n`);
    expect(jsonLineSchema.parse(JSON.parse(jsonLine(event)))).toEqual({ v: 1, ...event });
  });

  it('refuses a line without the version, with an unknown status or kind', () => {
    const line = { v: 1, kind: 'host-end', time: 't', host: 'a', status: 'ok', durationMs: 1 };
    expect(jsonLineSchema.safeParse(line).success).toBe(true);
    expect(jsonLineSchema.safeParse({ ...line, v: undefined }).success).toBe(false);
    expect(jsonLineSchema.safeParse({ ...line, status: 'fine' }).success).toBe(false);
    expect(jsonLineSchema.safeParse({ ...line, kind: 'host-ended' }).success).toBe(false);
  });
});
