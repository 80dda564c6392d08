import { promises as fsp } from 'node:fs';
import type { RunEvent } from '../engine/events.ts';
import type { StateBackend } from './backend.ts';

/** What `runbook state copy` did. */
export interface CopyReport {
  copied: string[];
  /** Runs the target already has (same id): left as they are there. */
  skipped: string[];
  events: number;
  knownHostKeys: number;
}

/**
 * Copies every run (record, journal, each host's transcript) and the project known_hosts from one
 * backend to another: folder → PostgreSQL to move a team's history, or back. A run the target
 * already has is skipped, so a copy can be repeated. Host locks are not copied: they belong to
 * live runs, and a copy is made while none runs.
 * @example const report = await copyState(await openStateBackend({ stateDir: '.runbook' }), await openStateBackend({ state: url }));
 */
export async function copyState(from: StateBackend, to: StateBackend): Promise<CopyReport> {
  const report: CopyReport = { copied: [], skipped: [], events: 0, knownHostKeys: 0 };
  for (const id of (await from.runs.runIds()).reverse()) {
    const events = await copyRun(from, to, id);
    if (events === undefined) report.skipped.push(id);
    else { report.copied.push(id); report.events += events; }
  }
  report.knownHostKeys = await copyKnownHosts(from, to);
  return report;
}

/** One run; undefined if the target has it already. Returns the number of events copied. */
async function copyRun(from: StateBackend, to: StateBackend, id: string): Promise<number | undefined> {
  const record = await from.runs.readRecord(id);
  if (!(await to.adoptRun(id, record.runbook.name))) return undefined;
  await to.writeRunRecord(id, record);
  const journal = await from.readJournal(id);
  const hosts = new Set([...record.hosts, ...journal.events.flatMap((e) => ('host' in e && typeof e.host === 'string' ? [e.host] : []))]);
  const transcripts: RunEvent[] = [];
  for (const host of hosts) transcripts.push(...(await from.readHostTranscript(id, host)).events);
  const writer = await to.openJournal(id);
  try {
    // Appended in one go, in order per stream (the writer keeps the order of its appends).
    await Promise.all([...journal.events, ...transcripts].map((event) => writer.append(event)));
  } finally {
    await writer.close();
  }
  return journal.events.length + transcripts.length;
}

/** Adds the source's known_hosts lines the target lacks; returns how many. */
async function copyKnownHosts(from: StateBackend, to: StateBackend): Promise<number> {
  const source = await from.projectKnownHosts();
  const target = await to.projectKnownHosts();
  try {
    const have = new Set((await readLines(target.file)));
    const missing = (await readLines(source.file)).filter((line) => !have.has(line));
    if (missing.length) await fsp.appendFile(target.file, missing.map((line) => `${line}\n`).join(''), { mode: 0o600 });
    return missing.length;
  } finally {
    await source.save();
    await target.save();
  }
}

async function readLines(file: string): Promise<string[]> {
  const text = await fsp.readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => { if (error.code === 'ENOENT') return ''; throw error; });
  return text.split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
}
