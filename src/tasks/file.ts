import { posix } from 'node:path';
import { z } from 'zod';
import { change, noop, type CheckResult, type ContentChange } from '../runbook/check.ts';
import type { ActionStep, Dynamic, StepContext } from '../runbook/types.ts';
import { cmd, type Command } from '../shell/command.ts';
import { fileContent, fileSha256, fileStat, pathExists, type FileStat } from './facts.ts';
import {
  appliedPlan, applyPlan, CheckReading, checkOptions, commonOf, displayPlan, resolveOptions, sha256Hex, TaskError,
  type PlannedCommand, type TaskCommon,
} from './resolve.ts';

export type FileState = 'present' | 'absent' | 'directory' | 'touch';

export interface FileOptions<P = any, V = any> extends TaskCommon<P, V> {
  /** Absolute path on the host. */
  path: Dynamic<string, P, V>;
  /** present: a regular file (with `content` if given); touch: present, and its times updated on every run. */
  state?: Dynamic<FileState, P, V>;
  /** The whole content; compared by sha256, written through stdin (never on a command line). */
  content?: Dynamic<string | Buffer, P, V>;
  /** Octal permissions: `'0644'`, `'644'` or `0o644`. */
  mode?: Dynamic<string | number, P, V>;
  /** User name or numeric uid. */
  owner?: Dynamic<string, P, V>;
  /** Group name or numeric gid. */
  group?: Dynamic<string, P, V>;
}

const absolutePath = z.string()
  .refine((p) => p.startsWith('/'), 'must be an absolute path')
  .refine((p) => !p.includes('\0'), 'a path cannot hold a NUL byte');
const octalMode = z.union([
  z.int().min(0).max(0o7777),
  z.string().regex(/^[0-7]{3,4}$/, 'must be octal like "0644"').transform((s) => parseInt(s, 8)),
]);
const account = z.string().regex(/^([A-Za-z_][A-Za-z0-9_.-]*\$?|\d+)$/, 'must be a user/group name or a number');

const fileSchema = z.object({
  path: absolutePath,
  state: z.enum(['present', 'absent', 'directory', 'touch']).default('present'),
  content: z.union([z.string(), z.instanceof(Buffer)]).optional(),
  mode: octalMode.optional(),
  owner: account.optional(),
  group: account.optional(),
}).superRefine((o, issues) => {
  if (o.content !== undefined && o.state !== 'present') issues.addIssue({ code: 'custom', path: ['content'], message: `content needs state "present", not "${o.state}"` });
  if (o.state === 'absent' && (o.mode !== undefined || o.owner !== undefined || o.group !== undefined)) {
    issues.addIssue({ code: 'custom', path: ['state'], message: 'mode/owner/group make no sense for an absent path' });
  }
  if (o.state === 'absent' && posix.normalize(o.path) === '/') issues.addIssue({ code: 'custom', path: ['path'], message: 'refusing to remove /' });
});

export type FileSpec = z.output<typeof fileSchema>;

/** What the facts say is at the path now. */
export interface FileObserved {
  exists: boolean;
  stat: FileStat | null;
  /** Only read when content is wanted and a regular file is there. */
  sha256: string | null;
}

/**
 * Four octal digits, the way Ansible and chmod users write modes.
 * @example formatMode(0o644) // '0644'
 */
export const formatMode = (mode: number): string => mode.toString(8).padStart(4, '0');

const sameAccount = (wanted: string, name: string, id: number) => wanted === name || wanted === String(id);

/**
 * Writes stdin to the path atomically: a temp copy in the same directory (cp -p keeps mode and
 * owner), filled from stdin, then renamed over the file, so no reader ever sees half a file.
 * The path must exist (the plan creates it first). A symlink at the path is replaced by a file.
 * @example writeFileCommand('/etc/motd') // run with .stdin(content)
 */
export function writeFileCommand(path: string): Command {
  const template = posix.join(posix.dirname(path), `.${posix.basename(path)}.runbook.XXXXXX`);
  return cmd`tmp=$(mktemp ${template}) && { cp -p -- ${path} "$tmp" && cat > "$tmp" && mv -f -- "$tmp" ${path} || { rm -f -- "$tmp"; false; }; }`;
}

function attributeChanges(spec: FileSpec, stat: FileStat | null): { reasons: string[]; plan: PlannedCommand[] } {
  const reasons: string[] = [];
  const plan: PlannedCommand[] = [];
  if (spec.mode !== undefined && stat?.mode !== spec.mode) {
    if (stat) reasons.push(`mode is ${formatMode(stat.mode)}, want ${formatMode(spec.mode)}`);
    plan.push({ command: cmd`chmod ${formatMode(spec.mode)} -- ${spec.path}` });
  }
  if (spec.owner !== undefined && !(stat && sameAccount(spec.owner, stat.owner, stat.uid))) {
    if (stat) reasons.push(`owner is ${stat.owner}, want ${spec.owner}`);
    plan.push({ command: cmd`chown ${spec.owner} -- ${spec.path}` });
  }
  if (spec.group !== undefined && !(stat && sameAccount(spec.group, stat.group, stat.gid))) {
    if (stat) reasons.push(`group is ${stat.group}, want ${spec.group}`);
    plan.push({ command: cmd`chgrp ${spec.group} -- ${spec.path}` });
  }
  return { reasons, plan };
}

const TYPE_NAMES: Record<FileStat['type'], string> = { file: 'regular file', directory: 'directory', symlink: 'symlink', other: 'special file' };

/** A directory where a file should be (or the reverse) is not something to paper over. */
function assertKind(stepId: string, spec: FileSpec, stat: FileStat | null): void {
  if (!stat) return;
  const wanted = spec.state === 'directory' ? 'directory' : 'file';
  if (stat.type !== wanted) throw new TaskError(stepId, `${spec.path} is a ${TYPE_NAMES[stat.type]}, not a ${TYPE_NAMES[wanted]}`);
}

export interface FileDiff {
  /** Empty when the path is as wanted. */
  reasons: string[];
  plan: PlannedCommand[];
  /** The noop reason when nothing is to do. */
  holds: string;
}

/**
 * Pure: what must change to get from what is observed to the spec, and the commands that do it.
 * @example diffFile('marker', spec, { exists: false, stat: null, sha256: null }).plan
 */
export function diffFile(stepId: string, spec: FileSpec, seen: FileObserved): FileDiff {
  const { path, state } = spec;
  if (state === 'absent') {
    return seen.exists
      ? { reasons: [`${path} exists`], plan: [{ command: cmd`rm -rf -- ${path}` }], holds: '' }
      : { reasons: [], plan: [], holds: `${path} is absent` };
  }
  assertKind(stepId, spec, seen.stat);
  const reasons: string[] = seen.stat ? [] : [`${path} does not exist`];
  const plan: PlannedCommand[] = [];
  if (state === 'directory' && !seen.stat) plan.push({ command: cmd`mkdir -p -- ${path}` });
  if (state === 'touch') {
    if (seen.stat) reasons.push(`touch updates the times of ${path} on every run`);
    plan.push({ command: cmd`touch -- ${path}` });
  }
  if (state === 'present' && !seen.stat) plan.push({ command: cmd`touch -- ${path}` });
  const attributes = attributeChanges(spec, seen.stat);
  reasons.push(...attributes.reasons);
  plan.push(...attributes.plan);
  if (spec.content !== undefined) {
    const wanted = sha256Hex(spec.content);
    if (seen.stat && seen.sha256 !== wanted) reasons.push(`content differs (sha256 ${seen.sha256?.slice(0, 12)}…, want ${wanted.slice(0, 12)}…)`);
    if (seen.sha256 !== wanted) plan.push({ command: writeFileCommand(path), stdin: spec.content });
  }
  return { reasons, plan, holds: describeHolding(spec) };
}

function describeHolding(spec: FileSpec): string {
  const details = [
    spec.content !== undefined && 'the wanted content',
    spec.mode !== undefined && `mode ${formatMode(spec.mode)}`,
    spec.owner !== undefined && `owner ${spec.owner}`,
    spec.group !== undefined && `group ${spec.group}`,
  ].filter(Boolean);
  const what = spec.state === 'directory' ? 'is a directory' : 'exists';
  return `${spec.path} ${what}${details.length ? ` with ${details.join(', ')}` : ''}`;
}

/** Reads only the facts the spec needs: existence for absent, stat, and the hash only when content is wanted. */
async function observe(ctx: StepContext, spec: FileSpec): Promise<FileObserved> {
  if (spec.state === 'absent') return { exists: await pathExists(ctx.sh, spec.path), stat: null, sha256: null };
  const stat = await fileStat(ctx.sh, spec.path);
  const sha256 = spec.content !== undefined && stat?.type === 'file' ? await fileSha256(ctx.sh, spec.path) : null;
  return { exists: stat !== null, stat, sha256 };
}

/**
 * The text the write would replace and the text it writes, for `--diff` and saved plans: only
 * when the plan writes content and that content is text (a binary file gets its sizes, not a diff).
 */
async function contentChange(ctx: StepContext, spec: FileSpec, plan: readonly PlannedCommand[], exists: boolean): Promise<ContentChange | undefined> {
  const write = plan.find((p) => p.stdin !== undefined);
  if (!write || spec.content === undefined) return undefined;
  const after = typeof spec.content === 'string' ? spec.content : spec.content.toString('utf8');
  if (after.includes('\uFFFD')) return undefined;
  const before = exists ? await fileContent(ctx.sh, spec.path) : null;
  if (before?.includes('\uFFFD')) return undefined;
  return { path: spec.path, before, after };
}

/**
 * A file, directory or absence at a path, with content, mode and owner: Ansible's file + copy.
 * @example file({ id: 'motd', title: 'set the motd', path: '/etc/motd', content: 'maintenance tonight\n', mode: '0644' })
 */
export function file<P = any, V = any>(options: FileOptions<P, V>): ActionStep<P, V> {
  checkOptions(options.id, fileSchema, options);
  // The check's stat is the one apply plans from: a file is stat'ed once before it is written.
  const reading = new CheckReading<FileObserved>();
  const diff = async (ctx: StepContext<P, V>, from: 'fresh' | 'take'): Promise<FileDiff & { spec: FileSpec; exists: boolean }> => {
    const spec = await resolveOptions(options.id, fileSchema, options, ctx);
    const seen = await reading[from](ctx, JSON.stringify(spec), () => observe(ctx, spec));
    return { ...diffFile(options.id, spec, seen), spec, exists: seen.exists };
  };
  // touch always changes, so a re-check would always fail it; a dynamic state might be touch.
  const verify = typeof options.state !== 'function' && options.state !== 'touch';
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx): Promise<CheckResult> {
      const { reasons, holds, plan, spec, exists } = await diff(ctx, 'fresh');
      if (!reasons.length) return noop(holds);
      const content = await contentChange(ctx, spec, plan, exists);
      return { ...change(reasons.join('; ')), ...(content ? { content } : {}) };
    },
    async commands(ctx) { return appliedPlan(ctx) ?? displayPlan((await diff(ctx, 'take')).plan); },
    async apply(ctx) {
      const { plan, spec } = await diff(ctx, 'take');
      await applyPlan(ctx, plan);
      // Without the engine's re-check (a dynamic state), apply checks its own work unless it was a touch.
      if (verify || spec.state === 'touch') return;
      const left = (await diff(ctx, 'fresh')).reasons;
      if (left.length) throw new TaskError(options.id, `after apply: ${left.join('; ')}`);
    },
    verify,
  };
}
