import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { API, makeProject, runCli } from './helpers.ts';

/** The five-step runbook the "done when" asks a newcomer to write, against local hosts. */
const RUNBOOK = `
import { z, defineRunbook, file, lineInFile, command, assert, noop, change, cmd } from '${API}';

export default defineRunbook({
  name: 'motd',
  summary: 'a message of the day on every host (local test runbook)',
  params: z.object({ message: z.string().default('hello'), fail: z.boolean().default(false) }),
  vars: z.object({ root: z.string().startsWith('/'), port_count: z.number().int().optional() }),
}).steps([
    file({ id: 'dir', title: 'host folder exists', path: (c) => c.host.vars.root, state: 'directory' }),
    file({ id: 'motd', title: 'motd has the message', path: (c) => c.host.vars.root + '/motd', content: (c) => c.params.message + '\\n' }),
    lineInFile({ id: 'conf', title: 'banner enabled', path: (c) => c.host.vars.root + '/sshd_config', line: 'Banner /etc/motd', regexp: '^#?Banner ', create: true }),
    command({ id: 'stamp', title: 'stamp written once', creates: (c) => c.host.vars.root + '/stamp', run: (c) => cmd\`touch \${c.host.vars.root + '/stamp'}\` }),
    assert({ id: 'sane', title: 'not asked to fail', that: (c) => c.params.fail ? change('asked to fail') : noop('fine') }),
  ]);
`;

describe('runbook apply on ansible_connection=local hosts (real CLI)', () => {
  let project: string;
  const state = () => join(project, 'state');
  // The compiler check is on here: this is the newcomer's path.
  const cli = (...args: string[]) => runCli([...args, '--state-dir', state()], { cwd: project, env: { RUNBOOK_TYPECHECK: '1' } });

  beforeAll(() => {
    project = makeProject({ 'package.json': '{ "type": "module" }\n', 'runbooks/motd.ts': RUNBOOK });
    const ini = `[web]\nlocal-a ansible_connection=local root=${project}/hosts/a\nlocal-b ansible_connection=local root=${project}/hosts/b\n`;
    makeProjectFile(project, 'inventory/local.ini', ini);
    makeProjectFile(project, 'inventory/bad.ini', `[web]\nlocal-a ansible_connection=local root=relative/path port_count=many\n`);
  });

  it('lists and describes the runbook', async () => {
    const list = await cli('list');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/motd\s+a message of the day on every host .*\(5 steps\)/);
    const md = await cli('describe', 'motd', '--format', 'md');
    expect(md.stdout).toContain('1. [ ] **host folder exists**');
    expect(md.stdout).toMatch(/\| `message` \| string \| no \| `"hello"` \|/);
  });

  it('dry-run shows what would change, with commands, and touches nothing', async () => {
    const dry = await cli('apply', 'motd', '--inventory', 'local', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/local-a\s+dir\s+would change/);
    expect(dry.stdout).toMatch(/\$ mkdir/);
    expect(existsSync(join(project, 'hosts'))).toBe(false);
    expect(dry.stdout).toMatch(/RECAP/);
  });

  it('apply converges, the recap counts it, and a second apply is all ok', async () => {
    const first = await cli('apply', 'motd', '--inventory', 'local', '--param', 'message=hi there');
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(readFileSync(join(project, 'hosts/b/motd'), 'utf8')).toBe('hi there\n');
    expect(first.stdout).toMatch(/local-a\s+: ok=1\s+changed=4\s+failed=0/);
    const second = await cli('apply', 'motd', '--inventory', 'local', '--param', 'message=hi there');
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/local-b\s+: ok=5\s+changed=0/);
  });

  it('--json prints one event per line; --limit narrows the hosts', async () => {
    const json = await cli('apply', 'motd', '--inventory', 'local', '--json', '--limit', 'local-b', '--param', 'message=hi there');
    const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ kind: 'run-start', hosts: ['local-b'] });
    expect(events.at(-1)).toMatchObject({ kind: 'run-end', status: 'ok', exitCode: 0 });
  });

  it('a failing step exits 2 and the host is failed', async () => {
    const failed = await cli('apply', 'motd', '--inventory', 'local', '--param', 'fail=true', '--param', 'message=hi there');
    expect(failed.code).toBe(2);
    expect(failed.stdout).toMatch(/sane\s+FAILED\s+assertion failed: asked to fail/);
  });

  it('bad params and bad host vars exit 1 naming host, field and file, before any host is touched', async () => {
    const unknown = await cli('apply', 'motd', '--inventory', 'local', '--param', 'mesage=x');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/param mesage: unknown param \(this runbook takes: message, fail\)/);
    const bad = await cli('apply', 'motd', '--inventory', 'bad', '--fresh');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/host local-a: var root: .*must start with "\/" \(from inventory\/bad\.ini:2/);
    expect(bad.stderr).toMatch(/host local-a: var port_count: .*expected number/);
    const noRunbook = await cli('apply', 'nope', '--inventory', 'local');
    expect(noRunbook.code).toBe(1);
    expect(noRunbook.stderr).toMatch(/no runbook named "nope".*there are: motd/);
  });

  it('a runbook that does not type-check is refused with file, line and the error (exit 1)', async () => {
    writeFileSync(join(project, 'runbooks/typo.ts'), `import { defineRunbook, command, cmd, z } from '${API}';
export default defineRunbook({ name: 'typo', summary: 'a typo', params: z.object({ who: z.string() }) }).steps([
  command({ id: 'x', title: 'x', run: (ctx) => cmd\`echo \${ctx.params.whom}\` }),
]);
`);
    const typo = await cli('apply', 'typo', '--inventory', 'local');
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/typo\.ts: does not type-check \(1 error\)/);
    expect(typo.stderr).toMatch(/runbooks\/typo\.ts:3:\d+ Property 'whom' does not exist/);
    const skipped = await cli('apply', 'typo', '--inventory', 'local', '--no-typecheck', '--dry-run');
    expect(skipped.stderr).not.toMatch(/type-check/);
  });

  it('runs and show tell the story', async () => {
    const runs = await cli('runs');
    expect(runs.code).toBe(0);
    expect(runs.stdout).toMatch(/motd\s+local\.ini/);
    const id = runs.stdout.split('\n')[1].split(/\s+/)[0];
    const show = await cli('show', id);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`run ${id}`);
  });
});

function makeProjectFile(dir: string, path: string, text: string): void {
  mkdirSync(join(dir, path, '..'), { recursive: true });
  writeFileSync(join(dir, path), text);
}
