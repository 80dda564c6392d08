import { resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';

const REPO = resolve(import.meta.dirname, '../..');

async function runbook(argv: string[]): Promise<{ code: number; stdout: string }> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (d: Buffer) => (out += d));
  const code = await main(argv, { stdout, stderr: new PassThrough(), stdin: new PassThrough(), cwd: REPO, env: process.env });
  return { code, stdout: out };
}

describe('runbook inventory --json', () => {
  it('prints .inf and .nan as ansible-inventory --list does (bare Infinity, NaN), not null', async () => {
    const { code, stdout } = await runbook(['inventory', 'test/fixtures/inventory/typing.yaml', '--json', '--limit', 'typed-01']);
    expect(code).toBe(0);
    expect(stdout).toContain('"inf": Infinity,\n');
    expect(stdout).toContain('"minus_inf": -Infinity,\n');
    expect(stdout).toContain('"nan": NaN,\n');
    expect(stdout).toContain('"datetime_tz": "2001-12-14T21:59:43.100000-05:00",\n');
    expect(stdout).toContain('"pair": [\n          "x",\n          "y"\n        ],\n');
  });
});
