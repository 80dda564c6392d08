/** lineInFile(): Ansible's lineinfile semantics as a table on text, then the step on stubbed facts. */
import { describe, expect, it } from 'vitest';
import { RunbookDefinitionError } from '../../src/errors.ts';
import { change, noop } from '../../src/runbook/check.ts';
import { editLines, lineInFile, type LineInFileOptions, type LineSpec } from '../../src/tasks/line-in-file.ts';
import { TaskError } from '../../src/tasks/resolve.ts';
import { cycle, fakeContext, fakeShell, plan } from '../shell/fake-shell.ts';

const spec = (patch: Partial<LineSpec>): LineSpec => ({ path: '/etc/x', state: 'present', create: false, ...patch });

interface EditCase {
  name: string;
  before: string;
  spec: Partial<LineSpec>;
  after: string;
  /** The change reason, or null when the file already holds. */
  change: string | null;
}

const EDITS: EditCase[] = [
  // present, no regexp
  { name: 'appends a missing line', before: 'a\nb\n', spec: { line: 'c' }, after: 'a\nb\nc\n', change: '/etc/x lacks "c": add it at the end' },
  { name: 'the exact line is there', before: 'a\nc\nb\n', spec: { line: 'c' }, after: 'a\nc\nb\n', change: null },
  { name: 'adds a newline before appending to a file without one', before: 'a', spec: { line: 'c' }, after: 'a\nc\n', change: '/etc/x lacks "c": add it at the end' },
  { name: 'an empty file', before: '', spec: { line: 'c' }, after: 'c\n', change: '/etc/x lacks "c": add it at the top' },
  { name: 'a line that only differs by spaces is not the line', before: 'c \n', spec: { line: 'c' }, after: 'c \nc\n', change: '/etc/x lacks "c": add it at the end' },
  // present with regexp: the last match is replaced
  { name: 'replaces the matching line', before: 'server a\nx\n', spec: { line: 'server b', regexp: /^server / }, after: 'server b\nx\n', change: 'line 1 of /etc/x is "server a", want "server b"' },
  { name: 'replaces only the last match', before: 'server a\nserver c\n', spec: { line: 'server b', regexp: /^server / }, after: 'server a\nserver b\n', change: 'line 2 of /etc/x is "server c", want "server b"' },
  { name: 'the match already is the line', before: 'server b\n', spec: { line: 'server b', regexp: /^server / }, after: 'server b\n', change: null },
  { name: 'no match: appends', before: 'x\n', spec: { line: 'server b', regexp: /^server / }, after: 'x\nserver b\n', change: '/etc/x lacks "server b": add it at the end' },
  { name: 'no regexp match but the exact line elsewhere: nothing to do', before: '#server b\nserver b\n', spec: { line: 'server b', regexp: /^#?server a/ }, after: '#server b\nserver b\n', change: null },
  { name: 'keeps a CRLF ending on the replaced line', before: 'k=1\r\nz\r\n', spec: { line: 'k=2', regexp: /^k=/ }, after: 'k=2\r\nz\r\n', change: 'line 1 of /etc/x is "k=1", want "k=2"' },
  { name: 'a replaced last line without a newline keeps none', before: 'x\nk=1', spec: { line: 'k=2', regexp: /^k=/ }, after: 'x\nk=2', change: 'line 2 of /etc/x is "k=1", want "k=2"' },
  { name: 'regexp metacharacters in the line are plain text', before: 'a\n', spec: { line: '$(rm -rf /) .* \\1 &' }, after: 'a\n$(rm -rf /) .* \\1 &\n', change: '/etc/x lacks "$(rm -rf /) .* \\\\1 &": add it at the end' },
  // insertAfter
  { name: 'insertAfter: after the last anchor', before: '[a]\nx\n[b]\ny\n', spec: { line: 'k=1', insertAfter: /^\[/ }, after: '[a]\nx\n[b]\nk=1\ny\n', change: '/etc/x lacks "k=1": add it after line 3' },
  { name: 'insertAfter: anchor not found → end', before: 'x\n', spec: { line: 'k=1', insertAfter: /^\[main\]/ }, after: 'x\nk=1\n', change: '/etc/x lacks "k=1": add it at the end' },
  { name: 'insertAfter: BOF', before: 'x\n', spec: { line: '#!/bin/sh', insertAfter: 'BOF' }, after: '#!/bin/sh\nx\n', change: '/etc/x lacks "#!/bin/sh": add it at the top' },
  { name: 'insertAfter: EOF', before: 'x\n', spec: { line: 'y', insertAfter: 'EOF' }, after: 'x\ny\n', change: '/etc/x lacks "y": add it at the end' },
  { name: 'insertAfter is ignored when the regexp matches', before: '[a]\nk=0\n', spec: { line: 'k=1', regexp: /^k=/, insertAfter: /^\[a\]/ }, after: '[a]\nk=1\n', change: 'line 2 of /etc/x is "k=0", want "k=1"' },
  { name: 'insertAfter on an anchor that is the last line without newline', before: '[a]', spec: { line: 'k=1', insertAfter: /^\[a\]/ }, after: '[a]\nk=1\n', change: '/etc/x lacks "k=1": add it at the end' },
  // absent
  { name: 'absent: removes every exact copy', before: 'a\nc\nb\nc\n', spec: { state: 'absent', line: 'c' }, after: 'a\nb\n', change: '/etc/x has 2 lines "c": remove them' },
  { name: 'absent: removes every regexp match', before: 'server a\nx\nserver b\n', spec: { state: 'absent', regexp: /^server / }, after: 'x\n', change: '/etc/x has 2 lines matching /^server /: remove them' },
  { name: 'absent: nothing matches', before: 'x\n', spec: { state: 'absent', line: 'c' }, after: 'x\n', change: null },
  { name: 'absent: the last line without newline', before: 'x\nc', spec: { state: 'absent', line: 'c' }, after: 'x\n', change: '/etc/x has 1 line "c": remove it' },
];

describe('editLines (Ansible lineinfile on text)', () => {
  it.each(EDITS)('$name', ({ before, spec: patch, after, change: reason }) => {
    const edit = editLines(before, spec(patch));
    expect({ after: edit.content, change: edit.change }).toEqual({ after, change: reason });
  });

  it('applying the edit twice changes nothing the second time (idempotent)', () => {
    for (const { before, spec: patch } of EDITS) {
      const once = editLines(before, spec(patch)).content;
      expect(editLines(once, spec(patch)).change, JSON.stringify(patch)).toBeNull();
    }
  });
});

const content = (path: string) => `if test -f ${path}; then echo file && cat -- ${path}; elif test -e ${path}; then echo other; else echo absent; fi`;
const write = (dir: string, name: string) =>
  `tmp=$(mktemp ${dir}/.${name}.runbook.XXXXXX) && { cp -p -- ${dir}/${name} "$tmp" && cat > "$tmp" && mv -f -- "$tmp" ${dir}/${name} || { rm -f -- "$tmp"; false; }; }`;
const base = { id: 'ntp-server', title: 'use our NTP server', path: '/etc/ntp.conf' };

describe('lineInFile: check and commands', () => {
  it.each<[string, Partial<LineInFileOptions>, string, ReturnType<typeof change>, string[]]>([
    ['the line is there', { line: 'server ntp1 iburst', regexp: '^server ' }, 'file\nserver ntp1 iburst\n', noop('line 1 of /etc/ntp.conf is already "server ntp1 iburst"'), []],
    [
      'the line differs', { line: 'server ntp1 iburst', regexp: '^server ' }, 'file\ndriftfile /x\nserver pool iburst\n',
      { ...change('line 2 of /etc/ntp.conf is "server pool iburst", want "server ntp1 iburst"'), content: { path: '/etc/ntp.conf', before: 'driftfile /x\nserver pool iburst\n', after: 'driftfile /x\nserver ntp1 iburst\n' } },
      [`${write('/etc', 'ntp.conf')} <content: 32 bytes, sha256 93655b31de9c…>`],
    ],
    ['absent: no such file', { line: 'x', state: 'absent' }, 'absent\n', noop('/etc/ntp.conf does not exist'), []],
    [
      'present with create: no such file', { line: 'server ntp1', create: true }, 'absent\n',
      { ...change('/etc/ntp.conf does not exist: create it with "server ntp1"'), content: { path: '/etc/ntp.conf', before: null, after: 'server ntp1\n' } },
      ['touch -- /etc/ntp.conf', `${write('/etc', 'ntp.conf')} <content: 12 bytes, sha256 c7b1b0eed85f…>`],
    ],
  ])('%s', async (_, input, stdout, check, commands) => {
    const step = lineInFile({ ...base, ...input } as LineInFileOptions);
    expect(await plan(step, fakeContext(fakeShell({ [content('/etc/ntp.conf')]: { stdout } })))).toEqual({ check, commands });
  });

  it.each<[string, Partial<LineInFileOptions>, string, string]>([
    ['a missing file without create', { line: 'x' }, 'absent\n', 'step ntp-server: /etc/ntp.conf does not exist (set create: true to create it)'],
    ['a directory', { line: 'x' }, 'other\n', 'absent; fi`: the path is not a regular file'],
    ['a file that is not UTF-8', { line: 'x' }, 'file\nlatin-1 caf\uFFFD\n', 'step ntp-server: /etc/ntp.conf is not UTF-8 text; lineInFile will not rewrite it'],
  ])('refuses %s', async (_, input, stdout, message) => {
    const step = lineInFile({ ...base, ...input } as LineInFileOptions);
    await expect(Promise.resolve().then(() => step.check(fakeContext(fakeShell({ [content('/etc/ntp.conf')]: { stdout } }))))).rejects.toThrow(message);
  });

  it('a not-UTF-8 refusal is a TaskError', async () => {
    const step = lineInFile({ ...base, line: 'x' });
    const error = await Promise.resolve().then(() => step.check(fakeContext(fakeShell({ [content('/etc/ntp.conf')]: { stdout: 'file\n\uFFFD' } })))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskError);
  });

  it('apply writes the new content on stdin and the re-check holds', async () => {
    const sh = fakeShell({
      // check (its reading goes to the commands shown) and apply: the old content; the re-check: the new.
      [content('/etc/ntp.conf')]: [...Array(2).fill({ stdout: 'file\nserver pool\n' }), { stdout: 'file\nserver ntp1\n' }],
      [write('/etc', 'ntp.conf')]: {},
    });
    const trace = await cycle(lineInFile({ ...base, line: 'server ntp1', regexp: /^server / }), fakeContext(sh));
    expect(trace.after).toEqual(noop('line 1 of /etc/ntp.conf is already "server ntp1"'));
    expect(sh.ran.filter((r) => r.stdin !== undefined)).toEqual([{ display: write('/etc', 'ntp.conf'), stdin: 'server ntp1\n' }]);
  });
});

describe('lineInFile: definition errors name the step', () => {
  it.each<[string, Partial<LineInFileOptions>, string]>([
    ['present without a line', { regexp: '^x' }, 'step ntp-server: line: state "present" needs a line'],
    ['absent with neither line nor regexp', { state: 'absent' }, 'step ntp-server: line: state "absent" needs a line or a regexp'],
    ['a line with a newline', { line: 'a\nb' }, 'step ntp-server: line: must be one line (no newline)'],
    ['a bad regexp', { line: 'x', regexp: '(' }, 'step ntp-server: regexp: not a valid regular expression'],
    ['a relative path', { line: 'x', path: 'ntp.conf' }, 'step ntp-server: path: must be an absolute path'],
  ])('%s', (_, input, message) => {
    const build = () => lineInFile({ ...base, ...input } as LineInFileOptions);
    expect(build).toThrow(RunbookDefinitionError);
    expect(build).toThrow(message);
  });

  it('a global regexp is used without its lastIndex state (which would skip every other line)', async () => {
    const step = lineInFile({ ...base, state: 'absent', regexp: /^x/g });
    const sh = fakeShell({ [content('/etc/ntp.conf')]: { stdout: 'file\nx1\nx2\nx3\nx4\n' } });
    expect(await step.check(fakeContext(sh))).toEqual({ ...change('/etc/ntp.conf has 4 lines matching /^x/: remove them'), content: { path: '/etc/ntp.conf', before: 'x1\nx2\nx3\nx4\n', after: '' } });
  });
});
