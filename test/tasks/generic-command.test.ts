/** command(): guards as tables of { input, stubbed facts → check reason and commands | error }. */
import { describe, expect, it } from 'vitest';
import { RunbookDefinitionError } from '../../src/errors.ts';
import { change, noop, type CheckResult } from '../../src/runbook/check.ts';
import type { ActionStep } from '../../src/runbook/types.ts';
import { cmd, type Command } from '../../src/shell/command.ts';
import { CommandError } from '../../src/shell/shell.ts';
import { command, type CommandOptions } from '../../src/tasks/command.ts';
import { cycle, fakeContext, fakeShell, plan, type FakeTable } from '../shell/fake-shell.ts';

const EXISTS = { code: 0 };
const MISSING = { code: 1 };
const at = (path: string) => `test -e ${path} || test -L ${path}`;
const base = { id: 'mark', title: 'mark the host', run: cmd`touch /tmp/leap` };

interface Case {
  name: string;
  input: Partial<CommandOptions>;
  facts: FakeTable;
  params?: Record<string, unknown>;
  check: CheckResult;
  commands: string[];
}

const CASES: Case[] = [
  { name: 'creates: the path exists', input: { creates: '/tmp/leap' }, facts: { [at('/tmp/leap')]: EXISTS }, check: noop('/tmp/leap exists'), commands: [] },
  { name: 'creates: the path is missing', input: { creates: '/tmp/leap' }, facts: { [at('/tmp/leap')]: MISSING }, check: change('/tmp/leap does not exist'), commands: ['touch /tmp/leap'] },
  { name: 'removes: the path exists', input: { removes: '/tmp/old' }, facts: { [at('/tmp/old')]: EXISTS }, check: change('/tmp/old exists'), commands: ['touch /tmp/leap'] },
  { name: 'removes: the path is gone', input: { removes: '/tmp/old' }, facts: { [at('/tmp/old')]: MISSING }, check: noop('/tmp/old does not exist'), commands: [] },
  {
    name: 'creates and removes: creates holds first', input: { creates: '/a', removes: '/b' },
    facts: { [at('/a')]: EXISTS }, check: noop('/a exists'), commands: [],
  },
  {
    name: 'creates and removes: removes holds', input: { creates: '/a', removes: '/b' },
    facts: { [at('/a')]: MISSING, [at('/b')]: MISSING }, check: noop('/b does not exist'), commands: [],
  },
  {
    name: 'creates and removes: neither holds', input: { creates: '/a', removes: '/b' },
    facts: { [at('/a')]: MISSING, [at('/b')]: EXISTS }, check: change('/a does not exist and /b exists'), commands: ['touch /tmp/leap'],
  },
  { name: 'no guard', input: {}, facts: {}, check: change('no guard: always runs'), commands: ['touch /tmp/leap'] },
  { name: 'unless: the command exits 0', input: { unless: cmd`grep -qx on /etc/leap` }, facts: { 'grep -qx on /etc/leap': { code: 0 } }, check: noop('`grep -qx on /etc/leap` exits 0'), commands: [] },
  { name: 'unless: the command fails', input: { unless: cmd`grep -qx on /etc/leap` }, facts: { 'grep -qx on /etc/leap': { code: 2 } }, check: change('`grep -qx on /etc/leap` exits 2'), commands: ['touch /tmp/leap'] },
  { name: 'an explicit check that holds', input: { check: () => noop('already joined') }, facts: {}, check: noop('already joined'), commands: [] },
  { name: 'an explicit check that does not', input: { check: async () => change('not joined') }, facts: {}, check: change('not joined'), commands: ['touch /tmp/leap'] },
  {
    name: 'several commands, in order', input: { run: [cmd`ntpdate -u ${'pool.ntp.org'}`, cmd`hwclock --systohc`] }, facts: {},
    check: change('no guard: always runs'), commands: ['ntpdate -u pool.ntp.org', 'hwclock --systohc'],
  },
  {
    name: 'dynamic run and creates from params', params: { marker: "/tmp/leap 2012's" },
    input: { run: (ctx) => cmd`touch ${(ctx.params as { marker: string }).marker}`, creates: (ctx) => (ctx.params as { marker: string }).marker },
    facts: { [at("'/tmp/leap 2012'\\''s'")]: MISSING },
    check: change("/tmp/leap 2012's does not exist"), commands: ["touch '/tmp/leap 2012'\\''s'"],
  },
];

describe('command: check and commands', () => {
  it.each(CASES)('$name', async ({ input, facts, params, check, commands }) => {
    const step = command({ ...base, ...input } as CommandOptions);
    expect(await plan(step, fakeContext(fakeShell(facts), { params }))).toEqual({ check, commands });
  });
});

describe('command: definition errors name the step', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['run is a string', { run: 'touch /tmp/x' }, /^step mark: run: run must be a Command/],
    ['run is an empty array', { run: [] }, /^step mark: run: run must be a Command/],
    ['creates is empty', { creates: '' }, /^step mark: creates: Too small/],
    ['check with creates', { creates: '/x', check: () => noop('x') }, /^step mark: give either check or creates\/removes\/unless, not both$/],
    ['check with unless', { unless: cmd`true`, check: () => noop('x') }, /^step mark: give either check or creates\/removes\/unless, not both$/],
    ['unless with removes', { unless: cmd`true`, removes: '/x' }, /^step mark: give either unless or creates\/removes, not both$/],
    ['unless is a string', { unless: 'grep -q x /etc/y' }, /^step mark: unless: unless must be a Command/],
    ['creates has a NUL', { creates: '/x\0' }, /NUL byte/],
    ['no id', { id: undefined }, /a step needs an id/],
  ])('%s', (_, patch, message) => {
    expect(() => command({ ...base, ...patch } as unknown as CommandOptions)).toThrow(RunbookDefinitionError);
    expect(() => command({ ...base, ...patch } as unknown as CommandOptions)).toThrow(message);
  });

  it('a static value is checked even when another is dynamic', () => {
    expect(() => command({ ...base, run: () => cmd`true`, creates: 42 as unknown as string })).toThrow(/^step mark: creates:/);
  });

  it('a dynamic value that resolves wrong fails when the step runs, naming the step', async () => {
    const step = command({ ...base, run: () => 'rm -rf /' as unknown as Command });
    await expect(step.commands!(fakeContext(fakeShell({})))).rejects.toThrow(/^step mark: a dynamic option resolved to a bad value: run:/);
  });
});

describe('command: the step it builds', () => {
  it('keeps the common step fields and drops its own options', () => {
    const step = command({ ...base, creates: '/x', when: () => true, timeoutMs: 5000, retries: 2, sensitive: true }) as ActionStep & Record<string, unknown>;
    expect(step).toMatchObject({ id: 'mark', title: 'mark the host', kind: 'action', timeoutMs: 5000, retries: 2, sensitive: true, verify: true });
    expect(step.creates).toBeUndefined();
    expect(step.run).toBeUndefined();
  });

  it('without a guard it is not re-checked (nothing could say it worked)', () => {
    expect(command(base).verify).toBe(false);
  });

  it('with unless, or no guard, the host judges it (it may share a frame); with creates or a check of your own, not', async () => {
    const ctx = fakeContext(fakeShell({}));
    expect(await command({ ...base, unless: cmd`test -s /etc/leap` }).hostCheck!(ctx)).toEqual({ probe: cmd`test -s /etc/leap` });
    expect(await command(base).hostCheck!(ctx)).toEqual({});
    expect(command({ ...base, creates: '/x' }).hostCheck).toBeUndefined();
    expect(command({ ...base, check: () => noop('x') }).hostCheck).toBeUndefined();
    expect(command({ ...base, unless: cmd`true` }).verify).toBe(true);
  });

  it('a full cycle: missing → touch → re-check says done', async () => {
    const sh = fakeShell({ [at('/tmp/leap')]: [MISSING, EXISTS], 'touch /tmp/leap': {} });
    const trace = await cycle(command({ ...base, creates: '/tmp/leap' }), fakeContext(sh));
    expect(trace).toEqual({ before: change('/tmp/leap does not exist'), commands: ['touch /tmp/leap'], after: noop('/tmp/leap exists') });
    expect(sh.ran.map((r) => r.display)).toEqual([at('/tmp/leap'), 'touch /tmp/leap', at('/tmp/leap')]);
  });

  it('a failing command stops the ones after it', async () => {
    const sh = fakeShell({ 'false': { code: 1, stderr: 'nope' } });
    const step = command({ ...base, run: [cmd`false`, cmd`touch /never`] });
    await expect(cycle(step, fakeContext(sh))).rejects.toThrow(CommandError);
    expect(sh.ran.map((r) => r.display)).toEqual(['false']);
  });
});
