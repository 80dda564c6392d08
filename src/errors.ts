/**
 * One small error tree, as pyinfra has. The CLI maps it to exit codes and to three tiers of output:
 * a user mistake is one line, an error in a runbook file points at that file, anything else is a bug.
 */
export class RunbookError extends Error {
  override name = 'RunbookError';
}

/** Bad flags, params or a missing file: nothing was touched (exit 1). */
export class UsageError extends RunbookError {
  override name = 'UsageError';
}

/** Inventory that cannot be read; `file` and `line` say where. */
export class InventoryError extends RunbookError {
  override name = 'InventoryError';
  constructor(message: string, readonly file?: string, readonly line?: number) {
    super(file ? `${file}${line ? `:${line}` : ''}: ${message}` : message);
  }
}

/** A runbook file that does not load or is malformed (duplicate ids, bad schema); `at` is where in it, when known. */
export class RunbookDefinitionError extends RunbookError {
  override name = 'RunbookDefinitionError';
  constructor(message: string, readonly file?: string, readonly at?: { line: number; column?: number }) {
    super(file ? `${file}${at ? `:${at.line}${at.column ? `:${at.column}` : ''}` : ''}: ${message}` : message);
  }
}

/** One validation problem: which host, which field, what was expected, where the value came from. */
export interface ValidationIssue {
  host?: string;
  field: string;
  message: string;
  source?: string;
}

/** Params or host vars that do not satisfy the runbook's schemas; lists every problem at once. */
export class ValidationError extends RunbookError {
  override name = 'ValidationError';
  constructor(readonly issues: ValidationIssue[]) {
    super(`validation failed:\n${issues.map(formatIssue).join('\n')}`);
  }
}

export function formatIssue(issue: ValidationIssue): string {
  const where = issue.host ? `host ${issue.host}: ` : '';
  const from = issue.source ? ` (from ${issue.source})` : '';
  return `  ${where}${issue.field}: ${issue.message}${from}`;
}

/** The host could not be reached or the connection broke: the host is unreachable, not failed. */
export class UnreachableError extends RunbookError {
  override name = 'UnreachableError';
  constructor(readonly host: string, readonly reason: string) {
    super(`${host}: unreachable: ${reason}`);
  }
}

/** A command exceeded its time limit; the channel or process was closed. */
export class TimeoutError extends RunbookError {
  override name = 'TimeoutError';
  constructor(readonly what: string, readonly timeoutMs: number) {
    super(`${what} timed out after ${timeoutMs} ms`);
  }
}
