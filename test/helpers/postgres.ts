/**
 * A private PostgreSQL for tests: `initdb` in a temp dir, the server on a free loopback port with
 * password (scram) login, stopped after the suite — and by an exit hook if the test process ends
 * first. PostgreSQL refuses to run as root, so under root the cluster belongs to `nobody` (runuser).
 * Where PostgreSQL is not installed the suites skip, saying why; under CI=true that is an error.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/** The folder holding initdb, pg_ctl and psql: Debian's newest /usr/lib/postgresql/N/bin, else none. */
function findPgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  return versions.map((v) => join(root, v, 'bin')).find((bin) => existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl')));
}

const PG_BIN = findPgBin();

/** Why the PostgreSQL suites skip here; undefined when they run. */
export const PG_MISSING = PG_BIN ? undefined : 'PostgreSQL is not installed (no /usr/lib/postgresql/N/bin/initdb; Debian: apt-get install postgresql)';
if (PG_MISSING && process.env.CI === 'true') throw new Error(`CI=true but ${PG_MISSING}: CI must run the PostgreSQL tests (.ci/run installs it)`);

export const PG_USER = 'runbook';
export const PG_PASSWORD = 'test-only-password';

export interface PgServer {
  port: number;
  /** postgres://runbook@127.0.0.1:PORT/DB, no password (that goes in PGPASSWORD). */
  url(database: string): string;
  /** The environment a client needs: PGPASSWORD, and no PG* leaking in from the machine. */
  env: NodeJS.ProcessEnv;
  /** Runs SQL as the cluster's superuser in `database` (default postgres); throws on failure. */
  sql(text: string, database?: string): string;
  createDatabase(name: string): string;
  /** Stops the server (fast shutdown: clients are cut off), as the DB going away mid-run. */
  stop(): void;
  start(): void;
  /** Stops it for good and removes its files. */
  destroy(): void;
}

const asOwner = (owner: string | undefined, argv: string[]): [string, string[]] =>
  owner ? ['runuser', ['-u', owner, '--', ...argv]] : [argv[0], argv.slice(1)];

function run(owner: string | undefined, argv: string[], env: NodeJS.ProcessEnv = {}): string {
  const [command, args] = asOwner(owner, argv);
  const result = spawnSync(command, args, { encoding: 'utf8', env: { PATH: process.env.PATH, LANG: 'C.UTF-8', ...env }, timeout: 60_000 });
  if (result.status !== 0) throw new Error(`${argv.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** A port free on 127.0.0.1 now (the server binds it right after). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a private cluster; call destroy() in afterAll.
 * @example const pg = await startPostgres(); const url = pg.url(pg.createDatabase('t1'));
 */
export async function startPostgres(): Promise<PgServer> {
  if (!PG_BIN) throw new Error(PG_MISSING);
  const owner = userInfo().uid === 0 ? 'nobody' : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'runbook-pg-'));
  const data = join(dir, 'data');
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, `${PG_PASSWORD}\n`, { mode: 0o600 });
  if (owner) for (const path of [dir, pwfile]) chownSync(path, 65534, 65534);
  run(owner, [join(PG_BIN, 'initdb'), '-D', data, '-U', PG_USER, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=100`;
  const pgCtl = (...args: string[]) => run(owner, [join(PG_BIN, 'pg_ctl'), '-D', data, ...args]);
  const start = () => { pgCtl('-o', options, '-l', join(dir, 'log'), '-w', '-t', '60', 'start'); };
  const stopNow = () => { spawnSync(...asOwner(owner, [join(PG_BIN, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop']), { timeout: 30_000 }); };
  start();
  // If the test process ends without afterAll (a crash, a timeout), the server must not outlive it.
  process.once('exit', stopNow);
  const env = { PGPASSWORD: PG_PASSWORD, PGHOST: '', PGPORT: '', PGUSER: '', PGDATABASE: '', PGSERVICE: '', RUNBOOK_STATE_URL: '' };
  const sql = (text: string, database = 'postgres') =>
    run(undefined, [join(PG_BIN, 'psql'), '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', PG_USER, '-d', database, '-c', text], { PGPASSWORD: PG_PASSWORD });
  return {
    port, env, sql,
    url: (database) => `postgres://${PG_USER}@127.0.0.1:${port}/${database}`,
    createDatabase: (name) => { sql(`CREATE DATABASE ${name}`); return name; },
    stop: () => { pgCtl('-m', 'fast', '-w', 'stop'); },
    start,
    destroy: () => {
      process.removeListener('exit', stopNow);
      stopNow();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
