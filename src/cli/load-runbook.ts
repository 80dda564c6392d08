import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RunbookDefinitionError, UsageError } from '../errors.ts';
import { validateRunbook } from '../runbook/define.ts';
import type { Runbook } from '../runbook/types.ts';
import { didYouMean } from '../suggest.ts';

const EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];

/** `NAME` is `runbooks/NAME.ts` under the working folder; anything with a slash or extension is a path. */
export function runbookPath(ref: string, cwd = process.cwd()): string {
  const looksLikePath = ref.includes('/') || EXTENSIONS.some((e) => ref.endsWith(e));
  if (looksLikePath) {
    const file = isAbsolute(ref) ? ref : resolve(cwd, ref);
    if (!existsSync(file)) throw new UsageError(`runbook file ${file} does not exist`);
    return file;
  }
  for (const ext of EXTENSIONS) {
    const file = join(cwd, 'runbooks', `${ref}${ext}`);
    if (existsSync(file)) return file;
  }
  const known = listRunbookFiles(cwd).map((f) => basename(f).replace(/\.[mc]?[tj]s$/, ''));
  throw new UsageError(`no runbook named ${JSON.stringify(ref)} in ${join(cwd, 'runbooks')}${known.length ? ` (there are: ${known.join(', ')})` : ''}${didYouMean(ref, known)}`);
}

export function listRunbookFiles(cwd = process.cwd()): string[] {
  const dir = join(cwd, 'runbooks');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => EXTENSIONS.some((e) => f.endsWith(e)) && !f.startsWith('_') && !f.endsWith('.d.ts')).sort().map((f) => join(dir, f));
}

/** Loads and checks a runbook; any problem becomes a RunbookDefinitionError naming the file. */
export async function loadRunbook(ref: string, cwd = process.cwd()): Promise<Runbook & { file: string; hash: string }> {
  const file = runbookPath(ref, cwd);
  let module: { default?: unknown };
  try {
    module = await import(pathToFileURL(file).href);
  } catch (error) {
    const { problem, at } = loadProblem(error as Error, file);
    throw Object.assign(new RunbookDefinitionError(`cannot load: ${problem}`, file, at), { cause: error });
  }
  const runbook = module.default as Runbook | undefined;
  try {
    validateRunbook(runbook as never, file);
  } catch (error) {
    if (error instanceof RunbookDefinitionError && !error.file) throw new RunbookDefinitionError(error.message, file);
    throw error;
  }
  return Object.assign(Object.create(null), runbook, { file, hash: fileHash(file) });
}

/**
 * Why a runbook did not import, and where in the file: a syntax error's message names it as
 * esbuild's `FILE:LINE:COL: ERROR: text` (after a "Transform failed" header line); an error thrown
 * while the file runs has it in its first stack frame in the file.
 */
function loadProblem(error: Error, file: string): { problem: string; at?: { line: number; column: number } } {
  const lines = String(error?.message ?? error).split('\n');
  for (const line of lines) {
    const syntax = line.startsWith(`${file}:`) && /^:(\d+):(\d+): (?:ERROR: )?(.*)$/.exec(line.slice(file.length));
    if (syntax) return { problem: `syntax error: ${syntax[3]}`, at: { line: Number(syntax[1]), column: Number(syntax[2]) } };
  }
  const frame = (error?.stack ?? '').split('\n').map((l) => l.includes(file) && /:(\d+):(\d+)\)?$/.exec(l)).find(Boolean);
  return { problem: lines[0], ...(frame ? { at: { line: Number(frame[1]), column: Number(frame[2]) } } : {}) };
}

export function fileHash(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}
