import { basename } from 'node:path';
import { pad } from '../report/style.ts';
import { listRunbookFiles, loadRunbook } from './load-runbook.ts';
import type { Io } from './options.ts';

/** `runbook list`: the runbooks in runbooks/, one line each; a broken one says so and the rest still list. */
export async function listCommand(io: Io): Promise<number> {
  const files = listRunbookFiles(io.cwd);
  if (files.length === 0) { io.stdout.write(`no runbooks in ${io.cwd}/runbooks\n`); return 0; }
  const rows = await Promise.all(files.map(async (file) => {
    try {
      const runbook = await loadRunbook(file, io.cwd);
      return { name: runbook.name, text: `${runbook.summary} (${runbook.steps.length} steps)`, broken: false };
    } catch (error) {
      return { name: basename(file).replace(/\.[mc]?[tj]s$/, ''), text: `BROKEN: ${(error as Error).message.split('\n')[0]}`, broken: true };
    }
  }));
  const width = Math.max(...rows.map((r) => r.name.length));
  for (const row of rows) io.stdout.write(`${pad(row.name, width)}  ${row.text}\n`);
  return rows.some((r) => r.broken) ? 1 : 0;
}
