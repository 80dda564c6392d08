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
    throw Object.assign(new RunbookDefinitionError(`cannot load: ${(error as Error).message.split('\n')[0]}`, file), { cause: error });
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

export function fileHash(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}
