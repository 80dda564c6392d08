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

/**
 * `runbook state copy --from DIR|URL --to DIR|URL`: every run and the project known_hosts from one
 * state backend to another (a folder → the team's database, or back); runs already there are skipped.
 */
export async function stateCopyCommand(args: { from: string; to: string }, io: Io): Promise<number> {
  const { copyState, openStateBackend } = await import('../state/index.ts');
  const open = (where: string) => openStateBackend(/^postgres(ql)?:/.test(where) ? { state: where } : { stateDir: where, state: '' }, { ...io.env, RUNBOOK_STATE_URL: '' }, io.cwd);
  const from = await open(args.from);
  try {
    const to = await open(args.to);
    try {
      const report = await copyState(from, to);
      io.stdout.write(`copied ${report.copied.length} run(s), ${report.events} event(s), from ${from.where} to ${to.where}` +
        `${report.skipped.length ? `; ${report.skipped.length} already there, left as they are` : ''}` +
        `; known_hosts: ${report.knownHostKeys} key(s) added\n`);
      return 0;
    } finally {
      await to.close();
    }
  } finally {
    await from.close();
  }
}
