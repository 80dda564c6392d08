/**
 * The state layer: where runs are recorded so they can be shown, resumed and never run twice on
 * one host at once. Everything lives under the state folder:
 *
 *   <stateDir>/runs/<runId>/run.json            who, what, where (atomic, secrets masked)
 *   <stateDir>/runs/<runId>/journal.jsonl       every event, one checksummed line each, fsync'd
 *   <stateDir>/runs/<runId>/hosts/<host>.jsonl  command transcripts and log lines of one host
 *   <stateDir>/locks/<host>.lock                the run holding a host
 *   <stateDir>/known_hosts                      host keys accepted for this project
 *
 * or, for a team, in PostgreSQL (postgres.ts): both behind StateBackend (backend.ts).
 */
import path from 'node:path';
import { FolderBackend, type StateBackend } from './backend.ts';

export * from './journal.ts';
export * from './runs.ts';
export * from './progress.ts';
export * from './locks.ts';
export * from './backend.ts';
export { copyState, type CopyReport } from './copy.ts';
export { fileNameFor } from './fsutil.ts';

/**
 * The state folder: the `--state-dir` flag, else $RUNBOOK_STATE_DIR, else `.runbook` in the working folder.
 * @example const stateDir = stateDirFrom(argv.stateDir);
 */
export function stateDirFrom(flag?: string, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const chosen = flag || env.RUNBOOK_STATE_DIR || '.runbook';
  return path.resolve(cwd, chosen);
}

/** Where runs live, as given: `--state postgres://…`, else $RUNBOOK_STATE_URL, else the state folder. */
export interface StateChoice {
  state?: string;
  stateDir?: string;
}

/**
 * Opens the state backend a command uses: PostgreSQL when a postgres:// URL is given (the pg
 * module is loaded only then), else the state folder. Close it when the command ends.
 * @example const state = await openStateBackend({ state: argv.state, stateDir: argv.stateDir }, io.env, io.cwd);
 */
export async function openStateBackend(choice: StateChoice, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Promise<StateBackend> {
  const url = choice.state || env.RUNBOOK_STATE_URL;
  if (!url) return new FolderBackend(stateDirFrom(choice.stateDir, env, cwd));
  const { openPostgresBackend } = await import('./postgres.ts');
  return openPostgresBackend(url, { env, from: choice.state ? '--state' : 'RUNBOOK_STATE_URL' });
}
