import { z } from 'zod';
import { change, noop, type CheckResult } from '../runbook/check.ts';
import type { ActionStep, Dynamic, StepContext } from '../runbook/types.ts';
import { cmd } from '../shell/command.ts';
import { fileContent } from './facts.ts';
import { writeFileCommand } from './file.ts';
import {
  appliedPlan, applyPlan, CheckReading, checkOptions, commonOf, displayPlan, resolveOptions, TaskError,
  type PlannedCommand, type TaskCommon,
} from './resolve.ts';

export interface LineInFileOptions<P = any, V = any> extends TaskCommon<P, V> {
  /** Absolute path of a text file on the host. */
  path: Dynamic<string, P, V>;
  /** The whole line, without its newline. Optional only for `state: 'absent'` with a `regexp`. */
  line?: Dynamic<string, P, V>;
  /** present: the last matching line is replaced by `line`; absent: every matching line goes. */
  regexp?: Dynamic<string | RegExp, P, V>;
  state?: Dynamic<'present' | 'absent', P, V>;
  /** Where a new line goes when nothing matched: 'EOF' (default), 'BOF', or after the last line matching this regexp. */
  insertAfter?: Dynamic<string | RegExp, P, V>;
  /** Create the file when it is missing (Ansible's `create`); otherwise a missing file is an error. */
  create?: Dynamic<boolean, P, V>;
}

/** JavaScript regexps without g/y, whose lastIndex would make test() answer differently each call. */
const regexp = z.union([z.instanceof(RegExp), z.string()]).transform((value, issues) => {
  try {
    return typeof value === 'string' ? new RegExp(value) : new RegExp(value.source, value.flags.replace(/[gy]/g, ''));
  } catch (error) {
    issues.addIssue({ code: 'custom', message: `not a valid regular expression: ${(error as Error).message}` });
    return z.NEVER;
  }
});

const lineSchema = z.object({
  path: z.string().refine((p) => p.startsWith('/'), 'must be an absolute path').refine((p) => !p.includes('\0'), 'a path cannot hold a NUL byte'),
  line: z.string().refine((l) => !/[\r\n]/.test(l), 'must be one line (no newline)').optional(),
  regexp: regexp.optional(),
  state: z.enum(['present', 'absent']).default('present'),
  insertAfter: z.union([z.literal('EOF'), z.literal('BOF'), regexp]).optional(),
  create: z.boolean().default(false),
}).superRefine((o, issues) => {
  if (o.line === undefined && (o.state === 'present' || o.regexp === undefined)) {
    issues.addIssue({ code: 'custom', path: ['line'], message: o.state === 'present' ? 'state "present" needs a line' : 'state "absent" needs a line or a regexp' });
  }
});

export type LineSpec = z.output<typeof lineSchema>;

export interface LineEdit {
  content: string;
  /** Why the content changes; null when it already holds. */
  change: string | null;
  /** Why nothing changes (when change is null). */
  holds: string;
}

/** Lines with their terminators kept, so an edit leaves every other byte of the file alone. */
const splitLines = (text: string): string[] => text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
const bare = (line: string): string => line.replace(/\r?\n$/, '');
const terminator = (line: string): string => line.slice(bare(line).length);

/** The index of the last line satisfying the predicate, -1 if none (Ansible picks the last match). */
function lastIndex(lines: readonly string[], matches: (text: string) => boolean): number {
  for (let i = lines.length - 1; i >= 0; i--) if (matches(bare(lines[i]))) return i;
  return -1;
}

/** Where a missing line goes: Ansible's insertafter (the line after its last match), else the end. */
function insertionIndex(lines: readonly string[], insertAfter: LineSpec['insertAfter']): number {
  if (insertAfter === 'BOF') return 0;
  if (insertAfter === undefined || insertAfter === 'EOF') return lines.length;
  const anchor = lastIndex(lines, (text) => insertAfter.test(text));
  return anchor === -1 ? lines.length : anchor + 1;
}

function presentEdit(lines: string[], spec: LineSpec & { line: string }): LineEdit {
  const line = spec.line;
  // A regexp match wins; only without one does an exact copy of the line count (Ansible's order).
  let found = spec.regexp ? lastIndex(lines, (text) => spec.regexp!.test(text)) : -1;
  if (found === -1) found = lastIndex(lines, (text) => text === line);
  if (found !== -1) {
    const old = bare(lines[found]);
    if (old === line) return { content: lines.join(''), change: null, holds: `line ${found + 1} of ${spec.path} is already ${JSON.stringify(line)}` };
    lines[found] = line + terminator(lines[found]);
    return { content: lines.join(''), change: `line ${found + 1} of ${spec.path} is ${JSON.stringify(old)}, want ${JSON.stringify(line)}`, holds: '' };
  }
  const at = insertionIndex(lines, spec.insertAfter);
  if (at > 0 && !lines[at - 1].endsWith('\n')) lines[at - 1] += '\n';
  lines.splice(at, 0, `${line}\n`);
  const where = at === 0 ? 'at the top' : at === lines.length - 1 ? 'at the end' : `after line ${at}`;
  return { content: lines.join(''), change: `${spec.path} lacks ${JSON.stringify(line)}: add it ${where}`, holds: '' };
}

function absentEdit(lines: string[], spec: LineSpec): LineEdit {
  const matches = (text: string) => (spec.regexp ? spec.regexp.test(text) : text === spec.line);
  const kept = lines.filter((l) => !matches(bare(l)));
  const removed = lines.length - kept.length;
  const what = spec.regexp ? `matching ${spec.regexp}` : JSON.stringify(spec.line);
  return removed === 0
    ? { content: lines.join(''), change: null, holds: `${spec.path} has no line ${what}` }
    : { content: kept.join(''), change: `${spec.path} has ${removed} line${removed === 1 ? '' : 's'} ${what}: remove ${removed === 1 ? 'it' : 'them'}`, holds: '' };
}

/**
 * Pure: Ansible's lineinfile on text. present replaces the last line matching `regexp` (else the
 * last exact copy of `line`), or inserts the line; absent removes every matching line.
 * @example editLines('a=1\n', { path: '/x', line: 'a=2', regexp: /^a=/, state: 'present', create: false }).content // 'a=2\n'
 */
export function editLines(content: string, spec: LineSpec): LineEdit {
  const lines = splitLines(content);
  return spec.state === 'absent' ? absentEdit(lines, spec) : presentEdit(lines, { ...spec, line: spec.line! });
}

interface LinePlan {
  edit: LineEdit;
  plan: PlannedCommand[];
  /** The file's text before the edit (null: no file yet). */
  current: string | null;
}

/** Pure: from the file's content (null: no file), the edit in JavaScript and the atomic write-back that applies it. */
function planLine(stepId: string, spec: LineSpec, current: string | null): LinePlan {
  if (current === null && spec.state === 'absent') return { edit: { content: '', change: null, holds: `${spec.path} does not exist` }, plan: [], current };
  if (current === null && !spec.create) throw new TaskError(stepId, `${spec.path} does not exist (set create: true to create it)`);
  // The shell hands output over as UTF-8 text; a file that is not UTF-8 would come back mangled.
  if (current?.includes('\uFFFD')) throw new TaskError(stepId, `${spec.path} is not UTF-8 text; lineInFile will not rewrite it`);
  const edit = editLines(current ?? '', spec);
  if (current === null) edit.change = `${spec.path} does not exist: create it with ${JSON.stringify(spec.line)}`;
  if (edit.change === null) return { edit, plan: [], current };
  const create: PlannedCommand[] = current === null ? [{ command: cmd`touch -- ${spec.path}` }] : [];
  return { edit, plan: [...create, { command: writeFileCommand(spec.path), stdin: edit.content }], current };
}

/**
 * One line of a text file present or absent, edited in JavaScript and written back atomically
 * (never sed with user text): Ansible's lineinfile.
 * @example lineInFile({ id: 'ntp-server', title: 'use our NTP server', path: '/etc/ntp.conf', regexp: '^server ', line: 'server ntp1.example.com iburst' })
 */
export function lineInFile<P = any, V = any>(options: LineInFileOptions<P, V>): ActionStep<P, V> {
  checkOptions(options.id, lineSchema, options);
  // apply edits the content the check read: the file is read once before it is written.
  const reading = new CheckReading<string | null>();
  const planFor = async (ctx: StepContext<P, V>, from: 'fresh' | 'take'): Promise<LinePlan & { spec: LineSpec }> => {
    const spec = await resolveOptions(options.id, lineSchema, options, ctx);
    return { ...planLine(options.id, spec, await reading[from](ctx, spec.path, () => fileContent(ctx.sh, spec.path))), spec };
  };
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx): Promise<CheckResult> {
      const { edit, current, spec } = await planFor(ctx, 'fresh');
      if (edit.change === null) return noop(edit.holds);
      return { ...change(edit.change), content: { path: spec.path, before: current, after: edit.content } };
    },
    async commands(ctx) { return appliedPlan(ctx) ?? displayPlan((await planFor(ctx, 'take')).plan); },
    async apply(ctx) { await applyPlan(ctx, (await planFor(ctx, 'take')).plan); },
  };
}
