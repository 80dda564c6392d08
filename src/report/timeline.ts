import type { RunEvent, StepResultEvent } from '../engine/events.ts';
import type { HostProgress, InFlight, RunProgress, RunSummary } from '../state/index.ts';
import { formatDuration, pad } from './style.ts';

export interface TimelineInput {
  run: RunSummary;
  progress: RunProgress;
  /** The journal's events (step boundaries, confirmations, warnings). */
  events: RunEvent[];
  /** Per host: command transcripts and log lines. */
  transcripts: Map<string, RunEvent[]>;
  hosts: string[];
}

/** `runbook show`: the run's header, then per host every step, command, output and confirmation in time order. */
export function renderTimeline(input: TimelineInput): string {
  const out = runHeader(input);
  for (const host of input.hosts) {
    const state = input.progress.byHost[host]?.state ?? 'not-started';
    out.push('', `── ${host} (${state})`);
    const own = input.events.filter((e) => 'host' in e && e.host === host);
    const merged = [...own, ...(input.transcripts.get(host) ?? [])].sort(inTimeOrder);
    for (const event of merged) out.push(...lineFor(event));
    out.push(...roundTripLine(merged));
    const inFlight = input.progress.byHost[host]?.inFlight;
    if (inFlight && !input.progress.finished) out.push(...inFlightLines(inFlight));
  }
  return `${out.join('\n')}\n`;
}

/** One host's line of `show --summary`: its steps counted by their latest result. */
export interface HostSummaryRow {
  host: string;
  state: string;
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
  waiting: number;
  unreachable: number;
  durationMs?: number;
}

/** Which column a step's latest result counts in; dry-run's "would/may change" count as changed. */
const COLUMN: Record<string, keyof Omit<HostSummaryRow, 'host' | 'state' | 'durationMs'>> = {
  ok: 'ok', changed: 'changed', 'would-change': 'changed', 'may-change': 'changed', failed: 'failed',
  skipped: 'skipped', waiting: 'waiting', unreachable: 'unreachable', stale: 'failed',
};

export function summaryRows(progress: RunProgress, hosts: string[]): HostSummaryRow[] {
  return hosts.map((host) => summaryRow(host, progress.byHost[host]));
}

function summaryRow(host: string, progress: HostProgress | undefined): HostSummaryRow {
  const row: HostSummaryRow = { host, state: progress?.state ?? 'not-started', ok: 0, changed: 0, failed: 0, skipped: 0, waiting: 0, unreachable: 0 };
  for (const step of Object.values(progress?.steps ?? {})) if (step.status) row[COLUMN[step.status]]++;
  if (progress?.inFlight) row.state += ` (in flight: ${progress.inFlight.step})`;
  return progress?.durationMs !== undefined ? { ...row, durationMs: progress.durationMs } : row;
}

/** `runbook show RUN --summary`: the run's header and a table of hosts, no transcripts. */
export function renderSummary(input: Omit<TimelineInput, 'transcripts'>): string {
  const columns = ['HOST', 'OK', 'CHANGED', 'FAILED', 'SKIPPED', 'WAITING', 'UNREACHABLE', 'DURATION', 'STATE'];
  const rows = summaryRows(input.progress, input.hosts).map((r) => [
    r.host, ...[r.ok, r.changed, r.failed, r.skipped, r.waiting, r.unreachable].map(String),
    r.durationMs === undefined ? '-' : formatDuration(r.durationMs), r.state,
  ]);
  const widths = columns.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const table = [columns, ...rows].map((row) => `  ${row.map((cell, i) => pad(cell, widths[i])).join('  ').trimEnd()}`);
  return `${[...runHeader(input), '', ...table].join('\n')}\n`;
}

/** Time order; within one millisecond a step's start, then its commands, then its result. */
const RANK: Partial<Record<RunEvent['kind'], number>> = { 'host-start': 0, 'step-start': 1, command: 2, log: 2, 'step-result': 3, confirmation: 3, 'host-end': 4 };
function inTimeOrder(a: RunEvent, b: RunEvent): number {
  return a.time.localeCompare(b.time) || (RANK[a.kind] ?? 2) - (RANK[b.kind] ?? 2);
}

function runHeader({ run, progress, events }: Omit<TimelineInput, 'transcripts'>): string[] {
  const r = run.record;
  const lines = [`run ${run.id}`];
  if (r) {
    lines.push(`  runbook    ${r.runbook.name}  (${r.runbook.file}, sha256 ${r.runbook.sha256.slice(0, 12)}…)`);
    lines.push(`  inventory  ${r.inventory.source}`);
    lines.push(`  by         ${r.user} on ${r.machine} (pid ${r.pid}) at ${r.startedAt}${r.dryRun ? '  DRY-RUN' : ''}`);
    if (Object.keys(r.params).length) lines.push(`  params     ${Object.entries(r.params).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')}`);
  }
  for (const e of events) if (e.kind === 'run-start' && e.plan) lines.push(`  applied    plan ${e.plan.file} (sha256 ${e.plan.sha256})`);
  const windowEnd = events.find((e) => e.kind === 'run-start' && e.windowEnd);
  if (windowEnd?.kind === 'run-start') lines.push(`  window     no step starts after ${windowEnd.windowEnd}`);
  const counts = Object.entries(progress.counts).map(([s, n]) => `${s} ${n}`).join(', ');
  lines.push(`  status     ${progress.state}${progress.segments > 1 ? ` (after ${progress.segments - 1} resume${progress.segments > 2 ? 's' : ''})` : ''}; hosts: ${counts}`);
  for (const e of events) if (e.kind === 'warning') lines.push(`  warning    ${e.message}`);
  return lines;
}

function lineFor(event: RunEvent): string[] {
  const at = `  ${clock(event.time)}  `;
  switch (event.kind) {
    case 'step-start': return [`${at}▸ ${event.step}: ${event.title}${event.resumed ? ` (attempt ${event.attempt} resumed)` : event.attempt > 1 ? ` (attempt ${event.attempt})` : ''}${event.on ? ` (on ${event.on})` : ''}`];
    case 'step-result': {
      const trips = event.roundTrips === undefined ? '' : `, ${plural(event.roundTrips, 'round trip')}`;
      const lines = [`${at}${pad(event.step, 24)} ${pad(event.status.toUpperCase(), 12)} ${event.reason} (${formatDuration(event.durationMs)}${trips})`];
      if (event.outputs && Object.keys(event.outputs).length) lines.push(`${' '.repeat(14)}handed on: ${JSON.stringify(event.outputs)}`);
      if (event.error && event.error !== event.reason) lines.push(...indent(event.error, 14));
      if (event.diff) lines.push(...indent(event.diff.trimEnd(), 14));
      return lines;
    }
    case 'command': {
      const where = event.on !== event.host ? ` (on ${event.on})` : '';
      const status = event.timedOut ? 'timed out' : event.code ?? (event.signal ? `signal ${event.signal}` : 'no exit status');
      return [`${' '.repeat(14)}$ ${event.command}${where} → ${status} (${formatDuration(event.durationMs)})`,
        ...indent(event.stdout.trimEnd(), 16), ...indent(event.stderr.trimEnd(), 16, 'stderr: ')];
    }
    case 'confirmation': {
      const evidence = event.evidence ? ` evidence ${JSON.stringify(event.evidence)}` : '';
      return [`${at}${pad(event.step, 24)} CONFIRMED    by ${event.by}${event.note ? `: ${event.note}` : ''}${evidence}`];
    }
    case 'log': return [`${' '.repeat(14)}· ${event.message}`];
    case 'host-end': return [`${at}host ended: ${event.status} (${formatDuration(event.durationMs)})`];
    default: return [];
  }
}

/**
 * The host's round trips, step by step: at 50 ms a round trip, what a host's run waits for is
 * mostly these, one after another. Nothing for journals written before they were counted.
 */
function roundTripLine(events: RunEvent[]): string[] {
  const counted = events.filter((e): e is StepResultEvent & { roundTrips: number } => e.kind === 'step-result' && e.roundTrips !== undefined);
  if (!counted.length) return [];
  const total = counted.reduce((sum, e) => sum + e.roundTrips, 0);
  return [`${' '.repeat(14)}round trips: ${total} (${counted.map((e) => `${e.step} ${e.roundTrips}`).join(', ')})`];
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A step with no result: what its apply finished (not sent again on resume) and what it left unconfirmed. */
function inFlightLines(inFlight: InFlight): string[] {
  const lines = [`  ${clock(inFlight.since)}  ${pad(inFlight.step, 24)} IN FLIGHT   (started, no result recorded: resume re-checks it)`];
  if (inFlight.ended.length) lines.push(`${' '.repeat(14)}${inFlight.ended.length} command(s) ended, not sent again on resume: ${inFlight.ended.map((c) => c.command).join('; ')}`);
  if (inFlight.framedWith?.length) lines.push(`${' '.repeat(14)}sent in one script with ${inFlight.framedWith.join(', ')}: they may have run too (resume re-checks them)`);
  if (inFlight.unconfirmed) lines.push(`${' '.repeat(14)}sent, end not recorded (may have run): ${inFlight.unconfirmed.command}`);
  return lines;
}

function indent(text: string, width: number, prefix = ''): string[] {
  if (!text) return [];
  const lines = text.split('\n');
  const shown = lines.length > 40 ? [...lines.slice(0, 20), `… ${lines.length - 40} lines …`, ...lines.slice(-20)] : lines;
  return shown.map((l) => `${' '.repeat(width)}${prefix}${l}`);
}

const clock = (iso: string): string => iso.replace(/^.*T/, '').replace(/\.\d+Z$/, 'Z');
