/**
 * Lab hosts share no state with each other, with other labs or with the machine (issue 13):
 * /var/lib/runbook, where the reboot task keeps its markers, is each host's own folder.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../lab/lab.ts';
import { ssh, testLab } from './infra-helpers.ts';

let lab: Lab;
beforeAll(async () => {
  lab = await testLab({ hosts: 'xs-01,xs-02' });
}, 120_000);
afterAll(async () => {
  await lab?.stop();
});

describe('/var/lib on a lab host', () => {
  it('/var/lib/runbook is the host\'s own: empty when new, written into its folder, unseen by the others', async () => {
    const probe = `isolation-${process.pid}-${Date.now()}`;
    try {
      expect(await ssh(lab, 'xs-01', 'ls -A /var/lib/runbook')).toMatchObject({ code: 0, stdout: '' });
      expect((await ssh(lab, 'xs-01', `mkdir -p /var/lib/runbook && echo xs-01 > /var/lib/runbook/${probe}`)).code).toBe(0);
      expect(readFileSync(join(lab.labRoot, 'hosts', 'xs-01', 'var', 'lib', 'runbook', probe), 'utf8')).toBe('xs-01\n');
      expect((await ssh(lab, 'xs-02', `test -e /var/lib/runbook/${probe}`)).code).toBe(1);
      expect(existsSync(join('/var/lib/runbook', probe))).toBe(false); // not the machine's folder
    } finally {
      rmSync(join('/var/lib/runbook', probe), { force: true }); // only there if the lab leaked it
    }
  });

  it('anything else written under /var/lib lands in the host folder, the machine\'s files still show', async () => {
    const dir = `lab-probe-${process.pid}-${Date.now()}`;
    try {
      expect((await ssh(lab, 'xs-02', `mkdir -p /var/lib/${dir} && echo 12.5 > /var/lib/${dir}/drift`)).code).toBe(0);
      expect(readFileSync(join(lab.labRoot, 'hosts', 'xs-02', 'var', 'lib', dir, 'drift'), 'utf8')).toBe('12.5\n');
      expect((await ssh(lab, 'xs-01', `test -e /var/lib/${dir}`)).code).toBe(1);
      expect(existsSync(join('/var/lib', dir))).toBe(false);
      expect((await ssh(lab, 'xs-01', 'test -d /var/lib/dpkg')).code).toBe(0);
    } finally {
      rmSync(join('/var/lib', dir), { recursive: true, force: true }); // only there if the lab leaked it
    }
  });
});
