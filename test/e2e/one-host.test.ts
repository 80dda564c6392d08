/**
 * `oneHost: true`: a runbook that acts on one host per run (a rebuild, a VM's repair) takes the host
 * from --limit alone. A run that targets more than one is refused before any host is touched, by
 * apply, plan and check alike; with one it runs and steps see it as ctx.host.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, FAST_ENV, makeProject, runMain } from './helpers.ts';

const RUNBOOK = `
import { defineRunbook, file, z } from '${API}';

export default defineRunbook({
  name: 'rebuild-one',
  summary: 'marks one host as rebuilt (local test runbook)',
  vars: z.object({ marks: z.string() }),
  oneHost: true,
}).steps([
  file({ id: 'mark', title: 'marked', path: (c) => c.host.vars.marks + '/' + c.host.name, content: 'rebuilt\\n' }),
]);
`;

describe('a one-host runbook', () => {
  let project: string;
  const marks = () => join(project, 'marks');
  const cli = (...args: string[]) => runMain([...args, '--state-dir', join(project, 'state')], { cwd: project, env: { ...process.env, ...FAST_ENV } });

  beforeAll(() => {
    project = makeProject({ 'package.json': '{ "type": "module" }\n', 'runbooks/rebuild-one.ts': RUNBOOK, 'marks/.keep': '' });
    const hosts = ['local-a', 'local-b', 'local-c'].map((name) => `${name} ansible_connection=local marks=${marks()}\n`);
    mkdirSync(join(project, 'inventory'));
    writeFileSync(join(project, 'inventory/local.ini'), `[pool]\n${hosts.join('')}`);
  });
  afterAll(() => rm(project, { recursive: true, force: true }));

  it.each([
    [['apply', 'rebuild-one', '--inventory', 'local'], 'without --limit its targets (all) are 3 hosts (local-a, local-b, local-c)'],
    [['apply', 'rebuild-one', '--inventory', 'local', '--limit', 'local-a:local-b'], '--limit local-a:local-b matches 2 of its targets (local-a, local-b)'],
    [['plan', 'rebuild-one', '--inventory', 'local', '--out', 'p.json'], 'without --limit'],
    [['check', 'rebuild-one', '--inventory', 'local'], 'without --limit'],
  ])('%j is refused, naming the hosts, and touches none', async (argv, words) => {
    const result = await cli(...argv);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('rebuild-one acts on one host per run');
    expect(result.stderr).toContain(words);
    expect(result.stderr).toContain('give --limit with the one host');
    expect(readdirSync(marks())).toEqual(['.keep']);
    expect(existsSync(join(project, 'p.json'))).toBe(false);
  });

  it('runs on the one host --limit names, which the steps see as ctx.host', async () => {
    const result = await cli('apply', 'rebuild-one', '--inventory', 'local', '--limit', 'local-b');
    expect(result.stdout + result.stderr).toMatch(/local-b\s+mark\s+changed/);
    expect(readdirSync(marks()).sort()).toEqual(['.keep', 'local-b']);
  });

  it('describe says it takes one host per run', async () => {
    const text = await cli('describe', 'rebuild-one');
    expect(text.stdout).toContain('hosts: all (one per run: --limit HOST)');
  });
});
