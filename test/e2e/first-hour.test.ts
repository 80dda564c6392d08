import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runEventSchemas } from '../../src/engine/events.ts';
import { jsonLineSchema } from '../../src/report/json.ts';
import { API, makeProject, runCli } from './helpers.ts';

/** What a newcomer hits in the first hour (issue 14, items 7, 8, 9, 11, 12), through the real CLI on local hosts. */
const MOTD = `
import { z, defineRunbook, file, assert, noop, change } from '${API}';
export default defineRunbook({
  name: 'motd',
  summary: 'a message of the day (first-hour test runbook)',
  hosts: 'web',
  params: z.object({ site: z.string(), message: z.string().default('hello'), fail: z.boolean().default(false) }),
  vars: z.object({ root: z.string() }),
}).steps([
    file({ id: 'dir', title: 'host folder exists', path: (c) => c.host.vars.root, state: 'directory' }),
    file({ id: 'motd', title: 'motd has the message', path: (c) => c.host.vars.root + '/motd', content: (c) => c.params.site + ': ' + c.params.message + '\\n' }),
    assert({ id: 'sane', title: 'not asked to fail', that: (c) => c.params.fail ? change('asked to fail') : noop('fine') }),
  ]);
`;

const VAULT = `
import { z, defineRunbook, assert, noop, secretString } from '${API}';
export default defineRunbook({
  name: 'vault',
  summary: 'needs a secret',
  params: z.object({ password: secretString() }),
}).steps([assert({ id: 'has', title: 'password given', that: () => noop('given') })]);
`;

describe('the first hour (real CLI, ansible_connection=local)', () => {
  let project: string;
  let stateCount = 0;
  const freshState = () => join(project, `state-${++stateCount}`);
  const cli = (state: string, args: string[], env: NodeJS.ProcessEnv = {}) => runCli([...args, '--state-dir', state], { cwd: project, env });
  const hostsDir = () => join(project, 'hosts');

  beforeAll(() => {
    project = makeProject({
      'package.json': '{ "type": "module" }\n',
      'runbooks/motd.ts': MOTD,
      'runbooks/vault.ts': VAULT,
      'retry.txt': '# failed last time\nlocal-b\n\n',
    });
    writeFileSync(join(project, 'inventory.ini'), `[web]\nlocal-a ansible_connection=local root=${project}/hosts/a\nlocal-b ansible_connection=local root=${project}/hosts/b\n[db]\nlocal-c ansible_connection=local root=${project}/hosts/c\n`);
  });

  it('7: a missing required param says how to give it (a secret: the environment); exit 1, nothing touched', async () => {
    const state = freshState();
    const missing = await cli(state, ['apply', 'motd', '-i', 'inventory.ini']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("param site: missing required param 'site': pass --param site=… (or -e site=…)");
    const secret = await cli(state, ['apply', 'vault', '-i', 'inventory.ini']);
    expect(secret.code).toBe(1);
    expect(secret.stderr).toContain("param password: missing required secret param 'password': set RUNBOOK_PARAM_password in the environment");
    expect(existsSync(hostsDir())).toBe(false);
    expect(existsSync(join(state, 'runs'))).toBe(false);
  });

  it('8: did you mean — commands, flags, runbooks, params, host patterns, steps', async () => {
    const state = freshState();
    const cases: [string[], RegExp][] = [
      [['aply', 'motd'], /unknown command 'aply': did you mean apply\?/],
      [['apply', 'motd', '-i', 'inventory.ini', '--dry-rn'], /unknown option --dry-rn; did you mean --dry-run\?/],
      [['apply', 'mtod', '-i', 'inventory.ini'], /no runbook named "mtod".*; did you mean motd\?/],
      [['apply', 'motd', '-i', 'inventory.ini', '-e', 'site=x', '-e', 'mesage=hi'], /param mesage: unknown param \(this runbook takes: site, message, fail\); did you mean message\?/],
      [['apply', 'motd', '-i', 'inventory.ini', '-e', 'site=x', '--limit', 'local-x'], /no hosts match the pattern 'local-x'.*local-x: did you mean local-a or local-b or local-c\?/],
      [['apply', 'motd', '-i', 'inventory.ini', '-e', 'site=x', '--limit', 'wbe'], /wbe: did you mean web\?/],
    ];
    for (const [args, expected] of cases) {
      const result = await cli(state, args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr, args.join(' ')).toMatch(expected);
    }
    expect(existsSync(hostsDir())).toBe(false);
  });

  it('9: -e is --param (and -e @FILE reads a vars file), --list-hosts lists without connecting, --limit @file reads a retry file', async () => {
    const state = freshState();
    const list = await cli(state, ['apply', 'motd', '-i', 'inventory.ini', '--list-hosts']);
    expect(list.code).toBe(0);
    expect(list.stdout).toBe('runbook motd: hosts web\n  hosts (2):\n    local-a\n    local-b\n');
    const limited = await cli(state, ['apply', 'motd', '-i', 'inventory.ini', '--list-hosts', '--limit', '@retry.txt']);
    expect(limited.stdout).toContain('limited to local-b\n  hosts (1):\n    local-b\n');
    expect(existsSync(hostsDir())).toBe(false);
    const noFile = await cli(state, ['apply', 'motd', '-i', 'inventory.ini', '--limit', '@nope.txt', '-e', 'site=x']);
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toContain(`--limit @nope.txt: cannot read ${join(project, 'nope.txt')} (ENOENT)`);
    const applied = await cli(state, ['apply', 'motd', '-i', 'inventory.ini', '--limit', '@retry.txt', '-e', 'site=lab', '-e', 'message=hi']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(existsSync(join(hostsDir(), 'a'))).toBe(false);
    expect(readFileSync(join(hostsDir(), 'b/motd'), 'utf8')).toBe('lab: hi\n');
    // -e @FILE: Ansible's extra-vars file, YAML or JSON; a later -e k=v wins.
    writeFileSync(join(project, 'vars.yml'), 'site: filed\nmessage: from the file\nfail: false\n');
    const filed = await cli(state, ['apply', 'motd', '-i', 'inventory.ini', '--limit', 'local-b', '-e', '@vars.yml', '-e', 'message=overridden']);
    expect(filed.code, filed.stderr).toBe(0);
    expect(readFileSync(join(hostsDir(), 'b/motd'), 'utf8')).toBe('filed: overridden\n');
    const noVars = await cli(state, ['apply', 'motd', '-i', 'inventory.ini', '-e', '@nope.yml']);
    expect(noVars.code).toBe(1);
    expect(noVars.stderr).toContain(`--param @nope.yml: cannot read ${join(project, 'nope.yml')} (ENOENT)`);
  });

  it('9: --start-at-step is refused: pointing at resume when an unfinished run holds the hosts, else explaining why', async () => {
    const state = freshState();
    const none = await cli(state, ['apply', 'motd', '-i', 'inventory.ini', '-e', 'site=x', '--start-at-step', 'motd']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/--start-at-step is not supported: runbook skips only the steps a run's journal shows done/);
    expect(none.stderr).toMatch(/runbook resume RUN/);
    const failed = await cli(state, ['apply', 'motd', '-i', 'inventory.ini', '-e', 'site=x', '-e', 'fail=true', '--limit', 'local-c,local-a']);
    expect(failed.code).toBe(2);
    const runId = /journal: runbook show (\S+)/.exec(failed.stderr)![1];
    const pending = await cli(state, ['apply', 'motd', '-i', 'inventory.ini', '-e', 'site=x', '--start-at-step', 'sane']);
    expect(pending.code).toBe(1);
    expect(pending.stderr).toContain(`run ${runId} of motd is unfinished on these hosts.\n  continue it where its journal stopped:  runbook resume ${runId}`);
    const typo = await cli(state, ['apply', 'motd', '-i', 'inventory.ini', '--start-at-step', 'snae']);
    expect(typo.stderr).toMatch(/runbook motd has no step snae; did you mean sane\?/);
  });

  it('9: colour: off on a pipe; FORCE_COLOR beats NO_COLOR; FORCE_COLOR=0 and --no-color turn it off; --color beats NO_COLOR', async () => {
    const state = freshState();
    const args = ['apply', 'motd', '-i', 'inventory.ini', '-e', 'site=x', '-e', 'fail=true', '--dry-run', '--limit', 'local-a'];
    const ESC = '\u001b[';
    const plain = await cli(state, args, { NO_COLOR: '' });
    expect(plain.stdout).not.toContain(ESC);
    const forced = await cli(state, args, { FORCE_COLOR: '1', NO_COLOR: '1' });
    expect(forced.stdout).toContain(ESC);
    expect((await cli(state, args, { FORCE_COLOR: '0' })).stdout).not.toContain(ESC);
    expect((await cli(state, [...args, '--no-color'], { FORCE_COLOR: '1' })).stdout).not.toContain(ESC);
    expect((await cli(state, [...args, '--color'], { NO_COLOR: '1' })).stdout).toContain(ESC);
  });

  it('11 and 12: --json lines carry "v":1 and satisfy the published schema; show latest, show --summary', async () => {
    const state = freshState();
    const run = await cli(state, ['apply', 'motd', '-i', 'inventory.ini', '--json', '-e', 'site=lab']);
    expect(run.code, run.stderr).toBe(0);
    const shown = await cli(state, ['show', 'latest', '--json']);
    expect(shown.code).toBe(0);
    const lines = [...run.stdout.trim().split('\n'), ...shown.stdout.trim().split('\n')];
    const kinds = new Set<string>();
    for (const line of lines) {
      expect(line.startsWith('{"v":1,"kind":"'), line).toBe(true);
      const event = jsonLineSchema.parse(JSON.parse(line));
      // Every field the line has is one the schema names: a field added to an event must be added to the schema.
      const known = Object.keys(runEventSchemas[event.kind].shape);
      expect(Object.keys(JSON.parse(line)).filter((k) => k !== 'v' && !known.includes(k)), line).toEqual([]);
      kinds.add(event.kind);
    }
    expect([...kinds].sort()).toEqual(['command', 'command-end', 'command-start', 'host-end', 'host-start', 'run-end', 'run-start', 'step-result', 'step-start']);
    const runId = JSON.parse(run.stdout.split('\n')[0]).runId;

    await cli(state, ['apply', 'motd', '-i', 'inventory.ini', '-e', 'site=lab', '-e', 'fail=true', '--limit', 'local-a']);
    const latest = await cli(state, ['show', 'latest', '--summary']);
    expect(latest.code).toBe(0);
    expect(latest.stdout).not.toContain(runId);
    expect(latest.stdout).toMatch(/^run \S+-motd-/);
    expect(latest.stdout).toMatch(/HOST\s+OK\s+CHANGED\s+FAILED\s+SKIPPED\s+WAITING\s+UNREACHABLE\s+DURATION\s+STATE/);
    expect(latest.stdout).toMatch(/local-a\s+2\s+0\s+1\s+0\s+0\s+0\s+\d+(ms|\.\ds)\s+failed\n/);
    expect(latest.stdout).not.toMatch(/\$ |▸/);
    // Earlier tests made some hosts' files already: ok + changed is the 3 steps, whatever the split.
    const first = await cli(state, ['show', runId, '--summary']);
    for (const host of ['local-a', 'local-b']) {
      const row = new RegExp(`  ${host}\\s+(\\d+)\\s+(\\d+)\\s+0\\s+0\\s+0\\s+0\\s+\\S+\\s+(ok|changed)\\n`).exec(first.stdout);
      expect(row, first.stdout).not.toBeNull();
      expect(Number(row![1]) + Number(row![2])).toBe(3);
    }
  });
});
