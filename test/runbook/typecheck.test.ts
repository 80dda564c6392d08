/**
 * The runbook type check before apply: incremental after an edit (TypeScript's build info kept in
 * the state folder), never fooled by it (an error introduced by an edit is found, a fixed one is
 * gone), and a "type-checking …" note when the compiler is about to run. Real compiler, real files.
 */
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RunbookDefinitionError } from '../../src/errors.ts';
import { typecheckRunbook } from '../../src/runbook/typecheck.ts';
import { API, makeProject } from '../e2e/helpers.ts';

const runbook = (message: string) => `import { defineRunbook, command, cmd, z } from '${API}';
export default defineRunbook({ name: 'motd', summary: 'motd', params: z.object({ who: z.string().default('ops') }) }).steps([
  command({ id: 'x', title: 'x', run: (ctx) => cmd\`echo ${message}\` }),
]);
`;

describe('typecheckRunbook', () => {
  const project = makeProject({ 'package.json': '{ "type": "module" }\n', 'runbooks/motd.ts': runbook('${ctx.params.who}') });
  const file = join(project, 'runbooks/motd.ts');
  const state = join(project, 'state');
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it('checks, then answers from its cache; after an edit checks again from its build info, finding and forgetting errors', async () => {
    const notes: string[] = [];
    expect(await typecheckRunbook(file, state, (t) => notes.push(t))).toBe('checked');
    expect(notes.join('')).toMatch(/^type-checking .*motd\.ts…\n$/);
    expect(readdirSync(join(state, 'cache', 'typecheck')).filter((f) => f.endsWith('.tsbuildinfo'))).toHaveLength(1);
    expect(await typecheckRunbook(file, state, (t) => notes.push(t))).toBe('cached');
    expect(notes).toHaveLength(1);

    writeFileSync(file, runbook('${ctx.params.whom}'));
    const error = await typecheckRunbook(file, state).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunbookDefinitionError);
    expect((error as Error).message).toMatch(/motd\.ts:3:\d+ Property 'whom' does not exist/);

    writeFileSync(file, runbook('${ctx.params.who.toUpperCase()}'));
    expect(await typecheckRunbook(file, state)).toBe('checked');
  }, 240_000);
});
