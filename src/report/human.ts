import type { EventSink, RunEvent, StepStatus } from '../engine/events.ts';
import { emptyCounts, type StepCounts } from '../engine/host.ts';
import type { Step } from '../runbook/types.ts';
import { LiveArea, type Out } from './live.ts';
import { confirmHints } from './pause.ts';
import { formatDuration, makeStyle, pad, type Style } from './style.ts';

const LABEL: Record<StepStatus, string> = {
  ok: 'ok', changed: 'changed', 'would-change': 'would change', 'may-change': 'may change',
  failed: 'FAILED', skipped: 'skipped', waiting: 'WAITING', unreachable: 'UNREACHABLE', stale: 'STALE',
};

/** In a dry-run nothing failed or changed yet: a failed check says the step would fail. */
const DRY_LABEL: Partial<Record<StepStatus, string>> = { failed: 'WOULD FAIL' };
/** A dry-run's host outcomes, in the future tense the RECAP owes the reader. */
const DRY_HOST_STATUS: Record<string, string> = { changed: 'would change', failed: 'would fail' };

export interface HumanOptions {
  /** Every command and its output. */
  verbose?: boolean;
  /** Redraw per-host progress under the log; default: when writing to a terminal. */
  live?: boolean;
  /** The runbook's steps in order: for "step n/m", and for the evidence fields a pause names. */
  steps?: readonly Step[];
  /** The --state-dir the run was given, repeated in the commands a pause prints. */
  stateDir?: string;
  /** --color / --no-color; default: FORCE_COLOR, NO_COLOR, then whether out is a terminal. */
  color?: boolean;
  /** Not on a terminal: a step running this long gets a "still running" line, and again each such period. */
  stillRunningMs?: number;
  /** `--diff`: the unified diff of each content change under its step. */
  diff?: boolean;
}

/** Lines kept back while a prompt owns the terminal; the journal has any beyond. */
const HELD_LINES = 1000;
/** Up to this many long-running hosts get a line each; more get one summary line. */
const FEW_HOSTS = 5;

/**
 * The human view: a line per finished step (what, result, why; the commands for changes), live
 * per-host progress on a terminal (step n/m, elapsed, hosts done), "still running" lines in a pipe,
 * and a recap like Ansible's PLAY RECAP at the end. A prompt can hold the terminal (`hold`).
 */
export class HumanReporter implements EventSink {
  readonly #style: Style;
  readonly #counts = new Map<string, StepCounts>();
  readonly #active = new Map<string, { step: string; since: number }>();
  readonly #ended = new Set<string>();
  /** Host → the manual step it waits at. */
  readonly #waitingAt = new Map<string, string>();
  readonly #live: LiveArea | undefined;
  #stillRunning?: NodeJS.Timeout;
  #hostWidth = 8;
  #dryRun = false;
  #planApplied = false;
  #runId = '';
  #startedAt = Date.now();
  #holds = 0;
  #held?: { lines: string[]; over: number };

  constructor(private readonly out: Out, private readonly options: HumanOptions = {}) {
    this.#style = makeStyle(out, process.env, options.color);
    this.#live = (options.live ?? out.isTTY) ? new LiveArea(out, () => this.liveLines()) : undefined;
  }

  emit(event: RunEvent): void {
    switch (event.kind) {
      case 'run-start': return this.onRunStart(event);
      case 'step-start': this.#active.set(event.host, { step: event.step, since: Date.now() }); this.#live?.schedule(); return;
      case 'step-result': return this.onStepResult(event);
      case 'command': return this.onCommand(event);
      case 'log': return this.print(`${this.hostCol(event.host)}   ${this.#style.dim(event.message)}`);
      case 'warning': return this.print(this.#style.yellow(`[WARNING] ${event.host ? `${event.host}: ` : ''}${event.message}`));
      case 'confirmation': return this.print(`${this.hostCol(event.host)} ${event.step}: confirmed by ${event.by}${event.note ? ` (${event.note})` : ''}`);
      case 'host-end': this.#active.delete(event.host); this.#ended.add(event.host); this.#live?.schedule(); return;
      case 'run-end': return this.onRunEnd(event);
      default: return;
    }
  }

  close(): void { this.stopProgress(); }

  /**
   * Gives the terminal to a prompt: the live area is erased and stops redrawing, and lines are
   * kept back, so the question and the typed answer stay on screen. Call the returned function
   * to give it back (the kept lines print, the live area returns).
   */
  hold(): () => void {
    if (this.#holds++ === 0) { this.#held = { lines: [], over: 0 }; this.#live?.pause(); }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holds === 0) this.releaseHeld();
    };
  }

  private releaseHeld(): void {
    const held = this.#held!;
    this.#held = undefined;
    for (const line of held.lines) this.out.write(`${line}\n`);
    if (held.over) this.out.write(`${this.#style.dim(`… and ${held.over} more lines while the prompt was open (runbook show ${this.#runId} has them)`)}\n`);
    this.#live?.resume();
  }

  private onRunStart(event: Extract<RunEvent, { kind: 'run-start' }>): void {
    this.#dryRun = event.dryRun;
    this.#planApplied = event.plan !== undefined;
    this.#runId = event.runId;
    this.#startedAt = Date.now();
    this.#hostWidth = Math.min(Math.max(8, ...event.hosts.map((h) => h.length)), 40);
    for (const host of event.hosts) this.#counts.set(host, emptyCounts());
    const mode = event.dryRun ? this.#style.cyan(' (dry-run: nothing will be changed)') : event.plan ? ` (applying plan ${event.plan.file}, sha256 ${event.plan.sha256.slice(0, 12)}…)` : event.resumed ? ' (resumed)' : '';
    this.print(this.#style.bold(`RUN ${event.runbook} · ${event.runId} · ${event.hosts.length} host${event.hosts.length === 1 ? '' : 's'}`) + mode);
    if (!this.#live) this.startStillRunning();
  }

  private onStepResult(event: Extract<RunEvent, { kind: 'step-result' }>): void {
    this.#counts.get(event.host)![event.status]++;
    if (this.#active.get(event.host)?.step === event.step) this.#active.delete(event.host);
    if (event.status === 'waiting') this.#waitingAt.set(event.host, event.step);
    else if (this.#waitingAt.get(event.host) === event.step) this.#waitingAt.delete(event.host);
    const label = this.color(event.status, pad(this.label(event.status), 12));
    this.print(`${this.hostCol(event.host)} ${pad(event.step, 24)} ${label} ${event.reason} ${this.#style.dim(formatDuration(event.durationMs))}`);
    const showCommands = event.status === 'would-change' || (this.options.verbose && event.status === 'changed');
    if (showCommands) for (const command of event.commands ?? []) this.print(`${' '.repeat(this.#hostWidth)}   ${this.#style.dim('$')} ${command}`);
    if (event.error && event.error !== event.reason) this.print(indent(event.error, this.#hostWidth + 3));
    if (this.options.diff && event.diff) for (const line of event.diff.trimEnd().split('\n')) this.print(`${' '.repeat(this.#hostWidth)}   ${this.diffLine(line)}`);
  }

  private label(status: StepStatus): string {
    return (this.#dryRun && DRY_LABEL[status]) || LABEL[status];
  }

  private diffLine(line: string): string {
    if (line.startsWith('+') && !line.startsWith('+++')) return this.#style.green(line);
    if (line.startsWith('-') && !line.startsWith('---')) return this.#style.red(line);
    return this.#style.dim(line);
  }

  private onCommand(event: Extract<RunEvent, { kind: 'command' }>): void {
    if (!this.options.verbose) return;
    const where = event.on !== event.host ? ` (on ${event.on})` : '';
    this.print(`${this.hostCol(event.host)}   ${this.#style.dim(`$ ${event.command}${where} → ${event.code ?? event.signal ?? 'no status'}`)}`);
    for (const text of [event.stdout, event.stderr]) if (text.trim()) this.print(indent(text.trimEnd(), this.#hostWidth + 5));
  }

  private onRunEnd(event: Extract<RunEvent, { kind: 'run-end' }>): void {
    this.stopProgress();
    this.print('');
    this.print(this.#style.bold('RECAP'));
    const columns: StepStatus[] = this.#dryRun
      ? ['ok', 'would-change', 'may-change', 'failed', 'skipped', 'unreachable', 'waiting']
      : ['ok', 'changed', 'failed', 'skipped', 'unreachable', 'waiting', ...(this.#planApplied ? ['stale' as const] : [])];
    for (const [host, counts] of this.#counts) {
      const cells = columns.map((c) => this.color(counts[c] > 0 ? c : 'ok', `${this.label(c).toLowerCase()}=${counts[c]}`, counts[c] === 0));
      const status = event.hosts[host] ?? '';
      this.print(`${this.hostCol(host)} : ${cells.join('  ')}  ${this.#style.dim((this.#dryRun && DRY_HOST_STATUS[status]) || status)}`);
    }
    this.print('');
    this.print(`${this.statusLine(event.status)} in ${formatDuration(event.durationMs)} (exit ${event.exitCode})`);
    const waiting = new Map([...this.#waitingAt].filter(([host]) => event.hosts[host] === 'waiting'));
    for (const line of confirmHints({ runId: event.runId, waiting, steps: this.options.steps, stateDir: this.options.stateDir })) this.print(line);
  }

  private statusLine(status: string): string {
    const text: Record<string, string> = {
      ok: this.#dryRun ? 'dry-run finished: nothing was changed' : 'run finished',
      failed: this.#dryRun ? 'dry-run finished: some hosts would fail (nothing was changed)' : 'run finished with failed hosts', unreachable: 'run finished with unreachable hosts',
      stale: 'run finished with stale hosts: their checks no longer match the plan (nothing unreviewed was done there)',
      waiting: 'run paused: a manual step waits for confirmation (runbook confirm, then runbook resume)',
      interrupted: 'run interrupted: continue it with runbook resume',
    };
    return status === 'ok' ? this.#style.green(text.ok) : status === 'waiting' ? this.#style.yellow(text.waiting) : this.#style.red(text[status] ?? status);
  }

  /** Per running host its step (n/m) and time in it, then a footer: hosts done/total, elapsed. */
  private liveLines(): string[] {
    if (this.#counts.size === 0) return []; // before run-start
    const now = Date.now();
    const rows = [...this.#active].map(([host, a]) => `${this.hostCol(host)} ${this.#style.cyan('…')} ${a.step} ${this.#style.dim(`${this.ordinal(a.step)}${formatDuration(now - a.since)}`)}`);
    const room = Math.max((this.out.rows ?? 24) - 5, 3);
    const shown = rows.length > room ? [...rows.slice(0, room - 1), this.#style.dim(`… and ${rows.length - room + 1} more hosts running`)] : rows;
    return [...shown, this.#style.dim(`── ${this.fleet(now)}`)];
  }

  /** "hosts done 3/10 · running 2 · elapsed 1m02s" */
  private fleet(now: number): string {
    return `hosts done ${this.#ended.size}/${this.#counts.size} · running ${this.#active.size} · elapsed ${formatDuration(now - this.#startedAt)}`;
  }

  /** "step 2/5 · " when the runbook's steps are known. */
  private ordinal(step: string): string {
    const steps = this.options.steps ?? [];
    const index = steps.findIndex((s) => s.id === step);
    return index < 0 ? '' : `step ${index + 1}/${steps.length} · `;
  }

  /** In a pipe nothing moves during a long step: say which are still running, bounded per period. */
  private startStillRunning(): void {
    const period = this.options.stillRunningMs ?? 30_000;
    this.#stillRunning = setInterval(() => this.noteStillRunning(period), period);
    this.#stillRunning.unref();
  }

  /** One line per long-running host when they are few, else one summary line for the fleet. */
  private noteStillRunning(period: number): void {
    const now = Date.now();
    const long = [...this.#active].filter(([, a]) => now - a.since >= period);
    if (long.length === 0) return;
    if (long.length <= FEW_HOSTS) {
      for (const [host, a] of long) this.print(`${this.hostCol(host)} ${this.#style.dim(`… ${a.step} still running (${this.ordinal(a.step)}${formatDuration(now - a.since)})`)}`);
      return;
    }
    const bySteps = new Map<string, number>();
    for (const [, a] of long) bySteps.set(a.step, (bySteps.get(a.step) ?? 0) + 1);
    const steps = [...bySteps].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([step, n]) => `${step} ×${n}`);
    const more = bySteps.size > 3 ? `, ${bySteps.size - 3} more steps` : '';
    this.print(this.#style.dim(`… ${long.length} hosts still running a step for over ${formatDuration(period)} (${steps.join(', ')}${more}) · ${this.fleet(now)}`));
  }

  private stopProgress(): void {
    clearInterval(this.#stillRunning);
    this.#live?.stop();
  }

  private color(status: StepStatus, text: string, muted = false): string {
    if (muted) return this.#style.dim(text);
    if (status === 'ok' || status === 'skipped') return this.#style.green(text);
    if (status === 'changed' || status === 'would-change' || status === 'may-change' || status === 'waiting' || status === 'stale') return this.#style.yellow(text);
    return this.#style.red(text);
  }

  private hostCol(host: string): string { return pad(host, this.#hostWidth); }

  private print(line: string): void {
    if (this.#held) {
      if (this.#held.lines.length < HELD_LINES) this.#held.lines.push(line);
      else this.#held.over++;
    } else if (this.#live) this.#live.printAbove(line);
    else this.out.write(`${line}\n`);
  }
}

function indent(text: string, width: number): string {
  return text.split('\n').map((l) => ' '.repeat(width) + l).join('\n');
}
