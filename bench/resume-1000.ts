/**
 * How long resume takes before it can start its first new step, on a run of 1,000 hosts × 20 steps.
 *
 *   npx tsx bench/resume-1000.ts [--hosts 1000] [--steps 20] [--runs 5] [--transcripts batch|background] [--postgres]
 *
 * `--postgres`: the same on the PostgreSQL state backend, against a private server started for the
 * sitting (test/helpers/postgres.ts), with the database round trips counted.
 *
 * Builds the run through the real journal writer (all hosts at once, so group commit is exercised):
 * every host runs a few commands per step (transcripts go to hosts/<host>.jsonl), half the hosts
 * stop part-way (failed, waiting on a manual step, or simply interrupted), one has a step in flight.
 * Then times, over several runs: resolveRun (find the latest unfinished run), readJournal + the
 * progress fold + resumePlan (target < 1 s), taking the 1,000 host locks, and the two overlapped.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { RunEvent, StepStatus } from '../src/engine/events.ts';
import {
  buildRunRecord, foldProgress, newLockHolder, openStateBackend, resumePlan, type JournalWriter, type StateBackend,
} from '../src/state/index.ts';
import type { PostgresBackend } from '../src/state/postgres.ts';
import type { InventoryHost } from '../src/inventory/types.ts';
import { initPostgresState } from '../src/state/postgres.ts';
import { startPostgres, type PgServer } from '../test/helpers/postgres.ts';

const { values } = parseArgs({ options: { transcripts: { type: 'string', default: 'batch' }, hosts: { type: 'string', default: '1000' }, steps: { type: 'string', default: '20' }, runs: { type: 'string', default: '5' }, postgres: { type: 'boolean', default: false } } });
const HOSTS = Number(values.hosts);
const STEPS = Number(values.steps);
const RUNS = Number(values.runs);

const hostNames = Array.from({ length: HOSTS }, (_, i) => `xs-${String(i + 1).padStart(4, '0')}`);
const stepIds = Array.from({ length: STEPS }, (_, i) => (i === 12 ? 'confirm-ilo-reinstall' : `step-${String(i + 1).padStart(2, '0')}`));
const now = () => new Date().toISOString();

/** Where each host stops: the first half runs to the end; the rest stop somewhere, in different ways. */
function stopFor(index: number): { at: number; as: 'end' | 'failed' | 'waiting' | 'interrupted' | 'in-flight' } {
  if (index < HOSTS / 2) return { at: STEPS, as: 'end' };
  if (index === HOSTS - 1) return { at: 7, as: 'in-flight' };
  const kinds = ['failed', 'waiting', 'interrupted'] as const;
  const as = kinds[index % 3];
  return { at: as === 'waiting' ? 12 : 3 + (index % 9), as };
}

async function runHost(journal: JournalWriter, host: string, index: number): Promise<void> {
  const stop = stopFor(index);
  await journal.append({ kind: 'host-start', time: now(), host });
  for (let s = 0; s < Math.min(stop.at + 1, STEPS); s++) {
    const step = stepIds[s];
    await journal.append({ kind: 'step-start', time: now(), host, step, title: `Step ${step}`, attempt: 1 });
    if (s === stop.at && stop.as === 'in-flight') return;
    if (s === stop.at && stop.as === 'interrupted') return;
    await Promise.all([1, 2].map((n) => journal.append(commandEvent(host, step, n))));
    const status: StepStatus = s === stop.at ? (stop.as as 'failed' | 'waiting') : s % 3 === 0 ? 'changed' : 'ok';
    await journal.append({
      kind: 'step-result', time: now(), host, step, title: `Step ${step}`, status, reason: `${step}: ntpd is ${status === 'ok' ? 'stopped' : 'running'}`,
      durationMs: 120 + s, commands: [`service ntpd stop # ${step}`], outputs: { uuid: `0c1f${index}-${s}`, pool: 'pool-a', count: s },
    });
    if (s === stop.at) break;
  }
  const hostStatus = stop.as === 'end' ? 'ok' : stop.as === 'failed' ? 'failed' : 'waiting';
  if (stop.as !== 'interrupted') await journal.append({ kind: 'host-end', time: now(), host, status: hostStatus, durationMs: 5_000 });
}

function commandEvent(host: string, step: string, n: number): RunEvent {
  return {
    kind: 'command', time: now(), host, step, on: host, command: `xe host-param-get uuid=4f2a-${n} param-name=enabled`, code: 0, signal: null,
    stdout: `true\n${'line of output '.repeat(4)}\n`, stderr: '', durationMs: 35, timedOut: false,
  };
}

async function buildRun(state: StateBackend, stateDir: string): Promise<string> {
  const { id } = await state.createRun('leap-second');
  const runbookFile = path.join(stateDir, 'leap-second.ts');
  await fsp.writeFile(runbookFile, '// runbook\n'.repeat(200));
  const hosts: InventoryHost[] = hostNames.map((name, i) => ({
    name, address: `10.1.${i >> 8}.${i & 255}`, port: 22, user: 'root', connection: 'ssh', become: false, groups: ['all', 'pool-a'],
    vars: { ansible_password: 'secret', pool: 'pool-a', ntp_servers: ['0.pool', '1.pool'] }, varSources: {},
  }));
  await state.writeRunRecord(id, await buildRunRecord({ id, runbookName: 'leap-second', runbookFile, inventorySource: 'inventory/prod.yaml', hosts, params: {}, dryRun: false }));
  const journal = await state.openJournal(id, { transcriptSync: values.transcripts as 'batch' | 'background' });
  const started = performance.now();
  await journal.append({ kind: 'run-start', time: now(), runId: id, runbook: 'leap-second', hosts: hostNames, dryRun: false });
  await Promise.all(hostNames.map((host, i) => runHost(journal, host, i)));
  await journal.close();
  const stats = journal.stats();
  const size = state.where.startsWith('postgres') ? 'in the database' : `journal.jsonl ${((await fsp.stat(path.join(stateDir, 'runs', id, 'journal.jsonl'))).size / 1e6).toFixed(1)} MB`;
  console.log(`built on ${state.where} (transcripts fsync'd ${values.transcripts}): ${stats.appends} appends in ${stats.batches} batches, ${stats.syncs} fsyncs/commits, ${ms(performance.now() - started)} ms; ${size}`);
  return id;
}

/** The part of resume before its first new step. */
async function resumePrelude(state: StateBackend): Promise<Record<string, number>> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const run = await state.resolveRun();
  const record = run.record!;
  const t1 = performance.now();
  const { events, warnings } = await state.readJournal(run.id);
  const t2 = performance.now();
  const plan = resumePlan(foldProgress(events), stepIds);
  const t3 = performance.now();
  const holder = newLockHolder(run.id);
  const lease = await state.holdRun(run.id, holder);
  const locks = await state.acquireHostLocks(record.hosts, holder);
  const t4 = performance.now();
  await locks.release();
  await lease.release();
  const cpu = process.cpuUsage(cpu0);
  // Locks wait on the disk, the fold on the CPU: resume can do both at once.
  const t5 = performance.now();
  const [overlappedLocks] = await Promise.all([
    state.acquireHostLocks(record.hosts, newLockHolder(run.id)),
    state.readJournal(run.id).then((journal) => resumePlan(foldProgress(journal.events), stepIds)),
  ]);
  const t6 = performance.now();
  await overlappedLocks.release();
  if (warnings.length > 0 || plan.hosts.length !== HOSTS) throw new Error(`unexpected: ${warnings.length} warnings, ${plan.hosts.length} hosts`);
  if (JSON.stringify(resumePlan(run.progress!, stepIds)) !== JSON.stringify(plan)) throw new Error('resolveRun folded differently');
  return {
    'resolveRun (run.json, journal read+fold)': t1 - t0,
    'readJournal': t2 - t1,
    'fold+resumePlan': t3 - t2,
    'readJournal+fold+plan  <- target': t3 - t1,
    'lease + acquire 1000 locks': t4 - t3,
    'journal→plan ∥ locks (overlapped)': t6 - t5,
    // CPU time is what the code costs; wall time above also holds waiting for a disk and CPUs others share.
    'CPU of the sequential part (user+sys)': (cpu.user + cpu.system) / 1000,
  };
}

const ms = (n: number) => n.toFixed(1);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const stateDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'runbook-bench-'));
let server: PgServer | undefined;
let state: StateBackend | undefined;
try {
  state = await openBackend();
  await buildRun(state, stateDir);
  const samples: Record<string, number>[] = [];
  let peakRss = process.memoryUsage().rss;
  for (let i = 0; i < RUNS; i++) {
    const trips = roundTrips(state);
    samples.push({ ...(await resumePrelude(state)), ...(trips === undefined ? {} : { 'database round trips (count)': roundTrips(state)! - trips }) });
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  console.log(`resume prelude, ${HOSTS} hosts × ${STEPS} steps, ${RUNS} runs (ms): median / min / max`);
  for (const phase of Object.keys(samples[0])) {
    const xs = samples.map((s) => s[phase]);
    console.log(`  ${phase.padEnd(40)} ${ms(median(xs)).padStart(8)} ${ms(Math.min(...xs)).padStart(8)} ${ms(Math.max(...xs)).padStart(8)}`);
  }
  console.log(`load average ${os.loadavg().map((n) => n.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs`);
  console.log(`peak RSS ${(Math.max(peakRss, process.resourceUsage().maxRSS * 1024) / 1e6).toFixed(0)} MB`);
} finally {
  await state?.close();
  server?.destroy();
  await fsp.rm(stateDir, { recursive: true, force: true });
}

/** The folder in a temp dir, or with --postgres a database on a private server. */
async function openBackend(): Promise<StateBackend> {
  if (!values.postgres) return openStateBackend({ stateDir }, { ...process.env, RUNBOOK_STATE_URL: '' });
  server = await startPostgres();
  const url = server.url(server.createDatabase('bench'));
  const env = { ...process.env, ...server.env };
  await initPostgresState(url, { env, from: '--postgres' });
  return openStateBackend({ state: url }, env);
}

function roundTrips(backend: StateBackend): number | undefined {
  return 'roundTrips' in backend ? (backend as PostgresBackend).roundTrips : undefined;
}
