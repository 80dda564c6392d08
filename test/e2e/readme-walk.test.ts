import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from './helpers.ts';

/**
 * A newcomer's first hour, from README.md itself: a fresh clone of the committed tree, a state
 * folder of its own (RUNBOOK_STATE_DIR, not the default .runbook), then every line of the Quick
 * start and of "your own estate", run as written by `sh`. Deviations, each for a reason a test has:
 * `npm ci` is replaced by a link to this checkout's node_modules (no registry in a test), `lab up`
 * gets `--port-base 0` (free ports: other suites run labs at the same time), and the estate's
 * `--dry-run` line is not run, because it would connect to the example's documentation addresses
 * and tests reach loopback only. The type check stays on, as a newcomer has it.
 */
const README = readFileSync(join(REPO, 'README.md'), 'utf8');

/** The lines of the first ```sh block after a heading or sentence that starts with `after`. */
function shBlockAfter(after: string): string[] {
  const from = README.indexOf(after);
  expect(from, `README has no "${after}"`).toBeGreaterThan(-1);
  const block = /```sh\n([\s\S]*?)```/.exec(README.slice(from));
  return block![1].split('\n').map((line) => line.replace(/\s+#\s.*$/, '').trim()).filter(Boolean);
}

const clone = mkdtempSync(join(tmpdir(), 'runbook-readme-'));
const stateDir = mkdtempSync(join(tmpdir(), 'runbook-readme-state-'));
const env: NodeJS.ProcessEnv = { ...process.env, RUNBOOK_STATE_DIR: stateDir, NO_COLOR: '1' };
delete env.RUNBOOK_TYPECHECK;

function sh(line: string): { code: number | null; out: string } {
  const shown = line.replace(/^npx runbook lab up\b/, 'npx runbook lab up --port-base 0');
  const r = spawnSync('sh', ['-c', shown], { cwd: clone, env, encoding: 'utf8', timeout: 170_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** "Put your hosts in it": the one thing of the example a newcomer must change to pass check is the key. */
function useOwnKey(inventory: string): void {
  const key = join(stateDir, 'my_ed25519');
  writeFileSync(key, 'a key file (the check only needs it to exist)\n', { mode: 0o600 });
  const text = readFileSync(inventory, 'utf8');
  expect(text).toContain('ansible_ssh_private_key_file: ~/.ssh/xenserver_ed25519');
  writeFileSync(inventory, text.replace('~/.ssh/xenserver_ed25519', key));
}

afterAll(() => {
  sh('npx runbook lab down');
  rmSync(clone, { recursive: true, force: true });
  rmSync(stateDir, { recursive: true, force: true });
});

describe('the README, followed by a newcomer in a fresh clone with their own state folder', () => {
  it('every Quick start line works, then the estate lines with the example inventory copied', { timeout: 600_000 }, () => {
    execFileSync('git', ['clone', '--quiet', REPO, clone]);
    symlinkSync(join(REPO, 'node_modules'), join(clone, 'node_modules'));

    const outputs: Record<string, string> = {};
    for (const line of shBlockAfter('## Quick start')) {
      if (line === 'npm ci') continue;
      const { code, out } = sh(line);
      expect(code, `${line}\n${out}`).toBe(0);
      outputs[line] = out;
    }
    expect(outputs['npx runbook list']).toMatch(/leap-second/);
    expect(outputs['npx runbook apply leap-second --inventory lab --dry-run']).toMatch(/xs-02/);
    expect(outputs['npx runbook show latest']).toMatch(/leap-second/);
    expect(existsSync(join(clone, 'run.html'))).toBe(true);
    expect(existsSync(join(stateDir, 'runs'))).toBe(true);
    expect(existsSync(join(clone, '.runbook'))).toBe(false); // nothing went to the default folder

    // Before the copy the headline command says what to do; after it, the estate lines work.
    const before = sh('npx runbook apply leap-second --inventory prod');
    expect(before.code).toBe(1);
    expect(before.out).toContain('cp inventory/prod.example.yaml inventory/prod.yaml');
    for (const line of shBlockAfter('Then your own estate')) {
      if (line.includes('--dry-run')) continue;
      if (line.startsWith('npx runbook check')) useOwnKey(join(clone, 'inventory/prod.yaml'));
      const { code, out } = sh(line);
      expect(code, `${line}\n${out}`).toBe(0);
      outputs[line] = out;
    }
    expect(outputs['npx runbook apply leap-second --inventory prod --list-hosts']).toMatch(/\S/);
  });
});
