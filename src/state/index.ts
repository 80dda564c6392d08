/**
 * The state layer: where runs are recorded so they can be shown, resumed and never run twice on
 * one host at once. Everything lives under the state folder:
 *
 *   <stateDir>/runs/<runId>/run.json            who, what, where (atomic, secrets masked)
 *   <stateDir>/runs/<runId>/journal.jsonl       every event, one checksummed line each, fsync'd
 *   <stateDir>/runs/<runId>/hosts/<host>.jsonl  command transcripts and log lines of one host
 *   <stateDir>/locks/<host>.lock                the run holding a host
 */
import path from 'node:path';

export * from './journal.ts';
export * from './runs.ts';
export * from './progress.ts';
export * from './locks.ts';
export { fileNameFor } from './fsutil.ts';

/**
 * The state folder: the `--state-dir` flag, else $RUNBOOK_STATE_DIR, else `.runbook` in the working folder.
 * @example const stateDir = stateDirFrom(argv.stateDir);
 */
export function stateDirFrom(flag?: string, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const chosen = flag || env.RUNBOOK_STATE_DIR || '.runbook';
  return path.resolve(cwd, chosen);
}
