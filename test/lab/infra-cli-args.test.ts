/**
 * `runbook lab` arguments an operator can get wrong (issue 13): a repeated or non-numeric
 * --port-base is refused before anything is written, and `fault … --off` undoes what it says.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempStateDir } from './infra-helpers.ts';
import { runMain } from '../e2e/helpers.ts';

const runbook = (...argv: string[]) => runMain(argv, { cwd: process.cwd(), env: { ...process.env, RUNBOOK_STATE_DIR: undefined } });

const ESTATE = 'all:\n  children:\n    pool-z:\n      vars: { lab_role: xenserver, xen_pool: pool-z, pool_master: zz-1 }\n      hosts:\n        zz-1:\n        zz-2:\n';

describe('runbook lab up --port-base', () => {
  const refusals: [string[], RegExp][] = [
    [['--port-base', '0', '--port-base', '24101'], /--port-base given 2 times \(0, 24101\): give it once/],
    [['--port-base', 'abc'], /--port-base must be 0 \(free ports\) or a port 1-65535, got "abc"/],
    [['--port-base', '-5'], /--port-base must be 0 \(free ports\) or a port 1-65535, got "-5"/],
    [['--port-base', '2201.5'], /--port-base must be 0 \(free ports\) or a port 1-65535, got "2201.5"/],
    [['--port-base', '70000'], /--port-base must be 0 \(free ports\) or a port 1-65535, got "70000"/],
    [['--port-base', '65535'], /lab port base too high: 2 hosts need ports up to 65536 \(max 65535\)/],
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
