/** service() and apt(): tables of { input, stubbed facts → check reason and commands | error }. */
import { describe, expect, it } from 'vitest';
import { RunbookDefinitionError } from '../../src/errors.ts';
import { change, noop, type CheckResult } from '../../src/runbook/check.ts';
import { apt, type AptOptions } from '../../src/tasks/apt.ts';
import { service, type ServiceOptions } from '../../src/tasks/service.ts';
import { cycle, fakeContext, fakeShell, plan, type FakeAnswer, type FakeTable } from '../shell/fake-shell.ts';

const manager = (name: string) =>
  `if test -d /run/systemd/system && command -v systemctl >/dev/null 2>&1; then echo systemd; elif test -x /etc/init.d/${name}; then echo init.d; elif command -v service >/dev/null 2>&1; then echo service; else echo none; fi`;
const SYSTEMD: FakeAnswer = { stdout: 'systemd\n' };
const INIT_D: FakeAnswer = { stdout: 'init.d\n' };
const SERVICE: FakeAnswer = { stdout: 'service\n' };
const LSB_RUNNING: FakeAnswer = { stdout: 'ntpd is running.\n', code: 0 };
const LSB_STOPPED: FakeAnswer = { stdout: 'ntpd is not running ... failed!\n', code: 3 };

interface Case {
  name: string;
  input: Partial<ServiceOptions>;
  facts: FakeTable;
  check: CheckResult;
  commands: string[];
}

const SERVICE_CASES: Case[] = [
  { name: 'systemd: started, is running', input: { state: 'started' }, facts: { [manager('ntpd')]: SYSTEMD, 'systemctl is-active ntpd': { stdout: 'active\n' } }, check: noop('ntpd is running'), commands: [] },
  { name: 'systemd: started, is stopped', input: { state: 'started' }, facts: { [manager('ntpd')]: SYSTEMD, 'systemctl is-active ntpd': { stdout: 'inactive\n', code: 3 } }, check: change('ntpd is stopped'), commands: ['systemctl start ntpd'] },
  { name: 'systemd: stopped, is failed', input: { state: 'stopped' }, facts: { [manager('ntpd')]: SYSTEMD, 'systemctl is-active ntpd': { stdout: 'failed\n', code: 3 } }, check: noop('ntpd is stopped'), commands: [] },
  { name: 'systemd: stopped, is starting', input: { state: 'stopped' }, facts: { [manager('ntpd')]: SYSTEMD, 'systemctl is-active ntpd': { stdout: 'activating\n', code: 3 } }, check: change('ntpd is starting or stopping'), commands: ['systemctl stop ntpd'] },
  { name: 'init.d: stopped, is running', input: { state: 'stopped' }, facts: { [manager('ntpd')]: INIT_D, '/etc/init.d/ntpd status': LSB_RUNNING }, check: change('ntpd is running'), commands: ['/etc/init.d/ntpd stop'] },
  { name: 'init.d: stopped, is stopped', input: { state: 'stopped' }, facts: { [manager('ntpd')]: INIT_D, '/etc/init.d/ntpd status': LSB_STOPPED }, check: noop('ntpd is stopped'), commands: [] },
  { name: 'service: started, is stopped', input: { state: 'started' }, facts: { [manager('ntpd')]: SERVICE, 'service ntpd status': LSB_STOPPED }, check: change('ntpd is stopped'), commands: ['service ntpd start'] },
  { name: 'restarted, is running', input: { state: 'restarted' }, facts: { [manager('ntpd')]: SERVICE, 'service ntpd status': LSB_RUNNING }, check: change('restart requested: ntpd is running'), commands: ['service ntpd restart'] },
  { name: 'restarted, is stopped', input: { state: 'restarted' }, facts: { [manager('ntpd')]: SYSTEMD, 'systemctl is-active ntpd': { stdout: 'inactive\n', code: 3 } }, check: change('restart requested: ntpd is stopped'), commands: ['systemctl restart ntpd'] },
  {
    name: 'a systemd template unit', input: { name: 'getty@tty1', state: 'started' },
    facts: { [manager('getty@tty1')]: SYSTEMD, 'systemctl is-active getty@tty1': { stdout: 'active\n' } }, check: noop('getty@tty1 is running'), commands: [],
  },
];

describe('service: check and commands', () => {
  it.each(SERVICE_CASES)('$name', async ({ input, facts, check, commands }) => {
    const step = service({ id: 'ntpd', title: 'ntpd', name: 'ntpd', ...input } as ServiceOptions);
    expect(await plan(step, fakeContext(fakeShell(facts)))).toEqual({ check, commands });
  });

  it.each<[string, FakeTable, string]>([
    ['an LSB status that is neither running nor stopped', { [manager('ntpd')]: INIT_D, '/etc/init.d/ntpd status': { stdout: 'ntpd dead but pid file exists\n', code: 1 } }, 'program is dead and a /var/run pid file exists; expected exit 0 (running) or 3 (stopped)'],
    ['no way to manage services', { [manager('ntpd')]: { stdout: 'none\n' } }, 'no systemd, no /etc/init.d script, no `service` command'],
  ])('a clear error for %s', async (_, facts, message) => {
    const step = service({ id: 'ntpd', title: 'ntpd', name: 'ntpd', state: 'started' });
    await expect(Promise.resolve().then(() => step.check(fakeContext(fakeShell(facts))))).rejects.toThrow(message);
  });
});

describe('service: apply verifies by the state afterwards', () => {
  it('a restart of a running service passes when it runs afterwards; the engine does not re-check it', async () => {
    const step = service({ id: 'ntpd', title: 'ntpd', name: 'ntpd', state: 'restarted' });
    expect(step.verify).toBe(false);
    const sh = fakeShell({ [manager('ntpd')]: SERVICE, 'service ntpd status': LSB_RUNNING, 'service ntpd restart': {} });
    const trace = await cycle(step, fakeContext(sh));
    expect(trace).toEqual({ before: change('restart requested: ntpd is running'), commands: ['service ntpd restart'] });
    expect(sh.ran.map((r) => r.display).slice(-2)).toEqual(['service ntpd restart', 'service ntpd status']);
  });

  it('a restart that leaves the service stopped fails', async () => {
    const step = service({ id: 'ntpd', title: 'ntpd', name: 'ntpd', state: 'restarted' });
    const sh = fakeShell({ [manager('ntpd')]: SERVICE, 'service ntpd status': [LSB_RUNNING, LSB_STOPPED], 'service ntpd restart': {} });
    await expect(cycle(step, fakeContext(sh))).rejects.toThrow('step ntpd: ntpd is stopped after restart, want running');
  });

  it('a stop is re-checked by the engine as well', async () => {
    const step = service({ id: 'ntpd', title: 'ntpd', name: 'ntpd', state: 'stopped' });
    expect(step.verify).toBe(true);
    const sh = fakeShell({ [manager('ntpd')]: INIT_D, '/etc/init.d/ntpd status': [LSB_RUNNING, LSB_STOPPED], '/etc/init.d/ntpd stop': {} });
    expect((await cycle(step, fakeContext(sh))).after).toEqual(noop('ntpd is stopped'));
  });

  it('a dynamic state might be a restart, so the engine does not re-check it', () => {
    expect(service({ id: 'ntpd', title: 'ntpd', name: 'ntpd', state: () => 'started' }).verify).toBe(false);
  });
});

describe('service: definition errors name the step', () => {
  it.each<[string, Partial<ServiceOptions>, string]>([
    ['a path for a name', { name: '../../bin/sh' }, 'step s: name: must be a service name'],
    ['an option for a name', { name: '--now' }, 'step s: name: must be a service name'],
    ['an unknown state', { state: 'reloaded' as never }, 'step s: state:'],
  ])('%s', (_, input, message) => {
    const build = () => service({ id: 's', title: 's', name: 'ntpd', state: 'started', ...input } as ServiceOptions);
    expect(build).toThrow(RunbookDefinitionError);
    expect(build).toThrow(message);
  });
});

const dpkg = (names: string) => `dpkg-query -W -f='\${Package}\\t\${Status}\\n' ${names}`;
const APT = 'DEBIAN_FRONTEND=noninteractive apt-get -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';

describe('apt: check and commands', () => {
  it.each<[string, Partial<AptOptions>, FakeTable, CheckResult, string[]]>([
    ['installed', { name: 'ntp' }, { [dpkg('ntp')]: { stdout: 'ntp\tinstall ok installed\n' } }, noop('ntp is installed'), []],
    ['not installed', { name: 'ntp' }, { [dpkg('ntp')]: { code: 1, stderr: 'dpkg-query: no packages found matching ntp' } }, change('ntp is not installed'), [`${APT} install ntp`]],
    [
      'several, one missing: installs only that one', { name: ['ntp', 'open-iscsi'] },
      { [dpkg('ntp open-iscsi')]: { stdout: 'ntp\tinstall ok installed\nopen-iscsi\tdeinstall ok config-files\n' } },
      change('open-iscsi is not installed'), [`${APT} install open-iscsi`],
    ],
    ['absent and installed', { name: 'ntp', state: 'absent' }, { [dpkg('ntp')]: { stdout: 'ntp\tinstall ok installed\n' } }, change('ntp is installed'), [`${APT} remove ntp`]],
    ['absent and gone', { name: ['ntp', 'ntpdate'], state: 'absent' }, { [dpkg('ntp ntpdate')]: { code: 1, stderr: 'dpkg-query: no packages found matching ntp' } }, noop('ntp, ntpdate are not installed'), []],
  ])('%s', async (_, input, facts, check, commands) => {
    const step = apt({ id: 'ntp', title: 'ntp', name: 'ntp', ...input });
    expect(await plan(step, fakeContext(fakeShell(facts)))).toEqual({ check, commands });
  });

  it.each<[string, unknown, string]>([
    ['an option for a name', '-o=APT::Get::Trivial-Only', 'step ntp: name:'],
    ['an empty list', [], 'step ntp: name:'],
    ['an uppercase name', 'NTP', 'step ntp: name:'],
  ])('rejects %s', (_, name, message) => {
    const build = () => apt({ id: 'ntp', title: 'ntp', name: name as string });
    expect(build).toThrow(RunbookDefinitionError);
    expect(build).toThrow(message);
  });
});
