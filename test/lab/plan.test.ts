/**
 * Saved plans, --diff, --check and --detailed-exitcode against the lab (issue 17), with a small
 * project runbook (a file and a lineInFile step on two lab hosts): fast, and safe to edit here.
 * One lab for the file; the cases run in order and each says what state it leaves.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealPlan, type Plan } from '../../src/plan/file.ts';
import { API, makeProject, runCli } from '../e2e/helpers.ts';
import { parseEvents, startLab, statusTable, type RunbookLab } from '../runbooks/lab-helpers.ts';

const RUNBOOK = `
import { z, defineRunbook, file, lineInFile } from '${API}';

export default defineRunbook({
  name: 'motd-lab',
  summary: 'a motd and an NTP server line on two lab hosts (plan test runbook)',
  hosts: 'xs-01,xs-02',
  params: z.object({ message: z.string().default('hello'), ntp: z.string().default('ntp1.example.com') }),
}).steps([
  file({ id: 'motd', title: 'motd says the message', path: '/tmp/motd', content: (c) => 'welcome\\n' + c.params.message + '\\n' }),
  lineInFile({ id: 'ntp-server', title: 'the NTP server line', path: '/tmp/ntp.conf', regexp: '^server ', line: (c) => 'server ' + c.params.ntp + ' iburst', create: true }),
]);
`;

let lab: RunbookLab;
let project: string;
const cli = (...args: string[]) => runCli([...args, '--state-dir', lab.stateDir], { cwd: project, timeoutMs: 90_000 });
const motd = (host: string) => lab.hostFile(host, 'tmp/motd');
const NEW = ['--param', 'message=new', '--param', 'ntp=new.example.com'];

beforeAll(async () => {
  lab = await startLab({ hosts: 'xs-01,xs-02' });
  project = makeProject({ 'package.json': '{ "type": "module" }\n', 'runbooks/motd-lab.ts': RUNBOOK });
  const first = await cli('apply', 'motd-lab', '-i', lab.inventory, '--param', 'message=old', '--param', 'ntp=old.example.com');
  expect(first.code, first.stdout + first.stderr).toBe(0);
}, 120_000);
afterAll(async () => {
  await lab?.stop();
});

describe('--check --diff on the lab', () => {
  it('shows the real unified diff of a file and a lineInFile change, says "would change", touches nothing', async () => {
    const dry = await cli('apply', 'motd-lab', '-i', lab.inventory, '-C', '--diff', ...NEW);
    expect(dry.code, dry.stdout + dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/--- \/tmp\/motd\n\s+\+\+\+ \/tmp\/motd\n\s+@@ -1,2 \+1,2 @@\n\s+ welcome\n\s+-old\n\s+\+new/);
    expect(dry.stdout).toMatch(/--- \/tmp\/ntp\.conf\n\s+\+\+\+ \/tmp\/ntp\.conf\n\s+@@ -1 \+1 @@\n\s+-server old\.example\.com iburst\n\s+\+server new\.example\.com iburst/);
    expect(dry.stdout).toMatch(/xs-01\s+: ok=0\s+would change=2 .* would change$/m);
    expect(dry.stdout).not.toMatch(/changed=|\bchanged$/m);
    expect(motd('xs-01')).toBe('welcome\nold\n');
  }, 100_000);

  it('--detailed-exitcode: 2 with changes pending, 0 with none', async () => {
    expect((await cli('apply', 'motd-lab', '-i', lab.inventory, '--check', '--detailed-exitcode', ...NEW)).code).toBe(2);
    const none = await cli('apply', 'motd-lab', '-i', lab.inventory, '--dry-run', '--detailed-exitcode', '--param', 'message=old', '--param', 'ntp=old.example.com');
    expect(none.code, none.stdout + none.stderr).toBe(0);
  }, 100_000);
});

describe('runbook plan / apply PLANFILE on the lab', () => {
  let planFile: string;
  let plan: Plan;
  const variant = (name: string, edit: (p: Plan) => Plan | string): string => {
    const file = join(project, name);
    const edited = edit(JSON.parse(JSON.stringify(plan)) as Plan);
    writeFileSync(file, typeof edited === 'string' ? edited : JSON.stringify(edited, null, 2));
    return file;
  };

  beforeAll(async () => {
    planFile = join(project, 'tonight.plan.json');
    const made = await cli('plan', 'motd-lab', '-i', lab.inventory, '-o', planFile, '--valid-for', '8h', '--detailed-exitcode', ...NEW);
    expect(made.code, made.stdout + made.stderr).toBe(2);
    expect(made.stderr).toMatch(/plan written: .*tonight\.plan\.json \(sha256 [0-9a-f]{12}…, valid until .*\): 2 host\(s\), 4 change\(s\) pending/);
    plan = JSON.parse(readFileSync(planFile, 'utf8')) as Plan;
  }, 100_000);

  it('holds the runbook hash, hosts, params, per step result, commands and diff; renders for a ticket', async () => {
    expect(plan).toMatchObject({ kind: 'runbook-plan', version: 1, runbook: { name: 'motd-lab' }, params: { message: 'new', ntp: 'new.example.com' }, hostOrder: ['xs-01', 'xs-02'] });
    expect(plan.inventory.hosts['xs-01']).toMatchObject({ address: '127.0.0.1', connection: 'ssh' });
    const step = plan.hosts['xs-02'].steps[0];
    expect(step).toMatchObject({ id: 'motd', status: 'would-change' });
    expect(step.diff).toContain('-old\n+new');
    expect(step.commands?.[0]).toMatch(/mktemp/);
    const md = await cli('plan', 'show', planFile, '--format', 'md');
    expect(md.code).toBe(0);
    expect(md.stdout).toContain('# Plan: motd-lab');
    expect(md.stdout).toMatch(/\| motd \| would change \| content differs/);
    expect(md.stdout).toContain('```diff\n--- /tmp/motd\n+++ /tmp/motd\n@@ -1,2 +1,2 @@\n welcome\n-old\n+new\n```');
  }, 60_000);

  it('refuses, touching nothing: a hand-edited plan, an expired one, other params, an edited runbook', async () => {
    const refusals: Array<[string, string[], RegExp]> = [
      [variant('edited.json', (p) => { p.hosts['xs-01'].steps[0].commands = ['rm -rf /']; return p; }), [], /edited after it was written/],
      [variant('expired.json', (p) => { const { sha256: _, ...body } = p; return sealPlan({ ...body, expiresAt: '2020-01-01T00:00:00.000Z' }); }), [], /expired at 2020-01-01/],
      [variant('not-json.json', () => '{"kind": "runbook-plan", '), [], /not valid JSON/],
      [planFile, ['--param', 'message=other'], /params differ from the plan's \(message: planned "new", now "other"\)/],
    ];
    for (const [file, extra, why] of refusals) {
      const refused = await cli('apply', file, ...extra);
      expect(refused.code, `${file}: ${refused.stderr}`).toBe(1);
      expect(refused.stderr).toMatch(why);
    }
    const runbook = join(project, 'runbooks/motd-lab.ts');
    const edit = RUNBOOK.replace("'welcome\\n'", "'hello\\n'");
    expect(edit).not.toBe(RUNBOOK);
    writeFileSync(runbook, edit);
    try {
      const edited = await cli('apply', planFile);
      expect(edited.code).toBe(1);
      expect(edited.stderr).toMatch(/runbooks\/motd-lab\.ts changed since the plan was made .*: refused/);
    } finally {
      writeFileSync(runbook, RUNBOOK);
    }
    expect(motd('xs-01')).toBe('welcome\nold\n');
    expect(motd('xs-02')).toBe('welcome\nold\n');
  }, 120_000);

  it('a host changed by hand since the plan stops as stale (both results shown); the other host finishes', async () => {
    writeFileSync(join(lab.hostDir('xs-02'), 'tmp/motd'), 'welcome\nedited by hand\n');
    const applied = await cli('apply', planFile, '--json');
    expect(applied.code, applied.stderr).toBe(6);
    const events = parseEvents(applied.stdout);
    expect(statusTable(events)).toEqual({ 'xs-01': { motd: 'changed', 'ntp-server': 'changed' }, 'xs-02': { motd: 'stale' } });
    const stale = events.find((e) => e.kind === 'step-result' && e.status === 'stale');
    expect(stale).toMatchObject({ reason: expect.stringMatching(/^stale: the plan would change it differently \(would-change: content differs \(sha256 \w+…, want \w+…\)\); the check now says would change: content differs/) });
    expect(motd('xs-01')).toBe('welcome\nnew\n');
    expect(motd('xs-02')).toBe('welcome\nedited by hand\n');
    expect(events.find((e) => e.kind === 'run-start')).toMatchObject({ plan: { sha256: plan.sha256 } });
    const shown = await cli('show', 'latest');
    expect(shown.stdout).toContain(`applied    plan ${planFile} (sha256 ${plan.sha256})`);
  }, 120_000);

  it('resume stays under the plan; --refresh-stale applies a step planned as the same kind of change with what its check finds now', async () => {
    const again = await cli('resume', '--json');
    expect(again.code, again.stderr).toBe(6);
    expect(statusTable(parseEvents(again.stdout))).toEqual({ 'xs-02': { motd: 'stale' } });
    const refreshed = await cli('resume', '--refresh-stale', '--json');
    expect(refreshed.code, refreshed.stderr).toBe(0);
    expect(statusTable(parseEvents(refreshed.stdout))).toEqual({ 'xs-02': { motd: 'changed', 'ntp-server': 'changed' } });
    expect(motd('xs-02')).toBe('welcome\nnew\n');
  }, 120_000);
});

describe('--window-end', () => {
  it('a window already over is refused before anything runs', async () => {
    const late = await cli('apply', 'motd-lab', '-i', lab.inventory, '--window-end', '2020-01-01T00:00:00Z');
    expect(late.code).toBe(1);
    expect(late.stderr).toMatch(/--window-end "2020-01-01T00:00:00Z": the change window ended at 2020-01-01T00:00:00\.000Z; nothing was started/);
  }, 60_000);
});
