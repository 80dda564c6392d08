import { z } from 'zod';
import type { OutputReaders, OutputSource } from './types.ts';

/**
 * One reader per key a step declared in `outputs`: reading `looked.out.due(ctx)` gets what that
 * step handed on for this host (restored from the journal on resume). A declared optional value
 * the step did not hand on reads as undefined; any other missing value throws MissingOutputError.
 * @example outputReaders('marker-looked-up', z.object({ due: z.boolean() })).due(ctx) // true
 */
export function outputReaders<S extends z.ZodObject>(stepId: string, schema: S): OutputReaders<z.output<S>> {
  const readers: Record<string, (ctx: OutputSource) => unknown> = {};
  for (const [key, field] of Object.entries(schema.shape)) {
    const optional = (field as z.ZodType).safeParse(undefined).success;
    readers[key] = (ctx) => (optional && ctx.outputs.of(stepId)?.[key] === undefined ? undefined : ctx.outputs.get(stepId, key));
  }
  return Object.freeze(readers) as OutputReaders<z.output<S>>;
}
