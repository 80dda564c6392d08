/**
 * One suite, both state backends: `eachBackend` registers the suite once for the state folder and
 * once for PostgreSQL (a private server per file, a fresh database per test, schema by `state
 * init`). Where PostgreSQL is missing its half skips, saying why (and fails under CI=true).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe } from 'vitest';
import { openStateBackend, type StateBackend } from '../../src/state/index.ts';
import { initPostgresState } from '../../src/state/postgres.ts';
import { PG_MISSING, startPostgres, type PgServer } from './postgres.ts';

export interface BackendUnderTest {
  readonly name: 'folder' | 'postgres';
  /** The flags that select this test's state: `--state-dir DIR` or `--state URL`. */
  args(): string[];
  /** The environment a CLI call needs (PGPASSWORD for PostgreSQL). */
  env(): NodeJS.ProcessEnv;
  /** The state backend itself, as the CLI opens it (close it after). */
  open(): Promise<StateBackend>;
  /** The server, for tests that stop and start it (PostgreSQL only). */
  server(): PgServer | undefined;
}

let databases = 0;

/**
 * Registers `body` for each backend.
 * @example eachBackend('journal', (backend) => { it('…', async () => { const state = await backend.open(); … }) })
 */
export function eachBackend(title: string, body: (backend: BackendUnderTest) => void): void {
  describe(`${title} (folder)`, () => body(folderBackend()));
  const pgTitle = PG_MISSING ? `${title} (postgres: skipped, ${PG_MISSING})` : `${title} (postgres)`;
  describe.skipIf(PG_MISSING !== undefined)(pgTitle, () => body(postgresBackend()));
}

function folderBackend(): BackendUnderTest {
  let dir = '';
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'runbook-state-')); });
  return {
    name: 'folder',
    args: () => ['--state-dir', dir],
    env: () => ({ RUNBOOK_STATE_URL: '' }),
    open: () => openStateBackend({ stateDir: dir }, { ...process.env, RUNBOOK_STATE_URL: '' }),
    server: () => undefined,
  };
}

function postgresBackend(): BackendUnderTest {
  let pg: PgServer | undefined;
  let url = '';
  let localDir = '';
  beforeAll(async () => { pg = await startPostgres(); });
  afterAll(() => { pg?.destroy(); });
  beforeEach(async () => {
    url = pg!.url(pg!.createDatabase(`state_${process.pid}_${++databases}`));
    localDir = mkdtempSync(join(tmpdir(), 'runbook-local-'));
    await initPostgresState(url, { env: { ...process.env, ...pg!.env }, from: '--state' });
  });
  return {
    name: 'postgres',
    args: () => ['--state', url, '--state-dir', localDir],
    env: () => pg!.env,
    open: () => openStateBackend({ state: url, stateDir: localDir }, { ...process.env, ...pg!.env }),
    server: () => pg,
  };
}
