import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseParamPairs, validateParams } from '../../src/engine/validate.ts';
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

describe('params from the environment', () => {
  const deploy = runbook(z.object({ domainPassword: secretString(), goldVm: z.string() }));
  const gold = runbook(z.object({ kmsCount: z.number().optional() }));
  const env = { RUNBOOK_PARAM_domainPassword: 'Pa55', RUNBOOK_PARAM_goldVm: 'gold', PATH: '/bin' };

  it('a runbook reads the RUNBOOK_PARAM_* it declares and leaves those of other runbooks in the same shell', () => {
    expect(parseParamPairs([], env, deploy)).toEqual({ domainPassword: 'Pa55', goldVm: 'gold' });
    expect(parseParamPairs([], env, gold)).toEqual({});
    expect(() => validateParams(gold, parseParamPairs([], env, gold))).not.toThrow();
  });

  it('an unknown --param is still refused: it was typed for this run', () => {
    expect(() => validateParams(gold, parseParamPairs(['goldVm=x'], env, gold))).toThrow(/param goldVm: unknown param/);
  });
});
