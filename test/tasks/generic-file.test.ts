/** file(): tables of { input, stubbed facts → check reason and commands | error }, plus apply's stdin. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { RunbookDefinitionError } from '../../src/errors.ts';
import { change, noop, type CheckResult } from '../../src/runbook/check.ts';
import { file, type FileOptions } from '../../src/tasks/file.ts';
import { TaskError } from '../../src/tasks/resolve.ts';
import { cycle, fakeContext, fakeShell, plan, type FakeAnswer, type FakeTable } from '../shell/fake-shell.ts';

const HELLO_SHA = '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03';
const OTHER_SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const exists = (path: string) => `test -e ${path} || test -L ${path}`;
const stat = (path: string) => `if test -e ${path}; then stat -L -c '%f %u %g %s %U %G' -- ${path}; fi`;
const sha = (path: string) => `if test -f ${path}; then sha256sum < ${path}; fi`;
const content = (path: string) => `if test -f ${path}; then echo file && cat -- ${path}; elif test -e ${path}; then echo other; else echo absent; fi`;
const write = (dir: string, name: string) =>
  `tmp=$(mktemp ${dir}/.${name}.runbook.XXXXXX) && { cp -p -- ${dir}/${name} "$tmp" && cat > "$tmp" && mv -f -- "$tmp" ${dir}/${name} || { rm -f -- "$tmp"; false; }; }`;

const FILE_644: FakeAnswer = { stdout: '81a4 0 0 6 root root\n' };
const FILE_600_WWW: FakeAnswer = { stdout: '8180 33 33 6 www-data www-data\n' };
const DIR_755: FakeAnswer = { stdout: '41ed 0 0 4096 root root\n' };
const DIR_750: FakeAnswer = { stdout: '41e8 0 0 4096 root root\n' };
const NOTHING: FakeAnswer = { stdout: '' };

interface Case {
  name: string;
  input: Partial<FileOptions>;
  facts: FakeTable;
  check: CheckResult;
  commands: string[];
}

const CASES: Case[] = [
  { name: 'absent: something is there', input: { path: '/tmp/x', state: 'absent' }, facts: { [exists('/tmp/x')]: { code: 0 } }, check: change('/tmp/x exists'), commands: ['rm -rf -- /tmp/x'] },
  { name: 'absent: nothing there', input: { path: '/tmp/x', state: 'absent' }, facts: { [exists('/tmp/x')]: { code: 1 } }, check: noop('/tmp/x is absent'), commands: [] },
  { name: 'directory: missing', input: { path: '/srv/d', state: 'directory' }, facts: { [stat('/srv/d')]: NOTHING }, check: change('/srv/d does not exist'), commands: ['mkdir -p -- /srv/d'] },
  {
    name: 'directory: missing, with mode and owner', input: { path: '/srv/d', state: 'directory', mode: '0750', owner: 'www-data', group: '33' },
    facts: { [stat('/srv/d')]: NOTHING }, check: change('/srv/d does not exist'),
    commands: ['mkdir -p -- /srv/d', 'chmod 0750 -- /srv/d', 'chown www-data -- /srv/d', 'chgrp 33 -- /srv/d'],
  },
  { name: 'directory: there with the mode', input: { path: '/srv/d', state: 'directory', mode: '750' }, facts: { [stat('/srv/d')]: DIR_750 }, check: noop('/srv/d is a directory with mode 0750'), commands: [] },
  { name: 'directory: there, wrong mode', input: { path: '/srv/d', state: 'directory', mode: 0o750 }, facts: { [stat('/srv/d')]: DIR_755 }, check: change('mode is 0755, want 0750'), commands: ['chmod 0750 -- /srv/d'] },
  { name: 'present: missing, no content', input: { path: '/tmp/x' }, facts: { [stat('/tmp/x')]: NOTHING }, check: change('/tmp/x does not exist'), commands: ['touch -- /tmp/x'] },
  { name: 'present: there, no content', input: { path: '/tmp/x', state: 'present' }, facts: { [stat('/tmp/x')]: FILE_644 }, check: noop('/tmp/x exists'), commands: [] },
  {
    name: 'present: missing, with content and mode', input: { path: '/etc/motd', content: 'hello\n', mode: '0644' },
    facts: { [stat('/etc/motd')]: NOTHING }, check: { ...change('/etc/motd does not exist'), content: { path: '/etc/motd', before: null, after: 'hello\n' } },
    commands: ['touch -- /etc/motd', 'chmod 0644 -- /etc/motd', `${write('/etc', 'motd')} <content: 6 bytes, sha256 5891b5b522d5…>`],
  },
  {
    name: 'present: the same content', input: { path: '/etc/motd', content: 'hello\n', mode: '0644' },
    facts: { [stat('/etc/motd')]: FILE_644, [sha('/etc/motd')]: { stdout: `${HELLO_SHA}  -\n` } },
    check: noop('/etc/motd exists with the wanted content, mode 0644'), commands: [],
  },
  {
    name: 'present: other content', input: { path: '/etc/motd', content: Buffer.from('hello\n') },
    facts: { [stat('/etc/motd')]: FILE_644, [sha('/etc/motd')]: { stdout: `${OTHER_SHA}  -\n` }, [content('/etc/motd')]: { stdout: 'file\nold\n' } },
    // The text now and after, for --diff and saved plans.
    check: { ...change('content differs (sha256 e3b0c44298fc…, want 5891b5b522d5…)'), content: { path: '/etc/motd', before: 'old\n', after: 'hello\n' } }, commands: [`${write('/etc', 'motd')} <content: 6 bytes, sha256 5891b5b522d5…>`],
  },
  {
    name: 'present: owner and group by name or id', input: { path: '/var/www/x', owner: '33', group: 'www-data', mode: '600' },
    facts: { [stat('/var/www/x')]: FILE_600_WWW }, check: noop('/var/www/x exists with mode 0600, owner 33, group www-data'), commands: [],
  },
  {
    name: 'present: wrong owner, group and mode', input: { path: '/var/www/x', owner: 'root', group: 'root', mode: '0640' },
    facts: { [stat('/var/www/x')]: FILE_600_WWW },
    check: change('mode is 0600, want 0640; owner is www-data, want root; group is www-data, want root'),
    commands: ['chmod 0640 -- /var/www/x', 'chown root -- /var/www/x', 'chgrp root -- /var/www/x'],
  },
  {
    name: 'quoting: a hostile path', input: { path: "/tmp/it's $(here)", state: 'absent' },
    facts: { [exists("'/tmp/it'\\''s $(here)'")]: { code: 0 } }, check: change("/tmp/it's $(here) exists"), commands: ["rm -rf -- '/tmp/it'\\''s $(here)'"],
  },
  { name: 'touch: there', input: { path: '/tmp/x', state: 'touch' }, facts: { [stat('/tmp/x')]: FILE_644 }, check: change('touch updates the times of /tmp/x on every run'), commands: ['touch -- /tmp/x'] },
  { name: 'touch: missing', input: { path: '/tmp/x', state: 'touch' }, facts: { [stat('/tmp/x')]: NOTHING }, check: change('/tmp/x does not exist'), commands: ['touch -- /tmp/x'] },
];

describe('file: check and commands', () => {
  it.each(CASES)('$name', async ({ input, facts, check, commands }) => {
    const step = file({ id: 'f', title: 'a file', ...input } as FileOptions);
    expect(await plan(step, fakeContext(fakeShell(facts)))).toEqual({ check, commands });
  });

  it.each<[string, Partial<FileOptions>, FakeTable, string]>([
    ['a file where a directory should be', { path: '/srv/d', state: 'directory' }, { [stat('/srv/d')]: FILE_644 }, 'step f: /srv/d is a regular file, not a directory'],
    ['a directory where a file should be', { path: '/srv/d', content: 'x' }, { [stat('/srv/d')]: DIR_755 }, 'step f: /srv/d is a directory, not a regular file'],
    ['a device where a file should be', { path: '/dev/null' }, { [stat('/dev/null')]: { stdout: '21b6 0 0 0 root root\n' } }, 'step f: /dev/null is a special file, not a regular file'],
  ])('host state it will not paper over: %s', async (_, input, facts, message) => {
    const step = file({ id: 'f', title: 'a file', ...input } as FileOptions);
    const error = await Promise.resolve().then(() => step.check(fakeContext(fakeShell(facts)))).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(TaskError);
    expect((error as Error).message).toBe(message);
  });
});

describe('file: definition errors name the step', () => {
  it.each<[string, Partial<FileOptions>, string]>([
    ['a relative path', { path: 'etc/motd' }, 'step f: path: must be an absolute path'],
    ['content for a directory', { path: '/d', state: 'directory', content: 'x' }, 'step f: content: content needs state "present", not "directory"'],
    ['a mode that is not octal', { path: '/x', mode: '0999' }, 'step f: mode:'],
    ['a mode for an absent path', { path: '/x', state: 'absent', mode: '0644' }, 'step f: state: mode/owner/group make no sense for an absent path'],
    ['removing /', { path: '//', state: 'absent' }, 'step f: path: refusing to remove /'],
    ['an owner with a space', { path: '/x', owner: 'bad name' }, 'step f: owner: must be a user/group name or a number'],
    ['an unknown state', { path: '/x', state: 'link' as never }, 'step f: state:'],
  ])('%s', (_, input, message) => {
    const build = () => file({ id: 'f', title: 'a file', ...input } as FileOptions);
    expect(build).toThrow(RunbookDefinitionError);
    expect(build).toThrow(message);
  });

  it('checks the static options when another is dynamic', () => {
    expect(() => file({ id: 'f', title: 'a file', path: () => '/x', mode: 'rw' })).toThrow('step f: mode:');
  });
});

describe('file: apply', () => {
  it('writes the content through stdin, never on the command line, then the re-check holds', async () => {
    const sh = fakeShell({
      [stat('/etc/motd')]: [FILE_644],
      // check (its reading goes to the commands shown) and apply: the old content; the re-check: the new.
      [sha('/etc/motd')]: [...Array(2).fill({ stdout: `${OTHER_SHA}  -\n` }), { stdout: `${HELLO_SHA}  -\n` }],
      [write('/etc', 'motd')]: {},
      [content('/etc/motd')]: { stdout: 'file\nold\n' },
    });
    const trace = await cycle(file({ id: 'motd', title: 'motd', path: '/etc/motd', content: 'hello\n' }), fakeContext(sh));
    expect(trace.after).toEqual(noop('/etc/motd exists with the wanted content'));
    const writes = sh.ran.filter((r) => r.display === write('/etc', 'motd'));
    expect(writes).toEqual([{ display: write('/etc', 'motd'), stdin: 'hello\n' }]);
  });

  it('commands asked after apply (as the engine journals them) are what apply ran, read from no host', async () => {
    const sh = fakeShell({ [stat('/srv/d')]: [NOTHING, DIR_755], 'mkdir -p -- /srv/d': {} });
    const step = file({ id: 'd', title: 'd', path: '/srv/d', state: 'directory' });
    const ctx = fakeContext(sh);
    await step.apply!(ctx);
    const ranBefore = sh.ran.length;
    expect((await step.commands!(ctx)).map((c) => c.display)).toEqual(['mkdir -p -- /srv/d']);
    expect(sh.ran.length).toBe(ranBefore);
    expect((await step.commands!(fakeContext(sh))).map((c) => c.display)).toEqual([]);
  });

  it('a shown command that needs stdin refuses to run without it (it would empty the file)', async () => {
    const step = file({ id: 'motd', title: 'motd', path: '/tmp/runbook-never-written', content: 'hello\n' });
    const [, shown] = await step.commands!(fakeContext(fakeShell({ [stat('/tmp/runbook-never-written')]: NOTHING })));
    const run = spawnSync('sh', ['-c', shown.text], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('only the step apply() can run it');
  });

  it('touch is not re-checked (it always changes); any other state is', () => {
    expect(file({ id: 'f', title: 't', path: '/x', state: 'touch' }).verify).toBe(false);
    expect(file({ id: 'f', title: 't', path: '/x' }).verify).toBe(true);
  });

  it('a dynamic state (it might be touch) is verified inside apply instead', async () => {
    const step = file({ id: 'f', title: 't', path: '/srv/d', state: () => 'directory' });
    expect(step.verify).toBe(false);
    const lying = fakeShell({ [stat('/srv/d')]: NOTHING, 'mkdir -p -- /srv/d': {} });
    await expect(step.apply!(fakeContext(lying))).rejects.toThrow('step f: after apply: /srv/d does not exist');
    const honest = fakeShell({ [stat('/srv/d')]: [NOTHING, DIR_755], 'mkdir -p -- /srv/d': {} });
    await expect(step.apply!(fakeContext(honest))).resolves.toBeUndefined();
  });
});
