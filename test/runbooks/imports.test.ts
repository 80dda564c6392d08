/**
 * The shipped runbooks are what users copy: they use only the public API. No runbook imports
 * another runbook, the transport, an internal module or node's own modules; what they share lives
 * in src/tasks/ and is exported from src/index.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const RUNBOOKS = join(import.meta.dirname, '..', '..', 'runbooks');
const PUBLIC_API = '../src/index.ts';

/** Every module specifier a file names: static imports and re-exports, dynamic import(), require(). */
function specifiers(source: string): string[] {
  const patterns = [/\b(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]/g, /\brequire\s*\(\s*['"]([^'"]+)['"]/g];
  return patterns.flatMap((p) => [...source.matchAll(p)].map((m) => m[1]));
}

describe('runbooks import only the public API', () => {
  const files = readdirSync(RUNBOOKS).filter((f) => f.endsWith('.ts'));

  it('finds the shipped runbooks', () => {
    expect(files.length).toBeGreaterThan(3);
  });

  it.each(files)('%s', (file) => {
    const others = specifiers(readFileSync(join(RUNBOOKS, file), 'utf8')).filter((s) => s !== PUBLIC_API);
    expect(others, `${file} must import only '${PUBLIC_API}'`).toEqual([]);
  });

  it('the check sees every form of import', () => {
    const source = "import { a } from './x.ts';\nimport type { B } from \"../src/transport/ssh.ts\";\nexport { c } from './c.ts';\nimport 'side-effect';\nconst d = await import('./d.ts');\nconst e = require('node:fs');";
    expect(specifiers(source)).toEqual(['./x.ts', '../src/transport/ssh.ts', './c.ts', 'side-effect', './d.ts', 'node:fs']);
  });
});
