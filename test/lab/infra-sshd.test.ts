/**
 * The same lab hosts behind a real OpenSSH sshd (Debian's openssh-server): lab/server/enter.sh as
 * ForceCommand runs each command in the host's namespace with the lab's environment and tools, so
 * nothing a runbook sees depends on the lab's own ssh2 server.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, readMutations, type Lab } from '../../lab/lab.ts';
import { isSshdAvailable, startSshd, type Sshd } from '../helpers/sshd.ts';
import { ssh, testLab } from './infra-helpers.ts';

const ENTER = join(REPO_ROOT, 'lab', 'server', 'enter.sh');

describe.skipIf(!isSshdAvailable() || process.getuid?.() !== 0)('lab hosts behind a real OpenSSH sshd', () => {
  let lab: Lab;
  const sshds = new Map<string, Sshd>();

  beforeAll(async () => {
    lab = await testLab({ hosts: 'xs-01,xenapp-01' });
    for (const host of ['xs-01', 'xenapp-01']) {
      sshds.set(host, await startSshd({ extraConfig: [`ForceCommand ${ENTER} ${lab.labRoot} ${host}`] }));
    }
  });
  afterAll(async () => {
    for (const sshd of sshds.values()) await sshd.stop();
    await lab?.stop();
  });

  /** OpenSSH client → real sshd → enter.sh → the lab host. */
  function viaSshd(host: string, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
    const sshd = sshds.get(host)!;
    const args = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-i', sshd.clientKeyFile, '-p', String(sshd.port), 'root@127.0.0.1', command];
    return new Promise((resolve) => {
      const child = execFile('ssh', args, { timeout: 15_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 255) : 0, stdout, stderr });
      });
      child.stdin!.on('error', () => {});
      child.stdin!.end();
    });
  }

  it('runs the simulated tools with the lab environment, exit codes included', async () => {
    const result = await viaSshd('xs-01', 'echo "$LAB_HOST $LAB_POOL"; service ntpd stop >/dev/null; service ntpd status');
    expect(result).toMatchObject({ code: 3, stdout: 'xs-01 pool-a\nntpd is stopped\n' });
    expect(readMutations(lab.stateDir, 'xs-01').at(-1)!.argv).toEqual(['/etc/init.d/ntpd', 'stop']);
  });

  it('shares the host\'s namespace with the lab\'s own server: same files, same boot id', async () => {
    await viaSshd('xs-01', 'touch /tmp/written-via-sshd');
    expect((await ssh(lab, 'xs-01', 'test -f /tmp/written-via-sshd && echo seen')).stdout).toBe('seen\n');
    const bootIds = await Promise.all([viaSshd('xs-01', 'cat /proc/sys/kernel/random/boot_id'), ssh(lab, 'xs-01', 'cat /proc/sys/kernel/random/boot_id')]);
    expect(bootIds[0]!.stdout).toBe(bootIds[1]!.stdout);
  });

  it('gives the Windows host cmd.exe, as Windows OpenSSH does', async () => {
    expect(await viaSshd('xenapp-01', 'hostname & exit /b 4')).toMatchObject({ code: 4, stdout: 'XENAPP-01\r\n' });
  });
});
