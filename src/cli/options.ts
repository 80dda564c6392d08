import { stateDirFrom } from '../state/index.ts';

/** The state folder of parsed flags: `--state-dir`, else RUNBOOK_STATE_DIR, else `.runbook`. */
export function stateDirOf(argv: { stateDir?: string }, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return stateDirFrom(argv.stateDir, env, cwd);
}

/** Writes to stdout; kept behind one function so commands can be tested with a captured stream. */
export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export const processIo = (): Io => ({ stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, cwd: process.cwd(), env: process.env });
