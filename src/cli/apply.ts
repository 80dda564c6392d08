import { EXIT, executeRun, type RunSummary } from '../engine/run.ts';
import type { PlanRef } from '../engine/events.ts';
import type { PlanGuard } from '../engine/plan-guard.ts';
import { parseWindowEnd } from '../engine/window.ts';
import { UsageError } from '../errors.ts';
import type { Runbook } from '../runbook/types.ts';
import { Interrupt } from '../engine/interrupt.ts';
import type { EventSink } from '../engine/events.ts';
import type { HostResume } from '../engine/host.ts';
import { HumanReporter } from '../report/human.ts';
import { JsonReporter } from '../report/json.ts';
import { checkConnections, transportFor, type SshOptions } from '../transport/index.ts';
import { Limiter } from '../transport/limiter.ts';
import { resolve } from 'node:path';
import type { Io } from './options.ts';
import { stateDirOf, terminalNotice, withState } from './options.ts';
import { StateUnavailableError, type StateBackend } from '../state/index.ts';
import { prepareRun, type PreparedRun } from './prepare.ts';
import { TerminalPrompter, writeAbove, type Terminal } from './prompt.ts';
import { askSecret } from './secret-prompt.ts';
import { checkRunFlags } from './run-flags.ts';
import { sharedClaims } from './claims.ts';
import { discardIfNothingStarted, openSession, refuseIfUnfinished, type Session } from './session.ts';

export interface RunFlags {
  stateDir?: string;
  /** `--state postgres://…`: runs, journals and locks in a team's database instead of the folder. */
  state?: string;
  forks: number;
  maxFailPercent?: number;
  json: boolean;
  verbose: boolean;
  prompt?: boolean;
  acceptNewHostKeys: boolean;
  askBecomePass: boolean;
  typecheck?: boolean;
  maxHandshakes?: number;
  reuseShell?: boolean;
  /** `--ssh-config FILE` (`-F`): read instead of ~/.ssh/config. */
  sshConfig?: string;
  /** `--diff`: show the unified diff of each content change. */
  diff?: boolean;
  /** `--window-end TIME`: no step starts after it (else the runbook's `windowEnd`). */
  windowEnd?: string;
}

export interface ApplyArgs extends RunFlags {
  name: string;
  inventory: string;
  dryRun: boolean;
  limit?: string;
  param: string[];
  serial?: string;
  fresh: boolean;
  /** Dry-run only: 0 nothing to change, 2 changes pending (Terraform's convention). */
  detailedExitcode?: boolean;
}

/** `runbook apply`: validate everything, lock the hosts, journal the run, run it, report. */
export async function applyCommand(args: ApplyArgs, io: Io): Promise<number> {
  const stateDir = stateDirOf(args, io.env, io.cwd);
  const prepared = await prepareRun({ runbook: args.name, inventory: args.inventory, limit: args.limit, param: args.param, typecheck: args.typecheck, notice: terminalNotice(io), stateDir }, io.cwd, io.env);
  checkRunFlags(args, prepared.hosts.length, args.serial);
  if (args.detailedExitcode && !args.dryRun) throw new UsageError('--detailed-exitcode goes with --dry-run (or runbook plan): it reports whether changes are pending');
  const windowEnd = windowEndOf(args.windowEnd, prepared.runbook);
  return withState(args, io, async (state) => {
    if (!args.dryRun && !args.fresh) await refuseIfUnfinished(state, prepared);
    await checkConnections(prepared.hosts, sshConfigOption(args, io));
    const session = await openSession(state, prepared, { dryRun: args.dryRun, argv: process.argv.slice(2), inventoryRef: args.inventory, serial: args.serial, maxFailPercent: args.maxFailPercent });
    try {
      const summary = await runPrepared(prepared, state, session, args, io, { serial: args.serial, windowEnd });
      return args.detailedExitcode ? detailedExitCode(summary) : summary.exitCode;
    } catch (error) {
      // The database is gone: nothing can be read or removed, and the run is kept for resume.
      if (!(error instanceof StateUnavailableError)) await discardIfNothingStarted(state, session);
      throw error;
    }
  });
}

/**
 * A dry-run's exit code with `--detailed-exitcode`: 0 nothing to change, 2 changes pending; a host
 * that would fail exits 5 (2 is taken), other conditions keep their codes.
 */
export function detailedExitCode(summary: RunSummary): number {
  if (summary.exitCode === EXIT.failed) return EXIT.wouldFail;
  if (summary.exitCode !== EXIT.ok) return summary.exitCode;
  const pending = summary.hosts.some((h) => h.counts['would-change'] + h.counts['may-change'] > 0);
  return pending ? EXIT.changesPending : EXIT.ok;
}

/** `--window-end`, else the runbook's `windowEnd`; a window already over is refused before anything runs. */
export function windowEndOf(flag: string | undefined, runbook: Runbook, now = new Date()): Date | undefined {
  const text = flag ?? runbook.windowEnd;
  if (text === undefined) return undefined;
  const where = flag !== undefined ? '--window-end' : `windowEnd in ${runbook.file ?? runbook.name}`;
  const end = parseWindowEnd(text, now);
  if (!end) throw new UsageError(`${where} ${JSON.stringify(text)}: expected a length like +4h, a time of day like 06:00, or an ISO time like 2026-12-05T06:00:00Z`);
  if (end.getTime() <= now.getTime()) throw new UsageError(`${where} ${JSON.stringify(text)}: the change window ended at ${end.toISOString()}; nothing was started`);
  return end;
}

/** Runs a prepared run inside a session; shared by apply and resume. */
export async function runPrepared(prepared: PreparedRun, state: StateBackend, session: Session, flags: RunFlags & { dryRun?: boolean }, io: Io, extra: RunExtras): Promise<RunSummary> {
  const interrupt = new Interrupt();
  const view = reporter(flags, io, prepared);
  const onSignal = () => {
    writeAbove(terminalOf(view), io.stderr, interrupt.requested ? '\nstopping now: running commands are being killed\n' : '\ninterrupt: no new steps will start; waiting for running ones (Ctrl-C again to stop them now)\n');
    interrupt.request();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let summary: RunSummary;
  const knownHosts = await state.projectKnownHosts().catch((error: unknown) => { throw stoppedBy(error, session.runId); });
  const claims = session.claimTable && sharedClaims(session.claimTable, {
    state, runId: session.runId, stepIds: prepared.runbook.steps.map((s) => s.id), resume: extra.resume,
    notice: (text) => writeAbove(terminalOf(view), io.stderr, text),
  });
  try {
    const ssh = await sshOptions(flags, knownHosts.file, io, terminalOf(view));
    summary = await executeRun({
      runId: session.runId, runbook: prepared.runbook, inventory: prepared.inventory, hosts: prepared.hosts,
      params: prepared.params, hostVars: prepared.hostVars, dryRun: flags.dryRun ?? false,
      forks: flags.forks, serial: extra.serial, maxFailPercent: flags.maxFailPercent,
      transports: (host) => transportFor(host, ssh),
      sinks: [...session.sinks, ...(extra.sinks ?? []), view], runSecrets: prepared.secrets,
      prompter: promptAllowed(flags, io) ? new TerminalPrompter(io, terminalOf(view)) : undefined,
      resume: extra.resume, claims, interrupt, windowEnd: extra.windowEnd, guard: extra.guard, plan: extra.plan,
    });
  } catch (error) {
    // The run's error says why; closing (which may fail the same way) must not hide it.
    await session.close().catch(() => undefined);
    await knownHosts.save().catch(() => undefined);
    throw stoppedBy(error, session.runId);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  try { await session.close(); } catch (error) { throw stoppedBy(error, session.runId); } finally { await knownHosts.save(); }
  if (!flags.json) io.stderr.write(`journal: runbook show ${summary.runId}\n`);
  extra.onSummary?.(summary);
  return summary;
}

/** What a run adds to the flags: resume's journal, a plan's guard, the window's end. */
export interface RunExtras {
  serial?: string;
  resume?: Map<string, HostResume>;
  windowEnd?: Date;
  guard?: PlanGuard;
  plan?: PlanRef;
  /** Extra sinks (a plan being written collects the dry-run's results). */
  sinks?: EventSink[];
  onSummary?: (summary: RunSummary) => void;
}

/** A lost state database, told with what became of the run: kept, resumable once the database is back. */
function stoppedBy(error: unknown, runId: string): unknown {
  if (!(error instanceof StateUnavailableError)) return error;
  return new StateUnavailableError(`${error.message}\n  run ${runId} stopped there: no step started after the database went away; ` +
    `once it is back: runbook resume ${runId}`);
}

function reporter(flags: RunFlags, io: Io, prepared: PreparedRun): EventSink {
  return flags.json ? new JsonReporter(io.stdout) : new HumanReporter(io.stdout, { verbose: flags.verbose, steps: prepared.runbook.steps, stateDir: flags.stateDir, color: io.color, diff: flags.diff });
}

/** The human view is what a prompt must pause; the JSON stream has no live area. */
const terminalOf = (view: EventSink): Terminal | undefined => (view instanceof HumanReporter ? view : undefined);

/** Manual steps are asked at the terminal only when both ends are a TTY and --no-prompt is not set. */
function promptAllowed(flags: RunFlags, io: Io): boolean {
  return flags.prompt !== false && Boolean(io.stdin.isTTY) && Boolean(io.stderr.isTTY) && !flags.json;
}

async function sshOptions(flags: RunFlags, projectKnownHostsFile: string, io: Io, terminal?: Terminal): Promise<SshOptions> {
  const becomePassword = io.env.RUNBOOK_BECOME_PASSWORD ?? (flags.askBecomePass ? await askSecret('BECOME password: ', io, terminal) : undefined);
  return {
    projectKnownHostsFile,
    acceptNewHostKeys: flags.acceptNewHostKeys,
    // OpenSSH's own words for accept-new, so the operator sees which key was trusted.
    onHostKeyRecorded: ({ host, port, fingerprint, file }) =>
      writeAbove(terminal, io.stderr, `Warning: Permanently added '[${host}]:${port}' (${fingerprint}) to the list of known hosts (${file}).\n`),
    ...(flags.maxHandshakes ? { handshakes: new Limiter(flags.maxHandshakes) } : {}),
    reuseShell: flags.reuseShell !== false,
    ...sshConfigOption(flags, io),
    ...(becomePassword ? { becomePassword } : {}),
    ...(io.stdin.isTTY ? { passphrase: (file: string) => askSecret(`Passphrase for ${file}: `, io, terminal) } : {}),
  };
}

/** `--ssh-config FILE`, relative to the working directory; a file named there must exist. */
export function sshConfigOption(flags: { sshConfig?: string }, io: Io): Pick<SshOptions, 'sshConfigFile'> {
  return flags.sshConfig ? { sshConfigFile: resolve(io.cwd, flags.sshConfig) } : {};
}
