/**
 * `runbook lab …` through the CLI's own entry (in process, output captured): what an operator types.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempStateDir } from './infra-helpers.ts';
import { runMain } from '../e2e/helpers.ts';

const runbook = (...argv: string[]) => runMain(argv, { cwd: process.cwd(), env: { ...process.env, RUNBOOK_STATE_DIR: undefined } });

describe('runbook lab', () => {
  it('up, status, fault, state, reinstall, reset and down, from a custom estate', async () => {
    const stateDir = tempStateDir();
    const estate = join(dirname(stateDir), 'estate.yaml');
    writeFileSync(estate, 'all:\n  children:\n    pool-z:\n      vars: { lab_role: xenserver, xen_pool: pool-z, pool_master: zz-1 }\n      hosts:\n        zz-1:\n        zz-2:\n');
    const s = ['--state-dir', stateDir, 'lab'];
    try {
      const up = await runbook(...s, 'up', '--estate', estate, '--port-base', '0', '--reboot-down-ms', '200');
      expect(up.code).toBe(0);
      expect(up.stdout).toMatch(/^lab up: 2 hosts \(pid \d+\)/);
      expect(up.stdout).toMatch(/zz-2 +xenserver +pool-z +127\.0\.0\.1:\d+ +SHA256:/);
      expect(await runbook(...s, 'up', '--estate', estate, '--port-base', '0')).toMatchObject({ code: 1, stderr: expect.stringMatching(/already up/) });

      const status = await runbook(...s, 'status');
      expect(status.stdout).toMatch(/zz-1 +xenserver +\d+ +running +[0-9a-f]{8} +multipathd ntpd open-iscsi xapi/);
      const json = JSON.parse((await runbook(...s, 'status', '--json')).stdout) as { up: boolean; hosts: { name: string }[] };
      expect(json.up).toBe(true);
      expect(json.hosts.map((h) => h.name)).toEqual(['zz-1', 'zz-2']);

      expect((await runbook(...s, 'fault', 'zz-2', 'slow', 'xe', '3')).stdout).toMatch(/xe now starts 3 s late/);
      expect((await runbook(...s, 'fault', 'zz-2', 'leap-second')).code).toBe(0);
      const state = await runbook(...s, 'state', 'zz-2');
      expect(state.stdout).toContain('STUCK (leap-second livelock)');
      expect(state.stdout).toContain('{"slow":{"xe":3}}');
      expect(await runbook(...s, 'fault', 'zz-9', 'leap-second')).toMatchObject({ code: 1, stderr: expect.stringMatching(/no host zz-9/) });
      expect(await runbook(...s, 'fault', 'zz-1', 'slow', 'xe')).toMatchObject({ code: 1, stderr: expect.stringMatching(/SECONDS must be a number/) });

      expect((await runbook(...s, 'reinstall', 'zz-1')).stdout).toMatch(/^zz-1 reinstalled; new host key SHA256:[A-Za-z0-9+/]{43}\n$/);
      const reset = await runbook(...s, 'reset', '--estate', estate, '--port-base', '0');
      expect(reset.code).toBe(0);
      expect(existsSync(join(stateDir, 'lab', 'hosts', 'zz-2', 'clock', 'stuck'))).toBe(false);
      expect(readFileSync(join(stateDir, 'lab', 'inventory.yaml'), 'utf8')).toContain('pool-z');
    } finally {
      expect((await runbook(...s, 'down')).stdout).toMatch(/^lab stopped \(pid \d+\)\n$/);
    }
    expect((await runbook(...s, 'down')).stdout).toBe('lab was not running\n');
    rmSync(dirname(stateDir), { recursive: true, force: true });
  });
});
