import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';

/**
 * Runs the real Ansible (Debian's ansible-core) as the oracle the differential tests compare
 * against. Every call has a timeout; a missing Ansible skips those tests with a message.
 */
const run = promisify(execFile);
const TIMEOUT_MS = 20_000;

const ansibleEnv = {
  ...process.env,
  ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true',
  ANSIBLE_NOCOLOR: '1',
  ANSIBLE_DEPRECATION_WARNINGS: 'false',
  ANSIBLE_LOCALHOST_WARNING: 'false',
  // No ansible.cfg from wherever the tests run may change what Ansible reads.
  ANSIBLE_CONFIG: '/nonexistent/ansible.cfg',
};

export async function hasAnsible(): Promise<boolean> {
  try {
    await run('ansible-inventory', ['--version'], { timeout: TIMEOUT_MS });
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
  return JSON.parse(stdout) as AnsibleList;
}

export async function ansibleGraph(file: string): Promise<string> {
  const { stdout } = await run('ansible-inventory', ['-i', file, '--graph'], { timeout: TIMEOUT_MS, env: ansibleEnv, cwd: tmpdir() });
  return stdout.trimEnd();
}

/** The host names `ansible -i FILE PATTERN --list-hosts` prints (none when nothing matched). */
export async function ansibleListHosts(file: string, pattern: string): Promise<string[]> {
  const { stdout } = await run('ansible', ['-i', file, pattern, '--list-hosts'], { timeout: TIMEOUT_MS, env: ansibleEnv, cwd: tmpdir() });
  return stdout
    .split('\n')
    .slice(1)
    .map((line) => line.trim())
    .filter(Boolean);
}

/** True when `ansible-inventory --list` fails on the file (unparsed sources are fatal here). */
export async function ansibleRefuses(file: string): Promise<boolean> {
  try {
    await ansibleList(file);
    return false;
  } catch {
    return true;
  }
}
