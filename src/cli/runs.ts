import { writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import type { RunEvent } from '../engine/events.ts';
import { parseParamPairs } from '../engine/validate.ts';
import type { Json } from '../runbook/check.ts';
import { pad } from '../report/style.ts';
import { renderHtmlReport, type HtmlReportInput } from '../report/html.ts';
import { confirmHints, unconfirmedWaits } from '../report/pause.ts';
import { quotePosix } from '../shell/quote.ts';
import { jsonLine } from '../report/json.ts';
import { renderSummary, renderTimeline, summaryRows } from '../report/timeline.ts';
import { describeHolder, foldProgress, type ControllerOfRun, type RunProgress, type RunSummary, type StateBackend } from '../state/index.ts';
import { controllerName } from './claims.ts';
import { loadRunbook } from './load-runbook.ts';
import { withState, type Io } from './options.ts';
import { operatorName } from './prompt.ts';
import { didYouMean } from '../suggest.ts';

export { resumeCommand } from './resume.ts';

/** `runbook runs`: newest first — id, runbook, inventory, who, when, status, hosts by state. */
export async function runsCommand(args: { stateDir?: string; state?: string; json?: boolean }, io: Io): Promise<number> {
  const { runs, controllers } = await withState(args, io, async (state) => {
    const listed = await state.listRuns();
    return { runs: listed, controllers: await controllersOfUnfinished(state, listed) };
  });
  if (args.json) {
    io.stdout.write(`${JSON.stringify(runs.map(({ record, ...r }) => ({
      ...r, runbook: record?.runbook.name, user: record?.user, startedAt: record?.startedAt, dryRun: record?.dryRun,
      ...(controllers.has(r.id) ? { controllers: controllers.get(r.id) } : {}),
    })), null, 2)}\n`);
    return 0;
  }
  if (runs.length === 0) { io.stdout.write('no runs yet\n'); return 0; }
  const rows = runs.map((run) => [
    run.id, run.record?.runbook.name ?? '?', run.record ? basename(run.record.inventory.source) : '?', run.record?.user ?? '?',
    run.record?.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z') ?? '?',
    `${run.state}${run.record?.dryRun ? ' (dry-run)' : ''}${run.resumable ? ' ⟳' : ''}`,
    Object.entries(run.counts).map(([state, n]) => `${state} ${n}`).join(', ') || (run.problem ?? ''),
  ]);
  const header = ['RUN', 'RUNBOOK', 'INVENTORY', 'WHO', 'STARTED', 'STATUS', 'HOSTS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const row of [header, ...rows]) io.stdout.write(`${row.map((c, i) => pad(c, widths[i])).join('  ').trimEnd()}\n`);
  for (const [id, list] of controllers) io.stdout.write(`\n${id}:\n${describeControllers(list)}`);
  if (runs.some((r) => r.resumable)) io.stdout.write('\n⟳ unfinished: runbook resume RUN continues it\n');
  return 0;
}

/** The controllers of each unfinished run that has any (a state database; none on the folder). */
async function controllersOfUnfinished(state: StateBackend, runs: readonly RunSummary[]): Promise<Map<string, ControllerOfRun[]>> {
  const found = new Map<string, ControllerOfRun[]>();
  for (const run of runs.filter((r) => r.state === 'unfinished' && !r.record?.dryRun)) {
    const list = holdingControllers(await state.controllersOf(run.id));
    if (list.length) found.set(run.id, list);
  }
  return found;
}

/** Controllers that are live, or died holding hosts that never ended: the ones worth naming. */
const holdingControllers = (list: ControllerOfRun[]): ControllerOfRun[] => list.filter((c) => c.live || c.running.length > 0);

/** Which controller (user, machine, pid) holds which hosts of the run, one line each. */
export function describeControllers(list: readonly ControllerOfRun[]): string {
  return list.map((c) => {
    const running = c.running.length ? `running ${c.running.join(', ')}` : 'running no host';
    const ended = c.ended.length ? `; ended ${c.ended.length} host${c.ended.length === 1 ? '' : 's'}` : '';
    const gone = c.live ? '' : ' — gone: its hosts go to the next controller that looks (runbook resume RUN --join)';
    return `  controller ${controllerName(c.holder)}${c.live ? '' : ' (gone)'}: ${running}${ended}${gone}\n`;
  }).join('');
}

/** `runbook show RUN|latest [--host H] [--json] [--summary] [--html FILE]`: the journal as a timeline, with transcripts and confirmations. */
export async function showCommand(args: { stateDir?: string; state?: string; run: string; host?: string; json?: boolean; summary?: boolean; html?: string }, io: Io): Promise<number> {
  return withState(args, io, async (state) => {
    const run = await state.resolveRun(args.run);
    const journal = await state.readJournal(run.id);
    const transcriptOf = async (host: string) => (await state.readHostTranscript(run.id, host)).events;
    const code = await showRun(args, run, journal, transcriptOf, io);
    const controllers = args.json || args.html ? [] : holdingControllers(await state.controllersOf(run.id));
    if (controllers.length) io.stdout.write(`\ncontrollers of this run now:\n${describeControllers(controllers)}`);
    return code;
  });
}

async function showRun(args: Parameters<typeof showCommand>[0], run: RunSummary, journal: { events: RunEvent[]; warnings: string[] }, transcriptOf: (host: string) => Promise<RunEvent[]>, io: Io): Promise<number> {
  const progress = foldProgress(journal.events);
  const hosts = args.host ? [args.host] : progress.hosts;
  if (args.host && !progress.byHost[args.host]) throw new UsageError(`run ${run.id} has no host ${args.host}${didYouMean(args.host, progress.hosts)} (it has: ${progress.hosts.join(', ')})`);
  if (args.summary) return showSummary({ run, progress, events: journal.events, hosts }, args.json ?? false, journal.warnings, io);
  const transcripts = new Map<string, RunEvent[]>();
  for (const host of hosts) transcripts.set(host, await transcriptOf(host));
  if (args.json) {
    const events = [...journal.events.filter((e) => !('host' in e) || !args.host || e.host === args.host), ...[...transcripts.values()].flat()];
    for (const event of events.sort((a, b) => a.time.localeCompare(b.time))) io.stdout.write(jsonLine(event));
    return 0;
  }
  for (const warning of journal.warnings) io.stderr.write(`[WARNING] ${warning}\n`);
  if (args.html) return writeHtmlReport(args.html, { run, progress, events: journal.events, transcripts, hosts, journalWarnings: journal.warnings }, io);
  io.stdout.write(renderTimeline({ run, progress, events: journal.events, transcripts, hosts }));
  if (progress.state === 'waiting') io.stdout.write(await waitingHints(run, progress, args.stateDir, io));
  return 0;
}

/** `--html FILE`: the run as one self-contained HTML file (for a change ticket, or to look at). */
async function writeHtmlReport(file: string, input: HtmlReportInput, io: Io): Promise<number> {
  const target = resolve(io.cwd, file);
  const html = renderHtmlReport(input);
  await writeFile(target, html);
  io.stdout.write(`wrote ${target} (${input.hosts.length} host${input.hosts.length === 1 ? '' : 's'}, ${Math.ceil(Buffer.byteLength(html) / 1024)} KiB)\n`);
  return 0;
}

/** A paused run's `runbook confirm` lines, evidence fields named when the runbook still loads. */
async function waitingHints(run: RunSummary, progress: RunProgress, stateDir: string | undefined, io: Io): Promise<string> {
  const steps = run.record ? await loadRunbook(run.record.runbook.file, io.cwd).then((r) => r.steps, () => undefined) : undefined;
  const lines = confirmHints({ runId: run.id, waiting: unconfirmedWaits(progress), steps, stateDir });
  return `\n${(lines.length ? lines : [`confirmed: continue with runbook resume ${run.id}${stateDir ? ` --state-dir ${quotePosix(stateDir)}` : ''}`]).join('\n')}\n`;
}

function showSummary(input: Parameters<typeof renderSummary>[0], json: boolean, warnings: string[], io: Io): number {
  if (json) {
    const { progress } = input;
    io.stdout.write(`${JSON.stringify({ run: input.run.id, state: progress.state, dryRun: progress.dryRun, hosts: summaryRows(progress, input.hosts) }, null, 2)}\n`);
    return 0;
  }
  for (const warning of warnings) io.stderr.write(`[WARNING] ${warning}\n`);
  io.stdout.write(renderSummary(input));
  return 0;
}

/** `runbook confirm RUN --host H --step ID`: record who confirmed a waiting manual step, with evidence checked by its schema. */
export async function confirmCommand(args: { stateDir?: string; state?: string; run: string; host: string; step: string; note?: string; evidence: string[] }, io: Io): Promise<number> {
  return withState(args, io, async (state) => {
    const run = await state.resolveRun(args.run);
    const event = await confirmationFor(run, args, io);
    await state.appendConfirmation(run.id, event);
    io.stdout.write(`confirmed ${args.step} on ${args.host} as ${event.by}; continue with: runbook resume ${run.id}\n`);
    return 0;
  });
}

/** The confirmation to record, once the step is a manual one the host waits at and the evidence fits its schema. */
async function confirmationFor(run: RunSummary, args: Parameters<typeof confirmCommand>[0], io: Io): Promise<Extract<RunEvent, { kind: 'confirmation' }>> {
  if (!run.record) throw new UsageError(`run ${run.id}: ${run.problem ?? 'run.json is missing'}`);
  const runbook = await loadRunbook(run.record.runbook.file, io.cwd);
  const step = runbook.steps.find((s) => s.id === args.step);
  if (!step) throw new UsageError(`runbook ${runbook.name} has no step ${args.step}${didYouMean(args.step, runbook.steps.map((s) => s.id))}`);
  if (step.kind !== 'manual') throw new UsageError(`step ${args.step} is not a manual step: the engine checks it itself`);
  const progress = run.progress!;
  const host = progress.byHost[args.host];
  if (!host) throw new UsageError(`run ${run.id} has no host ${args.host}${didYouMean(args.host, progress.hosts)}`);
  const state = host.steps[args.step];
  if (state?.status !== 'waiting' && host.inFlight?.step !== args.step) {
    throw new UsageError(`${args.host} is not waiting at ${args.step} (${state?.status ? `it is ${state.status}` : 'it has not reached it'}); confirm a step once the run waits there`);
  }
  const evidence = checkEvidence(step.evidence, args.evidence);
  const by = operatorName(io.env);
  return { kind: 'confirmation', time: new Date().toISOString(), host: args.host, step: args.step, by, ...(args.note ? { note: args.note } : {}), ...(evidence ? { evidence } : {}) };
}

function checkEvidence(schema: import('zod').ZodObject | undefined, pairs: string[]): Record<string, Json> | undefined {
  const given = parseParamPairs(pairs, {});
  if (!schema) {
    if (pairs.length) throw new UsageError('this step takes no evidence');
    return undefined;
  }
  const parsed = schema.safeParse(given);
  if (!parsed.success) throw new UsageError(`evidence not accepted:\n${parsed.error.issues.map((i) => `  ${i.path.join('.') || '(evidence)'}: ${i.message}`).join('\n')}\n  (give each field as --evidence key=value)`);
  return parsed.data as Record<string, Json>;
}

/**
 * `runbook unlock HOST --lock-id ID [--force]`: remove a lock whose holder cannot release it (another
 * machine, a lost laptop). A holder alive on this machine is refused unless --force, with a warning.
 */
export async function unlockCommand(args: { stateDir?: string; state?: string; host: string; lockId: string; force?: boolean }, io: Io): Promise<number> {
  const { holder, wasAlive } = await withState(args, io, (state) => state.forceUnlock(args.host, args.lockId, { force: args.force }));
  if (args.force && wasAlive) {
    io.stderr.write(`[WARNING] ${args.host}: broke the lock of a live process (pid ${holder.pid}, run ${holder.runId}): that run still works on ${args.host}, and another run may now start there at the same time\n`);
  }
  io.stdout.write(`unlocked ${args.host} (was held by ${describeHolder(holder)})\n`);
  return 0;
}
