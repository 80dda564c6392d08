/**
 * Rebooting a host and knowing it really rebooted: the kernel's boot id
 * (/proc/sys/kernel/random/boot_id, a fresh random uuid every boot) must change.
 *
 * Resume is the hard part. If the controller dies after the reboot was issued but before the
 * journal recorded the step, the resumed run re-checks the step on a host that has already
 * rebooted, and must not reboot it again. Two things let the check see that:
 *  1. `since`: a step earlier in the run handed on the boot id (outputs `bootId`, e.g. from
 *     `bootIdRecorded`). The journal keeps outputs, so a resume compares against the same value:
 *     a different boot id now means the host rebooted during this run. Exact, and run-scoped.
 *  2. A marker the apply writes just before rebooting: `<markerDir>/reboot-<stepId>`, holding the
 *     boot id before the reboot, the host's clock, the inventory name and the step's attempt id
 *     (`<run id>/<attempt>`, ctx.attemptId). It must survive the reboot, so it lives on disk under
 *     /var/lib (FHS: persistent program state), never in /run or /var/run (tmpfs, emptied at
 *     boot) nor /tmp (emptied at boot on many systems). A marker of THIS attempt whose boot id
 *     differs from the current one means "the reboot this attempt issued happened, the step did
 *     not finish": noop. One that says the same boot id means the reboot was issued and has not
 *     happened yet. A marker of any other run, or of an earlier attempt of this one, proves
 *     nothing about this attempt and is ignored: a crashed run's marker once made a later,
 *     separate run skip its reboot (issue 13). The marker is removed when the step ends, however
 *     it ends (`cleanup`); only a killed controller leaves it, for the resume of that attempt.
 */
import { z } from 'zod';
import { change, noop, type CheckResult, type Outputs } from '../runbook/check.ts';
import type { ActionStep, StepContext } from '../runbook/types.ts';
import { cmd, type Command } from '../shell/command.ts';
import type { Shell } from '../shell/shell.ts';
import { FactError } from './facts.ts';
import { checkOptions, commonOf, TaskError, type TaskCommon } from './resolve.ts';

export const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';
export const DEFAULT_MARKER_DIR = '/var/lib/runbook';

const BOOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The boot id as `cat` prints it; anything but a uuid is an error. */
export function parseBootId(stdout: string): string {
  const id = stdout.trim();
  if (!BOOT_ID.test(id)) throw new FactError(`not a boot id: ${JSON.stringify(id.slice(0, 80))}`);
  return id;
}

/**
 * The host's current boot id.
 * @example const before = await bootId(ctx.sh)
 */
export async function bootId(sh: Shell): Promise<string> {
  return parseBootId(await sh`cat ${BOOT_ID_PATH}`.text());
}

export interface RebootMarker {
  bootId: string;
  writtenAt: number;
  host: string;
  /** The attempt that wrote it (`<run id>/<attempt>`); absent in markers of older versions. */
  attemptId?: string;
}

/** What the check reads in one round trip: boot id, the host's clock, and the marker if any. */
export interface RebootState { bootId: string; now: number; marker?: RebootMarker }

export const markerPath = (dir: string, stepId: string): string => `${dir}/reboot-${stepId}`;

/** `cat`s the boot id, prints the host's epoch seconds, then the marker's lines if it exists. */
export const rebootStateCommand = (marker: string): Command =>
  cmd`cat ${BOOT_ID_PATH} && date +%s && { cat ${marker} 2>/dev/null || true; }`;

/** Parses rebootStateCommand's output; a marker with missing or odd lines is treated as absent. */
export function parseRebootState(stdout: string): RebootState {
  const [id, now, markerId, writtenAt, host, attemptId] = stdout.split('\n').map((l) => l.trim());
  const state: RebootState = { bootId: parseBootId(id ?? ''), now: Number(now) * 1000 };
  if (!Number.isFinite(state.now) || state.now === 0) throw new FactError(`not an epoch time: ${JSON.stringify(now)}`);
  if (markerId && BOOT_ID.test(markerId) && /^\d+$/.test(writtenAt ?? '') && host) {
    state.marker = { bootId: markerId, writtenAt: Number(writtenAt) * 1000, host, ...(attemptId ? { attemptId } : {}) };
  }
  return state;
}

/**
 * The commands apply runs: the marker first (synced to disk, since the reboot comes a second later),
 * then the reboot itself, detached so that this command returns its exit status before sshd dies.
 * A plain `reboot` kills the SSH session mid-command: the channel closes without a status, which
 * looks exactly like a failure. `nohup` keeps the job alive when the session's hangup arrives; the
 * redirections release the channel's stdout/stderr so sshd closes it at once; `sleep 1` gives the
 * exit status time to reach us. (`shutdown -r +0` would also return, but is not on every host: the
 * lab and busybox have `reboot`, and the iSCSI multipath notes say "reboot".)
 */
export function rebootCommands(marker: string, dir: string, host: string, attemptId: string): Command[] {
  return [
    cmd`mkdir -p ${dir} && { cat ${BOOT_ID_PATH} && date +%s && echo ${host} && echo ${attemptId}; } > ${marker} && sync`,
    cmd`nohup sh -c 'sleep 1; reboot' >/dev/null 2>&1 &`,
  ];
}

export interface RebootOptions<P = any, V = any> extends Omit<TaskCommon<P, V>, 'timeoutMs'> {
  /** How long the host may take to come back (default 15 min: server firmware POSTs slowly). */
  timeoutMs?: number;
  /** An earlier step whose outputs hold `bootId`; the host counts as rebooted once it differs. */
  since?: string;
  markerDir?: string;
}

const rebootSchema = z.object({
  timeoutMs: z.number().int().positive().optional(),
  markerDir: z.string().regex(/^\/[^\0\n]*$/, 'must be an absolute path').optional(),
  since: z.string().min(1).optional(),
});

const iso = (ms: number): string => new Date(ms).toISOString();

function judge(state: RebootState, ctx: StepContext, options: RebootOptions): CheckResult {
  const now = { bootId: state.bootId };
  const recorded = options.since ? ctx.outputs.of(options.since)?.bootId : undefined;
  if (typeof recorded === 'string' && recorded !== state.bootId) {
    return noop(`rebooted since step ${options.since} recorded boot id ${recorded}: it is now ${state.bootId}`, { ...now, previousBootId: recorded });
  }
  const marker = state.marker;
  const ours = marker !== undefined && marker.host === ctx.host.name && marker.attemptId === ctx.attemptId;
  if (ours && marker.bootId !== state.bootId) {
    return noop(`rebooted after this step issued the reboot at ${iso(marker.writtenAt)}: boot id ${marker.bootId} → ${state.bootId}`, { ...now, previousBootId: marker.bootId });
  }
  if (ours) return change(`a reboot was issued at ${iso(marker.writtenAt)} but has not happened yet (boot id still ${state.bootId})`, now);
  const ignored = marker ? `; the marker left at ${iso(marker.writtenAt)} by ${marker.attemptId ? `attempt ${marker.attemptId}` : 'an older version'} is not this attempt's: ignored` : '';
  return change(`reboot (boot id now ${state.bootId})${ignored}`, now);
}

/**
 * Reboots the host and waits until it is back with a new boot id, within `timeoutMs`; hands on
 * `bootId` and `previousBootId`. Never re-checked after apply (`verify: false`): apply itself
 * verifies the boot id changed. See the file comment for how a resume avoids a second reboot, and
 * why a marker counts only for the attempt that wrote it.
 * @example reboot({ id: 'reboot', title: 'reboot so multipath starts clean', timeoutMs: 900_000, since: 'preflight' })
 */
export function reboot<P = any, V = any>(options: RebootOptions<P, V>): ActionStep<P, V> {
  checkOptions(options.id, rebootSchema, options);
  const dir = options.markerDir ?? DEFAULT_MARKER_DIR;
  const marker = markerPath(dir, options.id);
  const timeoutMs = options.timeoutMs ?? 900_000;
  return {
    ...commonOf(options),
    kind: 'action',
    // The whole step gets a margin over the reconnect so the clearer reconnect error comes first.
    timeoutMs: timeoutMs + 120_000,
    verify: false,
    async check(ctx) {
      return judge(parseRebootState(await ctx.sh.run(rebootStateCommand(marker)).text()), ctx, options);
    },
    commands: (ctx) => rebootCommands(marker, dir, ctx.host.name, ctx.attemptId),
    async apply(ctx): Promise<Outputs> {
      const before = await bootId(ctx.sh);
      for (const command of rebootCommands(marker, dir, ctx.host.name, ctx.attemptId)) await ctx.sh.run(command);
      await ctx.transport.reconnect({ timeoutMs });
      const after = await bootId(ctx.sh);
      if (after === before) throw new TaskError(options.id, `the host answers again but its boot id is still ${before}: it did not reboot`);
      return { bootId: after, previousBootId: before };
    },
    // However the step ended (rebooted, found rebooted, failed): the marker proves nothing any more.
    async cleanup(ctx) {
      await ctx.sh`rm -f ${marker}`;
    },
  };
}

/**
 * Hands on the current boot id (`bootId`) for a later `reboot({ since })`; changes nothing.
 * @example bootIdRecorded({ id: 'boot-before', title: 'note the boot id' })
 */
export function bootIdRecorded<P = any, V = any>(options: TaskCommon<P, V>): ActionStep<P, V> {
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      const id = ctx.outputs.of(options.id)?.bootId;
      // On resume the journal's value stands: re-reading would hide a reboot that happened since.
      if (typeof id === 'string') return noop(`boot id recorded earlier in this run: ${id}`, { bootId: id });
      const now = await bootId(ctx.sh);
      return noop(`boot id is ${now}`, { bootId: now });
    },
    commands: () => [],
  };
}
