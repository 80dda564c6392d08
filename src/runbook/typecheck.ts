import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { RunbookDefinitionError } from '../errors.ts';
import { requireWithCodeCache, type CachedModule } from './code-cache.ts';

type TS = typeof import('typescript');

const SRC = resolve(import.meta.dirname, '..');
const REPO = resolve(SRC, '..');
/** A superseded engine's declarations are removed once this old: no check is still reading them. */
const STALE_API_MS = 60 * 60 * 1000;

/**
 * Type-checks a runbook file with the TypeScript compiler before it runs, so a runbook that would
 * not compile in the editor is refused with its errors instead of failing halfway on a host.
 *
 * Two caches under the state folder keep a one-line edit cheap:
 * - a pass, keyed by the runbook's path and text and the engine's sources, and holding the digest
 *   of every other local file the runbook imports: an apply of an unchanged runbook does not even
 *   load the compiler;
 * - the engine's declarations (`api-…/*.d.ts`, keyed by the engine's sources, TypeScript version,
 *   lock file and tsconfig), emitted by the first check of a new engine, which checks against the
 *   sources. Every later check reads these instead of src/*.ts, so an edited runbook is checked
 *   without parsing the engine or inferring its types again.
 *
 * `notice` hears "type-checking …" when the compiler is about to run (seconds): the CLI passes it
 * on a terminal, so a first apply does not wait in silence.
 * @example await typecheckRunbook('runbooks/leap-second.ts', '.runbook') // throws RunbookDefinitionError listing the errors
 */
export async function typecheckRunbook(file: string, stateDir: string, notice?: (text: string) => void): Promise<TypecheckOutcome> {
  const { outcome, errors } = await runbookTypeErrors(file, stateDir, notice);
  if (errors.length) {
    throw new RunbookDefinitionError(`${typeErrorSummary(errors)}\n  (npx tsc --noEmit shows the same; --no-typecheck skips this check)`, file);
  }
  return outcome;
}

export type TypecheckOutcome = 'checked' | 'cached' | 'unavailable';

/** What one check found: how it went, and the compiler's errors (none when cached or unavailable). */
export interface RunbookTypeErrors {
  outcome: TypecheckOutcome;
  errors: string[];
}

/**
 * The check itself, with the compiler's errors as a list (`  file:line:col text` each) rather than
 * thrown: `runbook check` prints them beside its other findings. Cached and unavailable: none.
 */
export async function runbookTypeErrors(file: string, stateDir: string, notice?: (text: string) => void): Promise<RunbookTypeErrors> {
  const engine = await engineDigest();
  const cacheDir = join(stateDir, 'cache', 'typecheck');
  const passFile = join(cacheDir, `${digest(resolve(file), await readFile(file), engine)}.ok`);
  if (await passStillHolds(passFile)) return { outcome: 'cached', errors: [] };
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  const compiler = loadTypescript(cacheDir);
  if (!compiler) return { outcome: 'unavailable', errors: [] };
  const ts = compiler.exports;
  notice?.(`type-checking ${relative(process.cwd(), file) || file}…\n`);
  const apiDir = join(cacheDir, `api-${digest(ts.version, engine, ...(await Promise.all(['package-lock.json', 'tsconfig.json'].map(repoFile))))}`);
  const kept = existsSync(join(apiDir, 'index.d.ts'));
  const checked = (kept && checkAgainstApi(ts, file, apiDir)) || await checkAgainstSources(ts, file, kept ? undefined : apiDir);
  compiler.keep();
  if (!checked.errors.length) await writeFile(passFile, await passRecord(checked.localFiles), { mode: 0o600 });
  return { outcome: 'checked', errors: checked.errors };
}

/** "does not type-check (N errors):" and the first 20 of them. */
export function typeErrorSummary(errors: string[]): string {
  return `does not type-check (${errors.length} error${errors.length > 1 ? 's' : ''}):\n${errors.slice(0, 20).join('\n')}` +
    `${errors.length > 20 ? `\n  … and ${errors.length - 20} more` : ''}`;
}

/**
 * The compiler as CommonJS, not through import (which makes Node lex all of typescript.js, 9 MB,
 * for its export names first), and from V8's code cache: compiling the compiler's functions is a
 * tenth of a check after an edit.
 */
function loadTypescript(cacheDir: string): CachedModule<TS> | undefined {
  let path: string;
  try {
    path = createRequire(import.meta.url).resolve('typescript');
  } catch {
    return undefined;
  }
  return requireWithCodeCache<TS>(path, cacheDir);
}

interface Checked {
  errors: string[];
  /** Every file of the program that is neither the engine's, a declaration nor a package's. */
  localFiles: string[];
}

/**
 * The usual path: the engine comes from the declarations an earlier check emitted. Undefined when
 * the runbook reaches an engine file they lack (it imports past the public API): one program must
 * not hold a module both as source and as declaration, so that runbook is checked from sources.
 */
function checkAgainstApi(ts: TS, file: string, apiDir: string): Checked | undefined {
  const options = compilerOptions(ts, {});
  const host = ts.createCompilerHost(options);
  const missing: string[] = [];
  host.resolveModuleNameLiterals = engineFromDeclarations(ts, host, options, apiDir, missing);
  const program = ts.createProgram({ rootNames: [file], options, host });
  return missing.length ? undefined : checkProgram(ts, program);
}

/**
 * The first check of a new engine reads its sources, then keeps their declarations in `apiDir` for
 * the next checks (undefined: they are kept already). They are kept only when no engine file has
 * an error, which a later check against them would not see. Written to a fresh folder and renamed
 * into place, so a check never reads half of it.
 */
async function checkAgainstSources(ts: TS, file: string, apiDir: string | undefined): Promise<Checked> {
  const options = compilerOptions(ts, apiDir ? { noEmit: false, declaration: true, emitDeclarationOnly: true } : {});
  const program = ts.createProgram({ rootNames: [file], options });
  const checked = checkProgram(ts, program);
  if (!apiDir) return checked;
  const declarations = new Map<string, string>();
  const emitted = program.emit(undefined, (name, text, _bom, _error, sources) => {
    const engineFile = sources?.length === 1 ? engineRelative(sources[0]!.fileName) : undefined;
    if (engineFile && name.endsWith('.d.ts')) declarations.set(engineFile.replace(/\.ts$/, '.d.ts'), text);
  }, undefined, true);
  const engineErrors = [...checked.diagnostics, ...emitted.diagnostics].some((d) => d.file && engineRelative(d.file.fileName));
  if (!engineErrors && !emitted.emitSkipped && declarations.has('index.d.ts')) await saveApi(apiDir, declarations);
  return checked;
}

function compilerOptions(ts: TS, emit: import('typescript').CompilerOptions): import('typescript').CompilerOptions {
  const config = ts.readConfigFile(join(REPO, 'tsconfig.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, REPO).options;
  // typeRoots pinned to ours: a runbook outside this folder still sees @types/node.
  return { ...parsed, noEmit: true, ...emit, incremental: false, typeRoots: [join(REPO, 'node_modules', '@types')] };
}

/**
 * Module resolution as TypeScript's own, except that an engine source resolves to its declaration
 * in `apiDir` (the ones it lacks are listed in `missing`), and a declaration there resolves its
 * imports as the source beside it would (so the state folder may be anywhere, not only above this
 * node_modules).
 */
function engineFromDeclarations(ts: TS, host: import('typescript').CompilerHost, options: import('typescript').CompilerOptions, apiDir: string, missing: string[]):
  NonNullable<import('typescript').CompilerHost['resolveModuleNameLiterals']> {
  const cache = ts.createModuleResolutionCache(REPO, (name) => name, options);
  return (literals, containingFile, redirected, _options, containingSource) => literals.map((literal) => {
    const inApi = relative(apiDir, containingFile);
    const from = inApi.startsWith('..') ? containingFile : join(SRC, inApi.replace(/\.d\.ts$/, '.ts'));
    const mode = ts.getModeForUsageLocation(containingSource, literal, options);
    const found = ts.resolveModuleName(literal.text, from, options, host, cache, redirected, mode);
    const engineFile = found.resolvedModule && engineRelative(found.resolvedModule.resolvedFileName);
    if (!engineFile) return found;
    const declaration = join(apiDir, engineFile.replace(/\.ts$/, '.d.ts'));
    if (!existsSync(declaration)) missing.push(engineFile);
    return { ...found, resolvedModule: { ...found.resolvedModule!, resolvedFileName: declaration, extension: ts.Extension.Dts } };
  });
}

/** The path of an engine source (a .ts under src/, reached by any link) relative to src/. */
function engineRelative(fileName: string): string | undefined {
  // TypeScript's file names use '/' on every platform.
  if (!fileName.endsWith('.ts') || fileName.endsWith('.d.ts') || fileName.includes('/node_modules/')) return undefined;
  const real = existsSync(fileName) ? realpathSync(fileName) : fileName;
  return real.startsWith(SRC + sep) ? relative(SRC, real) : undefined;
}

function checkProgram(ts: TS, program: import('typescript').Program): Checked & { diagnostics: readonly import('typescript').Diagnostic[] } {
  const diagnostics = [
    ...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics(),
    ...program.getSyntacticDiagnostics(), ...program.getSemanticDiagnostics(),
  ].filter((d) => !d.file || !d.file.fileName.includes('/node_modules/'));
  const localFiles = program.getSourceFiles().map((f) => f.fileName)
    .filter((name) => !name.endsWith('.d.ts') && !name.includes('/node_modules/') && !engineRelative(name));
  return { diagnostics, errors: diagnostics.map((d) => describe(ts, d)), localFiles };
}

function describe(ts: TS, diagnostic: import('typescript').Diagnostic): string {
  const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n    ');
  if (!diagnostic.file || diagnostic.start === undefined) return `  ${text}`;
  const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
  return `  ${relative(process.cwd(), diagnostic.file.fileName)}:${line + 1}:${character + 1} ${text}`;
}

async function saveApi(apiDir: string, declarations: Map<string, string>): Promise<void> {
  const fresh = `${apiDir}.${process.pid}.${Date.now()}.tmp`;
  for (const [name, text] of declarations) {
    await mkdir(dirname(join(fresh, name)), { recursive: true, mode: 0o700 });
    await writeFile(join(fresh, name), text, { mode: 0o600 });
  }
  // Another check may have saved the same declarations first: theirs are as good as ours.
  await rename(fresh, apiDir).catch(() => rm(fresh, { recursive: true, force: true }));
  await removeStaleApis(dirname(apiDir), apiDir);
}

async function removeStaleApis(cacheDir: string, current: string): Promise<void> {
  for (const entry of await readdir(cacheDir, { withFileTypes: true })) {
    const path = join(cacheDir, entry.name);
    if (!entry.isDirectory() || !entry.name.startsWith('api-') || path === current) continue;
    const { mtimeMs } = await stat(path);
    if (Date.now() - mtimeMs > STALE_API_MS) await rm(path, { recursive: true, force: true });
  }
}

/**
 * A pass lists the other local files the runbook imports (a helper beside it) with their digests:
 * an edit of one of them must check the runbook again, though the runbook's own text is the same.
 */
async function passRecord(localFiles: string[]): Promise<string> {
  const lines = await Promise.all(localFiles.map(async (name) => `${digest(await readFile(name))} ${name}`));
  return `${lines.join('\n')}\n`;
}

async function passStillHolds(passFile: string): Promise<boolean> {
  const record = await readFile(passFile, 'utf8').catch(() => undefined);
  if (record === undefined) return false;
  for (const line of record.split('\n').filter(Boolean)) {
    const [sum, name] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)];
    if (await readFile(name).then((text) => digest(text) !== sum, () => true)) return false;
  }
  return true;
}

/** Every engine source file, path and text: a change to any of them is a new engine. */
async function engineDigest(): Promise<string> {
  const entries = await readdir(SRC, { withFileTypes: true, recursive: true });
  const sources = entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(e.parentPath, e.name)).sort();
  return digest(...(await Promise.all(sources.map(async (source) => `${source}\0${digest(await readFile(source))}`))));
}

async function repoFile(name: string): Promise<Buffer> {
  return readFile(join(REPO, name)).catch(() => Buffer.alloc(0));
}

function digest(...parts: (string | Buffer)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 32);
}
