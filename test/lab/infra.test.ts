/**
 * The lab's infrastructure: real SSH in (OpenSSH and ssh2 clients), per-host isolation, services,
 * the simulated clock, reboot and power, faults, the mutation log, and up/down bookkeeping.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labFault, labStatus, readMutations, type Lab } from '../../lab/lab.ts';
import { connect, exec, ssh, testLab } from './infra-helpers.ts';

let lab: Lab;
beforeAll(async () => {
  lab = await testLab();
});
afterAll(async () => {
  await lab?.stop();
});

describe('ssh access', () => {
  it('runs commands over OpenSSH with strict known_hosts and returns their exit codes', async () => {
    const result = await ssh(lab, 'xs-01', 'echo "$LAB_HOST $LAB_ROLE $LAB_POOL"; exit 7');
    expect(result).toMatchObject({ code: 7, stdout: 'xs-01 xenserver pool-a\n' });
  });

  it('pipes stdin, separates stderr and runs many channels on one ssh2 connection', async () => {
    const client = await connect(lab, 'xs-02');
    try {
      const echoed = await exec(client, 'cat; echo oops >&2', 'from stdin\n');
      expect(echoed).toMatchObject({ code: 0, stdout: 'from stdin\n', stderr: 'oops\n' });
      const many = await Promise.all(Array.from({ length: 8 }, (_, i) => exec(client, `sleep 0.2; echo ${i}`)));
      expect(many.map((r) => r.stdout.trim())).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    } finally {
      client.end();
    }
  });

  it('reports the signal that killed a command', async () => {
    const client = await connect(lab, 'xs-01');
    try {
      // ssh2's client reports the wire name ("TERM") with a SIG prefix.
      expect(await exec(client, 'kill -TERM $$')).toMatchObject({ signal: 'SIGTERM' });
    } finally {
      client.end();
    }
  });

  it('refuses a key other than the lab client key', async () => {
    const { generateKey } = await import('../../lab/server/keys.ts');
    const other = `${lab.labRoot}/not-the-lab-key`;
    generateKey(other, 'stranger');
    const result = await ssh(lab, 'xs-01', 'true', { keyPath: other });
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/Permission denied/);
  });
});

describe('isolation', () => {
  it('gives each host its own /tmp, /boot and boot id, apart from the real machine', async () => {
    const marker = `/tmp/lab-infra-${process.pid}-${Date.now()}`;
    expect((await ssh(lab, 'xs-02', `touch ${marker} && test -f ${marker}`)).code).toBe(0);
    expect((await ssh(lab, 'xs-03', `test -f ${marker}`)).code).toBe(1);
    expect(existsSync(marker)).toBe(false);
    const bootIds = await Promise.all(['xs-02', 'xs-03'].map((h) => ssh(lab, h, 'cat /proc/sys/kernel/random/boot_id')));
    expect(bootIds[0]!.stdout).not.toBe(bootIds[1]!.stdout);
    expect(bootIds[0]!.stdout).not.toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'));
    expect((await ssh(lab, 'ubuntu-01', 'grep -c "^title" /boot/grub/menu.lst')).stdout).toBe('3\n');
  });

  it('starts commands in the host\'s /root, not the machine\'s', async () => {
    const name = `cwd-${process.pid}-${Date.now()}`;
    expect(await ssh(lab, 'xs-02', `touch ${name}; pwd`)).toMatchObject({ code: 0, stdout: '/root\n' });
    expect(existsSync(`/root/${name}`)).toBe(false);
    expect(existsSync(`${lab.labRoot}/hosts/xs-02/root/${name}`)).toBe(true);
  });

  it('cannot reach the machine\'s clock, processes or systemd, even by absolute paths', async () => {
    const before = Date.now();
    const probe = await ssh(lab, 'xs-03', '/bin/date -s 2001-01-01 >/dev/null 2>&1; echo $?; ps -e -o pid= | wc -l; ls /run/dbus /run/systemd 2>/dev/null | wc -l');
    expect(probe.stdout).toMatch(/^1\n[1-5]\n0\n$/);
    expect(Math.abs(Date.now() - before)).toBeLessThan(60_000);
  });

  it('edits /etc with the real tools on the host copy only', async () => {
    await ssh(lab, 'xs-03', "sed -i 's/^\\(\\s*user_friendly_names\\s*\\)no/\\1yes/' /etc/multipath-enabled.conf");
    expect((await ssh(lab, 'xs-03', 'grep -c "user_friendly_names.*yes" /etc/multipath-enabled.conf')).stdout).toBe('1\n');
    expect((await ssh(lab, 'xs-02', 'grep -c "user_friendly_names.*yes" /etc/multipath-enabled.conf')).stdout).toBe('0\n');
    expect(existsSync('/etc/multipath-enabled.conf') && readFileSync('/etc/multipath-enabled.conf', 'utf8').includes('lab')).toBe(false);
  });
});

describe('services and clock', () => {
  it('stops and reports a service with the init script messages and LSB exit codes', async () => {
    const stop = await ssh(lab, 'xs-03', 'service ntpd stop; service ntpd status');
    expect(stop.stdout).toMatch(/^Shutting down ntpd: +\[ {2}OK {2}\]\nntpd is stopped\n$/);
    expect(stop.code).toBe(3);
    expect(await ssh(lab, 'xs-03', 'systemctl is-active ntpd')).toMatchObject({ code: 3, stdout: 'inactive\n' });
    expect(await ssh(lab, 'xs-03', '/etc/init.d/ntpd start >/dev/null; systemctl is-active ntpd')).toMatchObject({ code: 0, stdout: 'active\n' });
    expect(await ssh(lab, 'xs-03', 'service nosuch start')).toMatchObject({ code: 1, stderr: 'nosuch: unrecognized service\n' });
  });

  it('keeps a per-host clock that date -s moves and that clears the leap-second livelock', async () => {
    await labFault({ stateDir: lab.stateDir, host: 'xs-01', kind: 'leap-second' });
    const stuck = `${lab.labRoot}/hosts/xs-01/clock/stuck`;
    expect(existsSync(stuck)).toBe(true);
    const fixed = await ssh(lab, 'xs-01', 'service ntpd stop >/dev/null; date -s "$(date)" >/dev/null; date -s "2012-07-01 00:00:00"; date +%Y');
    expect(fixed.stdout).toBe('Sun Jul  1 00:00:00 UTC 2012\n2012\n');
    expect(existsSync(stuck)).toBe(false);
    expect((await ssh(lab, 'xs-02', 'date +%Y')).stdout).not.toBe('2012\n');
  });
});

describe('mutation log', () => {
  it('logs mutating calls and nothing for reads', async () => {
    const before = readMutations(lab.stateDir, 'xs-02').length;
    await ssh(lab, 'xs-02', 'service xapi status; date; systemctl is-active xapi; hostname');
    expect(readMutations(lab.stateDir, 'xs-02')).toHaveLength(before);
    await ssh(lab, 'xs-02', 'service xapi restart');
    const last = readMutations(lab.stateDir, 'xs-02').at(-1)!;
    expect(last).toMatchObject({ host: 'xs-02', argv: ['/etc/init.d/xapi', 'restart'] });
    expect(Date.parse(last.time)).toBeGreaterThan(Date.now() - 60_000);
  });
});

/** Starts `command` on its own channel; resolves once the server has taken the exec request (the lab has decided to run, delay or hang it). */
function opened(client: Awaited<ReturnType<typeof connect>>, command: string): Promise<{ close(): void }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, stream) => {
      if (error) return reject(error);
      stream.on('data', () => undefined);
      stream.stderr.on('data', () => undefined);
      resolve({ close: () => stream.close() });
    });
  });
}

describe('faults', () => {
  it('slows and hangs the named commands only', async () => {
    await labFault({ stateDir: lab.stateDir, host: 'xs-03', kind: 'slow', args: ['multipath', '60'] });
    await labFault({ stateDir: lab.stateDir, host: 'xs-03', kind: 'hang', args: ['iscsiadm'] });
    const client = await connect(lab, 'xs-03');
    try {
      // Held by the fault, not by a clock: the slow command is still waiting when the others are done.
      let slowEnded = false;
      void exec(client, 'echo multipath').then(() => { slowEnded = true; });
      const hung = await opened(client, 'iscsiadm -m session; touch /tmp/iscsiadm-ran');
      expect((await ssh(lab, 'xs-03', 'echo fast')).stdout).toBe('fast\n');
      expect(slowEnded).toBe(false);
      hung.close();
    } finally {
      client.end();
      await labFault({ stateDir: lab.stateDir, host: 'xs-03', kind: 'slow', off: true });
      await labFault({ stateDir: lab.stateDir, host: 'xs-03', kind: 'hang', off: true });
    }
    // the hung command was accepted (its channel opened) and never started
    expect((await ssh(lab, 'xs-03', 'test -e /tmp/iscsiadm-ran && echo ran || echo never')).stdout).toBe('never\n');
  });

  it('hang-after: the next command using the word runs, every command after it hangs until lifted', async () => {
    await labFault({ stateDir: lab.stateDir, host: 'xs-03', kind: 'hang-after', args: ['mkdir'] });
    const client = await connect(lab, 'xs-03');
    try {
      expect((await ssh(lab, 'xs-03', 'echo before')).stdout).toBe('before\n');
      expect((await ssh(lab, 'xs-03', 'mkdir -p /tmp/armed && echo made')).stdout).toBe('made\n');
      (await opened(client, 'touch /tmp/after-armed')).close();
    } finally {
      client.end();
      await labFault({ stateDir: lab.stateDir, host: 'xs-03', kind: 'hang', off: true });
    }
    expect((await ssh(lab, 'xs-03', 'test -e /tmp/after-armed && echo ran || echo never')).stdout).toBe('never\n');
    expect((await ssh(lab, 'xs-03', 'test -d /tmp/armed && echo there')).stdout).toBe('there\n');
  });

  it('hang-after with a HOST: a command on one host makes every later command on another hang', async () => {
    await labFault({ stateDir: lab.stateDir, host: 'xs-03', kind: 'hang-after', args: ['mkdir', 'xs-02'] });
    const client = await connect(lab, 'xs-02');
    try {
      expect((await ssh(lab, 'xs-02', 'echo before')).stdout).toBe('before\n');
      expect((await ssh(lab, 'xs-03', 'mkdir -p /tmp/armed-elsewhere && echo made')).stdout).toBe('made\n');
      expect((await ssh(lab, 'xs-03', 'echo still')).stdout).toBe('still\n');
      (await opened(client, 'touch /tmp/after-armed-elsewhere')).close();
    } finally {
      client.end();
      await labFault({ stateDir: lab.stateDir, host: 'xs-02', kind: 'hang', off: true });
    }
    expect((await ssh(lab, 'xs-02', 'test -e /tmp/after-armed-elsewhere && echo ran || echo never')).stdout).toBe('never\n');
    await expect(labFault({ stateDir: lab.stateDir, host: 'xs-03', kind: 'hang-after', args: ['mkdir', 'xs-99'] })).rejects.toThrow(/no host xs-99/);
  });

  it('cuts the next connection after its command ran, without an exit status', async () => {
    await labFault({ stateDir: lab.stateDir, host: 'xs-02', kind: 'drop-connection' });
    const marker = '/tmp/dropped-but-done';
    const cut = await ssh(lab, 'xs-02', `touch ${marker}; echo done`);
    expect(cut.code).toBe(255);
    expect(cut.stdout).toBe('');
    expect(await ssh(lab, 'xs-02', `test -f ${marker} && echo there`)).toMatchObject({ code: 0, stdout: 'there\n' });
  });

  it('powers a host off (connections refused) and back on', async () => {
    await labFault({ stateDir: lab.stateDir, host: 'xenapp-01', kind: 'power-off' });
    expect(labStatus({ stateDir: lab.stateDir }).hosts.find((h) => h.name === 'xenapp-01')!.power).toBe('off');
    const refused = await ssh(lab, 'xenapp-01', 'true');
    expect(refused.code).toBe(255);
    expect(refused.stderr).toMatch(/Connection refused/);
    await labFault({ stateDir: lab.stateDir, host: 'xenapp-01', kind: 'power-off', off: true });
    expect((await ssh(lab, 'xenapp-01', 'hostname')).stdout).toBe('XENAPP-01\r\n');
  });

  it('rejects an unknown fault kind by name', async () => {
    await expect(labFault({ stateDir: lab.stateDir, host: 'xs-01', kind: 'gremlins' })).rejects.toThrow(/gremlins/);
  });
});

describe('power', () => {
  it('reboots: the connection drops, new ones are refused, then a new boot id', async () => {
    const client = await connect(lab, 'ubuntu-01');
    const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
    const before = await exec(client, 'cat /proc/sys/kernel/random/boot_id');
    const reboot = await exec(client, 'reboot');
    expect(reboot.code).toBe(0);
    await closed;
    // Down for a moment (300 ms here): a connection right after the drop is refused, or, if this
    // machine was too busy to try within the moment, finds the host rebooted. Never the old boot.
    const right = await ssh(lab, 'ubuntu-01', 'cat /proc/sys/kernel/random/boot_id');
    if (right.code === 0) expect(right.stdout).not.toBe(before.stdout);
    else expect(right.stderr).toMatch(/Connection refused/);
    let after = '';
    for (let attempt = 0; attempt < 50 && !after; attempt++) {
      const result = await ssh(lab, 'ubuntu-01', 'cat /proc/sys/kernel/random/boot_id');
      if (result.code === 0) after = result.stdout;
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(after).toMatch(/^[0-9a-f-]{36}\n$/);
    expect(after).not.toBe(before.stdout);
    expect(readMutations(lab.stateDir, 'ubuntu-01').at(-1)!.argv).toEqual(['reboot']);
  });

  it('mounts the tools CD that xe vm-cd-insert put in the drive, and installs the guest utilities from it', async () => {
    expect(await ssh(lab, 'ubuntu-01', 'mount -o ro /dev/xvdd /mnt')).toMatchObject({ code: 32, stderr: 'mount: No medium found\n' });
    writeFileSync(`${lab.labRoot}/hosts/ubuntu-01/cdrom`, 'xs-tools.iso\n'); // what LabB's vm-cd-insert writes
    const install = await ssh(lab, 'ubuntu-01', 'mount -o ro /dev/xvdd /mnt && dpkg -i /mnt/Linux/xe-guest-utilities_*_i386.deb; status=$?; umount /mnt; exit $status');
    expect(install).toMatchObject({ code: 0, stdout: expect.stringContaining('Setting up xe-guest-utilities (5.5.0-466) ...') });
    expect((await ssh(lab, 'ubuntu-01', "dpkg-query -W --showformat='${Status}' xe-guest-utilities; test -d /mnt/Linux; echo $?; echo $LAB_ROOT")).stdout).toBe('install ok installed1\n/run/runbook/lab\n');
    expect(readMutations(lab.stateDir, 'ubuntu-01').slice(-3).map((m) => m.argv[0])).toEqual(['mount', 'dpkg', 'umount']);
  });

  it('reports the simulated kernels, not the machine\'s', async () => {
    expect((await ssh(lab, 'ubuntu-01', 'uname -r')).stdout).toBe('2.6.24-16-generic\n');
    expect((await ssh(lab, 'xs-01', 'uname -r')).stdout).toBe('2.6.18-128.1.6.el5.xs5.5.0.505.1024xen\n');
  });

  it('stays down after halt until powered on', async () => {
    expect((await ssh(lab, 'ubuntu-01', 'poweroff')).code).toBe(0);
    const deadline = Date.now() + 30_000;
    while (labStatus({ stateDir: lab.stateDir }).hosts.find((h) => h.name === 'ubuntu-01')!.power !== 'halted') {
      if (Date.now() > deadline) throw new Error('ubuntu-01 never halted after poweroff');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 500)); // and it does not come back by itself
    expect((await ssh(lab, 'ubuntu-01', 'true')).stderr).toMatch(/Connection refused/);
    await labFault({ stateDir: lab.stateDir, host: 'ubuntu-01', kind: 'power-off', off: true });
    expect((await ssh(lab, 'ubuntu-01', 'hostname')).code).toBe(0);
  });
});
