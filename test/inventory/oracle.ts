import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Runs the real Ansible (Debian's ansible-core) as the oracle the differential tests compare
 * against. Every call has a timeout; a missing Ansible skips those tests with a message.
 */
const run = promisify(execFile);
// Generous: a Python start-up on a loaded 2-core CI machine took over 20 s once.
const TIMEOUT_MS = 90_000;

const ansibleEnv = {
  ...process.env,
  ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true',
  ANSIBLE_NOCOLOR: '1',
  ANSIBLE_DEPRECATION_WARNINGS: 'false',
  ANSIBLE_LOCALHOST_WARNING: 'false',
  // No ansible.cfg from wherever the tests run may change what Ansible reads.
  ANSIBLE_CONFIG: '/nonexistent/ansible.cfg',
};

/** A PATH lookup rather than `--version`, which would cost a Python start-up. */
export function hasAnsible(): boolean {
  const folders = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return ['ansible-inventory', 'ansible-playbook'].every((tool) => folders.some((folder) => isExecutable(join(folder, tool))));
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** What `ansible-inventory --list` prints: groups (with hosts/children) and `_meta.hostvars`. */
export interface AnsibleList {
  _meta: { hostvars: Record<string, Record<string, unknown>> };
  [group: string]: { hosts?: string[]; children?: string[] } | AnsibleList['_meta'];
}

export async function ansibleList(file: string): Promise<AnsibleList> {
  const { stdout } = await run('ansible-inventory', ['-i', file, '--list'], { timeout: TIMEOUT_MS, env: ansibleEnv, cwd: tmpdir() });
  return parsePythonJson(stdout) as AnsibleList;
}

const MARK = '\u0000py:';

/**
 * Python's json.dumps output, which JSON.parse cannot take whole: it writes NaN, Infinity and
 * -Infinity bare, and ints of any size. Those become what runbook holds for them: the numbers
 * NaN/±Infinity, and an int beyond 2^53 its exact decimal text (src/inventory/pyyaml.ts).
 */
export function parsePythonJson(text: string): unknown {
  // Outside strings (a string token is skipped whole), mark the tokens JSON.parse would refuse or round.
  const marked = text.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN|-?\d{16,}(?![.eE\d])/g, (token) =>
    token.startsWith('"') ? token : JSON.stringify(`${MARK}${token}`));
  return JSON.parse(marked, (_key, value: unknown) => {
    if (typeof value !== 'string' || !value.startsWith(MARK)) return value;
    const token = value.slice(MARK.length);
    if (/^-?\d+$/.test(token)) return Number.isSafeInteger(Number(token)) ? Number(token) : token;
    return Number(token);
  });
}

export async function ansibleGraph(file: string): Promise<string> {
  const { stdout } = await run('ansible-inventory', ['-i', file, '--graph'], { timeout: TIMEOUT_MS, env: ansibleEnv, cwd: tmpdir() });
  return stdout;
}

/**
 * The hosts Ansible selects for each pattern, in one process: a playbook with one play per
 * pattern, run with `ansible-playbook --list-hosts` (the resolution `ansible PATTERN
 * --list-hosts` and a play's `hosts:` both use), so a dozen patterns cost one Python start-up.
 */
export async function ansibleListHosts(file: string, patterns: string[]): Promise<string[][]> {
  const folder = await mkdtemp(join(tmpdir(), 'runbook-patterns-'));
  try {
    const plays = patterns.map((pattern) => ({ name: 'p', hosts: pattern, gather_facts: false, tasks: [] }));
    const playbook = join(folder, 'patterns.yml');
    await writeFile(playbook, JSON.stringify(plays));
    const { stdout } = await run('ansible-playbook', ['-i', file, playbook, '--list-hosts'], { timeout: TIMEOUT_MS, env: ansibleEnv, cwd: folder });
    return parsePlayHosts(stdout, patterns.length);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** Reads `play #N (…)` blocks: the names listed under each `hosts (K):` line. */
function parsePlayHosts(stdout: string, plays: number): string[][] {
  const blocks = stdout.split(/^\s*play #\d+ /m).slice(1);
  if (blocks.length !== plays) throw new Error(`expected ${plays} plays in ansible-playbook output, got:\n${stdout}`);
  return blocks.map((block) => {
    const lines = block.split('\n');
    const start = lines.findIndex((line) => /^\s*hosts \(\d+\):/.test(line));
    const names: string[] = [];
    for (const line of lines.slice(start + 1)) {
      if (!line.trim()) break;
      names.push(line.trim());
    }
    return names;
  });
}

/**
 * Which of `files` Ansible cannot parse, in one `ansible-inventory` run: with unparsed sources
 * not fatal, it warns "Unable to parse FILE as an inventory source" for each bad one.
 */
export async function ansibleUnparsable(files: string[]): Promise<Set<string>> {
  const args = [...files.flatMap((file) => ['-i', file]), '--list'];
  const env = { ...ansibleEnv, ANSIBLE_INVENTORY_UNPARSED_FAILED: 'false' };
  const stderr = await run('ansible-inventory', args, { timeout: TIMEOUT_MS, env, cwd: tmpdir() }).then(
    (result) => result.stderr,
    (error: { stderr?: string }) => error.stderr ?? '',
  );
  // Warnings are wrapped at 79 columns, so compare with all whitespace taken out.
  const squeezed = stderr.replace(/\s+/g, '');
  return new Set(files.filter((file) => squeezed.includes(`Unabletoparse${file.replace(/\s+/g, '')}asaninventorysource`)));
}
