import { UsageError } from '../errors.ts';
import type { Io } from './options.ts';

/**
 * `runbook state init --state postgres://…`: creates the schema in an empty database, or migrates
 * an older one to this program's version; a newer schema is refused, and nothing is changed.
 */
export async function stateInitCommand(args: { state?: string }, io: Io): Promise<number> {
  const url = args.state || io.env.RUNBOOK_STATE_URL;
  if (!url) throw new UsageError('state init needs the database: --state postgres://USER@HOST/DB (or RUNBOOK_STATE_URL)');
  const { initPostgresState } = await import('../state/postgres.ts');
  const { from, to, where } = await initPostgresState(url, { env: io.env, from: args.state ? '--state' : 'RUNBOOK_STATE_URL' });
  io.stdout.write(from === to ? `${where}: schema version ${to}, up to date\n` : `${where}: schema version ${from} → ${to}\n`);
  return 0;
}
