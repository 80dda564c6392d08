import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { RunbookDefinitionError } from '../errors.ts';

const SRC = resolve(import.meta.dirname, '..');
const REPO = resolve(SRC, '..');

/**
 * Type-checks a runbook file with the TypeScript compiler before it runs, so a runbook that would
 * not compile in the editor is refused with its errors instead of failing halfway on a host.
 * A pass is cached under the state folder, keyed by the runbook's path and text and by the engine's
 * own sources, so an apply of an unchanged runbook does not even load the compiler. After an edit
 * the compiler runs incrementally: TypeScript's build info (kept per runbook path, TypeScript
 * version, dependency lock and tsconfig) holds every file's hash and diagnostics, so only what
 * changed is checked again. `notice` hears "type-checking …" when the compiler is about to run
 * (seconds): the CLI passes it on a terminal, so a first apply does not wait in silence.
 * @example await typecheckRunbook('runbooks/leap-second.ts', '.runbook') // throws RunbookDefinitionError listing the errors
 */
export async function typecheckRunbook(file: string, stateDir: string, notice?: (text: string) => void): Promise<'checked' | 'cached' | 'unavailable'> {
  const key = await cacheKey(file);
  const cacheDir = join(stateDir, 'cache', 'typecheck');
  const cacheFile = join(cacheDir, `${key}.ok`);
  if (await readFile(cacheFile).then(() => true, () => false)) return 'cached';
  const ts = loadTypescript();
  if (!ts) return 'unavailable';
  notice?.(`type-checking ${relative(process.cwd(), file) || file}…\n`);
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  const errors = compileErrors(ts, file, join(cacheDir, `${await buildInfoKey(ts.version, file)}.tsbuildinfo`));
  if (errors.length) {
    throw new RunbookDefinitionError(`does not type-check (${errors.length} error${errors.length > 1 ? 's' : ''}):\n${errors.slice(0, 20).join('\n')}` +
      `${errors.length > 20 ? `\n  … and ${errors.length - 20} more` : ''}\n  (npx tsc --noEmit shows the same; --no-typecheck skips this check)`, file);
  }
  await writeFile(cacheFile, `${new Date().toISOString()} ${file}\n`, { mode: 0o600 });
  return 'checked';
}

/**
 * The compiler through require, not import: importing a CommonJS module from ESM makes Node lex
 * all of typescript.js (9 MB) for its export names first, a sixth of the check's CPU in a profile.
 */
function loadTypescript(): typeof import('typescript') | undefined {
  try {
    return createRequire(import.meta.url)('typescript') as typeof import('typescript');
  } catch {
    return undefined;
  }
}

function compileErrors(ts: typeof import('typescript'), file: string, buildInfo: string): string[] {
  const config = ts.readConfigFile(join(REPO, 'tsconfig.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, REPO).options;
  // typeRoots pinned to ours: a runbook outside this folder still sees @types/node.
  const options = { ...parsed, noEmit: true, incremental: true, tsBuildInfoFile: buildInfo, typeRoots: [join(REPO, 'node_modules', '@types')] };
  const builder = ts.createIncrementalProgram({ rootNames: [file], options, host: ts.createIncrementalCompilerHost(options) });
  const diagnostics = [
    ...builder.getOptionsDiagnostics(), ...builder.getGlobalDiagnostics(),
    ...builder.getSyntacticDiagnostics(), ...builder.getSemanticDiagnostics(),
  ];
  builder.emit(); // with noEmit, writes only the build info: the next edit starts from it
  return diagnostics
    .filter((d) => !d.file || !d.file.fileName.includes('/node_modules/'))
    .map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n    ');
      if (!d.file || d.start === undefined) return `  ${text}`;
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      return `  ${relative(process.cwd(), d.file.fileName)}:${line + 1}:${character + 1} ${text}`;
    });
}

/**
 * Where the build info of one runbook path lives: a new TypeScript, a changed dependency (the
 * lock file) or tsconfig starts afresh rather than trusting diagnostics another compiler made.
 */
async function buildInfoKey(tsVersion: string, file: string): Promise<string> {
  const hash = createHash('sha256').update(tsVersion).update('\0').update(resolve(file));
  for (const name of ['package-lock.json', 'tsconfig.json']) hash.update('\0').update(await readFile(join(REPO, name)).catch(() => Buffer.alloc(0)));
  return `build-${hash.digest('hex').slice(0, 24)}`;
}

/** The runbook's path and text plus every engine source file: a change to either re-checks. */
async function cacheKey(file: string): Promise<string> {
  const hash = createHash('sha256').update(resolve(file)).update('\0').update(await readFile(file));
  for (const source of await sourceFiles(SRC)) hash.update(source).update(await readFile(source));
  return hash.digest('hex').slice(0, 32);
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(e.parentPath, e.name)).sort();
}
