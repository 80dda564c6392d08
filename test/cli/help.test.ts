/**
 * `--help` through the real CLI: yargs prints it itself. The CLI stops yargs from rendering the
 * help text before every command (src/cli/main.ts, skipHelpRendering), so these check that the
 * help a user asks for is still whole, and that a command's own output carries none of it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../..');
const stateDir = mkdtempSync(join(tmpdir(), 'runbook-help-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

const runbook = (...argv: string[]) => spawnSync(process.execPath, [join(REPO, 'bin', 'runbook.mjs'), ...argv], {
  cwd: REPO, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' },
});

describe('runbook --help', () => {
  it('lists every command, the global options and the exit codes', () => {
    const { status, stdout } = runbook('--help');
    expect(status).toBe(0);
    for (const command of ['runbook apply <name>', 'runbook plan <name> [file]', 'runbook resume', 'runbook show', 'runbook confirm', 'runbook lab <command>', 'runbook state']) {
      expect(stdout).toContain(command);
    }
    expect(stdout).toMatch(/Exit codes: 0 all hosts ok/);
    expect(stdout).toMatch(/--state-dir/);
  });

  it('a command\'s --help lists its own options', () => {
    const { status, stdout } = runbook('apply', '--help');
    expect(status).toBe(0);
    expect(stdout).toMatch(/^runbook apply <name>/m);
    for (const flag of ['--dry-run', '--forks', '--limit', '--inventory', '--max-handshakes']) expect(stdout).toContain(flag);
  });

  it('a command that runs prints its own output and no help text', () => {
    const { status, stdout, stderr } = runbook('runs', '--state-dir', stateDir);
    expect(status, stderr).toBe(0);
    expect(stdout).not.toMatch(/Commands:|Options:|Exit codes/);
  });
});
