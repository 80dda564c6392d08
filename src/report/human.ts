import type { EventSink, HostStatus, RunEvent, StepStatus } from '../engine/events.ts';
import { emptyCounts, type StepCounts } from '../engine/host.ts';
import { formatDuration, makeStyle, pad, type Style } from './style.ts';

type Out = { write(s: string): unknown; isTTY?: boolean; columns?: number; rows?: number };

const LABEL: Record<StepStatus, string> = {
  ok: 'ok', changed: 'changed', 'would-change': 'would change', 'may-change': 'may change',
  failed: 'FAILED', skipped: 'skipped', waiting: 'WAITING', unreachable: 'UNREACHABLE',
};

/**
 * The human view: a line per finished step (what, result, why; the commands for changes), live
 * per-host progress on a terminal, and a recap like Ansible's PLAY RECAP at the end.
 */
export class HumanReporter implements EventSink {
  readonly #style: Style;
  readonly #counts = new Map<string, StepCounts>();
  readonly #hostStatus = new Map<string, HostStatus>();
  readonly #active = new Map<string, { step: string; since: number }>();
  readonly #live: LiveArea | undefined;
  #hostWidth = 8;
  #dryRun = false;

  constructor(private readonly out: Out, private readonly options: { verbose?: boolean; live?: boolean; color?: boolean } = {}) {
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
      case 'host-end': this.#active.delete(event.host); this.#hostStatus.set(event.host, event.status); this.#live?.schedule(); return;
      case 'run-end': return this.onRunEnd(event);
      default: return;
    }
  }

  close(): void { this.#live?.stop(); }

  private onRunStart(event: Extract<RunEvent, { kind: 'run-start' }>): void {
    this.#dryRun = event.dryRun;
    this.#hostWidth = Math.min(Math.max(8, ...event.hosts.map((h) => h.length)), 40);
    for (const host of event.hosts) this.#counts.set(host, emptyCounts());
    const mode = event.dryRun ? this.#style.cyan(' (dry-run: nothing will be changed)') : event.resumed ? ' (resumed)' : '';
    this.print(this.#style.bold(`RUN ${event.runbook} · ${event.runId} · ${event.hosts.length} host${event.hosts.length === 1 ? '' : 's'}`) + mode);
  }

  private onStepResult(event: Extract<RunEvent, { kind: 'step-result' }>): void {
    this.#counts.get(event.host)![event.status]++;
    const label = this.color(event.status, pad(LABEL[event.status], 12));
    this.print(`${this.hostCol(event.host)} ${pad(event.step, 24)} ${label} ${event.reason} ${this.#style.dim(formatDuration(event.durationMs))}`);
    const showCommands = event.status === 'would-change' || (this.options.verbose && event.status === 'changed');
    if (showCommands) for (const command of event.commands ?? []) this.print(`${' '.repeat(this.#hostWidth)}   ${this.#style.dim('$')} ${command}`);
    if (event.error && event.error !== event.reason) this.print(indent(event.error, this.#hostWidth + 3));
  }

  private onCommand(event: Extract<RunEvent, { kind: 'command' }>): void {
    if (!this.options.verbose) return;
    const where = event.on !== event.host ? ` (on ${event.on})` : '';
    this.print(`${this.hostCol(event.host)}   ${this.#style.dim(`$ ${event.command}${where} → ${event.code ?? event.signal ?? 'no status'}`)}`);
    for (const text of [event.stdout, event.stderr]) if (text.trim()) this.print(indent(text.trimEnd(), this.#hostWidth + 5));
  }

  private onRunEnd(event: Extract<RunEvent, { kind: 'run-end' }>): void {
    this.#live?.stop();
    this.print('');
    this.print(this.#style.bold('RECAP'));
    const columns: StepStatus[] = this.#dryRun
      ? ['ok', 'would-change', 'may-change', 'failed', 'skipped', 'unreachable', 'waiting']
      : ['ok', 'changed', 'failed', 'skipped', 'unreachable', 'waiting'];
    for (const [host, counts] of this.#counts) {
      const cells = columns.map((c) => this.color(counts[c] > 0 ? c : 'ok', `${LABEL[c].toLowerCase()}=${counts[c]}`, counts[c] === 0));
      this.print(`${this.hostCol(host)} : ${cells.join('  ')}  ${this.#style.dim(event.hosts[host] ?? '')}`);
    }
    this.print('');
    this.print(`${this.statusLine(event.status)} in ${formatDuration(event.durationMs)} (exit ${event.exitCode})`);
  }

  private statusLine(status: string): string {
    const text: Record<string, string> = {
      ok: this.#dryRun ? 'dry-run finished: nothing was changed' : 'run finished',
      failed: 'run finished with failed hosts', unreachable: 'run finished with unreachable hosts',
      waiting: 'run paused: a manual step waits for confirmation (runbook confirm, then runbook resume)',
      interrupted: 'run interrupted: continue it with runbook resume',
    };
    return status === 'ok' ? this.#style.green(text.ok) : status === 'waiting' ? this.#style.yellow(text.waiting) : this.#style.red(text[status] ?? status);
  }

  private liveLines(): string[] {
    const now = Date.now();
    const rows = [...this.#active].map(([host, a]) => `${this.hostCol(host)} ${this.#style.cyan('…')} ${a.step} ${this.#style.dim(formatDuration(now - a.since))}`);
    const room = Math.max((this.out.rows ?? 24) - 4, 3);
    return rows.length > room ? [...rows.slice(0, room - 1), this.#style.dim(`… and ${rows.length - room + 1} more hosts running`)] : rows;
  }

  private color(status: StepStatus, text: string, muted = false): string {
    if (muted) return this.#style.dim(text);
    if (status === 'ok' || status === 'skipped') return this.#style.green(text);
    if (status === 'changed' || status === 'would-change' || status === 'may-change' || status === 'waiting') return this.#style.yellow(text);
    return this.#style.red(text);
  }

  private hostCol(host: string): string { return pad(host, this.#hostWidth); }

  private print(line: string): void {
    if (this.#live) this.#live.printAbove(line);
    else this.out.write(`${line}\n`);
  }
}

function indent(text: string, width: number): string {
  return text.split('\n').map((l) => ' '.repeat(width) + l).join('\n');
}

/** A redrawn block of lines under the scrolling log, for live per-host progress on a terminal. */
class LiveArea {
  #drawn = 0;
  #timer?: NodeJS.Timeout;
  #ticker: NodeJS.Timeout;

  constructor(private readonly out: Out, private readonly lines: () => string[]) {
    this.#ticker = setInterval(() => this.redraw(), 500);
    this.#ticker.unref();
  }

  printAbove(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
    this.schedule();
  }

  /** Redraws at most ten times a second, however many hosts report. */
  schedule(): void {
    this.#timer ??= setTimeout(() => { this.#timer = undefined; this.redraw(); }, 100);
  }

  stop(): void {
    clearInterval(this.#ticker);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.clear();
  }

  private redraw(): void {
    this.clear();
    const lines = this.lines();
    const width = Math.max((this.out.columns ?? 80) - 1, 20);
    for (const line of lines) this.out.write(`${line.slice(0, width + 20)}\n`);
    this.#drawn = lines.length;
  }

  private clear(): void {
    if (this.#drawn > 0) this.out.write(`\u001b[${this.#drawn}A\u001b[0J`);
    this.#drawn = 0;
  }
}
