/**
 * The shell session's protocol against real shells run as local child processes behind a
 * stand-in for an ssh2 channel: the same bytes sshd would carry, without SSH. Login shells dash,
 * bash and busybox ash each start it; the commands then run in the host's /bin/sh.
 * The end-to-end path over a real sshd is in ssh.test.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UnreachableError } from '../../src/errors.ts';
import {
  commandFrame, FrameReader, openShellSession, sessionStartCommand, type SessionLimits, type ShellSession,
} from '../../src/transport/ssh/session.ts';

/**
 * A fake ssh2 exec channel over a local child process: data/stderr/close events, write/end/close,
 * and the internals trySignal reaches for (a "signal" request becomes a kill of the child).
 */
class ChildChannel extends EventEmitter {
  readonly stderr = new EventEmitter();
  readonly outgoing = { id: 1, state: 'open' };
  readonly _client: { _protocol: { signal(id: number, name: string): void } };
  readonly signals: string[] = [];

  constructor(readonly child: ChildProcess) {
    super();
    this._client = { _protocol: { signal: (_id, name) => { this.signals.push(name); child.kill(`SIG${name}` as NodeJS.Signals); } } };
    child.stdout!.on('data', (chunk: Buffer) => this.emit('data', chunk));
    child.stderr!.on('data', (chunk: Buffer) => this.stderr.emit('data', chunk));
    child.on('close', () => { this.outgoing.state = 'closed'; this.emit('close'); });
  }

  write(text: string): boolean { return this.child.stdin!.write(text); }
  end(): void { this.child.stdin!.end(); }
  close(): void { this.child.kill('SIGKILL'); }
}

const work = mkdtempSync(join(tmpdir(), 'runbook-shell-session-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// busybox picks its applet from argv[0]: a link named `ash` is busybox's shell, as a login shell would be.
const ash = join(work, 'ash');
if (existsSync('/usr/bin/busybox')) symlinkSync('/usr/bin/busybox', ash);
const shells = [['dash', '/usr/bin/dash'], ['bash', '/usr/bin/bash'], ['busybox ash', ash]].filter(([, path]) => existsSync(path));

/** Starts a session the way sshd would: the login shell runs the start command with `-c`. */
async function startSession(loginShell: string): Promise<{ session: ShellSession | null; channel: ChildChannel; released: () => boolean }> {
  const nonce = randomBytes(12).toString('hex');
  const child = spawn(loginShell, ['-c', sessionStartCommand(nonce)], { env: { PATH: process.env.PATH, SHELL: loginShell, HOME: work }, stdio: 'pipe' });
  const channel = new ChildChannel(child);
  let released = false;
  const session = await openShellSession(channel as never, nonce, 5000, () => { released = true; });
  return { session, channel, released: () => released };
}

const limits = (extra: Partial<SessionLimits> = {}): SessionLimits => ({ killGraceMs: 200, lost: () => undefined, ...extra });
const text = (r: { stdout: Buffer; stderr: Buffer; code: number | null }) => ({ stdout: r.stdout.toString(), stderr: r.stderr.toString(), code: r.code });

describe.each(shells)('a shell session started by a %s login shell', (_name, loginShell) => {
  it('runs commands one after another with their own output, error output and status', async () => {
    const { session } = await startSession(loginShell);
    expect(session).not.toBeNull();
    const cases: [string, { stdout: string; stderr: string; code: number }][] = [
      ['echo hello', { stdout: 'hello\n', stderr: '', code: 0 }],
      ['printf no-newline; printf err >&2; exit 3', { stdout: 'no-newline', stderr: 'err', code: 3 }],
      ['false', { stdout: '', stderr: '', code: 1 }],
      ["printf '%s\\n' \"it's\" 'a \"quoted\"\nmulti-line' '$(not run)'", { stdout: 'it\'s\na "quoted"\nmulti-line\n$(not run)\n', stderr: '', code: 0 }],
      ['echo 0123456789abcdef 0; echo also >&2', { stdout: '0123456789abcdef 0\n', stderr: 'also\n', code: 0 }], // looks like a marker, is not
    ];
    for (const [command, expected] of cases) expect(text(await session!.run(command, limits())), command).toEqual(expected);
    await session!.close();
  });

  it('keeps each command to itself: exit, cd, variables, set -e and stdin do not reach the next', async () => {
    const { session } = await startSession(loginShell);
    const before = (await session!.run('pwd', limits())).stdout.toString();
    await session!.run('cd / && X=leaked && set -e && exit 7', limits());
    expect(text(await session!.run('pwd; echo "[${X:-}]"; false; echo after-false', limits()))).toEqual({ stdout: `${before}[]\nafter-false\n`, stderr: '', code: 0 });
    // A command reading stdin gets EOF, not the next frame of the protocol.
    expect(text(await session!.run('cat; read line; echo "read: $?"', limits()))).toEqual({ stdout: 'read: 1\n', stderr: '', code: 0 });
    expect(session!.alive).toBe(true);
    await session!.close();
  });

  it('fails a command with a syntax error alone, and keeps the session', async () => {
    const { session } = await startSession(loginShell);
    const broken = await session!.run("echo 'unterminated", limits());
    expect(broken.code).not.toBe(0);
    expect(broken.stderr.toString()).not.toBe('');
    expect(text(await session!.run('echo still here', limits()))).toEqual({ stdout: 'still here\n', stderr: '', code: 0 });
    await session!.close();
  });

  it('stays usable after a command the host itself timed out (timeout(1) answers with the marker)', async () => {
    const { session } = await startSession(loginShell);
    const result = await session!.run('exec timeout 0.3 sleep 5', limits({ timeoutMs: 100, serverTimeoutMs: 300 }));
    expect(result).toMatchObject({ timedOut: true, code: null });
    expect(session!.alive).toBe(true);
    expect(text(await session!.run('echo next', limits()))).toEqual({ stdout: 'next\n', stderr: '', code: 0 });
    await session!.close();
  });

  it('stops the whole shell when a timed-out command does not end on the host', async () => {
    const { session, channel } = await startSession(loginShell);
    const started = Date.now();
    const result = await session!.run('sleep 5', limits({ timeoutMs: 100, serverTimeoutMs: 150 }));
    expect(result).toMatchObject({ timedOut: true, code: null });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(channel.signals[0]).toBe('TERM');
    expect(session!.alive).toBe(false);
  });

  it('stops the shell on abort and reports the command as unknown, not failed or done', async () => {
    const { session } = await startSession(loginShell);
    const abort = new AbortController();
    const running = session!.run('echo started; sleep 5', limits({ signal: abort.signal }));
    setTimeout(() => abort.abort(), 200);
    const result = await running;
    expect(result).toMatchObject({ code: null, timedOut: false });
    expect(result.stdout.toString()).toBe('started\n');
    expect(session!.alive).toBe(false);
  });

  it('reports a shell that died mid-command as lost when the connection is gone', async () => {
    const { session, channel } = await startSession(loginShell);
    const running = session!.run('sleep 5', limits({ lost: () => new UnreachableError('h', 'the connection was lost') }));
    setTimeout(() => channel.emit('close'), 100); // what ssh2 does when the connection drops
    await expect(running).rejects.toThrow(UnreachableError);
    channel.child.kill('SIGKILL');
  });

  it('leaves a command aborted before it started unrun, and the session usable', async () => {
    const { session } = await startSession(loginShell);
    const result = await session!.run('touch should-not-exist', limits({ signal: AbortSignal.abort() }));
    expect(result.code).toBeNull();
    expect(text(await session!.run('test -e should-not-exist; echo $?', limits()))).toEqual({ stdout: '1\n', stderr: '', code: 0 });
    await session!.close();
  });
});

describe('starting a session', () => {
  it('gives up where there is no Unix shell (no ready line), closing the channel and its slot', async () => {
    const nonce = randomBytes(12).toString('hex');
    // What Windows OpenSSH's cmd.exe answers to the start command.
    const cmdExe = "console.log(\"'exec' is not recognized as an internal or external command,\"); process.exit(1)";
    const child = spawn(process.execPath, ['-e', cmdExe], { stdio: 'pipe' });
    let released = false;
    expect(await openShellSession(new ChildChannel(child) as never, nonce, 5000, () => { released = true; })).toBeNull();
    expect(released).toBe(true);
  });

  it('runs commands under /bin/sh whatever the login shell', async () => {
    const { session } = await startSession(shells[0][1]);
    expect(text(await session!.run('readlink /proc/$$/exe', limits())).stdout).toBe(`${realpathSync('/bin/sh')}\n`);
    await session!.close();
  });

  it('does not take a banner or an error message for the ready line', async () => {
    const nonce = randomBytes(12).toString('hex');
    const child = spawn('/bin/sh', ['-c', `echo "${nonce.slice(0, 10)} not ready"; echo ${nonce}x; sleep 5`], { stdio: 'pipe' });
    let released = false;
    expect(await openShellSession(new ChildChannel(child) as never, nonce, 300, () => { released = true; })).toBeNull();
    expect(released).toBe(true);
  });
});

describe('FrameReader', () => {
  const nonce = 'a1b2c3d4e5f6a1b2c3d4e5f6';
  const streams = (out: string, err: string) => [Buffer.from(`${out}${nonce} 42\n`), Buffer.from(`${err}${nonce}\n`)];

  it('finds the markers however the bytes are cut into chunks', () => {
    const [out, err] = streams('some output\nwithout end', 'warn\n');
    for (let cut = 0; cut <= out.length; cut++) {
      const reader = new FrameReader(nonce);
      reader.stdout(out.subarray(0, cut));
      reader.stdout(out.subarray(cut));
      for (const byte of err) reader.stderr(Buffer.from([byte]));
      expect(reader.done, `cut at ${cut}`).toBe(true);
      expect(reader.code).toBe(42);
      expect(reader.result().stdout.toString()).toBe('some output\nwithout end');
      expect(reader.result().stderr.toString()).toBe('warn\n');
    }
  });

  it('is not done until both streams have their marker', () => {
    const [out, err] = streams('', '');
    const reader = new FrameReader(nonce);
    reader.stdout(out);
    expect(reader.done).toBe(false);
    reader.stderr(err);
    expect(reader.done).toBe(true);
  });

  it('reads megabytes in small chunks without rescanning them (linear time)', () => {
    const reader = new FrameReader(nonce);
    const chunk = Buffer.alloc(16 * 1024, 'x');
    for (let i = 0; i < 640; i++) reader.stdout(chunk); // 10 MB
    reader.stdout(Buffer.from(`${nonce} 0\n`));
    reader.stderr(Buffer.from(`${nonce}\n`));
    expect(reader.result().stdout.length).toBe(640 * chunk.length);
  });
});

describe('commandFrame', () => {
  it('quotes the whole command, so nothing in it runs outside its subshell', () => {
    expect(commandFrame('ab12', "echo 'x'; exit")).toBe(
      "( eval 'echo '\\''x'\\''; exit' ) </dev/null; printf '%s %s\\n' ab12 \"$?\"; printf '%s\\n' ab12 >&2\n",
    );
  });
});
