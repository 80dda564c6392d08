/**
 * A dry-run leaves the lab byte-identical (issue 13): for every shipped runbook, every file under
 * the lab's host folders hashes the same before and after `runbook apply NAME --dry-run`. A
 * read-only command that writes a cache or lazily saves state into a host folder fails here.
 * One lab for the file: a dry-run that changes nothing leaves the next one the same estate.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEvents, startLab, type RunbookLab } from '../runbooks/lab-helpers.ts';

let lab: RunbookLab;
beforeAll(async () => {
  lab = await startLab({ rebootDownMs: 300 });
}, 120_000);
afterAll(async () => {
  await lab?.stop();
});

/** How each runbook is driven (as test/runbooks/*.test.ts drive them), with the secrets it needs. */
const DRY_RUNS: { runbook: string; args: () => string[]; env?: NodeJS.ProcessEnv }[] = [
  { runbook: 'leap-second', args: () => [] },
  { runbook: 'iscsi-reconnect', args: () => [] },
  { runbook: 'iscsi-reverse-reset', args: () => ['-l', 'xs-02'] },
  { runbook: 'hvm-to-pv', args: () => ['--param', 'guestTools=false'] },
  { runbook: 'pv-to-hvm', args: () => [] },
  {
    runbook: 'rebuild-rejoin-host',
    args: () => ['--limit', 'xs-03', '--param', 'host=xs-03', '--param', `knownHosts=${join(lab.stateDir, 'known_hosts')}`],
    env: { RUNBOOK_PARAM_poolPassword: 'xenroot' },
  },
  { runbook: 'xenapp-prep-clone', args: () => ['-l', 'xenapp-01', '--param', 'phase=prepare'], env: { RUNBOOK_PARAM_domainPassword: 'Pa55w0rd' } },
  { runbook: 'ha-enable-timeout', args: () => ['--param', 'timeout=90'] },
  { runbook: 'pool-master-failover', args: () => ['--param', 'newMaster=xs-02', '--param', 'mode=planned'] },
  { runbook: 'management-mtu', args: () => [] },
  { runbook: 'vdi-not-found', args: () => ['--param', 'vm=ubuntu-01', '--param', 'host=xs-02'] },
  { runbook: 'host-crash-triage', args: () => [] },
];

/** Path (relative to the hosts folder) → sha256 of its content (a symlink: of its target; a folder: "dir"). */
function hashTree(root: string): Record<string, string> {
  const hashes: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const stat = lstatSync(path);
      const key = relative(root, path);
      if (stat.isDirectory()) {
        hashes[key] = 'dir';
        walk(path);
      } else if (stat.isSymbolicLink()) hashes[key] = `-> ${readlinkSync(path)}`;
      else hashes[key] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  walk(root);
  return hashes;
}

/** The paths whose hash differs: added, removed or changed. */
function changed(before: Record<string, string>, after: Record<string, string>): string[] {
  const paths = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...paths].filter((p) => before[p] !== after[p]).map((p) => `${p}: ${before[p] === undefined ? 'added' : after[p] === undefined ? 'removed' : 'changed'}`).sort();
}

describe('a dry-run leaves every lab host byte-identical', () => {
  it.each(DRY_RUNS.map((d) => [d.runbook, d] as const))('%s', async (_name, { runbook, args, env }) => {
    const hosts = join(lab.lab.labRoot, 'hosts');
    const before = hashTree(hosts);
    const run = await lab.cli(['apply', runbook, '-i', lab.inventory, '--dry-run', '--json', ...args()], { env, timeoutMs: 150_000 });
    // it really ran against the lab (not refused before connecting)
    expect(parseEvents(run.stdout).some((e) => e.kind === 'run-start'), run.stdout + run.stderr).toBe(true);
    expect(changed(before, hashTree(hosts)), `${runbook} --dry-run (exit ${run.code})`).toEqual([]);
    expect(lab.mutations()).toEqual({});
  }, 200_000);
});
