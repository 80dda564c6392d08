import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { validateParams } from '../../src/engine/validate.ts';
import { ValidationError } from '../../src/errors.ts';
import { secretString } from '../../src/runbook/params.ts';
import type { Runbook } from '../../src/runbook/types.ts';

const runbook = (params: z.ZodType) => ({ name: 't', summary: 't', steps: [], params }) as unknown as Runbook;
const problems = (params: z.ZodType, raw: Record<string, string>): string[] => {
  try { validateParams(runbook(params), raw); return []; } catch (error) { return (error as ValidationError).issues.map((i) => `${i.field}: ${i.message}`); }
};

describe('params: a missing one says how to give it; a mistyped one says what was meant', () => {
  it.each([
    [z.object({ host: z.string() }), {}, ["param host: missing required param 'host': pass --param host=… (or -e host=…)"]],
    [z.object({ password: secretString() }), {}, ["param password: missing required secret param 'password': set RUNBOOK_PARAM_password in the environment"]],
    [z.object({ password: secretString().describe('the pool password') }), {}, ["param password: missing required secret param 'password': set RUNBOOK_PARAM_password in the environment"]],
    [z.object({ host: z.string().optional(), port: z.number().default(22) }), {}, []],
    [z.object({ port: z.number() }), { port: 'many' }, ['param port: Invalid input: expected number, received string']],
    [z.object({ message: z.string() }), { mesage: 'x', message: 'y' }, ['param mesage: unknown param (this runbook takes: message); did you mean message?']],
    [z.object({ message: z.string() }), { colour: 'x', message: 'y' }, ['param colour: unknown param (this runbook takes: message)']],
  ] as const)('%#: %j', (schema, raw, expected) => {
    expect(problems(schema, raw)).toEqual(expected);
  });
});
