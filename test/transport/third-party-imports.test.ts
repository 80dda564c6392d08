/**
 * Each third-party package sits behind the module (or folder) docs/ARCHITECTURE.md names: ssh2
 * only inside src/transport/ssh/, yaml only in the inventory's yaml.ts, zx only in the local
 * transport, yargs only in the CLI, the compiler only in the runbook type-check. zod is the exception by design: schemas live next to the types
 * they infer, so it may be imported anywhere.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..', '..');
const SRC = join(REPO, 'src');

/** Where each wrapped package may be imported from: a file, or a folder (ending in `/`). */
const ALLOWED: Record<string, readonly string[]> = {
  ssh2: ['src/transport/ssh/'],
  yaml: ['src/inventory/yaml.ts'],
  zx: ['src/transport/local.ts'],
  yargs: ['src/cli/main.ts', 'src/cli/lab.ts'],
  typescript: ['src/runbook/typecheck.ts'],
  diff: ['src/engine/content-diff.ts'],
  pg: ['src/state/postgres.ts'],
};
const ANYWHERE = new Set(['zod']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|js|mjs)$/.test(entry.name) ? [path] : [];
  });
}

/** The packages a file imports (bare specifiers, without their subpath), `node:` built-ins left out. */
function packagesImported(source: string): string[] {
  // Also `require('x')` and `createRequire(import.meta.url)('x')`: some packages load through require (start-up).
  const statements = /^\s*(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|\b(?:require|createRequire\([^)]*\))\s*\(\s*['"]([^'"]+)['"]\s*\)/gm;
  const specifiers = [...source.matchAll(statements)].map((m) => m[1] ?? m[2] ?? m[3] ?? m[4]);
  return specifiers.filter((s) => !s.startsWith('.') && !s.startsWith('node:'))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]));
}

const isAllowed = (file: string, places: readonly string[]) => places.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p));

describe('third-party packages stay behind their one module', () => {
  const imports = sourceFiles(SRC).map((path) => ({ file: relative(REPO, path), packages: packagesImported(readFileSync(path, 'utf8')) }));

  it('every package imported in src/ is a wrapped one with its place, or zod', () => {
    const unplaced = imports.flatMap(({ file, packages }) => packages.filter((p) => !ANYWHERE.has(p) && !(p in ALLOWED)).map((p) => `${file}: ${p}`));
    expect(unplaced).toEqual([]);
  });

  it.each(Object.entries(ALLOWED))('%s only where allowed', (pkg, places) => {
    const outside = imports.filter(({ file, packages }) => packages.includes(pkg) && !isAllowed(file, places)).map(({ file }) => file);
    expect(outside, `${pkg} imported outside ${places.join(', ')}`).toEqual([]);
    expect(imports.some(({ packages }) => packages.includes(pkg)), `${pkg} is still used`).toBe(true);
  });

  it('the check reads every import form, with subpaths and scopes', () => {
    expect(packagesImported("import ssh2 from 'ssh2';\nimport type { Argv } from 'yargs';\nimport { hideBin } from 'yargs/helpers';\nconst m = await import('@scope/pkg/sub');\nimport { x } from './local.ts';\nimport { y } from 'node:fs';\nconst d = createRequire(import.meta.url)('diff');\nconst p = require('pg');"))
      .toEqual(['ssh2', 'yargs', 'yargs', '@scope/pkg', 'diff', 'pg']);
  });
});
