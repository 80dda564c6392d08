import type { RunEvent } from '../engine/events.ts';
import type { RunProgress, RunSummary } from '../state/index.ts';
import { formatDuration } from './style.ts';
import { REPORT_CSS, REPORT_SCRIPT } from './html-assets.ts';

/**
 * `runbook show RUN --html FILE`: the run as ONE self-contained HTML file — a per-host timeline
 * (Gantt), the steps and commands of every host, the manual confirmations and the run header —
 * to look at after a rolling run and to attach to a change ticket.
 *
 * Pure: journal events + run record + transcripts in, one string out. No network, no external
 * asset: CSS and a small script are inline. The per-host data travels as one JSON island the
 * script renders a page of hosts at a time, so a 500-host run stays a few MB and opens quickly.
 * Everything from the journal is escaped: text in the HTML through `escapeHtml`, the JSON island
 * with `<`, `>`, `&` and line separators as \u escapes, and the script writes data only through
 * `textContent`. Secrets never reach the journal (they are masked there), so none reach the file.
 */

export interface HtmlReportInput {
  run: RunSummary;
  progress: RunProgress;
  /** The journal's events: step boundaries, confirmations, warnings (and kinds this file does not know). */
  events: RunEvent[];
  /** Per host: command transcripts and log lines. */
  transcripts: Map<string, RunEvent[]>;
  hosts: string[];
  /** What reading the journal skipped (torn lines). */
  journalWarnings?: string[];
  /** When the report was made (a parameter so output is reproducible in tests). */
  generatedAt?: string;
}

/** What one step attempt drew and showed. Times are ms since the epoch; x and w are % of the axis. */
export interface StepBar {
  step: string;
  title: string;
  /** The result's status, or `interrupted` when the run stopped inside the step (no result). */
  status: string;
  reason: string;
  error?: string;
  attempt: number;
  start: number;
  end: number;
  durationMs: number;
  on?: string;
  commands: CommandView[];
  outputs?: unknown;
  logs: string[];
  x: number;
  w: number;
}

export interface CommandView {
  command: string;
  on: string;
  exit: string;
  ok: boolean;
  durationMs: number;
  stdout: string;
  stderr: string;
}

/** Time a host spent at a manual gate: from the `waiting` result until the step ran again (or until now). */
export interface WaitSpan {
  step: string;
  start: number;
  end: number;
  open: boolean;
  x: number;
  w: number;
}

export interface ConfirmationView {
  host: string;
  step: string;
  by: string;
  time: string;
  note?: string;
  evidence?: unknown;
  x: number;
}

export interface HostView {
  name: string;
  state: string;
  /** The rolling batch the host ran in (1-based), inferred from start times; 0 when it never started. */
  batch: number;
  bars: StepBar[];
  waits: WaitSpan[];
  confirmations: ConfirmationView[];
  /** Events of kinds this report does not know, shown as they are (the first few). */
  other: string[];
  otherLeftOut: number;
}

/** One stretch of the time axis: a run segment (drawn to scale) or the pause between two (compressed when long). */
export interface AxisPiece {
  kind: 'segment' | 'pause';
  label: string;
  start: number;
  end: number;
  x: number;
  w: number;
}

export interface ReportModel {
  runId: string;
  hosts: HostView[];
  axis: AxisPiece[];
  batches: number;
}

/** Output kept per stream in the report: the journal has it all; the report must stay small. */
const OUTPUT_LIMIT = 8_000;
/** A pause longer than this share of the active time is drawn this wide instead of to scale. */
const PAUSE_COMPRESS_SHARE = 0.08;
/** Events of unknown kinds listed per host. */
const OTHER_EVENTS_SHOWN = 20;
/** The narrowest bar, so a 5 ms step is still seen and clicked. */
const MIN_BAR_WIDTH = 0.25;

/**
 * The report as one HTML document.
 * @example await writeFile('run.html', renderHtmlReport({ run, progress, events, transcripts, hosts }));
 */
export function renderHtmlReport(input: HtmlReportInput): string {
  const model = buildReportModel(input);
  const title = `runbook ${input.run.record?.runbook.name ?? ''} — run ${input.run.id}`;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // No request may leave the page, not even for a favicon; no script or style from elsewhere.
    '<link rel="icon" href="data:,">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">`,
    `<title>${escapeHtml(title)}</title>`,
    `<style>${REPORT_CSS}</style>`,
    '</head><body>',
    headerHtml(input, model),
    legendHtml(),
    confirmationsHtml(model),
    timelineHtml(model),
    '<section id="hosts" aria-label="hosts"><h2>Hosts</h2><div id="host-list"></div></section>',
    '<noscript><p class="note">The timeline and the host details are drawn by the page\'s inline script; allow scripts for this file.</p></noscript>',
    `<script type="application/json" id="report-data">${jsonForScript(model)}</script>`,
    `<script>${REPORT_SCRIPT}</script>`,
    '</body></html>',
  ].join('\n');
}

/**
 * The report's data: per host its step attempts placed on the time axis, its waits at manual
 * gates and its confirmations. Pure.
 */
export function buildReportModel(input: HtmlReportInput): ReportModel {
  const segments = segmentTimes(input.events);
  const axis = buildAxis(segments);
  const place = (time: number) => placeOnAxis(axis, time);
  const hosts = input.hosts.map((name) => hostView(name, input, place, segments));
  const batches = assignBatches(hosts, segments);
  return { runId: input.run.id, hosts, axis, batches };
}

// ---- the time axis -----------------------------------------------------------------------------

interface Segment { start: number; end: number }

/** Each run-start opens a segment; it ends at its run-end, or at its last event when the run was killed. */
function segmentTimes(events: readonly RunEvent[]): Segment[] {
  const segments: Segment[] = [];
  // A segment opened by an event before any run-start (a journal that lost its first line) is taken over by the run-start.
  let implicit = false;
  for (const event of events) {
    const time = Date.parse(event.time);
    if (Number.isNaN(time)) continue;
    if (event.kind === 'run-start' && implicit) {
      implicit = false;
      const current = segments[segments.length - 1];
      current.start = Math.min(current.start, time);
      current.end = Math.max(current.end, time);
    } else if (event.kind === 'run-start' || segments.length === 0) {
      implicit = event.kind !== 'run-start';
      segments.push({ start: time, end: time });
    } else if (event.kind !== 'confirmation') {
      const current = segments[segments.length - 1];
      current.end = Math.max(current.end, time);
    }
  }
  return segments;
}

/** Segments to scale; pauses between them to scale when short, else compressed to a fixed share and labelled. */
function buildAxis(segments: readonly Segment[]): AxisPiece[] {
  if (segments.length === 0) return [];
  const active = Math.max(1, segments.reduce((sum, s) => sum + (s.end - s.start), 0));
  const pieces: Array<Omit<AxisPiece, 'x' | 'w'> & { units: number }> = [];
  segments.forEach((segment, i) => {
    if (i > 0) {
      const pauseStart = segments[i - 1].end;
      const pause = Math.max(0, segment.start - pauseStart);
      const units = Math.min(pause, active * PAUSE_COMPRESS_SHARE);
      pieces.push({ kind: 'pause', label: `stopped ${formatDuration(pause)}`, start: pauseStart, end: segment.start, units: Math.max(units, active * 0.02) });
    }
    pieces.push({ kind: 'segment', label: i === 0 ? 'run' : `resume ${i}`, start: segment.start, end: segment.end, units: Math.max(segment.end - segment.start, active * 0.01) });
  });
  const total = pieces.reduce((sum, p) => sum + p.units, 0);
  let x = 0;
  return pieces.map(({ units, ...piece }) => {
    const w = (units / total) * 100;
    const placed = { ...piece, x: round(x), w: round(w) };
    x += w;
    return placed;
  });
}

/** Where a time falls on the axis, in % (linear inside each piece). */
function placeOnAxis(axis: readonly AxisPiece[], time: number): number {
  if (axis.length === 0) return 0;
  if (time <= axis[0].start) return 0;
  for (const piece of axis) {
    if (time > piece.end) continue;
    const span = piece.end - piece.start;
    return round(piece.x + (span > 0 ? ((time - piece.start) / span) * piece.w : 0));
  }
  return 100;
}

const round = (n: number): number => Math.round(n * 100) / 100;

/** x and width of [start, end] on the axis, never narrower than MIN_BAR_WIDTH nor past the end. */
function span(place: (t: number) => number, start: number, end: number): { x: number; w: number } {
  const x = Math.min(place(start), 100 - MIN_BAR_WIDTH);
  return { x, w: round(Math.max(place(end) - x, MIN_BAR_WIDTH)) };
}

// ---- one host ----------------------------------------------------------------------------------

type Place = (time: number) => number;
type StepStart = Extract<RunEvent, { kind: 'step-start' }>;
type StepResult = Extract<RunEvent, { kind: 'step-result' }>;
type CommandEvent = Extract<RunEvent, { kind: 'command' }>;

function hostView(name: string, input: HtmlReportInput, place: Place, segments: readonly Segment[]): HostView {
  const own = input.events.filter((e) => (e as { host?: string }).host === name);
  const transcript = input.transcripts.get(name) ?? [];
  const view: HostView = { name, state: input.progress.byHost[name]?.state ?? 'not-started', batch: 0, bars: [], waits: [], confirmations: [], other: [], otherLeftOut: 0 };
  const open = new Map<string, StepBar>();
  const lastTime = lastEventTime(input.events);
  for (const event of own) addEvent(view, open, event, place, segments);
  // A step with a start and no result: the run stopped (was killed) inside it.
  for (const bar of open.values()) {
    view.bars.push(bar);
    closeBar(bar, { status: 'interrupted', reason: 'started, no result recorded (the run stopped inside it; resume re-checks it)', end: segmentEndAt(segments, bar.start), place });
  }
  attachTranscript(view.bars, transcript);
  view.waits = waitSpans(view.bars, lastTime, place);
  view.bars.sort((a, b) => a.start - b.start);
  return view;
}

function addEvent(view: HostView, open: Map<string, StepBar>, event: RunEvent, place: Place, segments: readonly Segment[]): void {
  switch (event.kind) {
    case 'step-start': {
      // A start while one is open means the run was killed inside the step and a resume began it again.
      const stale = open.get(event.step);
      if (stale) { view.bars.push(stale); closeBar(stale, { status: 'interrupted', reason: 'started, no result recorded (the run stopped inside it)', end: segmentEndAt(segments, stale.start), place }); }
      open.set(event.step, startBar(event));
      return;
    }
    case 'step-result': {
      const bar = open.get(event.step) ?? startBar({ ...event, kind: 'step-start', attempt: 1, time: new Date(Date.parse(event.time) - event.durationMs).toISOString() });
      open.delete(event.step);
      view.bars.push(bar);
      closeBar(bar, { status: event.status, reason: event.reason, end: Date.parse(event.time), place, result: event });
      return;
    }
    case 'confirmation': view.confirmations.push({ host: event.host, step: event.step, by: event.by, time: event.time, note: event.note, evidence: event.evidence, x: place(Date.parse(event.time)) }); return;
    case 'host-start': case 'host-end': case 'warning': case 'command': case 'log': return;
    // The resume ledger's record of what an apply sent: the transcript's `command` events show the same commands with their output.
    case 'command-start': case 'command-end': return;
    // Kinds newer than this report: shown as they are, a few per host so the file stays small.
    default: if (view.other.length < OTHER_EVENTS_SHOWN) view.other.push(describeUnknown(event)); else view.otherLeftOut++;
  }
}

function startBar(event: StepStart): StepBar {
  const start = Date.parse(event.time);
  return { step: event.step, title: event.title, status: 'interrupted', reason: '', attempt: event.attempt, start, end: start, durationMs: 0, on: event.on, commands: [], logs: [], x: 0, w: 0 };
}

function closeBar(bar: StepBar, close: { status: string; reason: string; end: number; place: Place; result?: StepResult }): void {
  bar.status = close.status;
  bar.reason = close.reason;
  bar.end = Math.max(close.end, bar.start);
  bar.durationMs = close.result?.durationMs ?? 0;
  if (close.result?.error && close.result.error !== close.reason) bar.error = clip(close.result.error);
  if (close.result?.outputs && Object.keys(close.result.outputs).length) bar.outputs = close.result.outputs;
  Object.assign(bar, span(close.place, bar.start, bar.end));
}

/** Commands and log lines go to the attempt of their step that was running at their time. */
function attachTranscript(bars: StepBar[], transcript: readonly RunEvent[]): void {
  for (const event of transcript) {
    const step = (event as { step?: string }).step;
    const time = Date.parse(event.time);
    const candidates = bars.filter((b) => b.step === step && b.start <= time + 1);
    const bar = candidates[candidates.length - 1] ?? bars.find((b) => b.step === step);
    if (!bar) continue;
    if (event.kind === 'command') bar.commands.push(commandView(event));
    else if (event.kind === 'log') bar.logs.push(clip(event.message));
  }
}

function commandView(event: CommandEvent): CommandView {
  const exit = event.timedOut ? 'timed out' : event.code !== null ? `exit ${event.code}` : event.signal ? `signal ${event.signal}` : 'no exit status';
  return { command: event.command, on: event.on, exit, ok: event.code === 0, durationMs: event.durationMs, stdout: clip(event.stdout), stderr: clip(event.stderr) };
}

/** A `waiting` result holds the host until its step starts again (the resume after a confirmation), or until the report's last event. */
function waitSpans(bars: readonly StepBar[], lastTime: number, place: Place): WaitSpan[] {
  return bars.filter((b) => b.status === 'waiting').map((wait) => {
    const next = bars.find((b) => b.start >= wait.end && b !== wait);
    const end = next ? next.start : lastTime;
    return { step: wait.step, start: wait.end, end, open: !next, ...span(place, wait.end, end) };
  });
}

/** The end of the segment a time falls in: where a killed run's open step stopped. */
function segmentEndAt(segments: readonly Segment[], time: number): number {
  const segment = [...segments].reverse().find((s) => s.start <= time);
  return segment ? segment.end : time;
}

function lastEventTime(events: readonly RunEvent[]): number {
  let last = 0;
  for (const e of events) last = Math.max(last, Date.parse(e.time) || 0);
  return last;
}

/**
 * Rolling batches are not journaled; they show in the start times. Within each segment (a run or
 * a resume) hosts form waves: a new wave begins when a host starts after every host started before
 * it has ended. A wave with a host new to the run is a batch: it takes the batch of a host it ran
 * beside (a resumed batch going on), else the next number. A host keeps the batch it first ran in.
 */
function assignBatches(hosts: HostView[], segments: readonly Segment[]): number {
  let batch = 0;
  for (const segment of segments) {
    for (const wave of wavesIn(hosts, segment)) {
      const fresh = wave.filter((h) => h.batch === 0);
      if (fresh.length === 0) continue;
      const joined = wave.find((h) => h.batch !== 0)?.batch ?? ++batch;
      for (const host of fresh) host.batch = joined;
    }
  }
  return batch;
}

function wavesIn(hosts: readonly HostView[], segment: Segment): HostView[][] {
  const inSegment = (b: StepBar) => b.start >= segment.start && b.start <= segment.end;
  const entries = hosts.flatMap((host) => {
    const bars = host.bars.filter(inSegment);
    return bars.length ? [{ host, start: bars[0].start, end: Math.max(...bars.map((b) => b.end)) }] : [];
  }).sort((a, b) => a.start - b.start);
  const waves: HostView[][] = [];
  let latestEnd = -Infinity;
  for (const entry of entries) {
    if (entry.start >= latestEnd) waves.push([]);
    waves[waves.length - 1].push(entry.host);
    latestEnd = Math.max(latestEnd, entry.end);
  }
  return waves;
}

function describeUnknown(event: RunEvent): string {
  const { kind, time, ...rest } = event as { kind: string; time: string };
  return clip(`${time} ${kind} ${JSON.stringify(rest)}`);
}

function clip(text: string): string {
  if (text.length <= OUTPUT_LIMIT) return text;
  const half = OUTPUT_LIMIT / 2;
  return `${text.slice(0, half)}\n… ${text.length - OUTPUT_LIMIT} characters cut here (the run's hosts/*.jsonl has them all) …\n${text.slice(-half)}`;
}

// ---- the static parts --------------------------------------------------------------------------

/** Text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON that cannot end its <script> element nor be read as HTML. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const STATUS_TEXT: Record<string, [symbol: string, words: string]> = {
  ok: ['✓', 'ok'], changed: ['Δ', 'changed'], failed: ['✗', 'failed'], skipped: ['–', 'skipped'],
  unreachable: ['⊘', 'unreachable'], waiting: ['‖', 'waiting for a human'], 'would-change': ['~', 'would change (dry-run)'],
  'may-change': ['?', 'may change (dry-run)'], interrupted: ['↯', 'interrupted (no result)'], stale: ['≠', 'stale (check no longer matches the plan)'],
};

function headerHtml(input: HtmlReportInput, model: ReportModel): string {
  const r = input.run.record;
  const p = input.progress;
  const rows: Array<[string, string]> = [];
  if (r) {
    rows.push(['runbook', `${escapeHtml(r.runbook.name)} <span class="dim">${escapeHtml(r.runbook.file)}</span>`]);
    rows.push(['runbook sha256', `<code>${escapeHtml(r.runbook.sha256)}</code>`]);
    rows.push(['inventory', escapeHtml(r.inventory.source)]);
    rows.push(['params', paramsHtml(r.params)]);
    rows.push(['by', `${escapeHtml(r.user)} on ${escapeHtml(r.machine)} (pid ${r.pid})`]);
    rows.push(['command', `<code>${escapeHtml(['runbook', ...r.argv].join(' '))}</code>`]);
    if (r.dryRun) rows.push(['mode', '<strong>DRY-RUN</strong>: checks only, nothing changed']);
  } else {
    rows.push(['run record', escapeHtml(input.run.problem ?? 'run.json is missing')]);
  }
  rows.push(['started', escapeHtml(p.startedAt ?? r?.startedAt ?? '?')]);
  rows.push(['segments', segmentsHtml(model.axis)]);
  rows.push(['status', `${badge(p.state)} hosts: ${Object.entries(p.counts).map(([s, n]) => `${badge(s)} ${n}`).join(' ')}`]);
  const waited = model.hosts.flatMap((h) => h.waits).reduce((sum, w) => sum + (w.end - w.start), 0);
  if (waited > 0) rows.push(['waiting for a human', `${escapeHtml(formatDuration(waited))} in total, over ${model.hosts.flatMap((h) => h.waits).length} manual gate(s)`]);
  if (model.batches > 1) rows.push(['batches', `${model.batches}, inferred from start times (each began once the one before it had ended)`]);
  // Plans do not exist yet; the row is kept so a ticket reader sees the question was asked.
  rows.push(['plan applied', 'none']);
  const warnings = [...(input.journalWarnings ?? []), ...input.events.flatMap((e) => (e.kind === 'warning' ? [`${e.host ? `${e.host}: ` : ''}${e.message}`] : []))];
  return `<header id="run-header"><h1>${escapeHtml(r?.runbook.name ?? 'run')} <span class="dim">run ${escapeHtml(input.run.id)}</span></h1>
<dl class="facts">${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${v}</dd>`).join('')}</dl>
${warnings.length ? `<h2>Warnings</h2><ul class="warnings">${warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul>` : ''}
<p class="dim small">Report made ${escapeHtml(input.generatedAt ?? new Date().toISOString())} by <code>runbook show --html</code>. All times UTC.</p></header>`;
}

function paramsHtml(params: Record<string, unknown>): string {
  const entries = Object.entries(params);
  if (entries.length === 0) return '<span class="dim">none</span>';
  return entries.map(([k, v]) => `<code>${escapeHtml(k)}=${escapeHtml(typeof v === 'string' ? v : JSON.stringify(v) ?? '')}</code>`).join(' ');
}

function segmentsHtml(axis: readonly AxisPiece[]): string {
  const segments = axis.filter((a) => a.kind === 'segment');
  const resumes = segments.length - 1;
  const items = segments.map((s) => `${escapeHtml(s.label)} ${escapeHtml(isoClock(s.start))}–${escapeHtml(isoClock(s.end))} (${escapeHtml(formatDuration(s.end - s.start))})`);
  return `${resumes === 0 ? 'one run, no resume' : `${resumes} resume${resumes > 1 ? 's' : ''}`}: ${items.join('; ')}`;
}

const isoClock = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');

function badge(status: string): string {
  const [symbol, words] = STATUS_TEXT[status] ?? ['•', status];
  return `<span class="badge s-${escapeHtml(status)}"><span aria-hidden="true">${symbol}</span> ${escapeHtml(words)}</span>`;
}

function legendHtml(): string {
  const items = Object.keys(STATUS_TEXT).map((status) => `<li><span class="swatch bar s-${status}" aria-hidden="true">${STATUS_TEXT[status][0]}</span> ${escapeHtml(STATUS_TEXT[status][1])}</li>`);
  items.push('<li><span class="swatch wait" aria-hidden="true"></span> time waiting at a manual gate</li>');
  items.push('<li><span class="swatch confirm-mark" aria-hidden="true">◆</span> a confirmation</li>');
  items.push('<li><span class="swatch pause-mark" aria-hidden="true"></span> the run was stopped (between segments)</li>');
  return `<section aria-label="legend"><ul class="legend">${items.join('')}</ul></section>`;
}

function confirmationsHtml(model: ReportModel): string {
  const all = model.hosts.flatMap((h) => h.confirmations).sort((a, b) => a.time.localeCompare(b.time));
  if (all.length === 0) return '<section id="confirmations"><h2>Manual confirmations</h2><p class="dim">none</p></section>';
  const rows = all.map((c) => `<tr><td class="when">${escapeHtml(isoClock(Date.parse(c.time)))}</td><td>${escapeHtml(c.host)}</td><td>${escapeHtml(c.step)}</td><td>${escapeHtml(c.by)}</td><td>${escapeHtml(c.note ?? '')}</td><td>${c.evidence && Object.keys(c.evidence).length ? `<code>${escapeHtml(JSON.stringify(c.evidence))}</code>` : ''}</td></tr>`);
  return `<section id="confirmations"><h2>Manual confirmations</h2><table class="confirmations"><thead><tr><th>when</th><th>host</th><th>step</th><th>who</th><th>note</th><th>evidence</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function timelineHtml(model: ReportModel): string {
  const axis = model.axis.map((a) => `<div class="axis-piece ${a.kind}" style="left:${a.x}%;width:${a.w}%" title="${escapeHtml(`${a.label}: ${isoClock(a.start)} – ${isoClock(a.end)}`)}"><span>${escapeHtml(a.kind === 'pause' ? a.label : `${a.label} ${isoClock(a.start).slice(11)}`)}</span></div>`);
  return `<section id="timeline" aria-label="timeline"><h2>Timeline</h2>
<div class="controls"><label>Find <input id="filter" type="search" placeholder="host, step, command or output" autocomplete="off"></label>
<label>Status <select id="status-filter"><option value="">any</option>${Object.keys(STATUS_TEXT).map((s) => `<option value="${s}">${escapeHtml(STATUS_TEXT[s][1])}</option>`).join('')}</select></label>
<span class="pager"><button id="prev" type="button">◀ previous</button> <span id="page-label"></span> <button id="next" type="button">next ▶</button></span>
<span id="match-count" class="dim"></span></div>
<div class="gantt"><div class="row axis"><div class="label">host</div><div class="track">${axis.join('')}</div></div><div id="rows"></div></div>
</section>`;
}
