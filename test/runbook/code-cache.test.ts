/**
 * Loading a CommonJS file through a V8 code cache (what the runbook type check loads the compiler
 * with): the module works as under require, the cache is written once it has been kept, the next
 * load takes its code from it, and a damaged cache is rejected by V8 and made again. Each load is
 * a process of its own: within one, V8 answers a second compile of the same source from memory.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireWithCodeCache } from '../../src/runbook/code-cache.ts';

const CODE_CACHE = join(import.meta.dirname, '../../src/runbook/code-cache.ts');

interface Load { fromCache: boolean; greeting: string; twice: number; changed?: boolean }

/** Loads the module in a new process, calls it, keeps the cache if asked, and says what happened. */
function loadInChild(moduleFile: string, cacheDir: string, keep: boolean): Load {
  const script = `import { requireWithCodeCache } from ${JSON.stringify(CODE_CACHE)};
const loaded = requireWithCodeCache(${JSON.stringify(moduleFile)}, ${JSON.stringify(cacheDir)});
const { greet, twice, changed } = loaded.exports;
${keep ? 'loaded.keep();' : ''}
console.log(JSON.stringify({ fromCache: loaded.fromCache, greeting: greet('ops'), twice: twice(21), changed }));`;
  return JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 })) as Load;
}

describe('requireWithCodeCache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runbook-code-cache-'));
  const moduleFile = join(dir, 'greet.cjs');
  writeFileSync(moduleFile, `const { basename } = require('node:path');
exports.greet = (who) => 'hello ' + who + ' from ' + basename(__filename) + ' in ' + basename(__dirname);
module.exports.twice = (n) => n * 2;
`);
  const cacheDir = join(dir, 'cache');
  mkdirSync(cacheDir);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const caches = () => readdirSync(cacheDir).filter((f) => /^v8-[0-9a-f]{32}\.bin$/.test(f));

  it('runs the module as require would, and keeps its code only when told', () => {
    const first = loadInChild(moduleFile, cacheDir, false);
    expect(first).toEqual({ fromCache: false, greeting: `hello ops from greet.cjs in ${basename(dir)}`, twice: 42 });
    expect(caches()).toEqual([]);
    expect(loadInChild(moduleFile, cacheDir, true).fromCache).toBe(false);
    expect(caches()).toHaveLength(1);
    expect(readdirSync(cacheDir)).toHaveLength(1); // nothing left aside
  });

  it('takes the next load from the cache, and does not write it again', () => {
    const [cache] = caches();
    const before = readFileSync(join(cacheDir, cache!));
    const second = loadInChild(moduleFile, cacheDir, true);
    expect(second.fromCache).toBe(true);
    expect(second.twice).toBe(42);
    expect(readFileSync(join(cacheDir, cache!)).equals(before)).toBe(true);
  });

  it('a damaged cache is rejected by V8 and made again', () => {
    const [cache] = caches();
    const damaged = readFileSync(join(cacheDir, cache!));
    damaged.fill(7, 0, 64);
    writeFileSync(join(cacheDir, cache!), damaged);
    const third = loadInChild(moduleFile, cacheDir, true);
    expect(third.fromCache).toBe(false);
    expect(third.twice).toBe(42);
    expect(loadInChild(moduleFile, cacheDir, false).fromCache).toBe(true);
  });

  it('a cache others may write is not read (group or world writable)', () => {
    const [cache] = caches();
    const path = join(cacheDir, cache!);
    chmodSync(path, 0o620);
    expect(loadInChild(moduleFile, cacheDir, false).fromCache).toBe(false);
    chmodSync(path, 0o602);
    expect(loadInChild(moduleFile, cacheDir, false).fromCache).toBe(false);
    chmodSync(path, 0o600);
    expect(loadInChild(moduleFile, cacheDir, false).fromCache).toBe(true);
  });

  it.skipIf(process.getuid?.() !== 0)('(as root, which may give a file away) a cache owned by another user is not read', () => {
    const [cache] = caches();
    const path = join(cacheDir, cache!);
    chownSync(path, 65534, 65534);
    expect(loadInChild(moduleFile, cacheDir, false).fromCache).toBe(false);
    chownSync(path, 0, 0);
    expect(loadInChild(moduleFile, cacheDir, false).fromCache).toBe(true);
  });

  it('a changed module gets a cache of its own', () => {
    writeFileSync(moduleFile, `${readFileSync(moduleFile, 'utf8')}exports.changed = true;\n`);
    const changed = loadInChild(moduleFile, cacheDir, true);
    expect(changed).toMatchObject({ fromCache: false, changed: true });
    expect(caches()).toHaveLength(2);
    expect(loadInChild(moduleFile, cacheDir, false).fromCache).toBe(true);
  });
});
