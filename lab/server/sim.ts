/**
 * Access to LabB's XenServer-domain modules under lab/sim/xen (seed.mjs, hooks.mjs, faults.mjs),
 * guarded so the infrastructure works before, and without, them.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The module's exports, or undefined while the file does not exist. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function importSim(repoRoot: string, file: string): Promise<any> {
  const path = join(repoRoot, 'lab', 'sim', 'xen', file);
  if (!existsSync(path)) return undefined;
  return import(pathToFileURL(path).href);
}
