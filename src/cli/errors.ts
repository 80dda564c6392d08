import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CommandError } from '../shell/shell.ts';
import { InventoryError, RunbookDefinitionError, RunbookError, UsageError, ValidationError } from '../errors.ts';

/**
 * pyinfra's three tiers: a user's mistake is one line; a broken runbook file shows the error
 * pointing into that file; anything else is our bug, written to a debug log with a request to
 * report it. All exit 1: nothing was touched.
 */
export function reportError(error: unknown, stderr: { write(s: string): unknown }, stateDir: string): number {
  if (error instanceof RunbookDefinitionError) {
    stderr.write(`runbook: ${error.message}\n${runbookFrames(error)}`);
    return 1;
  }
  if (error instanceof UsageError || error instanceof ValidationError || error instanceof InventoryError || error instanceof CommandError || error instanceof RunbookError) {
    stderr.write(`runbook: ${error.message}\n`);
    return 1;
  }
  const log = writeDebugLog(error, stateDir);
  stderr.write(`runbook: internal error: ${(error as Error)?.message ?? String(error)}\nThis is a bug in runbook. The details are in ${log}; please attach that file to a report.\n`);
  return 1;
}

/** The stack frames of the cause that point into runbooks/ (where the user's mistake is). */
function runbookFrames(error: RunbookDefinitionError): string {
  const cause = (error as { cause?: unknown }).cause;
  const stack = cause instanceof Error ? cause.stack ?? '' : '';
  const frames = stack.split('\n').filter((l) => /\brunbooks\/|\.ts:\d+/.test(l) && !l.includes('node_modules')).slice(0, 5);
  return frames.length ? `${frames.join('\n')}\n` : '';
}

function writeDebugLog(error: unknown, stateDir: string): string {
  const file = join(stateDir, 'debug.log');
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    appendFileSync(file, `${new Date().toISOString()} ${process.argv.join(' ')}\n${(error as Error)?.stack ?? String(error)}\n\n`, { mode: 0o600 });
  } catch { return '(could not write the debug log)'; }
  return file;
}
