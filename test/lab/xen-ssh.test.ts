/**
 * The XenServer domain inside the real lab: the estate of inventory/lab.yaml seeded through the
 * hooks, commands reached over OpenSSH in each host's namespace, power and faults from lab/lab.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labFault, type Lab } from '../../lab/lab.ts';
import { ssh, testLab } from './infra-helpers.ts';

let lab: Lab;
beforeAll(async () => {
  lab = await testLab();
}, 120_000);
afterAll(async () => {
  await lab?.stop();
});

const run = async (host: string, command: string) => ssh(lab, host, command);
const until = async (what: () => Promise<boolean>, ms = 15_000) => {
  const deadline = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
};

describe('xe, iscsiadm and multipath on the lab hosts', () => {
  it('shows the seeded pool and its two storage paths', async () => {
    expect((await run('xs-02', 'xe host-list params=name-label --minimal')).stdout).toBe('xs-01,xs-02,xs-03\n');
    expect((await run('xs-01', 'xe vm-list is-control-domain=false params=name-label --minimal')).stdout).toBe('ubuntu-01,XenApp\n');
    const paths = (await run('xs-02', 'multipath -ll')).stdout;
    expect(paths).toMatch(/^[0-9a-f]+ dm-0 [A-Z]+,[A-Z0-9-]+\n/);
    expect(paths.match(/active ready  running/g)).toHaveLength(2);
    expect((await run('xs-02', 'iscsiadm -m session')).stdout.split('\n').filter(Boolean)).toHaveLength(2);
    expect((await run('xs-02', 'ping -c 1 -W 1 10.10.2.10')).code).toBe(0);
  });

  it('shuts the guest down and starts it again through xe', async () => {
    expect((await run('xs-01', 'xe vm-shutdown vm=ubuntu-01')).code).toBe(0);
    // like xe, the lab's vm-shutdown returns once the guest is down
    expect((await run('ubuntu-01', 'true')).code).not.toBe(0);
    expect((await run('xs-01', 'xe vm-list name-label=ubuntu-01 params=power-state --minimal')).stdout).toBe('halted\n');
    expect((await run('xs-01', 'xe vm-start vm=ubuntu-01')).code).toBe(0);
    await until(async () => (await run('ubuntu-01', 'true')).code === 0);
  }, 60_000);

  it('shows a cut path as failed, and the members in emergency mode when the master is off', async () => {
    await labFault({ stateDir: lab.stateDir, host: 'xs-03', kind: 'cut-path', args: [] });
    expect((await run('xs-03', 'multipath -ll')).stdout).toContain('failed faulty running');
    await labFault({ stateDir: lab.stateDir, host: 'xs-01', kind: 'power-off' });
    expect((await run('xs-02', 'xe host-is-in-emergency-mode')).stdout).toBe('true\n');
    const list = await run('xs-02', 'xe vm-list');
    expect([list.code, list.stderr]).toEqual([1, 'The host toolstack is still initialising. Please wait.\n']);
  }, 60_000);
});
