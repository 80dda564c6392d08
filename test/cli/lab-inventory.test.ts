/**
 * The quick start under any state folder: `--inventory lab` is the lab `runbook lab up` started in
 * RUNBOOK_STATE_DIR (its real ports and key), not inventory/lab.yaml with the default folder's key.
 */
import { resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../lab/lab.ts';
import { main } from '../../src/cli/main.ts';
import { testLab } from '../lab/infra-helpers.ts';

const REPO = resolve(import.meta.dirname, '../..');
let lab: Lab;

async function runbook(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d));
  stderr.on('data', (d: Buffer) => (err += d));
  const code = await main(argv, { stdout, stderr, stdin: new PassThrough(), cwd: REPO, env: { ...process.env, RUNBOOK_STATE_DIR: lab.stateDir } });
  return { code, stdout: out, stderr: err };
}

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
