import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { catFileCommand, catToFileCommand, envPrefix, stagingPath, withServerTimeout, wrapCommand } from '../../src/transport/ssh/remote-command.ts';

describe('wrapCommand', () => {
  it('leaves a plain command alone', () => {
    expect(wrapCommand('uptime')).toEqual({ text: 'uptime', stdin: undefined });
  });
  it('exports env inside the command (sshd drops env requests; sudo resets env)', () => {
    const value = `x'y "$HOME" ; z`;
    const wrapped = wrapCommand('printf %s "$A"', { env: { A: value } });
    expect(execFileSync('/bin/sh', ['-c', wrapped.text], { encoding: 'utf8' })).toBe(value);
    expect(wrapCommand('true', { env: { A: 'b' }, sudo: true }).text).toBe("sudo -n -- sh -c 'export A=b; true'");
    expect(() => envPrefix({ 'A;rm': 'x' })).toThrow(/not a shell variable name/);
  });
  it('uses sudo -n without a password', () => {
    expect(wrapCommand('id -u', { sudo: true }).text).toBe("sudo -n -- sh -c 'id -u'");
  });
  it('runs as ansible_become_user with sudo -u, quoted, with or without a password', () => {
    expect(wrapCommand('id -un', { sudo: true, becomeUser: 'postgres' }).text).toBe("sudo -n -u postgres -- sh -c 'id -un'");
    const wrapped = wrapCommand('id -un', { sudo: true, becomeUser: 'app$', becomePassword: 'pw' }).text;
    const withPassword = execFileSync('/bin/sh', ['-c', `printf %s ${wrapped.slice('sh -c '.length)}`], { encoding: 'utf8' }); // the script sh runs
    expect(withPassword).toContain("sudo -n -u 'app$' true");
    expect(withPassword).toContain("sudo -S -p '' -k -u 'app$' -- sh -c");
  });
  it('sends a become password on stdin only, ahead of the caller\'s stdin', () => {
    const wrapped = wrapCommand('cat', { sudo: true, becomePassword: 'hunter2', stdin: 'data' });
    expect(wrapped.text).not.toContain('hunter2');
    expect(wrapped.text).toContain('sudo -S -p');
    expect(wrapped.stdin?.toString()).toBe('hunter2\ndata');
  });
  it('refuses a password with a newline (it would end the password line early)', () => {
    expect(() => wrapCommand('true', { sudo: true, becomePassword: 'a\nb' })).toThrow(/newline/);
  });
  it('bounds the command on the server too when asked', () => {
    expect(withServerTimeout('sleep 9', 1450)).toBe(
      `if command -v timeout >/dev/null 2>&1; then exec timeout 1.5 "\${SHELL:-/bin/sh}" -c 'sleep 9'; else exec "\${SHELL:-/bin/sh}" -c 'sleep 9'; fi`,
    );
    expect(wrapCommand('sleep 9', { serverTimeoutMs: 1000 }).text).toContain('timeout 1.0 "${SHELL:-/bin/sh}" -c');
    // under a real shell: the login shell runs it, and timeout(1) ends it
    const started = Date.now();
    const ran = spawnSync('/bin/sh', ['-c', withServerTimeout('echo $0; sleep 5', 300)], { env: { PATH: '/usr/bin:/bin', SHELL: '/bin/bash' }, encoding: 'utf8' });
    expect(ran.stdout).toBe('/bin/bash\n');
    expect(ran.status).toBe(124);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

/**
 * The password wrapper run by a real /bin/sh against a fake `sudo` on PATH, so the stdin
 * handling is proven without root: the fake records what it read as the password.
 */
describe('the become-password wrapper under /bin/sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runbook-become-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const fakeSudo = (needsPassword: boolean) => {
    writeFileSync(join(dir, 'sudo'), [
      '#!/bin/sh',
      // sudo -n true: succeeds only when no password is needed
      `if [ "$1" = -n ] && [ "$2" = true ]; then exit ${needsPassword ? 1 : 0}; fi`,
      `if [ "$1" = -S ]; then IFS= read -r pw; echo "$pw" > ${join(dir, 'seen')}; shift 4; else shift 1; fi`,
      'shift; exec "$@"',
    ].join('\n'));
    chmodSync(join(dir, 'sudo'), 0o755);
  };
  const runWrapped = (stdin: string) => {
    const wrapped = wrapCommand('cat', { sudo: true, becomePassword: 'pw word', stdin });
    return spawnSync('/bin/sh', ['-c', wrapped.text], { input: wrapped.stdin, env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: 'utf8' });
  };

  it('hands the password to sudo -S and the rest of stdin to the command', () => {
    fakeSudo(true);
    const result = runWrapped('line 1\nline 2\n');
    expect(result.stdout).toBe('line 1\nline 2\n');
    expect(execFileSync('cat', [join(dir, 'seen')], { encoding: 'utf8' })).toBe('pw word\n');
  });
  it('drops the password when sudo needs none, so the command never sees it', () => {
    fakeSudo(false);
    const result = runWrapped('only data');
    expect(result.stdout).toBe('only data');
  });
});

describe('file transfer without sftp', () => {
  it('stages beside the target, then renames, quoting every path', () => {
    expect(stagingPath('/boot/grub/menu.lst')).toMatch(/^\/boot\/grub\/\.menu\.lst\.runbook-[0-9a-f]{12}$/);
    expect(catToFileCommand("/tmp/a b'c", 0o640, '/tmp/.s')).toBe(
      `umask 077 && { cat > /tmp/.s && chmod 640 /tmp/.s && mv -f /tmp/.s '/tmp/a b'\\''c'; } || { rm -f /tmp/.s; exit 1; }`,
    );
    expect(catFileCommand('/etc/hosts')).toBe('cat -- /etc/hosts');
  });

  it('leaves no staging file behind when the write fails', () => {
    const dir = mkdtempSync(join(tmpdir(), 'runbook-put-'));
    try {
      const staging = join(dir, '.target.runbook-1');
      const failing = spawnSync('/bin/sh', ['-c', catToFileCommand(join(dir, 'missing-dir', 'target'), 0o644, staging).replace('mv -f', 'false &&')], { input: 'x' });
      expect(failing.status).toBe(1);
      expect(spawnSync('ls', ['-A', dir], { encoding: 'utf8' }).stdout).toBe('');
      const ok = spawnSync('/bin/sh', ['-c', catToFileCommand(join(dir, 'target'), 0o640, staging)], { input: 'data' });
      expect(ok.status).toBe(0);
      expect(spawnSync('ls', ['-A', dir], { encoding: 'utf8' }).stdout).toBe('target\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
