import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { InventoryError } from '../errors.ts';
import { parseIni } from './ini.ts';
import { resolveInventory } from './merge.ts';
import type { RawInventory } from './raw.ts';
import { loadTsInventory } from './ts.ts';
import { addVarsDirs } from './vars-dirs.ts';
import type { Inventory } from './types.ts';
import { looksLikeYamlInventory, parseYamlInventory } from './yaml.ts';

type Format = 'ts' | 'yaml' | 'ini';

const NAMED_EXTENSIONS = ['.ts', '.yaml', '.yml', '.ini'];
const FORMAT_BY_EXTENSION: Record<string, Format> = {
  '.ts': 'ts', '.mts': 'ts', '.js': 'ts', '.mjs': 'ts', '.yaml': 'yaml', '.yml': 'yaml', '.json': 'yaml', '.ini': 'ini', '.cfg': 'ini',
};

export interface LoadOptions {
  cwd?: string;
  /** The state folder (`--state-dir`): `lab` names the inventory `runbook lab up` wrote there. */
  stateDir?: string;
}

/**
 * Finds, reads and resolves an inventory: a name (`prod` → `inventory/prod.{ts,yaml,yml,ini}`
 * under cwd; anything without a slash is tried as a name first) or a path. The format follows
 * the extension; a file without one (Ansible's classic `hosts`) is read as YAML if it is a YAML
 * mapping, else as INI. `group_vars/` and `host_vars/` beside the file are read as Ansible does.
 * @example const inventory = await loadInventory('prod', { cwd: '/srv/ops' });
 */
export async function loadInventory(ref: string, opts: LoadOptions = {}): Promise<Inventory> {
  const cwd = opts.cwd ?? process.cwd();
  const path = await findInventory(ref, cwd, opts.stateDir);
  const file = displayPath(path, cwd);
  const raw = await readInventory(path, file);
  await addVarsDirs(raw, dirname(path), (varsFile) => displayPath(varsFile, cwd));
  return resolveInventory(raw, { source: path, baseDir: dirname(path) });
}

/** The candidates, in order; the error lists every one tried. */
async function findInventory(ref: string, cwd: string, stateDir?: string): Promise<string> {
  const isName = !ref.includes('/') && !ref.includes('\\');
  const candidates = [
    ...(ref === LAB && stateDir ? [labInventory(resolve(cwd, stateDir))] : []),
    ...(isName ? NAMED_EXTENSIONS.map((extension) => resolve(cwd, 'inventory', `${ref}${extension}`)) : []),
    resolve(cwd, ref),
  ];
  for (const candidate of candidates) {
    if (await isFile(candidate)) return candidate;
  }
  const tried = candidates.map((candidate) => `  ${displayPath(candidate, cwd)}`).join('\n');
  throw new InventoryError(`inventory '${ref}' not found; tried:\n${tried}${isName ? await exampleHint(ref, cwd) : ''}`);
}

/**
 * `lab` is the running lab: the inventory `runbook lab up` writes into the state folder, with the
 * ports it bound and the absolute path of the key it made, so it works under any --state-dir.
 * inventory/lab.yaml (the estate the lab is built from) is read only when no lab was started there.
 */
const LAB = 'lab';

function labInventory(stateDir: string): string {
  return join(stateDir, 'lab', 'inventory.yaml');
}

/** `prod` missing beside a shipped `prod.example.yaml`: say how to start from the example. */
async function exampleHint(ref: string, cwd: string): Promise<string> {
  const example = join('inventory', `${ref}.example.yaml`);
  if (!(await isFile(resolve(cwd, example)))) return '';
  return `\n${example} is an example of that inventory: cp ${example} inventory/${ref}.yaml and put your own hosts in it`;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function readInventory(path: string, file: string): Promise<RawInventory> {
  const format = FORMAT_BY_EXTENSION[extname(path).toLowerCase()];
  if (format === 'ts') return loadTsInventory(path, file);
  const text = await readFile(path, 'utf8');
  if (format === 'yaml' || (format === undefined && looksLikeYamlInventory(text))) return parseYamlInventory(text, file);
  return parseIni(text, file);
}

/** Paths under cwd print relative (`inventory/prod.yaml:12`), others absolute. */
function displayPath(path: string, cwd: string): string {
  const relativePath = relative(cwd, path);
  return relativePath && !relativePath.startsWith('..') && !isAbsolute(relativePath) ? relativePath : path;
}
