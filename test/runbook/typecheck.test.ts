/**
 * The runbook type check before apply. The first check of an engine reads its sources and keeps
 * their declarations in the state folder; later checks read those, and the compiler from V8's
 * code cache. It is never fooled by its caches: an error introduced by an edit (of the runbook or
 * of a helper it imports) is found, a fixed one is gone, and an error in the engine itself is never
 * hidden behind declarations. A "type-checking …" note when the compiler is about to run.
 * Real compiler, real files.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RunbookDefinitionError } from '../../src/errors.ts';
import { typecheckRunbook } from '../../src/runbook/typecheck.ts';
import { API, makeProject } from '../e2e/helpers.ts';

const REPO = join(import.meta.dirname, '..', '..');

const runbook = (message: string, api = API) => `import { defineRunbook, command, cmd, z } from '${api}';
export default defineRunbook({ name: 'motd', summary: 'motd', params: z.object({ who: z.string().default('ops') }) }).steps([
  command({ id: 'x', title: 'x', run: (ctx) => cmd\`echo ${message}\` }),
]);
`;

const failure = (check: Promise<unknown>) => check.then(() => undefined, (e: unknown) => e as Error);

describe('typecheckRunbook', () => {
  const project = makeProject({ 'package.json': '{ "type": "module" }\n', 'runbooks/motd.ts': runbook('${ctx.params.who}') });
  const file = join(project, 'runbooks/motd.ts');
  const state = join(project, 'state');
  const cache = join(state, 'cache', 'typecheck');
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it('checks, keeping the engine\'s declarations and the compiler\'s code; then answers from its pass', async () => {
    const notes: string[] = [];
    expect(await typecheckRunbook(file, state, (t) => notes.push(t))).toBe('checked');
    expect(notes.join('')).toMatch(/^type-checking .*motd\.ts…\n$/);
    const apis = readdirSync(cache).filter((f) => f.startsWith('api-'));
    expect(apis).toHaveLength(1);
    expect(existsSync(join(cache, apis[0]!, 'index.d.ts'))).toBe(true);
    expect(existsSync(join(cache, apis[0]!, 'cli'))).toBe(false); // only what a runbook reaches
    expect(readdirSync(cache).filter((f) => /^v8-.*\.bin$/.test(f))).toHaveLength(1);
    expect(await typecheckRunbook(file, state, (t) => notes.push(t))).toBe('cached');
    expect(notes).toHaveLength(1);
  }, 240_000);

  it('after an edit, checks against the declarations (the state folder far from node_modules), finding and forgetting errors', async () => {
    writeFileSync(file, runbook('${ctx.params.whom}'));
    const error = await failure(typecheckRunbook(file, state));
    expect(error).toBeInstanceOf(RunbookDefinitionError);
    // Found only if zod's types resolve from the declarations: params would be `any` otherwise.
    expect(error?.message).toMatch(/motd\.ts:3:\d+ Property 'whom' does not exist/);

    writeFileSync(file, runbook('${ctx.params.who.toUpperCase()}'));
    expect(await typecheckRunbook(file, state)).toBe('checked');
  }, 240_000);

  it('the engine\'s types come from the kept declarations once they exist', async () => {
    const [api] = readdirSync(cache).filter((f) => f.startsWith('api-'));
    const index = join(cache, api!, 'index.d.ts');
    const kept = readFileSync(index, 'utf8');
    writeFileSync(index, kept.replace(/\bcmd, /, ''));
    try {
      writeFileSync(file, runbook('${ctx.params.who} again'));
      expect((await failure(typecheckRunbook(file, state)))?.message).toMatch(/has no exported member named 'cmd'|has no exported member 'cmd'/);
    } finally {
      writeFileSync(index, kept);
    }
    expect(await typecheckRunbook(file, state)).toBe('checked');
  }, 240_000);

  it('an edit of a helper the runbook imports checks it again, though the runbook is the same', async () => {
    writeFileSync(join(project, 'runbooks/greeting.ts'), 'export const greeting = (who: string): string => `hello ${who}`;\n');
    writeFileSync(file, `import { greeting } from './greeting.ts';\n${runbook('${greeting(ctx.params.who)}')}`);
    expect(await typecheckRunbook(file, state)).toBe('checked');
    expect(await typecheckRunbook(file, state)).toBe('cached');
    writeFileSync(join(project, 'runbooks/greeting.ts'), 'export const greeting = (who: number): string => `hello ${who}`;\n');
    expect((await failure(typecheckRunbook(file, state)))?.message).toMatch(/motd\.ts:4:\d+ Argument of type 'string' is not assignable to parameter of type 'number'/);
  }, 240_000);

  it('a runbook that imports past the public API is checked from the engine\'s sources', async () => {
    const [api] = readdirSync(cache).filter((f) => f.startsWith('api-'));
    expect(existsSync(join(cache, api!, 'report'))).toBe(false);
    const internal = (use: string) => `import { schemaFields } from '${join(REPO, 'src/report/describe.ts')}';\n${runbook(use)}`;
    writeFileSync(file, internal('${schemaFields(undefined).length}'));
    expect(await typecheckRunbook(file, state)).toBe('checked');
    writeFileSync(file, internal('${schemaFields(undefined).size}'));
    expect((await failure(typecheckRunbook(file, state)))?.message).toMatch(/motd\.ts:4:\d+ Property 'size' does not exist on type 'FieldDoc\[\]'/);
    expect(readdirSync(cache).filter((f) => f.startsWith('api-'))).toEqual([api]);
  }, 240_000);
});

describe('typecheckRunbook with an engine that has an error of its own', () => {
  // A copy of the engine (src/, tsconfig, node_modules linked) with one bad line in a file runbooks reach.
  const engine = mkdtempSync(join(tmpdir(), 'runbook-engine-'));
  cpSync(join(REPO, 'src'), join(engine, 'src'), { recursive: true });
  for (const name of ['tsconfig.json', 'package.json', 'package-lock.json']) cpSync(join(REPO, name), join(engine, name));
  symlinkSync(join(REPO, 'node_modules'), join(engine, 'node_modules'));
  const params = join(engine, 'src/runbook/params.ts');
  writeFileSync(params, `${readFileSync(params, 'utf8')}\nexport const brokenOnPurpose: number = 'not a number';\n`);
  const file = join(engine, 'runbooks/motd.ts');
  mkdirSync(join(engine, 'runbooks'));
  writeFileSync(file, runbook('${ctx.params.who}', '../src/index.ts'));
  const state = join(engine, 'state');
  afterAll(() => rmSync(engine, { recursive: true, force: true }));

  it('reports it on every check and keeps no declarations that would hide it', async () => {
    const { typecheckRunbook: checkWithCopy } = await import(join(engine, 'src/runbook/typecheck.ts')) as typeof import('../../src/runbook/typecheck.ts');
    for (const round of [1, 2]) {
      const error = await failure(checkWithCopy(file, state));
      expect(error?.message, `check ${round}`).toMatch(/params\.ts:\d+:\d+ Type 'string' is not assignable to type 'number'/);
    }
    expect(readdirSync(join(state, 'cache', 'typecheck')).filter((f) => f.startsWith('api-'))).toEqual([]);
  }, 240_000);
});
