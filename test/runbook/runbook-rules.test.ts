/**
 * What the shipped runbooks must be, since users copy them: they import only the public API,
 * never read ctx.dryRun (the engine knows about dry-runs; `after` says what a step acts after),
 * need no explicit type arguments, and read handed-on values through step objects, never by
 * string keys. Source-text rules, checked on every file in runbooks/.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const RUNBOOKS = resolve(import.meta.dirname, '../../runbooks');
const FILES = readdirSync(RUNBOOKS).filter((name) => name.endsWith('.ts')).sort();

/** The code without comments, so a comment may say "ctx.dryRun" to explain why it is not used. */
const codeOf = (name: string): string =>
  readFileSync(join(RUNBOOKS, name), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');

const count = (text: string, pattern: RegExp): string[] => text.match(pattern) ?? [];

/** `service<Params, Vars>(`, `ctx.outputs.get<string>(`, `ActionStep<P, V>`: a type the API should have inferred. */
const TYPE_ARGUMENTS = /\b[A-Za-z_$][\w$]*<[^<>()\n=]*>\s*\(|\b(?:StepContext|Step|ActionStep|AssertStep|ManualStep)<[^>\n]*>/g;
const STRING_KEYED_READS = /\boutputs\s*\.\s*(?:get|of)\b/g;
const DRY_RUN = /\bdryRun\b/g;

describe.each(FILES)('runbooks/%s', (name) => {
  it('imports only the public API (src/index.ts): no other runbook, no engine or transport internals', () => {
    const sources = count(codeOf(name), /\bfrom\s+['"][^'"]+['"]/g).map((m) => m.replace(/^from\s+/, ''));
    expect(sources.filter((source) => source !== "'../src/index.ts'")).toEqual([]);
  });

  it('never reads ctx.dryRun, has no explicit type arguments and no string-keyed output reads', () => {
    const code = codeOf(name);
    expect({ dryRun: count(code, DRY_RUN), typeArguments: count(code, TYPE_ARGUMENTS), stringKeyedReads: count(code, STRING_KEYED_READS) })
      .toEqual({ dryRun: [], typeArguments: [], stringKeyedReads: [] });
  });

  it('has no action that only hands values on (`commands: () => []`): a step that reads is an assert', () => {
    expect(count(codeOf(name), /commands:\s*\(\)\s*=>\s*\[\s*\]/g)).toEqual([]);
  });

  it('says what its source notes are instead of "seed 00N"', () => {
    expect(count(readFileSync(join(RUNBOOKS, name), 'utf8'), /seed 00\d/gi)).toEqual([]);
  });
});

it('the rules catch what they are for', () => {
  expect(count('const a = service<Params, Vars>({', TYPE_ARGUMENTS)).toHaveLength(1);
  expect(count('const x: ActionStep<P, V> = y', TYPE_ARGUMENTS)).toHaveLength(1);
  expect(count("ctx.outputs.get<string>('a', 'b')", TYPE_ARGUMENTS)).toHaveLength(1);
  expect(count("ctx.outputs.get('a', 'b')", STRING_KEYED_READS)).toHaveLength(1);
  expect(count('if (ctx.dryRun) return', DRY_RUN)).toHaveLength(1);
  expect(count('const due = markerLooked.out.due(ctx) && a < b && c > (d)', TYPE_ARGUMENTS)).toEqual([]);
});

/** Every text file under a folder, skipping what is not ours to word (dependencies, build output). */
const textFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /^[^.]+$|\.(ts|mts|mjs|md|sh)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((path) => !path.includes('node_modules'));

it('the task library, the lab and the docs name their sources in words, never "seed 00N"', () => {
  const root = resolve(import.meta.dirname, '../..');
  const files = [...['src', 'lab', 'docs'].flatMap((dir) => textFiles(join(root, dir))), join(root, 'README.md')];
  const named = files.filter((path) => /seed 00\d/i.test(readFileSync(path, 'utf8')));
  expect(named.map((path) => path.slice(root.length + 1))).toEqual([]);
});
