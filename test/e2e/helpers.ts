import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');
export const BIN = join(REPO, 'bin/runbook.mjs');
export const API = join(REPO, 'src/index.ts');

/**
 * Every test project is new, so the runbook compiler check (seconds, cached per edit) would run on
 * every CLI call; tests skip it unless they are about it (local.test.ts turns it back on).
 */
export const FAST_ENV = { NO_COLOR: '1', RUNBOOK_TYPECHECK: '0' };

export interface CliResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Runs the real CLI as a user would (a child process), bounded in time. */
export function runCli(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } ): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd, env: { ...process.env, ...FAST_ENV, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = ''; let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); fail(new Error(`runbook ${args.join(' ')} took over ${options.timeoutMs ?? 60_000} ms\n${stdout}\n${stderr}`)); }, options.timeoutMs ?? 60_000);
    child.on('close', (code, signal) => { clearTimeout(timer); done({ code, signal, stdout, stderr }); });
    child.stdin.end(options.input ?? '');
  });
}

/** A throwaway project folder with runbooks/ and inventory/, as a newcomer would make one. */
export function makeProject(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'runbook-e2e-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/**
 * Runs the CLI's `main` in this process (no Node start-up per call) with captured output: for
 * tests of commands that need no separate process (no kill, no pty).
 */
export async function runMain(argv: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ code: number; stdout: string; stderr: string }> {
  const { main } = await import('../../src/cli/main.ts');
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d));
  stderr.on('data', (d: Buffer) => (err += d));
  const code = await main(argv, { stdout, stderr, stdin: new PassThrough(), cwd: options.cwd, env: options.env });
  return { code, stdout: out, stderr: err };
}

/** Whether a live process's command line mentions `text` (Linux /proc; a process that ends meanwhile is skipped). */
export function processMentions(text: string): boolean {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).some((pid) => {
    try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text); } catch { return false; }
  });
}

/**
 * After a kill: the orphaned gate gives up (and says so), then the next run may pass it. The kill
 * lands once `command-start` is printed, which is journaled before the command is sent: when the
 * CLI died before it spawned the command there is no orphan, and nothing can spawn it any more.
 */
export async function release(dir: string, name: string): Promise<void> {
  writeFileSync(join(dir, 'abandon'), '');
  const gate = join(dir, `release-${name}`);
  for (const deadline = Date.now() + 30_000; !existsSync(join(dir, `gone-${name}`)) && processMentions(gate); ) {
    if (Date.now() > deadline) throw new Error(`the killed run's ${name} command never gave up`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  rmSync(join(dir, 'abandon'));
  writeFileSync(gate, '');
}
