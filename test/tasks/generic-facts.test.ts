/**
 * The generic facts' parsers on recorded output (Debian 12: coreutils 9.1, dpkg 1.21, sysvinit
 * scripts, busybox 1.35), and the commands they run: no host needed.
 */
import { describe, expect, it } from 'vitest';
import {
  FactError, fileContentCommand, fileSha256Command, fileStatCommand, packagesInstalled, packagesInstalledCommand,
  parseFileContent, parseFileSha256, parseFileStat, parseInitSystem, parseLsbStatus, parsePackagesInstalled,
  parsePathExists, parseServiceManager, parseSystemdState, pathExists, pathExistsCommand, serviceStatusCommand,
  type FactOutput,
} from '../../src/tasks/facts.ts';
import { fakeShell } from '../shell/fake-shell.ts';

const out = (stdout: string, code: number | null = 0, stderr = ''): FactOutput => ({ stdout, stderr, code });

describe('fact commands', () => {
  it.each([
    ['pathExists', pathExistsCommand("/tmp/it's here"), "test -e '/tmp/it'\\''s here' || test -L '/tmp/it'\\''s here'"],
    ['fileStat', fileStatCommand('/etc/motd'), "if test -e /etc/motd; then stat -L -c '%f %u %g %s %U %G' -- /etc/motd; fi"],
    ['fileSha256', fileSha256Command('/etc/motd'), 'if test -f /etc/motd; then sha256sum < /etc/motd; fi'],
    ['fileContent', fileContentCommand('/etc/hosts'), 'if test -f /etc/hosts; then echo file && cat -- /etc/hosts; elif test -e /etc/hosts; then echo other; else echo absent; fi'],
    ['serviceState systemd', serviceStatusCommand('systemd', 'ntpd'), 'systemctl is-active ntpd'],
    ['serviceState init.d', serviceStatusCommand('init.d', 'ntpd'), '/etc/init.d/ntpd status'],
    ['serviceState service', serviceStatusCommand('service', 'ntpd'), 'service ntpd status'],
    ['packagesInstalled', packagesInstalledCommand(['ntp', 'open-iscsi']), "dpkg-query -W -f='${Package}\\t${Status}\\n' ntp open-iscsi"],
  ])('%s runs `%s`', (_, command, display) => {
    expect(command.display).toBe(display);
  });
});

describe('parsers', () => {
  it.each<[string, FactOutput, boolean | string]>([
    ['exists', out('', 0), true],
    ['missing', out('', 1), false],
    ['test broke', out('', 2, 'sh: 1: test: unexpected operator'), 'test gave no yes/no answer (exit 2: sh: 1: test: unexpected operator)'],
  ])('parsePathExists: %s', (_, output, expected) => {
    if (typeof expected === 'string') expect(() => parsePathExists(output)).toThrow(expected);
    else expect(parsePathExists(output)).toBe(expected);
  });

  it.each<[string, FactOutput, ReturnType<typeof parseFileStat> | string]>([
    ['a regular file (coreutils)', out('81a4 0 0 1267 root root\n'), { type: 'file', mode: 0o644, uid: 0, gid: 0, size: 1267, owner: 'root', group: 'root' }],
    ['an empty file', out('81a4 0 0 0 root root\n'), { type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, owner: 'root', group: 'root' }],
    ['a sticky directory (/tmp)', out('43ff 0 0 4096 root root\n'), { type: 'directory', mode: 0o1777, uid: 0, gid: 0, size: 4096, owner: 'root', group: 'root' }],
    ['a setuid binary', out('89ed 0 0 59704 root root\n'), { type: 'file', mode: 0o4755, uid: 0, gid: 0, size: 59704, owner: 'root', group: 'root' }],
    ['a device (/dev/null)', out('21b6 0 0 0 root root\n'), { type: 'other', mode: 0o666, uid: 0, gid: 0, size: 0, owner: 'root', group: 'root' }],
    ['an unnamed owner', out('8180 1234 5678 10 UNKNOWN UNKNOWN\n'), { type: 'file', mode: 0o600, uid: 1234, gid: 5678, size: 10, owner: 'UNKNOWN', group: 'UNKNOWN' }],
    ['nothing there', out(''), null],
    ['stat failed', out('', 1, "stat: cannot statx '/x': Permission denied"), "stat failed (exit 1: stat: cannot statx '/x': Permission denied)"],
    ['garbage', out('regular file\n'), 'cannot read stat output'],
  ])('parseFileStat: %s', (_, output, expected) => {
    if (typeof expected === 'string') expect(() => parseFileStat(output)).toThrow(expected);
    else expect(parseFileStat(output)).toEqual(expected);
  });

  it.each<[string, FactOutput, string | null | Error]>([
    ['a file', out('427f93cafd9cc19be6eec03e590c9c6cdf9f688a5eaf21fa8d72351e2b15fd05  -\n'), '427f93cafd9cc19be6eec03e590c9c6cdf9f688a5eaf21fa8d72351e2b15fd05'],
    ['busybox output', out('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  -\n'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['no regular file', out(''), null],
    ['unreadable', out('', 1, 'sh: 1: cannot open /root/x: Permission denied'), new Error('sha256sum failed (exit 1: sh: 1: cannot open /root/x: Permission denied)')],
    ['not a hash', out('sha256sum: -: Is a directory\n'), new Error('cannot read sha256sum output')],
  ])('parseFileSha256: %s', (_, output, expected) => {
    if (expected instanceof Error) expect(() => parseFileSha256(output)).toThrow(expected.message);
    else expect(parseFileSha256(output)).toBe(expected);
  });

  it.each<[string, FactOutput, string | null | Error]>([
    ['a file', out('file\nline 1\nline 2\n'), 'line 1\nline 2\n'],
    ['an empty file', out('file\n'), ''],
    ['no trailing newline', out('file\nlast'), 'last'],
    ['missing', out('absent\n'), null],
    ['a directory', out('other\n'), new Error('not a regular file')],
    ['unreadable', out('file\n', 1, 'cat: /etc/shadow: Permission denied'), new Error('cannot read the file (exit 1: cat: /etc/shadow: Permission denied)')],
  ])('parseFileContent: %s', (_, output, expected) => {
    if (expected instanceof Error) expect(() => parseFileContent(output)).toThrow(expected.message);
    else expect(parseFileContent(output)).toBe(expected);
  });

  it.each<[FactOutput, string]>([
    [out('systemd\n'), 'systemd'],
    [out('sysv\n'), 'sysv'],
  ])('parseInitSystem(%j) is %s', (output, expected) => {
    expect(parseInitSystem(output)).toBe(expected);
  });

  it('parseInitSystem refuses anything else', () => {
    expect(() => parseInitSystem(out('', 127, 'sh: 1: stat: not found'))).toThrow(FactError);
  });

  it.each<[FactOutput, string]>([
    [out('systemd\n'), 'systemd'],
    [out('init.d\n'), 'init.d'],
    [out('service\n'), 'service'],
  ])('parseServiceManager(%j) is %s', (output, expected) => {
    expect(parseServiceManager(output)).toBe(expected);
  });

  it('parseServiceManager says why when nothing can manage services', () => {
    expect(() => parseServiceManager(out('none\n'))).toThrow('no systemd, no /etc/init.d script, no `service` command');
  });

  it.each<[string, FactOutput, string]>([
    ['active', out('active\n', 0), 'running'],
    ['reloading', out('reloading\n', 0), 'running'],
    ['inactive', out('inactive\n', 3), 'stopped'],
    ['failed', out('failed\n', 3), 'stopped'],
    ['activating', out('activating\n', 3), 'changing'],
    ['deactivating', out('deactivating\n', 3), 'changing'],
  ])('parseSystemdState: %s', (_, output, expected) => {
    expect(parseSystemdState(output)).toBe(expected);
  });

  it('parseSystemdState refuses an unknown word', () => {
    expect(() => parseSystemdState(out('unknown\n', 4))).toThrow('systemctl is-active said "unknown"');
  });

  it.each<[string, FactOutput, string | Error]>([
    ['running (sysvinit)', out('sshd is running.\n', 0), 'running'],
    ['stopped (dbus on Debian 12)', out('dbus is not running ... failed!\n', 3), 'stopped'],
    ['dead with a pid file', out('ntpd dead but pid file exists\n', 1), new Error('status program is dead and a /var/run pid file exists; expected exit 0 (running) or 3 (stopped) (exit 1: ntpd dead but pid file exists)')],
    ['dead with a lock file', out('', 2), new Error('program is dead and a /var/lock lock file exists')],
    ['unknown', out('', 4), new Error('program or service status is unknown')],
    ['a script without status (hwclock.sh)', out('', 1, 'Usage: hwclock.sh {stop|reload|force-reload|show}.'), new Error('Usage: hwclock.sh')],
    ['no such script', out('', 127, 'sh: 1: /etc/init.d/nope: not found'), new Error('not an LSB status answer')],
    ['no exit status', out('', null), new Error('exit unknown')],
  ])('parseLsbStatus: %s', (_, output, expected) => {
    if (expected instanceof Error) expect(() => parseLsbStatus(output)).toThrow(expected.message);
    else expect(parseLsbStatus(output)).toBe(expected);
  });

  it.each<[string, FactOutput, string[], Record<string, boolean> | Error]>([
    ['all installed', out('bash\tinstall ok installed\ndash\tinstall ok installed\n'), ['bash', 'dash'], { bash: true, dash: true }],
    ['one unknown to dpkg (exit 1)', out('bash\tinstall ok installed\n', 1, 'dpkg-query: no packages found matching nosuchpkg'), ['bash', 'nosuchpkg'], { bash: true, nosuchpkg: false }],
    ['removed, config files left', out('ntp\tdeinstall ok config-files\n'), ['ntp'], { ntp: false }],
    ['known but never installed', out('ntp\tunknown ok not-installed\n'), ['ntp'], { ntp: false }],
    ['held', out('ntp\thold ok installed\n'), ['ntp'], { ntp: true }],
    ['half-configured', out('ntp\tinstall ok half-configured\n'), ['ntp'], { ntp: false }],
    ['multiarch: one arch installed', out('libc6\tinstall ok installed\nlibc6\tunknown ok not-installed\n'), ['libc6'], { libc6: true }],
    ['no dpkg', out('', 127, 'sh: 1: dpkg-query: not found'), ['ntp'], new Error('Debian-family host')],
    ['dpkg broke', out('', 2, 'dpkg-query: error: parsing file'), ['ntp'], new Error('dpkg-query failed (exit 2: dpkg-query: error: parsing file)')],
  ])('parsePackagesInstalled: %s', (_, output, names, expected) => {
    if (expected instanceof Error) expect(() => parsePackagesInstalled(output, names)).toThrow(expected.message);
    else expect(parsePackagesInstalled(output, names)).toEqual(expected);
  });
});

describe('fact runners', () => {
  it('run their command without throwing on its exit code and parse it', async () => {
    const sh = fakeShell({ 'test -e /x || test -L /x': { code: 1 } });
    expect(await pathExists(sh, '/x')).toBe(false);
    expect(sh.ran).toEqual([{ display: 'test -e /x || test -L /x' }]);
  });

  it('name the host and the command when the output makes no sense', async () => {
    const sh = fakeShell({ "dpkg-query -W -f='${Package}\\t${Status}\\n' ntp": { code: 2, stderr: 'dpkg-query: error' } }, 'xs-01');
    await expect(packagesInstalled(sh, ['ntp'])).rejects.toThrow("xs-01: `dpkg-query -W -f='${Package}\\t${Status}\\n' ntp`: dpkg-query failed (exit 2: dpkg-query: error)");
  });
});
