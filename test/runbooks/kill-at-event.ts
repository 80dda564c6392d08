/**
 * Runs the real CLI (`--json`) against a lab and SIGKILLs it the moment a chosen event is printed.
 * `--json` prints an event only after the journal has fsync'd it (the journal is the first sink),
 * so a kill at a `command-end` is a kill at a boundary the resume knows about.
 */
import { spawn } from 'node:child_process';
import type { RunEvent } from '../../src/engine/events.ts';
import { BIN, REPO } from '../e2e/helpers.ts';
import { parseEvents, type RunbookLab } from './lab-helpers.ts';

const CAP_MS = 300_000;

export interface KilledRun {
  /** null when killed. */
  code: number | null;
  events: RunEvent[];
  stdout: string;
  stderr: string;
  killed: boolean;
}

/** Runs `args` (with `--json --state-dir`); kills it once `killAt` says yes to a printed event. */
export function runUntil(lab: RunbookLab, args: string[], killAt: (event: RunEvent) => boolean, env: NodeJS.ProcessEnv = {}): Promise<KilledRun> {
  return startRun(lab, args, (event, kill) => { if (killAt(event)) kill(); }, env).finished;
}

export interface StartedRun {
  kill(): void;
  finished: Promise<KilledRun>;
}

/** Runs `args` (with `--json --state-dir`), handing each printed event to `onEvent`, which may kill it. */
export function startRun(lab: RunbookLab, args: string[], onEvent: (event: RunEvent, kill: () => void) => void, env: NodeJS.ProcessEnv = {}): StartedRun {
  let kill!: () => void;
  const finished = new Promise<KilledRun>((done) => {
    const child = spawn(process.execPath, [BIN, ...args, '--json', '--state-dir', lab.stateDir], {
      cwd: REPO, env: { ...process.env, NO_COLOR: '1', RUNBOOK_TYPECHECK: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: KilledRun = { code: null, events: [], stdout: '', stderr: '', killed: false };
    kill = () => { if (!run.killed) { run.killed = true; child.kill('SIGKILL'); } };
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      run.stdout += chunk;
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const event of parseEvents(lines.join('\n'))) {
        run.events.push(event);
        if (!run.killed) onEvent(event, kill);
      }
    });
    child.stderr.on('data', (chunk) => { run.stderr += chunk; });
    // A safety net: no test may hang on a run that never reaches its kill point (sized for a
    // machine at load 40 on two cores, where a lab run's commands took minutes).
    const cap = setTimeout(() => { run.stderr += `\n[test] killed after ${CAP_MS / 1000} s without reaching its kill point or its end\n`; child.kill('SIGKILL'); }, CAP_MS);
    child.on('close', (code) => { clearTimeout(cap); run.code = code; done(run); });
  });
  return { kill, finished };
}

/** Resolves once `ready()` holds, polling the lab's own files; rejects after `ms`. */
export async function until(ready: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
