/**
 * The generic tasks for real on this machine, through the local transport, in a temp dir whose
 * name is itself hostile: check → commands → apply → re-check, then a second run that must be a noop.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { change, noop } from '../../src/runbook/check.ts';
import { cmd } from '../../src/shell/command.ts';
import { command } from '../../src/tasks/command.ts';
import { fileContent, fileSha256, fileStat, initSystem, packagesInstalled, pathExists } from '../../src/tasks/facts.ts';
import { file } from '../../src/tasks/file.ts';
import { lineInFile } from '../../src/tasks/line-in-file.ts';
import { cycle, fakeContext, localShell } from '../shell/fake-shell.ts';

let dir: string;
const ctx = fakeContext(localShell());
const at = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "runbook it's $(x) "));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('facts on this machine', () => {
  it('read a real file', async () => {
    const path = at('facts.txt');
    await writeFile(path, 'one\ntwo\n', { mode: 0o640 });
    await chmod(path, 0o640);
    expect(await pathExists(ctx.sh, path)).toBe(true);
    expect(await pathExists(ctx.sh, at('nothing'))).toBe(false);
    expect(await fileStat(ctx.sh, path)).toMatchObject({ type: 'file', mode: 0o640, size: 8, uid: process.getuid!() });
    expect(await fileStat(ctx.sh, dir)).toMatchObject({ type: 'directory' });
    expect(await fileStat(ctx.sh, at('nothing'))).toBeNull();
    expect(await fileSha256(ctx.sh, path)).toBe(createHash('sha256').update('one\ntwo\n').digest('hex'));
    expect(await fileContent(ctx.sh, path)).toBe('one\ntwo\n');
    expect(await fileContent(ctx.sh, at('nothing'))).toBeNull();
  });

  it('tell the init system', async () => {
    expect(['systemd', 'sysv']).toContain(await initSystem(ctx.sh));
  });

  const hasDpkg = spawnSync('sh', ['-c', 'command -v dpkg-query']).status === 0;
  it.skipIf(!hasDpkg)('read installed packages (dash is essential on Debian)', async () => {
    expect(await packagesInstalled(ctx.sh, ['dash', 'no-such-package-here'])).toEqual({ dash: true, 'no-such-package-here': false });
  });
});

describe('file for real', () => {
  it('creates a file with content and mode, then holds', async () => {
    const path = at('motd');
    const step = file({ id: 'motd', title: 'motd', path, content: "it's $(not run)\n", mode: '0640' });
    const first = await cycle(step, ctx);
    expect(first.before).toEqual({ ...change(`${path} does not exist`), content: { path, before: null, after: "it's $(not run)\n" } });
    expect(first.after).toEqual(noop(`${path} exists with the wanted content, mode 0640`));
    expect(await readFile(path, 'utf8')).toBe("it's $(not run)\n");
    expect((await stat(path)).mode & 0o7777).toBe(0o640);
    expect((await cycle(step, ctx)).before.done).toBe(true);
  });

  it('rewrites changed content atomically, keeping the mode and leaving no temp file', async () => {
    const path = at('config');
    await writeFile(path, 'old\n');
    await chmod(path, 0o600);
    const inodeBefore = (await stat(path)).ino;
    const trace = await cycle(file({ id: 'config', title: 'config', path, content: 'new\n' }), ctx);
    expect(trace.before.reason).toMatch(/^content differs/);
    expect(trace.after?.done).toBe(true);
    expect(await readFile(path, 'utf8')).toBe('new\n');
    const after = await stat(path);
    expect(after.mode & 0o7777).toBe(0o600);
    expect(after.ino).not.toBe(inodeBefore);
    expect((await readdir(dir)).filter((name) => name.includes('.runbook.'))).toEqual([]);
  });

  it('makes a directory and removes it again', async () => {
    const path = at('sub dir/nested');
    expect((await cycle(file({ id: 'd', title: 'd', path, state: 'directory', mode: '0750' }), ctx)).after?.done).toBe(true);
    expect((await stat(path)).isDirectory()).toBe(true);
    const gone = await cycle(file({ id: 'd', title: 'd', path: at('sub dir'), state: 'absent' }), ctx);
    expect(gone).toMatchObject({ before: change(`${at('sub dir')} exists`), after: noop(`${at('sub dir')} is absent`) });
  });
});

describe('lineInFile for real', () => {
  it('replaces a line in place, then holds', async () => {
    const path = at('ntp.conf');
    await writeFile(path, 'driftfile /var/lib/ntp/drift\nserver pool.ntp.org iburst\nrestrict default\n');
    await chmod(path, 0o644);
    const step = lineInFile({ id: 'ntp', title: 'ntp', path, regexp: /^server /, line: "server ntp1 iburst # it's $(ours)" });
    const trace = await cycle(step, ctx);
    expect(trace.before).toEqual({
      ...change(`line 2 of ${path} is "server pool.ntp.org iburst", want "server ntp1 iburst # it's $(ours)"`),
      content: { path, before: 'driftfile /var/lib/ntp/drift\nserver pool.ntp.org iburst\nrestrict default\n', after: "driftfile /var/lib/ntp/drift\nserver ntp1 iburst # it's $(ours)\nrestrict default\n" },
    });
    expect(trace.after?.done).toBe(true);
    expect(await readFile(path, 'utf8')).toBe("driftfile /var/lib/ntp/drift\nserver ntp1 iburst # it's $(ours)\nrestrict default\n");
    expect((await stat(path)).mode & 0o7777).toBe(0o644);
    expect((await cycle(step, ctx)).before.done).toBe(true);
  });

  it('creates the file when asked', async () => {
    const path = at('new.conf');
    const trace = await cycle(lineInFile({ id: 'n', title: 'n', path, line: 'a=1', create: true }), ctx);
    expect(trace.after?.done).toBe(true);
    expect(await readFile(path, 'utf8')).toBe('a=1\n');
  });

  it('removes every matching line', async () => {
    const path = at('hosts');
    await writeFile(path, '127.0.0.1 localhost\n10.0.0.1 old\n10.0.0.2 old\n');
    await cycle(lineInFile({ id: 'h', title: 'h', path, regexp: ' old$', state: 'absent' }), ctx);
    expect(await readFile(path, 'utf8')).toBe('127.0.0.1 localhost\n');
  });
});

describe('command for real', () => {
  it('creates: runs once, then the guard holds', async () => {
    const marker = at('leap marker');
    const step = command({ id: 'mark', title: 'mark', run: cmd`touch ${marker}`, creates: marker });
    const first = await cycle(step, ctx);
    expect(first).toEqual({ before: change(`${marker} does not exist`), commands: [cmd`touch ${marker}`.display], after: noop(`${marker} exists`) });
    expect((await cycle(step, ctx)).before).toEqual(noop(`${marker} exists`));
  });

  it('removes: runs while the path is there', async () => {
    const lock = at('stale.lock');
    await writeFile(lock, '');
    const step = command({ id: 'unlock', title: 'unlock', run: cmd`rm -f -- ${lock}`, removes: lock });
    expect((await cycle(step, ctx)).after).toEqual(noop(`${lock} does not exist`));
    expect(await pathExists(ctx.sh, lock)).toBe(false);
  });
});
