/**
 * `runbook lab` arguments an operator can get wrong (issue 13): a repeated or non-numeric
 * --port-base is refused before anything is written, and `fault … --off` undoes what it says.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { tempStateDir } from './infra-helpers.ts';

async function runbook(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d));
  stderr.on('data', (d: Buffer) => (err += d));
  const code = await main(argv, { stdout, stderr, stdin: new PassThrough(), cwd: process.cwd(), env: { ...process.env, RUNBOOK_STATE_DIR: undefined } });
  return { code, stdout: out, stderr: err };
}

const ESTATE = 'all:\n  children:\n    pool-z:\n      vars: { lab_role: xenserver, xen_pool: pool-z, pool_master: zz-1 }\n      hosts:\n        zz-1:\n        zz-2:\n';

describe('runbook lab up --port-base', () => {
  const refusals: [string[], RegExp][] = [
    [['--port-base', '0', '--port-base', '24101'], /--port-base given 2 times \(0, 24101\): give it once/],
    [['--port-base', 'abc'], /--port-base must be a whole number from 1 to 65535, or 0 for free ports; got "abc"/],
    [['--port-base', '-5'], /--port-base must be a whole number/],
    [['--port-base', '2201.5'], /--port-base must be a whole number/],
    [['--port-base', '70000'], /port base 70000 is not a port/],
    [['--port-base', '65535'], /port base 65535 leaves no room for 2 hosts \(the last would be 65536/],
  ];
  it.each(refusals)('refuses %j with exit 1 and starts nothing', async (flags, message) => {
    const stateDir = tempStateDir();
    const estate = join(dirname(stateDir), 'estate.yaml');
    writeFileSync(estate, ESTATE);
    try {
      const up = await runbook('--state-dir', stateDir, 'lab', 'up', '--estate', estate, ...flags);
      expect(up.code, up.stdout + up.stderr).toBe(1);
      expect(up.stderr).toMatch(message);
      expect(up.stdout).toBe('');
      expect(existsSync(join(stateDir, 'lab', 'inventory.yaml'))).toBe(false);
      expect(existsSync(join(stateDir, 'lab', 'lab.json'))).toBe(false);
    } finally {
      await runbook('--state-dir', stateDir, 'lab', 'down');
      rmSync(dirname(stateDir), { recursive: true, force: true });
    }
  });
});

describe('runbook lab fault … --off', () => {
  it('leap-second --off removes the clock/stuck marker it set', async () => {
    const stateDir = tempStateDir();
    const estate = join(dirname(stateDir), 'estate.yaml');
    writeFileSync(estate, ESTATE);
    const s = ['--state-dir', stateDir, 'lab'];
    const stuck = join(stateDir, 'lab', 'hosts', 'zz-2', 'clock', 'stuck');
    try {
      expect((await runbook(...s, 'up', '--estate', estate, '--port-base', '0', '--reboot-down-ms', '200')).code).toBe(0);
      expect((await runbook(...s, 'fault', 'zz-2', 'leap-second')).code).toBe(0);
      expect(existsSync(stuck)).toBe(true);
      const off = await runbook(...s, 'fault', 'zz-2', 'leap-second', '--off');
      expect(off).toMatchObject({ code: 0, stdout: 'zz-2: leap-second livelock cleared\n' });
      expect(existsSync(stuck)).toBe(false);
      expect((await runbook(...s, 'state', 'zz-2')).stdout).not.toContain('STUCK');
    } finally {
      await runbook(...s, 'down');
      rmSync(dirname(stateDir), { recursive: true, force: true });
    }
  });
});
