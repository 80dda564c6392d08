/**
 * Shared helpers for the end-to-end tests of the shipped runbooks: a lab in a throwaway state dir,
 * the real CLI run against its inventory, the lab's own record of what changed, kill-and-resume.
 *
 *   let lab: RunbookLab;
 *   beforeAll(async () => { lab = await startLab(); });
 *   afterAll(() => lab?.stop());
 *   const run = await lab.apply('leap-second', ['--dry-run']);
 *   expect(run.code).toBe(0);
 *   expect(lab.mutations()).toEqual({});
 *
 * One lab per test file (a lab costs a few seconds and a process); `reset()` between cases that
 * need a clean estate. Every CLI call gets `--state-dir` (never the repo's `.runbook`) and runs
 * with the repository as its working folder, so `runbooks/NAME.ts` resolves to the shipped file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { labDown, labFault, labReset, labUp, readMutations, type Lab, type Mutation } from '../../lab/lab.ts';
import type { RunEvent } from '../../src/engine/events.ts';
import { BIN, REPO, runCli, type CliResult } from '../e2e/helpers.ts';

export { REPO, type CliResult };

/** A CLI run with its `--json` events parsed (stdout lines that are not JSON are ignored). */
export interface JsonRun extends CliResult {
  events: RunEvent[];
}

export type StepResult = Extract<RunEvent, { kind: 'step-result' }>;

/**
 * When to SIGKILL a run: once the step-result of step `afterStep` is printed, after its Nth
 * step-result event, or some time after its run-start. (A resumed run prints results only for the
 * steps it still runs, so `afterStep` is the stable way to name a point in a resume.)
 */
export interface KillPoint {
  afterStep?: string;
  afterResults?: number;
  afterMs?: number;
}

/**
 * The environment of every CLI call. The per-run TypeScript check of the runbook is off: it is
 * cached per engine source tree, so while the engine is being edited it costs seconds of CPU on
 * nearly every call; `npx tsc --noEmit` checks the same runbooks once, in CI.
 */
const CLI_ENV: NodeJS.ProcessEnv = { RUNBOOK_TYPECHECK: '0' };

export interface LabOptions {
  /** How long a rebooting host stays down (the lab's default of 2 s is slow for tests). */
  rebootDownMs?: number;
  /** `--hosts` of `lab up`: a subset of the estate. */
  hosts?: string;
  /** `--estate` of `lab up`: an Ansible YAML inventory describing the estate (default inventory/lab.yaml). */
  estate?: string;
}

export interface RunbookLab {
  /** The throwaway folder holding the lab (`lab/`), the runs and known_hosts. */
  readonly stateDir: string;
  /** The inventory `lab up` generated: real ports, absolute key path. */
  readonly inventory: string;
  readonly lab: Lab;
  /** Any CLI command, with `--state-dir` added; the repository is the working folder. */
  cli(args: string[], options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<CliResult>;
  /** `runbook apply NAME -i <lab inventory> ...extra`. */
  apply(runbook: string, extra?: string[], options?: { timeoutMs?: number; inventory?: string }): Promise<CliResult>;
  /** The same with `--json`, events parsed. */
  applyJson(runbook: string, extra?: string[], options?: { timeoutMs?: number; inventory?: string }): Promise<JsonRun>;
  /** `runbook resume --json` until the run is finished (or nothing is left to resume). */
  resumeUntilDone(options?: { timeoutMs?: number; attempts?: number }): Promise<JsonRun[]>;
  /**
   * Starts `runbook apply --json` and SIGKILLs it once `afterResults` step-result events have been
   * printed (or `afterMs` after run-start); resolves when the process is gone, with the results seen.
   */
  applyAndKill(runbook: string, kill: KillPoint, extra?: string[]): Promise<StepResult[]>;
  /** The same for `runbook resume --json`: kills the resumed run too, to chain kill points. */
  resumeAndKill(kill: KillPoint): Promise<StepResult[]>;
  /** Every mutating simulated call per host since the lab (re)started; hosts with none are left out. */
  mutations(hosts?: readonly string[]): Record<string, Mutation[]>;
  /** A host's state folder (services/, clock/, tmp/, host.json …). */
  hostDir(host: string): string;
  /** Reads a file under a host's state folder; undefined when absent. */
  hostFile(host: string, path: string): string | undefined;
  /**
   * Runs one of the lab's simulated commands (lab/bin: xe, multipath, iscsiadm, …) as `host` would,
   * without SSH: for reading the estate's state in assertions. Example: `lab.onHost('xs-01', 'xe', ['host-list'])`.
   */
  onHost(host: string, command: string, args?: string[]): { stdout: string; stderr: string; code: number };
  /** `runbook lab fault` through the API. */
  fault(host: string, kind: string, args?: string[], off?: boolean): Promise<string>;
  /** A copy of the lab inventory, edited; returns its path (beside the lab's, so relative paths hold). */
  inventoryVariant(name: string, edit: (inventory: any) => void): string;
  /** Wipes every host's state and starts the lab again (new ports: the inventory is rewritten). */
  reset(): Promise<void>;
  /** Stops the lab and removes the state dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** Parses the `--json` lines of a CLI run. */
export function parseEvents(stdout: string): RunEvent[] {
  return stdout.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as RunEvent];
    } catch {
      return [];
    }
  });
}

/** The step-result events of a run, optionally of one host. */
export function stepResults(events: readonly RunEvent[], host?: string): StepResult[] {
  return events.filter((e): e is StepResult => e.kind === 'step-result' && (host === undefined || e.host === host));
}

/** `{ host: { step: status } }` for a quick whole-run assertion. */
export function statusTable(events: readonly RunEvent[]): Record<string, Record<string, string>> {
  const table: Record<string, Record<string, string>> = {};
  for (const r of stepResults(events)) (table[r.host] ??= {})[r.step] = r.status;
  return table;
}

/**
 * Starts a lab in a fresh temp state dir. If starting fails half-way the lab is stopped before the
 * error is rethrown, so a failed beforeAll never leaves a server behind.
 */
export async function startLab(options: LabOptions = {}): Promise<RunbookLab> {
  const stateDir = mkdtempSync(join(tmpdir(), 'runbook-lab-'));
  const upOptions = { stateDir, portBase: 0, rebootDownMs: options.rebootDownMs ?? 300, hosts: options.hosts, estate: options.estate };
  let lab: Lab;
  try {
    lab = await labUp(upOptions);
  } catch (error) {
    await labDown({ stateDir }).catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
    throw error;
  }
  return new LabSession(stateDir, lab, upOptions);
}

class LabSession implements RunbookLab {
  #stopped = false;

  constructor(readonly stateDir: string, public lab: Lab, private readonly upOptions: Parameters<typeof labUp>[0]) {}

  get inventory(): string {
    return this.lab.inventoryPath;
  }

  cli(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
    return runCli([...args, '--state-dir', this.stateDir], { cwd: REPO, timeoutMs: options.timeoutMs ?? 90_000, env: { ...CLI_ENV, ...options.env } });
  }

  apply(runbook: string, extra: string[] = [], options: { timeoutMs?: number; inventory?: string } = {}): Promise<CliResult> {
    return this.cli(['apply', runbook, '-i', options.inventory ?? this.inventory, ...extra], options);
  }

  async applyJson(runbook: string, extra: string[] = [], options: { timeoutMs?: number; inventory?: string } = {}): Promise<JsonRun> {
    const result = await this.apply(runbook, ['--json', ...extra], options);
    return { ...result, events: parseEvents(result.stdout) };
  }

  async resumeUntilDone(options: { timeoutMs?: number; attempts?: number } = {}): Promise<JsonRun[]> {
    const runs: JsonRun[] = [];
    for (let i = 0; i < (options.attempts ?? 3); i++) {
      const result = await this.cli(['resume', '--json'], { timeoutMs: options.timeoutMs });
      runs.push({ ...result, events: parseEvents(result.stdout) });
      if (result.code === 0 || /no unfinished run/.test(result.stderr)) return runs;
      // A host lock left by the killed process is released once its pid is gone; anything else is a failure.
      if (!/lock/i.test(result.stderr)) break;
    }
    const last = runs[runs.length - 1];
    throw new Error(`resume did not finish (exit ${last?.code})\n${last?.stdout}\n${last?.stderr}`);
  }

  applyAndKill(runbook: string, kill: KillPoint, extra: string[] = []): Promise<StepResult[]> {
    return this.runAndKill(['apply', runbook, '-i', this.inventory, '--json', ...extra], kill);
  }

  resumeAndKill(kill: KillPoint): Promise<StepResult[]> {
    return this.runAndKill(['resume', '--json'], kill);
  }

  private runAndKill(args: string[], kill: KillPoint): Promise<StepResult[]> {
    const argv = [BIN, ...args, '--state-dir', this.stateDir];
    return new Promise((done) => {
      const child = spawn(process.execPath, argv, { cwd: REPO, env: { ...process.env, NO_COLOR: '1', ...CLI_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
      const seen: StepResult[] = [];
      let buffer = '';
      let timer: NodeJS.Timeout | undefined;
      const killNow = () => child.kill('SIGKILL');
      child.stdout.on('data', (chunk) => {
        buffer += chunk;
        const lines = buffer.split('\n');
        buffer = lines.pop()!;
        for (const event of parseEvents(lines.join('\n'))) {
          if (event.kind === 'run-start' && kill.afterMs !== undefined) timer = setTimeout(killNow, kill.afterMs);
          if (event.kind !== 'step-result') continue;
          if (seen.push(event) === kill.afterResults || event.step === kill.afterStep) killNow();
        }
      });
      child.stderr.resume();
      // A safety net: no test may hang on a run that never reaches its kill point.
      const cap = setTimeout(killNow, 150_000);
      child.on('close', () => {
        clearTimeout(cap);
        if (timer) clearTimeout(timer);
        done(seen);
      });
    });
  }

  mutations(hosts?: readonly string[]): Record<string, Mutation[]> {
    const names = hosts ?? this.lab.hosts.map((h) => h.name);
    return Object.fromEntries(names.map((h) => [h, readMutations(this.stateDir, h)] as const).filter(([, m]) => m.length > 0));
  }

  hostDir(host: string): string {
    return join(this.lab.labRoot, 'hosts', host);
  }

  hostFile(host: string, path: string): string | undefined {
    const file = join(this.hostDir(host), path);
    return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  }

  onHost(host: string, command: string, args: string[] = []): { stdout: string; stderr: string; code: number } {
    const info = this.lab.hosts.find((h) => h.name === host);
    if (!info) throw new Error(`no host ${host} in the lab`);
    const labRoot = this.lab.labRoot;
    const env = {
      ...process.env, LAB_ROOT: labRoot, LAB_HOST: host, LAB_HOST_DIR: this.hostDir(host), LAB_ROLE: info.role,
      LAB_POOL: info.pool ?? '', LAB_POOL_DB: info.pool ? join(labRoot, 'pools', `${info.pool}.json`) : '',
    };
    const result = spawnSync(join(REPO, 'lab', 'bin', command), args, { env, encoding: 'utf8', timeout: 30_000 });
    return { stdout: result.stdout ?? '', stderr: result.stderr ?? '', code: result.status ?? -1 };
  }

  fault(host: string, kind: string, args: string[] = [], off = false): Promise<string> {
    return labFault({ stateDir: this.stateDir, host, kind, args, off });
  }

  inventoryVariant(name: string, edit: (inventory: any) => void): string {
    const inventory = parse(readFileSync(this.inventory, 'utf8'));
    edit(inventory);
    const path = join(this.lab.labRoot, `${name}.yaml`);
    writeFileSync(path, stringify(inventory));
    return path;
  }

  async reset(): Promise<void> {
    this.lab = await labReset(this.upOptions);
    // Runs of the old estate would offer themselves to `resume`; a reset starts from none.
    rmSync(join(this.stateDir, 'runs'), { recursive: true, force: true });
    rmSync(join(this.stateDir, 'locks'), { recursive: true, force: true });
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      await labDown({ stateDir: this.stateDir });
    } finally {
      rmSync(this.stateDir, { recursive: true, force: true });
    }
  }
}

/** The names of the runs in a state dir, oldest first. */
export function runIds(stateDir: string): string[] {
  const dir = join(stateDir, 'runs');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}
