import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { RawInventory, RawVar } from './raw.ts';
import { readYamlVars } from './yaml.ts';

/**
 * `group_vars/` and `host_vars/` beside the inventory file, found as Ansible's `host_group_vars`
 * plugin finds them: `NAME`, `NAME.yml`, `NAME.yaml` or `NAME.json` (the first that exists), and
 * when `NAME` is a folder, every vars file under it in sorted order.
 */
const EXTENSIONS = ['', '.yml', '.yaml', '.json'];

/**
 * Reads the vars folders under `baseDir` into each group's and host's `dirVars`.
 * @example await addVarsDirs(raw, '/srv/ops/inventory', (path) => relative('/srv/ops', path));
 */
export async function addVarsDirs(raw: RawInventory, baseDir: string, label: (path: string) => string): Promise<void> {
  for (const group of raw.groups.values()) {
    group.dirVars = await readEntityVars(join(baseDir, 'group_vars'), group.name, label);
  }
  for (const host of raw.hosts.values()) {
    // Ansible skips names that are absolute paths (chroot-style hosts).
    if (!host.name.startsWith('/')) host.dirVars = await readEntityVars(join(baseDir, 'host_vars'), host.name, label);
  }
}

async function readEntityVars(folder: string, name: string, label: (path: string) => string): Promise<Map<string, RawVar>> {
  const vars = new Map<string, RawVar>();
  if (!(await isDirectory(folder))) return vars;
  for (const file of await findVarsFiles(folder, name)) {
    for (const [key, value] of readYamlVars(await readFile(file, 'utf8'), label(file))) vars.set(key, value);
  }
  return vars;
}

async function findVarsFiles(folder: string, name: string): Promise<string[]> {
  for (const extension of EXTENSIONS) {
    const path = join(folder, name + extension);
    const kind = await kindOf(path);
    if (kind === 'directory') return filesUnder(path);
    if (kind === 'file') return [path];
  }
  return [];
}

/** Sorted, recursive; hidden files, editor backups (`~`) and other extensions are left out. */
async function filesUnder(folder: string): Promise<string[]> {
  const names = (await readdir(folder)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const files: string[] = [];
  for (const name of names) {
    if (name.startsWith('.') || name.endsWith('~')) continue;
    const path = join(folder, name);
    const extension = extname(name);
    const kind = await kindOf(path);
    if (kind === 'directory' && !extension) files.push(...(await filesUnder(path)));
    else if (kind === 'file' && EXTENSIONS.includes(extension)) files.push(path);
  }
  return files;
}

async function kindOf(path: string): Promise<'file' | 'directory' | undefined> {
  try {
    const info = await stat(path);
    return info.isDirectory() ? 'directory' : info.isFile() ? 'file' : undefined;
  } catch {
    return undefined;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return (await kindOf(path)) === 'directory';
}
