/**
 * Start-up after a one-line edit of runbooks/leap-second.ts: the type check apply runs first.
 * Each run appends one comment line to a copy of the runbook (so the pass cached for the last text
 * misses) and type-checks it with what the runs before kept in the state folder: the engine's
 * declarations and the compiler's V8 code cache, which the first (warm-up) run makes. The copy lives in a scratch project whose src/ and node_modules/ link to this repository's,
 * so it imports the engine as the shipped runbook does.
 *
 *   farm-bench -n 5 -- node --import tsx bench/typecheck-edit.ts /tmp/tc-bench
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { typecheckRunbook } from '../src/runbook/typecheck.ts';

const REPO = resolve(import.meta.dirname, '..');
const scratch = resolve(process.argv[2] ?? '/tmp/runbook-typecheck-bench');
const copy = join(scratch, 'runbooks', 'leap-second.ts');
if (!existsSync(copy)) {
  mkdirSync(join(scratch, 'runbooks'), { recursive: true });
  for (const linked of ['src', 'node_modules', 'tsconfig.json']) symlinkSync(join(REPO, linked), join(scratch, linked));
  writeFileSync(join(scratch, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(copy, readFileSync(join(REPO, 'runbooks', 'leap-second.ts')));
}
writeFileSync(copy, `${readFileSync(copy, 'utf8')}// edit ${Date.now()}\n`);
const started = performance.now();
const outcome = await typecheckRunbook(copy, join(scratch, 'state'));
console.log(`${outcome} in ${Math.round(performance.now() - started)} ms`);
