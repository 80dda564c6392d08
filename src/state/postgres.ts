/**
 * The PostgreSQL state backend, for a team: runs, journals, transcripts, confirmations, host locks
 * and the project known_hosts in one database every operator's machine reaches. The only module
 * that imports `pg` (node-postgres).
 *
 * What guarantees the journal: each batch of events is one INSERT, so one transaction, committed
 * with the server's WAL flush (synchronous_commit, on by default) before `append` resolves. A
 * committed event is never lost or torn (the database's own guarantee, so no per-line checksum);
 * events of a run are ordered by an identity column, which follows each writer's order of appends.
 *
 * Locks belong to runs: a host lock is a row naming its run and a random lock id. A live process
 * holds its run by a lease: a session-level advisory lock on the run id, held by a connection of
 * its own. The server drops it when that process (or its connection) dies, so "is this run live?"
 * has a true answer from any machine; a dead run keeps its host locks until it is resumed,
 * finished, or unlocked with the lock id.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { RunEvent } from '../engine/events.ts';
import { RunbookError, UsageError } from '../errors.ts';
import {
  heldBy, StateUnavailableError, type ClaimTable, type ClaimView, type ControllerOfRun, type ProjectKnownHosts, type RunLease, type StateBackend, type UnlockResult,
} from './backend.ts';
import { FILE_MODE } from './fsutil.ts';
import {
  isTranscriptEvent, type ConfirmationEvent, type JournalContents, type JournalOptions, type JournalStats, type JournalWriter, type TranscriptEvent,
} from './journal.ts';
import { currentUser, findUnfinishedRunsIn, listRunsIn, newRunId, resolveRunIn, type RunEnd, type RunRecord, type RunStore, type RunSummary } from './runs.ts';
import { describeHolder, LockError, type HostLocks, type LockHolder } from './locks.ts';

/**
 * The schema, one migration per version, applied in order by `runbook state init`. Append only:
 * a released migration is never edited (a database at that version already ran it).
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE runbook_runs (
     id text PRIMARY KEY,
     runbook text NOT NULL,
     record text,
     created_at timestamptz NOT NULL DEFAULT now());
   CREATE TABLE runbook_events (
     id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     run_id text NOT NULL REFERENCES runbook_runs (id) ON DELETE CASCADE,
     stream text NOT NULL,
     kind text NOT NULL,
     body text NOT NULL);
   CREATE INDEX runbook_events_by_stream ON runbook_events (run_id, stream, id);
   CREATE INDEX runbook_events_boundaries ON runbook_events (run_id, id) WHERE stream = '' AND kind IN ('run-start', 'run-end');
   CREATE TABLE runbook_host_locks (
     host text PRIMARY KEY,
     run_id text NOT NULL,
     lock_id text NOT NULL,
     holder text NOT NULL);
   CREATE TABLE runbook_run_leases (
     run_id text PRIMARY KEY,
     holder text NOT NULL);
   CREATE TABLE runbook_known_hosts (
     line text PRIMARY KEY,
     added_by text NOT NULL,
     added_at timestamptz NOT NULL DEFAULT now());`,
  // Several controllers on one run (resume --join): each live one is a row here and holds its own
  // advisory lock; a host of the run is taken by one of them at a time, as a claim row.
  `DROP TABLE runbook_run_leases;
   CREATE TABLE runbook_controllers (
     run_id text NOT NULL,
     controller text NOT NULL,
     holder text NOT NULL,
     PRIMARY KEY (run_id, controller));
   CREATE TABLE runbook_host_claims (
     run_id text NOT NULL,
     host text NOT NULL,
     controller text NOT NULL,
     status text,
     PRIMARY KEY (run_id, host));`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
/** The journal stream of a run; a host's transcript is the stream named after the host. */
const JOURNAL_STREAM = '';
/** `state init` holds this transaction-level advisory lock, so two inits never migrate at once. */
const INIT_LOCK = 0x52554e42; // "RUNB"

interface OpenOptions {
  env: NodeJS.ProcessEnv;
  /** Which flag or variable gave the URL, for messages. */
  from: string;
}

/**
 * Connects to the database a `postgres://` URL names and checks its schema version. The password
 * never comes from the URL (it would sit in shell history and `ps`): PGPASSWORD or ~/.pgpass.
 * @example const state = await openPostgresBackend('postgres://ops@db/runbook', { env, from: '--state' });
 */
export async function openPostgresBackend(url: string, options: OpenOptions): Promise<PostgresBackend> {
  const backend = new PostgresBackend(url, options);
  try {
    await backend.checkSchema();
  } catch (error) {
    await backend.close();
    throw error;
  }
  return backend;
}

/**
 * Creates or migrates the schema to this program's version; refuses a database whose schema is
 * newer than this program knows. Returns the versions before and after.
 * @example await initPostgresState('postgres://ops@db/runbook', { env, from: '--state' }) // { from: 0, to: 1 }
 */
export async function initPostgresState(url: string, options: OpenOptions): Promise<{ from: number; to: number; where: string }> {
  const backend = new PostgresBackend(url, options);
  try {
    return { ...(await backend.migrate()), where: backend.where };
  } finally {
    await backend.close();
  }
}

/**
 * The URL as given, checked: postgres:// or postgresql://, no password; and the same URL safe to
 * print. A URL that cannot be parsed is a UsageError that does not echo it (it may hold a secret).
 */
export function checkStateUrl(url: string, from: string): { printable: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${from}: not a URL; give postgres://USER@HOST[:PORT]/DATABASE`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new UsageError(`${from}: ${parsed.protocol}// is not a state backend; give postgres://USER@HOST[:PORT]/DATABASE (or --state-dir DIR for a folder)`);
  }
  if (parsed.password) {
    throw new UsageError(`${from}: the URL holds a password; it would be seen in shell history and by ps. ` +
      'Give the URL without it and the password in PGPASSWORD or ~/.pgpass');
  }
  return { printable: `${parsed.protocol}//${parsed.username ? `${parsed.username}@` : ''}${parsed.host}${parsed.pathname}${parsed.search}` };
}

/**
 * The URL's parts as pg's config, each left out when the URL leaves it out, so pg falls back to
 * PGHOST, PGPORT, PGUSER, PGDATABASE and ~/.pgpass as libpq does. `?host=/dir` is a unix socket.
 * The password comes from the command's environment (PGPASSWORD) or ~/.pgpass, never the URL.
 */
function connectionFields(url: string, env: NodeJS.ProcessEnv): pg.PoolConfig {
  const parsed = new URL(url);
  const host = parsed.searchParams.get('host') ?? (parsed.hostname ? decodeURIComponent(parsed.hostname).replace(/^\[|\]$/g, '') : undefined);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  return {
    ...(host ? { host } : {}),
    ...(parsed.port ? { port: Number(parsed.port) } : {}),
    ...(parsed.username ? { user: decodeURIComponent(parsed.username) } : {}),
    ...(database ? { database } : {}),
    ...(env.PGPASSWORD ? { password: env.PGPASSWORD } : {}),
  };
}

/** Error codes (SQLSTATE or Node's) that mean the server cannot be reached or went away. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', '57P01', '57P02', '57P03']);

/** What went wrong, in the operator's words; the URL shown without any secret. */
function explain(error: unknown, where: string): Error {
  if (error instanceof RunbookError) return error;
  const code = (error as { code?: string }).code ?? '';
  const message = (error as Error).message ?? String(error);
  if (code === '28P01' || code === '28000') return new UsageError(`the state database ${where} refused the login: ${message} (the password comes from PGPASSWORD or ~/.pgpass)`);
  if (code === '3D000') return new UsageError(`the state database ${where} does not exist: ${message} (create it with createdb, then runbook state init)`);
  if (code === '42P01') return new UsageError(`${where} has no runbook schema yet: run runbook state init --state ${where}`);
  if (UNREACHABLE.has(code) || code.startsWith('08') || /Connection terminated|connection timeout|timeout expired/i.test(message)) {
    return new StateUnavailableError(`cannot reach the state database ${where}: ${message || code}`);
  }
  return error as Error;
}

const parseJson = <T>(text: string): T => JSON.parse(text) as T;

export class PostgresBackend implements StateBackend {
  readonly where: string;
  readonly sharesRuns = true;
  readonly runs: RunStore;
  readonly #pool: pg.Pool;
  readonly #config: pg.PoolConfig;
  /** Runs whose lease connection failed: their writers stop, since another process may now take the run. */
  readonly #lostLeases = new Map<string, Error>();

  constructor(url: string, options: OpenOptions) {
    this.where = checkStateUrl(url, options.from).printable;
    // pg reads PGHOST, PGUSER, PGPASSWORD, PGDATABASE… itself, and ~/.pgpass when no password is given.
    this.#config = { ...connectionFields(url, options.env), max: 4, keepAlive: true, connectionTimeoutMillis: 10_000, application_name: 'runbook' };
    this.#pool = new pg.Pool(this.#config);
    // An idle connection that breaks must not crash the process; the next query reports it.
    this.#pool.on('error', () => undefined);
    this.runs = new PostgresRunStore(this);
  }

  /** Statements sent so far (the benchmark reports round trips per step). */
  roundTrips = 0;

  /** One query on a pooled connection, its failure explained. */
  async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    this.roundTrips++;
    try {
      return (await this.#pool.query<R>(sql, params)).rows;
    } catch (error) {
      throw explain(error, this.where);
    }
  }

  /** `work` in one transaction on one connection: all of it commits, or none. */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw explain(error, this.where);
    }
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw explain(error, this.where);
    } finally {
      client.release();
    }
  }

  async checkSchema(): Promise<void> {
    const version = await this.#schemaVersion();
    if (version === SCHEMA_VERSION) return;
    if (version === 0) throw new UsageError(`${this.where} has no runbook schema yet: run runbook state init --state ${this.where}`);
    if (version < SCHEMA_VERSION) throw new UsageError(`${this.where} has schema version ${version}, this runbook needs ${SCHEMA_VERSION}: run runbook state init --state ${this.where} to migrate it`);
    throw newerSchema(this.where, version);
  }

  async #schemaVersion(): Promise<number> {
    const rows = await this.query<{ version: number | null }>(
      "SELECT CASE WHEN to_regclass('runbook_schema') IS NULL THEN 0 ELSE (SELECT max(version) FROM runbook_schema) END AS version");
    return rows[0]?.version ?? 0;
  }

  async migrate(): Promise<{ from: number; to: number }> {
    return this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [INIT_LOCK]);
      await client.query('CREATE TABLE IF NOT EXISTS runbook_schema (version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
      const from = (await client.query<{ v: number | null }>('SELECT max(version) AS v FROM runbook_schema')).rows[0]?.v ?? 0;
      if (from > SCHEMA_VERSION) throw newerSchema(this.where, from);
      for (let version = from + 1; version <= SCHEMA_VERSION; version++) {
        await client.query(MIGRATIONS[version - 1]);
        await client.query('INSERT INTO runbook_schema (version) VALUES ($1)', [version]);
      }
      return { from, to: SCHEMA_VERSION };
    });
  }

  async createRun(runbookName: string): Promise<{ id: string; dir: string }> {
    for (;;) {
      const id = newRunId(runbookName);
      const rows = await this.query('INSERT INTO runbook_runs (id, runbook) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING id', [id, runbookName]);
      if (rows.length === 1) return { id, dir: this.runs.dirOf(id) };
    }
  }

  async adoptRun(runId: string, runbookName: string): Promise<boolean> {
    const rows = await this.query('INSERT INTO runbook_runs (id, runbook) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING id', [runId, runbookName]);
    return rows.length === 1;
  }

  async writeRunRecord(runId: string, record: RunRecord): Promise<void> {
    await this.query('UPDATE runbook_runs SET record = $2 WHERE id = $1', [runId, JSON.stringify(record, null, 2)]);
  }

  async discardRun(runId: string): Promise<void> {
    await this.query('DELETE FROM runbook_runs WHERE id = $1', [runId]);
  }

  async openJournal(runId: string, _options?: JournalOptions): Promise<JournalWriter> {
    return new PostgresJournalWriter(this, runId);
  }

  /** Throws if this process lost the lease of the run: it may no longer write as its owner. */
  checkLease(runId: string): void {
    const lost = this.#lostLeases.get(runId);
    if (lost) throw new StateUnavailableError(`lost the hold on run ${runId} (${lost.message}): no new step is recorded; resume it once the database is back`);
  }

  async readJournal(runId: string): Promise<JournalContents> {
    return this.#readStream(runId, JOURNAL_STREAM);
  }

  async readHostTranscript(runId: string, host: string): Promise<JournalContents<TranscriptEvent>> {
    return this.#readStream(runId, host) as Promise<JournalContents<TranscriptEvent>>;
  }

  async #readStream(runId: string, stream: string): Promise<JournalContents> {
    const rows = await this.query<{ body: string }>('SELECT body FROM runbook_events WHERE run_id = $1 AND stream = $2 ORDER BY id', [runId, stream]);
    return { events: rows.map((row) => parseJson<RunEvent>(row.body)), warnings: [], lastSeq: rows.length };
  }

  async appendConfirmation(runId: string, event: ConfirmationEvent): Promise<void> {
    const rows = await this.query(
      'INSERT INTO runbook_events (run_id, stream, kind, body) SELECT id, $2, $3, $4 FROM runbook_runs WHERE id = $1 RETURNING id',
      [runId, JOURNAL_STREAM, event.kind, JSON.stringify(event)]);
    if (rows.length === 0) throw new UsageError(`run ${runId} is not in ${this.where}`);
  }

  listRuns(): Promise<RunSummary[]> { return listRunsIn(this.runs); }
  resolveRun(idOrPrefix?: string): Promise<RunSummary> { return resolveRunIn(this.runs, idOrPrefix); }
  findUnfinishedRuns(runbookName: string, hosts: readonly string[]): Promise<RunSummary[]> { return findUnfinishedRunsIn(this.runs, runbookName, hosts); }

  /**
   * Takes the run's lease. Every controller of a run holds the run's advisory lock shared, and one
   * of its own (exclusive); `runbook_controllers` names them. A controller that finds nobody else
   * (the exclusive lock is free) starts a new sitting: it clears the claims of controllers gone
   * before, then keeps the lock shared so others may `--join`. Without `join`, a run held by a live
   * controller is refused, naming it.
   */
  async holdRun(runId: string, holder: LockHolder, options: { join?: boolean } = {}): Promise<RunLease> {
    const client = new pg.Client({ ...this.#config, options: LEASE_KEEPALIVES });
    client.on('error', (error) => { this.#lostLeases.set(runId, error); });
    try {
      await client.connect();
      await this.#takeRunLock(client, runId, options.join ?? false);
      await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [controllerKey(runId, holder.lockId)]);
      await client.query('INSERT INTO runbook_controllers (run_id, controller, holder) VALUES ($1, $2, $3)', [runId, holder.lockId, JSON.stringify(holder)]);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw explain(error, this.where);
    }
    return { release: () => this.#releaseLease(client, runId, holder) };
  }

  async #takeRunLock(client: pg.Client, runId: string, join: boolean): Promise<void> {
    const key = leaseKey(runId);
    const alone = (await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [key])).rows[0].ok;
    if (alone) {
      // Nobody else works on the run: what controllers that are gone claimed is history.
      await client.query('DELETE FROM runbook_host_claims WHERE run_id = $1', [runId]);
      await client.query('DELETE FROM runbook_controllers WHERE run_id = $1', [runId]);
      await client.query('SELECT pg_advisory_lock_shared(hashtextextended($1, 0))', [key]);
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key]);
      return;
    }
    if (!join) throw await this.#runHeld(runId);
    const shared = (await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock_shared(hashtextextended($1, 0)) AS ok', [key])).rows[0].ok;
    // Held exclusively only for the moment a first controller sets its sitting up.
    if (!shared) throw new LockError(`run ${runId} is being started by another controller right now: run resume --join again`, '');
  }

  async #releaseLease(client: pg.Client, runId: string, holder: LockHolder): Promise<void> {
    try {
      await client.query('DELETE FROM runbook_controllers WHERE run_id = $1 AND controller = $2', [runId, holder.lockId]);
    } catch (error) {
      // The database is gone: so are the advisory locks, with the connection.
      throw explain(error, this.where);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async #runHeld(runId: string): Promise<Error> {
    const live = (await this.controllersOf(runId)).filter((c) => c.live);
    const who = live.length ? live.map((c) => describeHolder(c.holder)).join('; and ') : 'a process whose lease row is not written yet';
    return new LockError(`run ${runId} is held by ${who}: it is running now; wait for it to end, stop it there, or share it: runbook resume ${runId} --join`, '', live[0]?.holder);
  }

  /** Whether a live process holds the run's lease: its advisory lock cannot be taken (a transaction-level try releases at once). */
  async #isLeased(runId: string): Promise<boolean> {
    const rows = await this.query<{ free: boolean }>('SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS free', [leaseKey(runId)]);
    return !rows[0].free;
  }

  /** The controllers of the run's sitting, live or gone, and the hosts each claimed. */
  async controllersOf(runId: string): Promise<ControllerOfRun[]> {
    const rows = await this.query<{ holder: string; live: boolean; running: string[]; ended: string[] }>(
      `SELECT c.holder, NOT pg_try_advisory_xact_lock(hashtextextended($2 || c.controller, 0)) AS live,
         coalesce((SELECT array_agg(h.host ORDER BY h.host) FROM runbook_host_claims h WHERE h.run_id = c.run_id AND h.controller = c.controller AND h.status IS NULL), '{}') AS running,
         coalesce((SELECT array_agg(h.host ORDER BY h.host) FROM runbook_host_claims h WHERE h.run_id = c.run_id AND h.controller = c.controller AND h.status IS NOT NULL), '{}') AS ended
       FROM runbook_controllers c WHERE c.run_id = $1 ORDER BY c.holder::json->>'since'`, [runId, controllerKey(runId, '')]);
    return rows.map((row) => ({ holder: parseJson<LockHolder>(row.holder), live: row.live, running: row.running, ended: row.ended }));
  }

  /** The run's hosts shared among its controllers (see ClaimTable); `holder` is this controller. */
  claimTable(runId: string, holder: LockHolder): ClaimTable {
    return new PostgresClaims(this, runId, holder.lockId);
  }

  async acquireHostLocks(hosts: readonly string[], holder: LockHolder): Promise<HostLocks> {
    await this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [membersKey(holder.runId)]);
      // Of racing runs, the first insert of a host wins; a later one finds the row (waiting for the
      // first to commit) and takes it only if it belongs to its own run (a resume of a dead run, or
      // a controller joining the run).
      const { rows } = await client.query<{ host: string }>(
        `INSERT INTO runbook_host_locks (host, run_id, lock_id, holder) SELECT unnest($1::text[]), $2, $3, $4
         ON CONFLICT (host) DO UPDATE SET lock_id = EXCLUDED.lock_id, holder = EXCLUDED.holder
         WHERE runbook_host_locks.run_id = EXCLUDED.run_id RETURNING host`,
        [[...hosts], holder.runId, holder.lockId, JSON.stringify(holder)]);
      const taken = new Set(rows.map((row) => row.host));
      const host = hosts.find((h) => !taken.has(h));
      if (host === undefined) return;
      // Thrown inside the transaction: it rolls back, so the hosts taken before it are not kept.
      const held = await client.query<{ holder: string }>('SELECT holder FROM runbook_host_locks WHERE host = $1', [host]);
      const other = parseJson<LockHolder>(held.rows[0].holder);
      throw heldBy(host, other, await this.#isLeased(other.runId));
    });
    return { warnings: [], release: () => this.#releaseHostLocks(hosts, holder) };
  }

  /**
   * Host locks belong to the run: the last of its controllers to leave frees them (one that joins
   * meanwhile waits on the members lock, then takes them again).
   */
  async #releaseHostLocks(hosts: readonly string[], holder: LockHolder): Promise<void> {
    await this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [membersKey(holder.runId)]);
      const others = await client.query(
        'SELECT 1 FROM runbook_controllers WHERE run_id = $1 AND controller <> $2 AND NOT pg_try_advisory_xact_lock(hashtextextended($3 || controller, 0)) LIMIT 1',
        [holder.runId, holder.lockId, controllerKey(holder.runId, '')]);
      if (others.rows.length > 0) return;
      await client.query('DELETE FROM runbook_host_locks WHERE host = ANY($1::text[]) AND run_id = $2', [[...hosts], holder.runId]);
    });
  }

  async liveHolderOf(runId: string): Promise<LockHolder | undefined> {
    if (!(await this.#isLeased(runId))) return undefined;
    const controllers = await this.controllersOf(runId);
    return (controllers.find((c) => c.live) ?? controllers[0])?.holder;
  }

  async readLock(host: string): Promise<LockHolder | undefined> {
    const rows = await this.query<{ holder: string }>('SELECT holder FROM runbook_host_locks WHERE host = $1', [host]);
    return rows[0] ? parseJson<LockHolder>(rows[0].holder) : undefined;
  }

  async forceUnlock(host: string, lockId: string, options: { force?: boolean } = {}): Promise<UnlockResult> {
    const current = await this.readLock(host);
    if (!current) throw new LockError(`${host} is not locked in ${this.where}`, host);
    if (current.lockId !== lockId) throw new LockError(`${host}: lock id ${lockId} does not match the lock held by ${describeHolder(current)}`, host, current);
    const alive = await this.#isLeased(current.runId);
    if (alive && !options.force) {
      throw new LockError(`${host}: not unlocked: its run is alive, held by pid ${current.pid} on ${current.machine} (${describeHolder(current)}).\n` +
        '  Stop that run instead; its lock goes with it.\n' +
        '  --force breaks the lock anyway, and a second run may then work on the host at the same time.', host, current);
    }
    const rows = await this.query('DELETE FROM runbook_host_locks WHERE host = $1 AND lock_id = $2 RETURNING host', [host, lockId]);
    if (rows.length === 0) throw new LockError(`${host}: its lock changed while unlocking; look again with the lock id the new error names`, host);
    return { holder: current, wasAlive: alive };
  }

  /**
   * The database's known_hosts written to a private temp file for the SSH transport, which reads
   * it and appends keys accepted with --accept-new-host-keys; `save` adds those to the database.
   */
  async projectKnownHosts(): Promise<ProjectKnownHosts> {
    const rows = await this.query<{ line: string }>('SELECT line FROM runbook_known_hosts ORDER BY added_at, line');
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'runbook-known-hosts-'));
    const file = path.join(dir, 'known_hosts');
    const before = new Set(rows.map((row) => row.line));
    await fsp.writeFile(file, rows.map((row) => `${row.line}\n`).join(''), { mode: FILE_MODE });
    return {
      file,
      save: async () => {
        try {
          const added = (await fsp.readFile(file, 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l && !before.has(l));
          if (added.length) await this.query('INSERT INTO runbook_known_hosts (line, added_by) SELECT unnest($1::text[]), $2 ON CONFLICT (line) DO NOTHING', [added, currentUser()]);
        } finally {
          await fsp.rm(dir, { recursive: true, force: true });
        }
      },
    };
  }

  async close(): Promise<void> {
    await this.#pool.end().catch(() => undefined);
  }
}

const leaseKey = (runId: string): string => `runbook-run:${runId}`;
/** One controller of a run: held by it for as long as it lives. */
const controllerKey = (runId: string, controller: string): string => `runbook-controller:${runId}:${controller}`;
/** Held while a controller takes or frees the run's host locks, so the last one out never frees a newcomer's. */
const membersKey = (runId: string): string => `runbook-members:${runId}`;

/**
 * The lease connection's server-side TCP keepalives: a controller whose machine died without
 * closing its connection (power cut, network gone) is noticed by the server within about a minute
 * (30 s idle, then 3 probes 10 s apart), which then drops its lease; the system default is hours.
 */
const LEASE_KEEPALIVES = '-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3';

function newerSchema(where: string, version: number): UsageError {
  return new UsageError(`${where} has schema version ${version}, newer than this runbook knows (${SCHEMA_VERSION}): upgrade runbook; nothing was changed`);
}

/** The database as a {@link RunStore}: run listing in one query, each run's last run-start/run-end with it. */
class PostgresRunStore implements RunStore {
  /** What the last runIds() read, so summaries of a listing cost no further round trip. */
  #listed = new Map<string, { record: string | null; boundary: string | null }>();

  constructor(private readonly db: PostgresBackend) {}

  get where(): string { return this.db.where; }
  dirOf(id: string): string { return `${this.db.where} run ${id}`; }

  async runIds(): Promise<string[]> {
    const rows = await this.db.query<{ id: string; record: string | null; boundary: string | null }>(
      `SELECT r.id, r.record, (SELECT e.body FROM runbook_events e WHERE e.run_id = r.id AND e.stream = '' AND e.kind IN ('run-start', 'run-end')
         ORDER BY e.id DESC LIMIT 1) AS boundary FROM runbook_runs r ORDER BY r.id DESC`);
    this.#listed = new Map(rows.map((row) => [row.id, row]));
    return rows.map((row) => row.id);
  }

  async #row(id: string): Promise<{ record: string | null; boundary: string | null }> {
    const listed = this.#listed.get(id);
    if (listed) return listed;
    const rows = await this.db.query<{ record: string | null; boundary: string | null }>(
      `SELECT r.record, (SELECT e.body FROM runbook_events e WHERE e.run_id = r.id AND e.stream = '' AND e.kind IN ('run-start', 'run-end')
         ORDER BY e.id DESC LIMIT 1) AS boundary FROM runbook_runs r WHERE r.id = $1`, [id]);
    if (!rows[0]) throw new UsageError(`no run ${id} in ${this.db.where}`);
    return rows[0];
  }

  async readRecord(id: string): Promise<RunRecord> {
    const { record } = await this.#row(id);
    if (record === null) throw new UsageError(`${this.dirOf(id)} is not a run: it has no record (it was being created)`);
    return parseJson<RunRecord>(record);
  }

  async lastRunEnd(id: string): Promise<RunEnd | undefined> {
    const { boundary } = await this.#row(id);
    const event = boundary === null ? undefined : parseJson<RunEvent>(boundary);
    return event?.kind === 'run-end' ? event : undefined;
  }

  readJournal(id: string): Promise<JournalContents> {
    return this.db.readJournal(id);
  }
}

/**
 * The hosts of a run shared among its live controllers: a claim row per (run, host) names the
 * controller working on it; a claim whose controller died (its advisory lock is free) and whose
 * host never ended is taken over by compare-and-set, so of two takers exactly one wins.
 */
class PostgresClaims implements ClaimTable {
  constructor(private readonly db: PostgresBackend, private readonly runId: string, private readonly controller: string) {}

  async take(host: string): Promise<'new' | 'taken-over' | undefined> {
    const inserted = await this.db.query('INSERT INTO runbook_host_claims (run_id, host, controller) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING host',
      [this.runId, host, this.controller]);
    if (inserted.length === 1) return 'new';
    const taken = await this.db.query(
      `UPDATE runbook_host_claims SET controller = $3 WHERE run_id = $1 AND host = $2 AND status IS NULL AND controller <> $3
         AND pg_try_advisory_xact_lock(hashtextextended($4 || controller, 0)) RETURNING host`,
      [this.runId, host, this.controller, controllerKey(this.runId, '')]);
    return taken.length === 1 ? 'taken-over' : undefined;
  }

  async end(host: string, status: string): Promise<void> {
    await this.db.query('UPDATE runbook_host_claims SET status = $4 WHERE run_id = $1 AND host = $2 AND controller = $3', [this.runId, host, this.controller, status]);
  }

  async view(hosts: readonly string[]): Promise<ClaimView> {
    const rows = await this.db.query<{ host: string; status: string | null; live: boolean; holder: string | null }>(
      `SELECT h.host, h.status, (h.controller = $3 OR NOT pg_try_advisory_xact_lock(hashtextextended($4 || h.controller, 0))) AS live, c.holder
       FROM runbook_host_claims h LEFT JOIN runbook_controllers c ON c.run_id = h.run_id AND c.controller = h.controller
       WHERE h.run_id = $1 AND h.host = ANY($2::text[])`, [this.runId, [...hosts], this.controller, controllerKey(this.runId, '')]);
    const byHost = new Map(rows.map((row) => [row.host, row]));
    const view: ClaimView = { free: [], running: [], ended: {} };
    for (const host of hosts) {
      const row = byHost.get(host);
      if (row?.status) view.ended[host] = row.status;
      else if (row?.live) view.running.push({ host, holder: row.holder ? parseJson<LockHolder>(row.holder) : undefined });
      else view.free.push(host);
    }
    return view;
  }
}

interface Pending {
  stream: string;
  kind: string;
  body: string;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * The journal in the database, with group commit as the folder's writer has it: appends that
 * arrive while an INSERT is in flight go out together in the next one, so a thousand hosts ending
 * a step at once cost a round trip or two. Fail-stop: after a failed INSERT every append rejects.
 */
class PostgresJournalWriter implements JournalWriter {
  readonly warnings: string[] = [];
  readonly runDir: string;
  #queue: Pending[] = [];
  #draining: Promise<void> | undefined;
  #failure: unknown;
  #closed = false;
  readonly #stats: JournalStats = { appends: 0, batches: 0, syncs: 0 };

  constructor(private readonly db: PostgresBackend, private readonly runId: string) {
    this.runDir = db.runs.dirOf(runId);
  }

  append(event: RunEvent): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`journal of ${this.runDir} is closed`));
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const stream = isTranscriptEvent(event) ? event.host : JOURNAL_STREAM;
    this.#stats.appends++;
    return new Promise((resolve, reject) => {
      this.#queue.push({ stream, kind: event.kind, body: JSON.stringify(event), resolve, reject });
      this.#draining ??= this.#drain();
    });
  }

  async close(): Promise<void> {
    await this.#draining;
    this.#closed = true;
  }

  stats(): JournalStats {
    return { ...this.#stats };
  }

  async #drain(): Promise<void> {
    // One turn of the event loop lets appends made in the same tick join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.#queue.length > 0 && this.#failure === undefined) {
      const batch = this.#queue;
      this.#queue = [];
      try {
        await this.#insert(batch);
        for (const pending of batch) pending.resolve();
      } catch (error) {
        this.#failure = error;
        for (const pending of [...batch, ...this.#queue]) pending.reject(error);
        this.#queue = [];
      }
    }
    this.#draining = undefined;
  }

  async #insert(batch: Pending[]): Promise<void> {
    this.db.checkLease(this.runId);
    await this.db.query(
      'INSERT INTO runbook_events (run_id, stream, kind, body) SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])',
      [this.runId, batch.map((p) => p.stream), batch.map((p) => p.kind), batch.map((p) => p.body)]);
    this.#stats.batches++;
    this.#stats.syncs++;
  }
}
