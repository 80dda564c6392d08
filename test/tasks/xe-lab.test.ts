/**
 * The task library against the lab's simulated XenServer commands (lab/bin: xe, iscsiadm, multipath,
 * ping), run with each step's exact command text in `sh -c`, no ssh: proves the commands are ones
 * the simulations (which follow the real tools) accept, the parsers read what they print, and each
 * step converges: check says change, apply, check says done, a second check stays done.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyFault, reinstallHost } from '../../lab/sim/xen/faults.mjs';
import type { ActionStep, StepContext } from '../../src/runbook/types.ts';
import { secret } from '../../src/shell/command.ts';
import { createShell, type Shell } from '../../src/shell/shell.ts';
import * as iscsi from '../../src/tasks/iscsi.ts';
import * as multipath from '../../src/tasks/multipath.ts';
import * as xe from '../../src/tasks/xe/index.ts';
import { XenLab } from '../lab/xen-lab.ts';
import { fakeClock, fakeContext } from '../fixtures/tasks/fake.ts';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'lab', 'bin');

let lab: XenLab;
beforeAll(() => { lab = new XenLab(); });
afterAll(() => lab.dispose());

/** A shell on a lab host: the command's text runs in `sh -c` with the lab host's environment. */
function labShell(host: string): Shell {
  return createShell(host, async (command) => {
    const env = { ...lab.env(host), PATH: `${BIN}:${process.env.PATH}` };
    const started = Date.now();
    const r = spawnSync('/bin/sh', ['-c', command.text], { env, encoding: 'utf8', timeout: 20_000 });
    const code = r.status;
    return { command, stdout: r.stdout, stderr: r.stderr, code, signal: r.signal, durationMs: Date.now() - started, timedOut: false, ok: code === 0 };
  });
}

const ctxOn = (host: string): StepContext => fakeContext({ sh: labShell(host) });

/** check → apply (its commands, or apply()) → check, as the engine does; returns both reasons. */
async function converge(step: ActionStep, ctx: StepContext): Promise<{ before: string; after: string }> {
  const before = await step.check(ctx);
  expect(before.done, `expected a change first, got: ${before.reason}`).toBe(false);
  if (step.apply) await step.apply(ctx);
  else for (const command of await step.commands!(ctx)) await ctx.sh.run(command);
  const after = await step.check(ctx);
  expect(after.done, `still not done after apply: ${after.reason}`).toBe(true);
  expect((await step.check(ctx)).done).toBe(true);
  return { before: before.reason, after: after.reason };
}

describe('xe facts on the lab pool', () => {
  it('hosts, the master and the VM read back', async () => {
    const sh = labShell('xs-01');
    const hosts = await xe.hosts(sh);
    expect(hosts.map((h) => h.nameLabel).sort()).toEqual(['xs-01', 'xs-02', 'xs-03']);
    const master = await xe.poolMaster(sh);
    expect(hosts.find((h) => h.uuid === master)?.nameLabel).toBe('xs-01');
    expect((await xe.vm(sh, 'ubuntu-01')).nameLabel).toBe('ubuntu-01');
    expect(await xe.isEmergencyMode(sh)).toBe(false);
    const [disk] = await xe.vmDiskList(sh, (await xe.vm(sh, 'ubuntu-01')).uuid);
    expect(disk.userdevice).toBe('0');
  });
});

describe('xe steps converge on the lab', () => {
  it('host disabled, then enabled again', async () => {
    const ctx = ctxOn('xs-01');
    expect(await converge(xe.hostEnabled({ id: 'off', title: 't', host: 'xs-02', enabled: false }), ctx)).toEqual({ before: 'host xs-02 is enabled', after: 'host xs-02 is disabled' });
    await converge(xe.hostEnabled({ id: 'on', title: 't', host: 'xs-02', enabled: true }), ctx);
  });

  it('HA on with timeout 120, then off, the configuration handed on', async () => {
    const ctx = ctxOn('xs-01');
    const sr = (await xe.sr(ctx.sh, 'iSCSI storage')).uuid;
    // The lab pool may start with HA on (its seed follows the inventory): start from off.
    const off0 = xe.haDisabled({ id: 'ha-off0', title: 't' });
    if (!(await off0.check(ctx)).done) await converge(off0, ctx);
    await converge(xe.haEnabled({ id: 'ha-on', title: 't', heartbeatSr: sr, timeout: 120 }), ctx);
    expect(await xe.haState(ctx.sh)).toMatchObject({ enabled: true, timeout: 120, heartbeatSrUuids: [sr] });
    const off = xe.haDisabled({ id: 'ha-off', title: 't' });
    expect((await off.check(ctx)).outputs).toEqual({ heartbeatSr: sr, heartbeatSrUuids: [sr], timeout: 120 });
    await converge(off, ctx);
  });

  it('a VM halted and started again, waiting for the state', async () => {
    const ctx = ctxOn('xs-01');
    await converge(xe.vmPowerState({ id: 'halt', title: 't', vm: 'ubuntu-01', state: 'halted', clock: fakeClock() }), ctx);
    await converge(xe.vmPowerState({ id: 'start', title: 't', vm: 'ubuntu-01', state: 'running', clock: fakeClock() }), ctx);
  });

  it('multipathing off and on again (the reverse technique)', async () => {
    const ctx = ctxOn('xs-01');
    await converge(xe.hostEnabled({ id: 'off', title: 't', host: 'xs-03', enabled: false }), ctx);
    await converge(xe.hostMultipathing({ id: 'mp-off', title: 't', host: 'xs-03', enabled: false }), ctx);
    await converge(xe.hostMultipathing({ id: 'mp-on', title: 't', host: 'xs-03', enabled: true }), ctx);
    await converge(xe.hostEnabled({ id: 'on', title: 't', host: 'xs-03', enabled: true }), ctx);
  });

  it('the HVM-to-PV guide\'s parameters, a value with spaces included', async () => {
    const ctx = ctxOn('xs-01');
    const find = { 'name-label': 'ubuntu-01' };
    await converge(xe.paramSet({ id: 'hvm', title: 't', cls: 'vm', find, param: 'HVM-boot-policy', value: '' }), ctx);
    await converge(xe.paramSet({ id: 'pygrub', title: 't', cls: 'vm', find, param: 'PV-bootloader', value: 'pygrub' }), ctx);
    await converge(xe.paramSet({ id: 'args', title: 't', cls: 'vm', find, param: 'PV-args', value: 'console=tty0 xencons=tty' }), ctx);
    const vm = await xe.vm(ctx.sh, 'ubuntu-01');
    expect(await xe.paramGet(ctx.sh, 'vm', vm.uuid, 'PV-args')).toBe('console=tty0 xencons=tty');
  });

  it('the root disk VBD made bootable (the HVM-to-PV guide)', async () => {
    const ctx = ctxOn('xs-01');
    const step = xe.vbdBootable({ id: 'boot', title: 't', vm: 'ubuntu-01' });
    const first = await step.check(ctx);
    if (first.done) {
      const vbd = String(first.outputs?.vbd);
      lab.xe('xs-01', 'vbd-param-set', `uuid=${vbd}`, 'bootable=false');
    }
    await converge(step, ctx);
  });
});

describe('the iSCSI multipath notes\' repair on the lab: a cut path', () => {
  it('sessions and paths show the cut; discovery and login repair it; the assert then passes', async () => {
    const ctx = ctxOn('xs-02');
    applyFault(lab.root, 'xs-02', 'cut-path', ['10.10.2.10']);
    const paths = multipath.pathsActive({ id: 'paths', title: 't', expected: 2 });
    const broken = await paths.check(ctx);
    expect(broken.done).toBe(false);
    expect(broken.reason).toMatch(/has 1 of 2 paths active \(down: .*failed faulty running\)/);
    for (const portal of ['10.10.1.10', '10.10.2.10']) {
      const step = iscsi.discovered({ id: `d-${portal}`, title: 't', portal });
      if (!(await step.check(ctx)).done) await converge(step, ctx);
    }
    await converge(iscsi.loggedIn({ id: 'login', title: 't', all: true, portals: ['10.10.1.10', '10.10.2.10'] }), ctx);
    expect(await paths.check(ctx)).toMatchObject({ done: true });
  });

  it('log off every target', async () => {
    const ctx = ctxOn('xs-03');
    await converge(iscsi.loggedOut({ id: 'out', title: 't', all: true }), ctx);
    expect(await iscsi.sessions(ctx.sh)).toEqual([]);
    await converge(iscsi.loggedIn({ id: 'in', title: 't', all: true }), ctx);
  });
});

describe('the host rebuild notes on the lab: forget, reinstall, rejoin, move the master', () => {
  it('a dead member is forgotten, rejoins after a reinstall, and can take the master role', async () => {
    const master = ctxOn('xs-01');
    const haOff = xe.haDisabled({ id: 'ha-off', title: 't' });
    if (!(await haOff.check(master)).done) await converge(haOff, master);
    const dead = (await xe.host(master.sh, 'xs-03')).uuid;
    lab.power('xs-03', 'off');
    await converge(xe.hostForgotten({ id: 'forget', title: 't', uuid: dead }), master);
    reinstallHost(lab.root, 'xs-03');
    lab.power('xs-03', 'running');
    const fresh = ctxOn('xs-03');
    const join = xe.poolJoined({ id: 'join', title: 't', masterAddress: '10.10.0.11', password: secret('xenroot'), clock: fakeClock(), intervalMs: 10 });
    await converge(join, fresh);
    expect((await xe.hosts(master.sh)).map((h) => h.nameLabel).sort()).toEqual(['xs-01', 'xs-02', 'xs-03']);
    await converge(xe.designateMaster({ id: 'master', title: 't', host: 'xs-02', clock: fakeClock(), intervalMs: 10 }), master);
    await converge(xe.designateMaster({ id: 'back', title: 't', host: 'xs-01', clock: fakeClock(), intervalMs: 10 }), master);
  });
});

describe('the host rebuild notes\' lost master on the lab', () => {
  it('a survivor in emergency mode takes over as master', async () => {
    const survivor = ctxOn('xs-02');
    const before = await xe.host(survivor.sh, 'xs-02');
    lab.power('xs-01', 'off');
    // The HA and XenApp cloning notes: a survivor whose HA is still armed refuses to take over; disable HA on it first.
    const haOff = xe.haDisabled({ id: 'ha-off', title: 't', emergency: true });
    const haBefore = await haOff.check(survivor);
    if (!haBefore.done) for (const command of await haOff.commands!(survivor)) await survivor.sh.run(command);
    const takeOver = xe.emergencyTransitionToMaster({ id: 'take-over', title: 't', clock: fakeClock(), intervalMs: 10 });
    expect((await takeOver.check(survivor)).reason).toBe('the host is in emergency mode: its master is gone');
    await converge(takeOver, survivor);
    expect(await xe.poolMaster(survivor.sh)).toBe(before.uuid);
  });
});
