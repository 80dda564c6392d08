import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { readYamlVars } from '../inventory/yaml.ts';
import { openStateBackend, stateDirFrom, type StateBackend } from '../state/index.ts';

/** The state folder of parsed flags: `--state-dir`, else RUNBOOK_STATE_DIR, else `.runbook`. */
export function stateDirOf(argv: { stateDir?: string }, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return stateDirFrom(argv.stateDir, env, cwd);
}

/**
 * Runs `work` with the state backend the flags choose (`--state URL`, RUNBOOK_STATE_URL, else the
 * state folder), closing it after, whatever happens.
 * @example return withState(args, io, async (state) => (await state.listRuns()).length);
 */
export async function withState<T>(argv: { state?: string; stateDir?: string }, io: Pick<Io, 'env' | 'cwd'>, work: (state: StateBackend) => Promise<T>): Promise<T> {
  const state = await openStateBackend(argv, io.env, io.cwd);
  try {
    return await work(state);
  } finally {
    await state.close();
  }
}

/** Writes to stdout; kept behind one function so commands can be tested with a captured stream. */
export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** `--color` / `--no-color` when given; otherwise FORCE_COLOR, NO_COLOR and the terminal decide. */
  color?: boolean;
}

export const processIo = (): Io => ({ stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, cwd: process.cwd(), env: process.env });

/**
 * `--limit @FILE` reads one pattern a line, like Ansible's retry files (blank lines and `#` comments
 * skipped); anything else is the pattern itself.
 * @example await resolveLimit('@failed.txt', cwd) // 'xs-01,xs-04'
 */
export async function resolveLimit(limit: string | undefined, cwd: string): Promise<string | undefined> {
  if (!limit?.startsWith('@')) return limit;
  const file = resolve(cwd, limit.slice(1));
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`--limit ${limit}: cannot read ${file} (${error.code ?? error.message})`);
  });
  const patterns = text.split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
  if (patterns.length === 0) throw new UsageError(`--limit ${limit}: ${file} names no host`);
  return patterns.join(',');
}

/**
 * `-e @FILE` (Ansible's extra-vars file): a YAML or JSON mapping, each key a `k=v` param in place,
 * so a later `-e k=v` still wins. Values other than text go as JSON, which params already accept.
 * @example await expandParamFiles(['@vars.yml', 'message=hi'], cwd) // ['site=lab', 'message=hello', 'message=hi']
 */
export async function expandParamFiles(pairs: readonly string[], cwd: string): Promise<string[]> {
  const expanded: string[] = [];
  for (const pair of pairs) {
    if (!pair.startsWith('@')) { expanded.push(pair); continue; }
    const file = resolve(cwd, pair.slice(1));
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`--param ${pair}: cannot read ${file} (${error.code ?? error.message})`);
    });
    for (const [key, { value }] of readYamlVars(text, file)) expanded.push(`${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  }
  return expanded;
}

/** Start-up notes ("type-checking …") for a person at a terminal; scripts and pipes get none. */
export const terminalNotice = (io: Io): ((text: string) => void) | undefined =>
  io.stderr.isTTY ? (text) => { io.stderr.write(text); } : undefined;
