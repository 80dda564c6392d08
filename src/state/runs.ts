import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HostStatus, RunEvent } from '../engine/events.ts';
import { UsageError } from '../errors.ts';
import type { InventoryHost } from '../inventory/types.ts';
import { MASK } from '../shell/command.ts';
import { DIR_MODE, fsyncDir, isErrno, makePrivateDir, mapLimited, openIfExists, readAt, writeFileAtomic, type AtomicWriteHooks } from './fsutil.ts';
import { journalPath, readJournal, type JournalContents } from './journal.ts';
import { forEachLine, decodeLine } from './lines.ts';
import { foldProgress, type HostState, type RunProgress, type RunState } from './progress.ts';

export const RUNS_DIR = 'runs';
export const RUN_RECORD_FILE = 'run.json';

/** A host as the run saw it: enough to warn on resume that the inventory changed, and no secret. */
export interface HostSnapshot {
  address: string;
  port: number;
  user?: string;
  connection: 'ssh' | 'local';
  become: boolean;
  privateKeyFile?: string;
  groups: string[];
  /** sha256 of the masked vars as canonical JSON: compare to spot a changed var (secrets excepted). */
  varsHash: string;
  /** Merged vars, every secret-looking key's value replaced by the mask. */
  vars: Record<string, unknown>;
}

/** `run.json`: who started which runbook, from which files, on which hosts, with which params. */
export interface RunRecord {
  version: 1;
  id: string;
  runbook: { name: string; file: string; sha256: string };
  inventory: { source: string; hosts: Record<string, HostSnapshot> };
  /** Params as given, secrets masked. */
  params: Record<string, unknown>;
  /** The login name; `root (sudo by ana)` when run through sudo. */
  user: string;
  machine: string;
  pid: number;
  argv: string[];
  startedAt: string;
  dryRun: boolean;
  /** Target hosts, in run order. */
  hosts: string[];
  /** The rolling policy given on the command line (`--serial`, `--max-fail-percent`), so a resume keeps it. */
  policy?: RunPolicy;
}

/** How a run rolls over its hosts, beyond the runbook's own `serial`. */
export interface RunPolicy {
  serial?: string;
  maxFailPercent?: number;
}

/**
 * A sortable, unique run id: UTC time to the second, the runbook's name, 4 random hex digits.
 * @example newRunId('leap-second') // '20261121T232500Z-leap-second-3fa9'
 */
export function newRunId(runbookName: string, now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const slug = runbookName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'run';
  return `${stamp}-${slug}-${randomBytes(2).toString('hex')}`;
}

/** The folder of a run. */
export const runDirOf = (stateDir: string, runId: string): string => path.join(stateDir, RUNS_DIR, runId);

/**
 * Creates a new run's folder (0700) under a fresh id; a clash (same second, same 4 hex digits) takes another id.
 * @example const { id, dir } = await createRunDir('.runbook', 'leap-second');
 */
export async function createRunDir(stateDir: string, runbookName: string): Promise<{ id: string; dir: string }> {
  await makePrivateDir(path.join(stateDir, RUNS_DIR));
  for (;;) {
    const id = newRunId(runbookName);
    const dir = runDirOf(stateDir, id);
    try {
      await fsp.mkdir(dir, { mode: DIR_MODE });
      // The run's folder must survive a power cut along with the journal inside it.
      await fsyncDir(path.dirname(dir));
      return { id, dir };
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
    }
  }
}

/** Keys whose values are masked: they look like a secret, unless they name a file (a key's path is no secret). */
export const isSecretKey = (key: string): boolean => /pass|secret|token|key/i.test(key) && !/(file|path|dir)$/i.test(key);

/**
 * A copy of a JSON-like value with the values of secret-looking keys (and of `extraKeys`) masked, at any depth.
 * @example maskSecretKeys({ ansible_password: 'x', port: 22 }) // { ansible_password: '********', port: 22 }
 */
export function maskSecretKeys(value: unknown, extraKeys: ReadonlySet<string> = new Set()): unknown {
  // What JSON would write: a Secret turns into the mask, a Date into its string.
  if (typeof (value as { toJSON?: unknown } | null)?.toJSON === 'function') return maskSecretKeys((value as { toJSON(): unknown }).toJSON(), extraKeys);
  if (Array.isArray(value)) return value.map((item) => maskSecretKeys(item, extraKeys));
  if (typeof value !== 'object' || value === null) return value;
  const masked: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    masked[key] = isSecretKey(key) || extraKeys.has(key) ? MASK : maskSecretKeys(item, extraKeys);
  }
  return masked;
}

/**
 * argv with the value of every secret `key=value` masked (`--param password=x`, `--param=token=x`):
 * the command line is recorded in run.json, and a secret typed on it must not reach the disk.
 * @example maskArgv(['apply', '--param', 'password=x'], []) // ['apply', '--param', 'password=********']
 */
export function maskArgv(argv: readonly string[], secretKeys: readonly string[]): string[] {
  const extra = new Set(secretKeys);
  return argv.map((arg) => arg.replace(/^((?:--?[\w-]+=)?([^=\s]+)=)[\s\S]*$/, (whole, head: string, key: string) =>
    isSecretKey(key) || extra.has(key) ? `${head}${MASK}` : whole));
}

/** JSON with object keys sorted, so equal values hash equally whatever their key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return item;
    return Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }) ?? 'null';
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/**
 * The snapshot of one inventory host for run.json. Its vars hash covers masked vars only, so no
 * secret (not even a hash one could brute-force) reaches disk; a changed password goes unnoticed.
 */
export function snapshotHost(host: InventoryHost): HostSnapshot {
  const vars = maskSecretKeys(host.vars) as Record<string, unknown>;
  return {
    address: host.address, port: host.port, user: host.user, connection: host.connection, become: host.become,
    privateKeyFile: host.privateKeyFile, groups: [...host.groups], varsHash: sha256(canonicalJson(vars)), vars,
  };
}

/** The operator: the login name, and who ran sudo when it was sudo. */
export function currentUser(): string {
  let name: string;
  try {
    name = os.userInfo().username;
  } catch {
    // No passwd entry (a container with an arbitrary uid).
    name = process.env.USER ?? `uid ${process.getuid?.() ?? '?'}`;
  }
  const sudoUser = process.env.SUDO_USER;
  return sudoUser && sudoUser !== name ? `${name} (sudo by ${sudoUser})` : name;
}

export interface RunRecordInput {
  id: string;
  runbookName: string;
  /** The runbook's file: hashed so resume can refuse a changed runbook. */
  runbookFile: string;
  inventorySource: string;
  /** The target hosts, in run order. */
  hosts: readonly InventoryHost[];
  params: Record<string, unknown>;
  /** Param keys declared secret by the runbook; secret-looking keys are masked as well. */
  secretParamKeys?: readonly string[];
  dryRun: boolean;
  argv?: readonly string[];
  policy?: RunPolicy;
  now?: Date;
}

/**
 * Builds run.json's content: hashes the runbook file, snapshots hosts, masks secrets.
 * @example await writeRunRecord(dir, await buildRunRecord({ id, runbookName: 'leap-second', runbookFile, inventorySource, hosts, params, dryRun: false }))
 */
export async function buildRunRecord(input: RunRecordInput): Promise<RunRecord> {
  return {
    version: 1,
    id: input.id,
    runbook: { name: input.runbookName, file: input.runbookFile, sha256: await hashFile(input.runbookFile) },
    inventory: { source: input.inventorySource, hosts: Object.fromEntries(input.hosts.map((h) => [h.name, snapshotHost(h)])) },
    params: maskSecretKeys(input.params, new Set(input.secretParamKeys ?? [])) as Record<string, unknown>,
    user: currentUser(),
    machine: os.hostname(),
    pid: process.pid,
    argv: maskArgv(input.argv ?? process.argv, input.secretParamKeys ?? []),
    startedAt: (input.now ?? new Date()).toISOString(),
    dryRun: input.dryRun,
    hosts: input.hosts.map((h) => h.name),
    ...(input.policy && Object.values(input.policy).some((v) => v !== undefined) && { policy: input.policy }),
  };
}

/**
 * What changed in the inventory since the run started, one line per host, for resume to warn
 * about: hosts gone, address/port/user/connection changed, vars added, removed or changed (by
 * name; secret values are masked on both sides, so a changed password does not show).
 * @example for (const line of inventoryChanges(record, hosts)) warn(line)
 */
export function inventoryChanges(record: RunRecord, current: readonly InventoryHost[]): string[] {
  const byName = new Map(current.map((h) => [h.name, h]));
  const changes: string[] = [];
  for (const name of record.hosts) {
    const before = record.inventory.hosts[name];
    const now = byName.get(name);
    if (!before) continue;
    if (!now) { changes.push(`${name}: no longer in the inventory`); continue; }
    const after = snapshotHost(now);
    const fields = (['address', 'port', 'user', 'connection', 'become'] as const).filter((f) => before[f] !== after[f]);
    const vars = before.varsHash === after.varsHash ? [] : changedKeys(before.vars, after.vars);
    if (fields.length + vars.length > 0) changes.push(`${name}: changed since the run started: ${[...fields, ...vars.map((v) => `vars.${v}`)].join(', ')}`);
  }
  return changes;
}

function changedKeys(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => canonicalJson(before[k]) !== canonicalJson(after[k])).sort();
}

/**
 * sha256 of a file's bytes, hex.
 * @example if (await hashFile(record.runbook.file) !== record.runbook.sha256) refuse()
 */
export async function hashFile(file: string): Promise<string> {
  return sha256(await fsp.readFile(file));
}

/**
 * Writes run.json atomically: a crash leaves the old record or the new one, never half of one.
 * @example await writeRunRecord(runDir, record)
 */
export async function writeRunRecord(runDir: string, record: RunRecord, hooks?: AtomicWriteHooks): Promise<void> {
  await writeFileAtomic(path.join(runDir, RUN_RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`, hooks);
}

/**
 * Reads run.json; a missing or unreadable record is a UsageError naming the folder.
 * @example const record = await readRunRecord(runDirOf(stateDir, id));
 */
export async function readRunRecord(runDir: string): Promise<RunRecord> {
  const file = path.join(runDir, RUN_RECORD_FILE);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) throw new UsageError(`${runDir} is not a run: it has no ${RUN_RECORD_FILE}`);
    throw error;
  }
  try {
    return JSON.parse(text) as RunRecord;
  } catch (error) {
    throw new UsageError(`${file} is not valid JSON (${(error as Error).message})`);
  }
}

/** One line of `runbook runs`. */
export interface RunSummary {
  id: string;
  dir: string;
  /** Undefined if run.json is missing or unreadable (see `problem`). */
  record?: RunRecord;
  state: RunState;
  finished: boolean;
  /** Not a dry-run, and not ended ok: `runbook resume` can pick it up. */
  resumable: boolean;
  counts: Partial<Record<HostState, number>>;
  /** The whole fold: always from resolveRun; from listRuns only for a run without a run-end. Resume plans from it. */
  progress?: RunProgress;
  /** What reading the journal for `progress` skipped. */
  journalWarnings?: string[];
  problem?: string;
}

/**
 * Where runs are kept, as the run queries below need it: the state folder, or a database (see
 * backend.ts). `where` names it in messages ("no run X in .runbook").
 */
export interface RunStore {
  readonly where: string;
  /** Run ids, newest first by id (to the second). */
  runIds(): Promise<string[]>;
  /** What a summary shows as the run's place: its folder, or the database and run id. */
  dirOf(id: string): string;
  /** run.json's content; a missing or unreadable record is a UsageError. */
  readRecord(id: string): Promise<RunRecord>;
  /** The last run-end, if no run-start (a resume) came after it. */
  lastRunEnd(id: string): Promise<RunEnd | undefined>;
  readJournal(id: string): Promise<JournalContents>;
}

/** The state folder as a {@link RunStore}. */
export function folderRunStore(stateDir: string): RunStore {
  return {
    where: stateDir,
    runIds: () => listRunIds(stateDir),
    dirOf: (id) => runDirOf(stateDir, id),
    readRecord: (id) => readRunRecord(runDirOf(stateDir, id)),
    lastRunEnd: (id) => lastRunEnd(journalPath(runDirOf(stateDir, id))),
    readJournal: (id) => readJournal(journalPath(runDirOf(stateDir, id))),
  };
}

/**
 * Every run under the state folder, newest first. Cheap for finished runs (run.json and the
 * journal's last 64 KiB); an unfinished run's journal is folded whole to count its hosts.
 * @example for (const run of await listRuns('.runbook')) console.log(run.id, run.state)
 */
export async function listRuns(stateDir: string): Promise<RunSummary[]> {
  return listRunsIn(folderRunStore(stateDir));
}

/** {@link listRuns} over any store. */
export async function listRunsIn(store: RunStore): Promise<RunSummary[]> {
  const ids = await store.runIds();
  // A few at a time: each unfinished run's journal is read whole, and may be megabytes.
  const settled = await mapLimited(ids, 4, (id) => summariseRun(store, id));
  return settled.map((result) => {
    if (result.status === 'rejected') throw result.reason;
    return result.value;
  }).sort(newestFirst);
}

/** Run folder names, newest first by id (to the second). */
async function listRunIds(stateDir: string): Promise<string[]> {
  try {
    const entries = await fsp.readdir(path.join(stateDir, RUNS_DIR), { withFileTypes: true });
    return entries.filter((d) => d.isDirectory()).map((d) => d.name).sort().reverse();
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    throw error;
  }
}

function newestFirst(a: RunSummary, b: RunSummary): number {
  const key = (run: RunSummary) => `${run.id.slice(0, 16)} ${run.record?.startedAt ?? ''} ${run.id}`;
  return key(a) < key(b) ? 1 : key(a) > key(b) ? -1 : 0;
}

async function summariseRun(store: RunStore, id: string): Promise<RunSummary> {
  const summary: RunSummary = { id, dir: store.dirOf(id), state: 'unfinished', finished: false, resumable: false, counts: {} };
  try {
    summary.record = await store.readRecord(id);
  } catch (error) {
    return { ...summary, problem: (error as Error).message };
  }
  const ending = await store.lastRunEnd(id);
  if (ending) {
    Object.assign(summary, { state: ending.status, finished: true, counts: countStatuses(ending.hosts) });
  } else {
    const journal = await store.readJournal(id);
    const progress = foldProgress(journal.events);
    Object.assign(summary, { state: progress.state, finished: progress.finished, counts: progress.counts, progress, journalWarnings: journal.warnings });
  }
  summary.resumable = !summary.record.dryRun && summary.state !== 'ok';
  return summary;
}

export type RunEnd = Extract<RunEvent, { kind: 'run-end' }>;

/** The run-end in the journal's tail, if no run-start (a resume) came after it. */
async function lastRunEnd(file: string): Promise<RunEnd | undefined> {
  const handle = await openIfExists(file, 'r');
  if (!handle) return undefined;
  try {
    const { size } = await handle.stat();
    const tail = await readAt(handle, Math.max(0, size - 64 * 1024), 64 * 1024);
    let ending: RunEnd | undefined;
    forEachLine(tail, (line) => {
      const decoded = decodeLine(line);
      if (!decoded.ok) return;
      if (decoded.event.kind === 'run-end') ending = decoded.event;
      if (decoded.event.kind === 'run-start') ending = undefined;
    });
    return ending;
  } finally {
    await handle.close();
  }
}

function countStatuses(hosts: Record<string, HostStatus>): Partial<Record<HostState, number>> {
  const counts: Partial<Record<HostState, number>> = {};
  for (const status of Object.values(hosts)) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

/**
 * The run a command means: none given → the newest resumable run; `latest` → the newest run,
 * finished or not; else an exact id or a unique prefix. Unlike listRuns, the summary always
 * carries the journal's fold (`progress`).
 * @example const run = await resolveRun('.runbook', '20261121T23'); // UsageError if none or several match
 */
export async function resolveRun(stateDir: string, idOrPrefix?: string): Promise<RunSummary> {
  return resolveRunIn(folderRunStore(stateDir), idOrPrefix);
}

/** {@link resolveRun} over any store. */
export async function resolveRunIn(store: RunStore, idOrPrefix?: string): Promise<RunSummary> {
  const ids = await store.runIds();
  if (idOrPrefix === undefined || idOrPrefix === '') return withProgress(store, await latestResumable(store, ids));
  if (idOrPrefix === 'latest') return withProgress(store, await latestRun(store, ids));
  const matches = ids.includes(idOrPrefix) ? [idOrPrefix] : ids.filter((id) => id.startsWith(idOrPrefix));
  if (matches.length === 1) return withProgress(store, await summariseRun(store, matches[0]));
  if (matches.length === 0) throw new UsageError(`no run ${idOrPrefix} in ${store.where} (\`runbook runs\` lists them)`);
  const shown = matches.slice(0, 5).map((id) => `  ${id}`).join('\n');
  throw new UsageError(`${matches.length} runs start with ${idOrPrefix}; give more of the id:\n${shown}${matches.length > 5 ? '\n  …' : ''}`);
}

/** The fold, for a run the summary did not fold (it ended): resume, confirm and show all need it. */
async function withProgress(store: RunStore, run: RunSummary): Promise<RunSummary> {
  if (run.progress || !run.record) return run;
  const journal = await store.readJournal(run.id);
  return { ...run, progress: foldProgress(journal.events), journalWarnings: journal.warnings };
}

/** The newest run: ids order to the second, and within that second run.json's startedAt decides. */
async function latestRun(store: RunStore, ids: readonly string[]): Promise<RunSummary> {
  if (ids.length === 0) throw new UsageError(`no runs yet in ${store.where}`);
  const second = ids.filter((id) => id.slice(0, 16) === ids[0].slice(0, 16));
  return (await Promise.all(second.map((id) => summariseRun(store, id)))).sort(newestFirst)[0];
}

/**
 * Walks runs newest first, one second's worth at a time (ids order only to the second; within it
 * run.json's startedAt decides), and stops at the first resumable one: old runs are never read.
 */
async function latestResumable(store: RunStore, ids: readonly string[]): Promise<RunSummary> {
  for (let i = 0; i < ids.length; ) {
    const second = ids[i].slice(0, 16);
    const group: string[] = [];
    for (; i < ids.length && ids[i].slice(0, 16) === second; i++) group.push(ids[i]);
    const runs = (await Promise.all(group.map((id) => summariseRun(store, id)))).sort(newestFirst);
    const found = runs.find((run) => run.resumable);
    if (found) return found;
  }
  throw new UsageError(`no unfinished run in ${store.where}${ids.length ? ' (`runbook runs` lists the finished ones)' : ''}`);
}

/**
 * Runs of this runbook that still hold any of these hosts, newest first: `apply` asks for `resume`
 * or `--fresh` if there are any. A resumable run holds a host only if it started a step there (one
 * refused before its first step, or whose hosts were all unreachable, changed nothing to resume),
 * and only until a newer run of the runbook ends ok on that host (a `--fresh` that succeeded).
 * @example const pending = await findUnfinishedRuns('.runbook', 'leap-second', ['xs-01']);
 */
export async function findUnfinishedRuns(stateDir: string, runbookName: string, hosts: readonly string[]): Promise<RunSummary[]> {
  return findUnfinishedRunsIn(folderRunStore(stateDir), runbookName, hosts);
}

/** {@link findUnfinishedRuns} over any store. */
export async function findUnfinishedRunsIn(store: RunStore, runbookName: string, hosts: readonly string[]): Promise<RunSummary[]> {
  const runs = (await listRunsIn(store)).filter((run) => run.record?.runbook.name === runbookName && !run.record.dryRun);
  const open = new Set(hosts);
  const pending: RunSummary[] = [];
  for (const run of runs) {
    const targets = run.record!.hosts.filter((h) => open.has(h));
    if (targets.length === 0) continue;
    if (run.state === 'ok') { for (const h of targets) open.delete(h); continue; }
    if (!run.resumable) continue;
    const withFold = await withProgress(store, run);
    if (targets.some((h) => startedAStep(withFold.progress, h))) pending.push(withFold);
  }
  return pending;
}

function startedAStep(progress: RunProgress | undefined, host: string): boolean {
  const steps = progress?.byHost[host]?.steps ?? {};
  return Object.values(steps).some((step) => step.attempts > 0);
}
