/**
 * The lab's lifecycle: up returns with every host answering and refuses to start twice, down stops exactly what up started,
 * labs in different state dirs coexist, --hosts picks and clones hosts, reinstall changes the key.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { groupMembers, labDown, labReinstall, labStatus, labUp } from '../../lab/lab.ts';
import { ssh, tempStateDir, testLab } from './infra-helpers.ts';

describe('lab lifecycle', () => {
  it('is up when up returns (every host answers), refuses a second up, and down leaves no process behind', async () => {
    // How fast it comes up is measured in bench/lab-up.ts, not asserted here: a shared machine's load decides that.
    const lab = await testLab();
    try {
      const answers = await Promise.all(lab.hosts.map((h) => ssh(lab, h.name, 'echo up')));
      expect(answers.map((a) => a.code)).toEqual(lab.hosts.map(() => 0));
      expect(groupMembers(lab.pid).length).toBeGreaterThan(1);
      await expect(labUp({ stateDir: lab.stateDir, portBase: 0 })).rejects.toThrow(/already up \(pid \d+\)/);
      const other = await testLab({ hosts: 'xs-01' });
      try {
        expect(await labDown({ stateDir: lab.stateDir })).toEqual({ stopped: true, pid: lab.pid });
        expect(groupMembers(lab.pid)).toEqual([]);
        expect(existsSync(`${lab.labRoot}/lab.pid`)).toBe(false);
        expect(labStatus({ stateDir: lab.stateDir }).up).toBe(false);
        // The other lab, in its own state dir, is untouched.
        expect((await ssh(other, 'xs-01', 'hostname')).stdout).toBe('xs-01\n');
      } finally {
        await other.stop();
      }
      expect(await labDown({ stateDir: lab.stateDir })).toEqual({ stopped: false });
    } finally {
      await lab.stop();
    }
  });

  it('a lab bound to a process stops by itself when that process is killed (a killed test run leaves no lab)', async () => {
    const owner = spawn('sleep', ['600'], { stdio: 'ignore' });
    const stateDir = tempStateDir();
    const lab = await labUp({ stateDir, portBase: 0, hosts: 'xs-01', ownerPid: owner.pid });
    try {
      expect((await ssh(lab, 'xs-01', 'hostname')).stdout).toBe('xs-01\n');
      const ended = new Promise((done) => owner.once('exit', done));
      owner.kill('SIGKILL');
      await ended;
      for (const deadline = Date.now() + 60_000; groupMembers(lab.pid).length > 0;) {
        if (Date.now() > deadline) throw new Error(`lab server ${lab.pid} still runs a minute after its owner was killed`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(readFileSync(`${lab.labRoot}/server.log`, 'utf8')).toMatch(new RegExp(`owner pid ${owner.pid} is gone: stopping`));
    } finally {
      owner.kill('SIGKILL');
      await lab.stop();
    }
    await expect(labUp({ stateDir: tempStateDir(), portBase: 0, hosts: 'xs-01', ownerPid: -3 })).rejects.toThrow(/lab owner must be a pid, got -3/);
  });

  it('keeps host keys and state across down and up, so known_hosts stays valid', async () => {
    const stateDir = tempStateDir();
    const first = await labUp({ stateDir, portBase: 0, hosts: 'xs-02' });
    try {
      await ssh(first, 'xs-02', 'touch /root/kept');
    } finally {
      await first.stop();
    }
    const second = await labUp({ stateDir, portBase: 0, hosts: 'xs-02' });
    try {
      expect(second.hosts[0]!.hostKeyFingerprint).toBe(first.hosts[0]!.hostKeyFingerprint);
      expect((await ssh(second, 'xs-02', 'test -f /root/kept && echo kept')).stdout).toBe('kept\n');
    } finally {
      await second.stop();
      rmSync(dirname(stateDir), { recursive: true, force: true });
    }
  });

  it('picks hosts and clones ranges with --hosts, and writes them into the generated inventory', async () => {
    const lab = await testLab({ hosts: 'xs-[01:05],guests' });
    try {
      expect(lab.hosts.map((h) => h.name)).toEqual(['xs-01', 'xs-02', 'xs-03', 'xs-04', 'xs-05', 'ubuntu-01']);
      const inventory = readFileSync(lab.inventoryPath, 'utf8');
      expect(inventory).toContain(`ansible_ssh_private_key_file: ${lab.keyPath}`);
      expect(inventory).toMatch(new RegExp(`xs-05:\\n\\s+ansible_port: ${lab.hosts[4]!.port}`));
      expect(inventory).not.toContain('xenapp-01');
      expect((await ssh(lab, 'xs-05', 'echo $LAB_POOL; service xapi status')).stdout).toMatch(/^pool-a\nxapi \(pid +\d+\) is running/);
    } finally {
      await lab.stop();
    }
  });

  // As root the lab uses `unshare -m`; everyone else gets `unshare -Urm`: prove that path as nobody.
  it.skipIf(process.getuid?.() !== 0)('runs unprivileged in a user namespace', async () => {
    const stateDir = tempStateDir();
    const root = dirname(stateDir);
    chmodSync(root, 0o777);
    const asNobody = (...args: string[]) =>
      execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, 'bin/runbook.mjs', '--state-dir', stateDir, 'lab', ...args], {
        env: { ...process.env, HOME: root, NODE_OPTIONS: '' },
        encoding: 'utf8',
        timeout: 30_000,
      });
    expect(asNobody('up', '--port-base', '0', '--hosts', 'xs-01')).toMatch(/^lab up: 1 host /);
    try {
      const config = JSON.parse(readFileSync(`${stateDir}/lab/lab.json`, 'utf8')) as { hosts: { port: number }[] };
      const lab = { knownHostsPath: `${stateDir}/known_hosts`, keyPath: `${stateDir}/lab/id_ed25519`, hosts: [{ name: 'xs-01', port: config.hosts[0]!.port }] };
      const result = await ssh(lab as never, 'xs-01', 'touch /tmp/unprivileged && service ntpd stop >/dev/null && id -u && cat /proc/sys/kernel/random/boot_id');
      expect(result.stdout).toMatch(/^0\n[0-9a-f-]{36}\n$/);
      expect(existsSync(`${stateDir}/lab/hosts/xs-01/tmp/unprivileged`)).toBe(true);
    } finally {
      expect(asNobody('down')).toMatch(/^lab stopped/);
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('reinstalls a host: fresh state, a new host key in known_hosts, the new fingerprint returned', async () => {
    const lab = await testLab({ hosts: 'xs-03' });
    try {
      await ssh(lab, 'xs-03', 'touch /root/old-install');
      const { fingerprint } = await labReinstall({ stateDir: lab.stateDir, host: 'xs-03' });
      expect(fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
      expect(fingerprint).not.toBe(lab.hosts[0]!.hostKeyFingerprint);
      // Strict checking still passes: the lab replaced the known_hosts line for that port.
      expect(await ssh(lab, 'xs-03', 'test -f /root/old-install; echo $?')).toMatchObject({ code: 0, stdout: '1\n' });
    } finally {
      await lab.stop();
    }
  });
});
