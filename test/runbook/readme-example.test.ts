/**
 * A user writes a fresh runbook the way README's "Writing a runbook" shows, in a project of their
 * own, and the TypeScript compiler checks it: the example passes as written, and a misspelt
 * output name (the typo a string-keyed read only found at run time) fails the check.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { typecheckRunbook } from '../../src/runbook/typecheck.ts';

const REPO = resolve(import.meta.dirname, '../..');
const API = join(REPO, 'src/index.ts');

/** The first TypeScript block after README's "## Writing a runbook", importing the engine by path. */
function readmeExample(): string {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Writing a runbook'));
  const block = /```ts\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('README\'s "Writing a runbook" has no ```ts block');
  expect(block[1]).toContain("from '../src/index.ts'");
  return block[1].replace("from '../src/index.ts'", `from ${JSON.stringify(API)}`);
}

let project: string;
beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'runbook-readme-'));
  await mkdir(join(project, 'runbooks'));
  await writeFile(join(project, 'package.json'), JSON.stringify({ type: 'module' }));
});
afterAll(async () => { await rm(project, { recursive: true, force: true }); });

async function check(name: string, text: string): Promise<string> {
  const file = join(project, 'runbooks', `${name}.ts`);
  await writeFile(file, text);
  try {
    return await typecheckRunbook(file, join(project, '.runbook'));
  } catch (error) {
    return (error as Error).message;
  }
}

describe("README's runbook, written fresh in a project of one's own", () => {
  it('type-checks as written, with typed params, vars and outputs', async () => {
    expect(await check('motd', readmeExample())).toBe('checked');
  }, 120_000);

  it('a misspelt output name, read or handed on, fails the type check naming the name and the line', async () => {
    const example = readmeExample();
    expect(example).toContain('${linux.out.kernel(ctx)}');
    const typos = example.replace('${linux.out.kernel(ctx)}', '${linux.out.kernal(ctx)}').replace('{ kernel })', '{ kernal: kernel })');
    const message = await check('motd-typo', typos);
    expect(message).toMatch(/does not type-check \(\d+ errors?\)/);
    expect(message).toMatch(/motd-typo\.ts:\d+:\d+ .*Property 'kernal' does not exist/);
    expect(message).toMatch(/motd-typo\.ts:\d+:\d+ .*kernal/);
    expect(message.match(/motd-typo\.ts:\d+/g)?.length).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
