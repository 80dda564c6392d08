import { executeRun, type RunSummary } from '../engine/run.ts';
import { Interrupt } from '../engine/interrupt.ts';
import type { EventSink } from '../engine/events.ts';
import type { HostResume } from '../engine/host.ts';
import { HumanReporter } from '../report/human.ts';
import { JsonReporter } from '../report/json.ts';
import { checkConnections, transportFor, type SshOptions } from '../transport/index.ts';
import { Limiter } from '../transport/limiter.ts';
import { join, resolve } from 'node:path';
import type { Io } from './options.ts';
import { stateDirOf } from './options.ts';
import { prepareRun, type PreparedRun } from './prepare.ts';
import { TerminalPrompter, writeAbove, type Terminal } from './prompt.ts';
import { askSecret } from './secret-prompt.ts';
import { checkRunFlags } from './run-flags.ts';
import { discardIfNothingStarted, openSession, refuseIfUnfinished, type Session } from './session.ts';

export interface RunFlags {
  stateDir?: string;
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
}

export interface ApplyArgs extends RunFlags {
  name: string;
  inventory: string;
  dryRun: boolean;
  limit?: string;
  param: string[];
  serial?: string;
  fresh: boolean;
}

/** `runbook apply`: validate everything, lock the hosts, journal the run, run it, report. */
export async function applyCommand(args: ApplyArgs, io: Io): Promise<number> {
  const stateDir = stateDirOf(args, io.env, io.cwd);
  const prepared = await prepareRun({ runbook: args.name, inventory: args.inventory, limit: args.limit, param: args.param, typecheck: args.typecheck, notice: terminalNotice(io), stateDir }, io.cwd, io.env);
  checkRunFlags(args, prepared.hosts.length, args.serial);
  if (!args.dryRun && !args.fresh) await refuseIfUnfinished(stateDir, prepared);
  await checkConnections(prepared.hosts, sshConfigOption(args, io));
  const session = await openSession(stateDir, prepared, { dryRun: args.dryRun, argv: process.argv.slice(2), inventoryRef: args.inventory, serial: args.serial, maxFailPercent: args.maxFailPercent });
  try {
    return await runPrepared(prepared, session, args, io, { serial: args.serial });
  } catch (error) {
    await discardIfNothingStarted(session);
    throw error;
  }
}

/** Runs a prepared run inside a session; shared by apply and resume. */
export async function runPrepared(prepared: PreparedRun, session: Session, flags: RunFlags & { dryRun?: boolean }, io: Io, extra: { serial?: string; resume?: Map<string, HostResume> }): Promise<number> {
  const interrupt = new Interrupt();
  const view = reporter(flags, io, prepared);
  const onSignal = () => {
    writeAbove(terminalOf(view), io.stderr, interrupt.requested ? '\nstopping now: running commands are being killed\n' : '\ninterrupt: no new steps will start; waiting for running ones (Ctrl-C again to stop them now)\n');
    interrupt.request();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let summary: RunSummary;
  try {
    const ssh = await sshOptions(flags, stateDirOf(flags, io.env, io.cwd), io, terminalOf(view));
    summary = await executeRun({
      runId: session.runId, runbook: prepared.runbook, inventory: prepared.inventory, hosts: prepared.hosts,
      params: prepared.params, hostVars: prepared.hostVars, dryRun: flags.dryRun ?? false,
      forks: flags.forks, serial: extra.serial, maxFailPercent: flags.maxFailPercent,
      transports: (host) => transportFor(host, ssh),
      sinks: [...session.sinks, view], runSecrets: prepared.secrets,
      prompter: promptAllowed(flags, io) ? new TerminalPrompter(io, terminalOf(view)) : undefined,
      resume: extra.resume, interrupt,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await session.close();
  }
  if (!flags.json) io.stderr.write(`journal: runbook show ${summary.runId}\n`);
  return summary.exitCode;
}

function reporter(flags: RunFlags, io: Io, prepared: PreparedRun): EventSink {
  return flags.json ? new JsonReporter(io.stdout) : new HumanReporter(io.stdout, { verbose: flags.verbose, steps: prepared.runbook.steps, stateDir: flags.stateDir, color: io.color });
}

/** The human view is what a prompt must pause; the JSON stream has no live area. */
const terminalOf = (view: EventSink): Terminal | undefined => (view instanceof HumanReporter ? view : undefined);

/** Manual steps are asked at the terminal only when both ends are a TTY and --no-prompt is not set. */
function promptAllowed(flags: RunFlags, io: Io): boolean {
  return flags.prompt !== false && Boolean(io.stdin.isTTY) && Boolean(io.stderr.isTTY) && !flags.json;
}

async function sshOptions(flags: RunFlags, stateDir: string, io: Io, terminal?: Terminal): Promise<SshOptions> {
  const becomePassword = io.env.RUNBOOK_BECOME_PASSWORD ?? (flags.askBecomePass ? await askSecret('BECOME password: ', io, terminal) : undefined);
  return {
    projectKnownHostsFile: join(stateDir, 'known_hosts'),
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

/** Start-up notes ("type-checking …") for a person at a terminal; scripts and pipes get none. */
export const terminalNotice = (io: Io): ((text: string) => void) | undefined =>
  io.stderr.isTTY ? (text) => { io.stderr.write(text); } : undefined;
