/**
 * Issue 18: what a task asks a host, counted. A step runs as the engine runs it (check → apply →
 * re-check, one ctx); facts (init system, how a service is driven) are asked once per host per run,
 * and apply plans from what the check read instead of reading it again.
 */
import { describe, expect, it } from 'vitest';
import type { ActionStep, StepContext } from '../../src/runbook/types.ts';
import { createHostFacts } from '../../src/shell/shell.ts';
import { apt } from '../../src/tasks/apt.ts';
import { initSystem } from '../../src/tasks/facts.ts';
import { file } from '../../src/tasks/file.ts';
import { lineInFile } from '../../src/tasks/line-in-file.ts';
import { service } from '../../src/tasks/service.ts';
import { fakeContext, fakeShell, type FakeShell } from '../shell/fake-shell.ts';

const manager = (name: string) =>
  `if test -d /run/systemd/system && command -v systemctl >/dev/null 2>&1; then echo systemd; elif test -x /etc/init.d/${name}; then echo init.d; elif command -v service >/dev/null 2>&1; then echo service; else echo none; fi`;
const stat = (path: string) => `if test -e ${path}; then stat -L -c '%f %u %g %s %U %G' -- ${path}; fi`;
const content = (path: string) => `if test -f ${path}; then echo file && cat -- ${path}; elif test -e ${path}; then echo other; else echo absent; fi`;
const dpkg = (names: string) => `dpkg-query -W -f='\${Package}\\t\${Status}\\n' ${names}`;
const APT = 'DEBIAN_FRONTEND=noninteractive apt-get -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';

/** The engine's order for a step that changes something: check, apply (then its commands, for the journal), re-check. */
async function runAsEngine(step: ActionStep, ctx: StepContext): Promise<string[]> {
  const before = await step.check(ctx);
  expect(before.done).toBe(false);
  if (step.apply) {
    await step.apply(ctx);
    await step.commands?.(ctx);
  } else {
    for (const command of await step.commands!(ctx)) await ctx.sh.run(command);
  }
  if (step.verify !== false) expect((await step.check(ctx)).done).toBe(true);
  return (ctx.sh as FakeShell).ran.map((r) => r.display);
}

describe('round trips a task makes', () => {
  it('service: the manager is asked once for check, apply and re-check, and apply reads no status the re-check reads', async () => {
    const sh = fakeShell({ [manager('ntpd')]: { stdout: 'init.d\n' }, '/etc/init.d/ntpd status': [{ code: 0 }, { code: 3 }], '/etc/init.d/ntpd stop': {} });
    const ran = await runAsEngine(service({ id: 's', title: 's', name: 'ntpd', state: 'stopped' }), fakeContext(sh));
    expect(ran).toEqual([manager('ntpd'), '/etc/init.d/ntpd status', '/etc/init.d/ntpd stop', '/etc/init.d/ntpd status']);
  });

  it('service: a later step on the same host (same facts) does not ask the manager again', async () => {
    const sh = fakeShell({ [manager('ntpd')]: { stdout: 'init.d\n' }, '/etc/init.d/ntpd status': [{ code: 0 }, { code: 3 }, { code: 3 }, { code: 0 }], '/etc/init.d/ntpd stop': {}, '/etc/init.d/ntpd start': {} });
    await runAsEngine(service({ id: 'stop', title: 'stop', name: 'ntpd', state: 'stopped' }), fakeContext(sh));
    const ran = await runAsEngine(service({ id: 'start', title: 'start', name: 'ntpd', state: 'started' }), fakeContext(sh));
    expect(ran.filter((c) => c === manager('ntpd'))).toHaveLength(1);
    expect(ran).toHaveLength(7);
  });

  it('service: a restart (no re-check by the engine) still verifies inside apply', async () => {
    const sh = fakeShell({ [manager('ntpd')]: { stdout: 'init.d\n' }, '/etc/init.d/ntpd status': { code: 0 }, '/etc/init.d/ntpd restart': {} });
    const ran = await runAsEngine(service({ id: 'r', title: 'r', name: 'ntpd', state: 'restarted' }), fakeContext(sh));
    expect(ran).toEqual([manager('ntpd'), '/etc/init.d/ntpd status', '/etc/init.d/ntpd restart', '/etc/init.d/ntpd status']);
  });

  it('file: stats once before it writes (the check\'s stat plans the apply), once more to re-check', async () => {
    const sh = fakeShell({ [stat('/tmp/marker')]: [{ stdout: '' }, { stdout: '81a4 0 0 0 root root\n' }], 'touch -- /tmp/marker': {} });
    const ran = await runAsEngine(file({ id: 'm', title: 'm', path: '/tmp/marker', state: 'present' }), fakeContext(sh));
    expect(ran).toEqual([stat('/tmp/marker'), 'touch -- /tmp/marker', stat('/tmp/marker')]);
  });

  it('file: a retried apply (new try, same ctx) reads the host again rather than the stale check', async () => {
    const sh = fakeShell({ [stat('/tmp/marker')]: [{ stdout: '' }, { stdout: '81a4 0 0 0 root root\n' }], 'touch -- /tmp/marker': {} });
    const step = file({ id: 'm', title: 'm', path: '/tmp/marker', state: 'present' });
    const ctx = fakeContext(sh);
    await step.check(ctx);
    await step.apply!(ctx);
    await step.apply!(ctx);
    expect(sh.ran.map((r) => r.display)).toEqual([stat('/tmp/marker'), 'touch -- /tmp/marker', stat('/tmp/marker')]);
  });

  it('lineInFile reads the file once before it writes it back', async () => {
    const sh = fakeShell({ [content('/etc/ntp.conf')]: [{ stdout: 'file\nserver pool\n' }, { stdout: 'file\nserver ntp1\n' }], [`tmp=$(mktemp /etc/.ntp.conf.runbook.XXXXXX) && { cp -p -- /etc/ntp.conf "$tmp" && cat > "$tmp" && mv -f -- "$tmp" /etc/ntp.conf || { rm -f -- "$tmp"; false; }; }`]: {} });
    const ran = await runAsEngine(lineInFile({ id: 'l', title: 'l', path: '/etc/ntp.conf', regexp: '^server ', line: 'server ntp1' }), fakeContext(sh));
    expect(ran.filter((c) => c === content('/etc/ntp.conf'))).toHaveLength(2);
  });

  it('apt plans apt-get from the check\'s dpkg-query', async () => {
    const sh = fakeShell({ [dpkg('ntp')]: [{ code: 1 }, { stdout: 'ntp\tinstall ok installed\n' }], [`${APT} install ntp`]: {} });
    const ran = await runAsEngine(apt({ id: 'a', title: 'a', name: 'ntp' }), fakeContext(sh));
    expect(ran).toEqual([dpkg('ntp'), `${APT} install ntp`, dpkg('ntp')]);
  });
});

describe('host facts', () => {
  it('asks once, and a failed ask is not kept (the next one asks again)', async () => {
    const facts = createHostFacts();
    let asked = 0;
    const failing = () => { asked++; return Promise.reject(new Error('host went away')); };
    await expect(facts.once('k', failing)).rejects.toThrow('host went away');
    expect(await facts.once('k', async () => { asked++; return 'systemd'; })).toBe('systemd');
    expect(await facts.once('k', async () => { asked++; return 'sysv'; })).toBe('systemd');
    expect(asked).toBe(2);
  });

  it('initSystem is asked once per shell facts', async () => {
    const sh = fakeShell({ 'if test -d /run/systemd/system && command -v systemctl >/dev/null 2>&1; then echo systemd; else echo sysv; fi': { stdout: 'sysv\n' } });
    expect([await initSystem(sh), await initSystem(sh)]).toEqual(['sysv', 'sysv']);
    expect(sh.ran).toHaveLength(1);
  });
});
