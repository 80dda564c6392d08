// `npm run schema`: writes docs/events.schema.json from the zod schemas of the --json events.
// A test fails while the committed file differs from what this writes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventsJsonSchema } from '../src/report/json.ts';

export const SCHEMA_FILE = join(import.meta.dirname, '../docs/events.schema.json');
export const schemaText = (): string => `${JSON.stringify(eventsJsonSchema(), null, 2)}\n`;

if (process.argv[1] === import.meta.filename) {
  writeFileSync(SCHEMA_FILE, schemaText());
  console.log(`wrote ${SCHEMA_FILE}`);
}
