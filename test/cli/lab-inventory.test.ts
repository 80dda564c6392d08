/**
 * The quick start under any state folder: `--inventory lab` is the lab `runbook lab up` started in
 * RUNBOOK_STATE_DIR (its real ports and key), not inventory/lab.yaml with the default folder's key.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../lab/lab.ts';
import { testLab } from '../lab/infra-helpers.ts';
import { runMain } from '../e2e/helpers.ts';

const REPO = resolve(import.meta.dirname, '../..');
let lab: Lab;

const runbook = (argv: string[]) => runMain(argv, { cwd: REPO, env: { ...process.env, RUNBOOK_STATE_DIR: lab.stateDir } });

describe('--inventory lab with RUNBOOK_STATE_DIR set', () => {
  beforeAll(async () => {
    // Free ports (not inventory/lab.yaml's 2201…) and a state folder other than .runbook.
    lab = await testLab({ hosts: 'xs-01' });
  }, 60_000);
  afterAll(() => lab?.stop());

  it('reads the inventory lab up wrote there', async () => {
    const { code, stdout } = await runbook(['inventory', 'lab', '--json']);
    expect(code).toBe(0);
    const listed = JSON.parse(stdout) as { source: string; hosts: { name: string; port: number; privateKeyFile: string }[] };
    expect(listed.source).toBe(lab.inventoryPath);
    expect(listed.hosts).toEqual([expect.objectContaining({ name: 'xs-01', port: lab.hosts[0].port, privateKeyFile: lab.keyPath })]);
  });

  it('runs the quick start dry-run against it', async () => {
    const result = await runbook(['apply', 'leap-second', '--inventory', 'lab', '--dry-run', '--no-typecheck']);
    expect(result.stderr).not.toContain('tried nothing');
    expect(result.code).toBe(0);
  }, 60_000);
});
