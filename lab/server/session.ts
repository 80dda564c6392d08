/**
 * One SSH channel running one command in a host's namespace: stdin in, stdout/stderr out, the exit
 * status (or signal) back, and the faults that make a command slow, hang or lose its connection.
 */
import type { ChildProcess } from 'node:child_process';
import type ssh2 from 'ssh2';
import { destroyClient } from './host.ts';
import { armedBy, faultFor, readFaults, writeFaults } from './faults.ts';
import type { HostNamespace } from './namespace.ts';

export interface ChannelRunInput {
  host: { name: string; dir: string };
  client: ssh2.Connection;
  channel: ssh2.ServerChannel;
  command: string;
  env: Record<string, string>;
  namespace: HostNamespace;
  /** LAB_SESSION of this command: a power request it writes names it. */
  session: string;
}

/** A command in flight; `done` settles when its channel is finished with. */
export interface ChannelRun {
  client: ssh2.Connection;
  session: string;
  done: Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts the command on the channel, honouring the host's faults. */
export function runChannel(input: ChannelRunInput): ChannelRun {
  let child: ChildProcess | undefined;
  let cancelled = false;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const run: ChannelRun = {
    client: input.client,
    session: input.session,
    done,
    kill: (signal) => {
      cancelled = true;
      if (child?.pid && child.exitCode === null) killGroup(child.pid, signal);
      if (!child) finish();
    },
  };
  input.channel.on('close', () => {
    // The client gave up (timeout, abort, killed): the command is hung up on, as a session's
    // commands are when it ends. A job started with nohup (a reboot requested "in a second")
    // ignores the hang-up and still runs, as it would under OpenSSH.
    if (!child) return run.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) killGroup(child.pid!, 'SIGHUP');
  });
  const faults = readFaults(input.host.dir);
  const { hang, delayMs } = faultFor(faults, input.command);
  if (hang) return run;
  const armed = armedBy(input.host.dir, faults, input.command);
  const drop = faults.dropConnection === true;
  // both one-shot: spent by this command
  if (armed || drop) writeFaults(input.host.dir, { ...faults, ...(armed ? { hangAfter: [], hangAfterOn: undefined } : {}), ...(drop ? { dropConnection: false } : {}) });
  if (armed) writeFaults(armed, { ...readFaults(armed), hangAll: true });
  setTimeout(() => {
    if (cancelled) return;
    try {
      child = input.namespace.spawn(input.command, input.env, { statusFd: input.env.LAB_CMDLINE !== undefined });
    } catch (error) {
      input.channel.stderr.write(`${(error as Error).message}\n`);
      input.channel.exit(255);
      input.channel.end();
      return finish();
    }
    wire(child, input, drop, finish);
  }, delayMs);
  return run;
}

function wire(child: ChildProcess, input: ChannelRunInput, drop: boolean, finish: () => void): void {
  const { channel } = input;
  child.stdin!.on('error', () => {});
  channel.on('data', (chunk: Buffer) => child.stdin!.write(chunk));
  channel.on('end', () => child.stdin!.end());
  if (!drop) {
    child.stdout!.pipe(channel, { end: false });
    child.stderr!.pipe(channel.stderr, { end: false });
  } else {
    child.stdout!.resume();
    child.stderr!.resume();
  }
  child.on('error', (error) => channel.stderr.write(`${error.message}\n`));
  let fullStatus = '';
  (child.stdio[3] as NodeJS.ReadableStream | undefined)?.on('data', (chunk: Buffer) => (fullStatus += chunk));
  child.on('close', (exitCode, signal) => {
    const code = /^\d+$/.test(fullStatus) ? Number(fullStatus) : exitCode;
    if (drop) {
      // The command ran (its change happened) but the client never learns how it ended.
      destroyClient(input.client);
    } else if (signal) {
      channel.exit(signal.replace(/^SIG/, ''), false, '');
      channel.end();
    } else {
      channel.exit(code ?? 255);
      channel.end();
    }
    finish();
  });
}

/** Signals the command's whole process group (it runs detached: sh and whatever it started). */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
