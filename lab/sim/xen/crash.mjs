/**
 * What a crashed or struggling XenServer host leaves behind, for `runbook lab fault HOST crash KIND`
 * (the crash notes: OOMKILL and kernel segfaults "registered in the kern logs", a kernel panic):
 *   oom       the dom0 kernel's OOM killer lines in /var/log/kern.log (2.6.32's wording)
 *   segfault  a process's segfault line in /var/log/kern.log (signal 11, SIGSEGV)
 *   panic     a crash dump xapi lists after the reboot (`xe host-crashdump-list`)
 * `--off` puts kern.log back to the boot messages and removes the host's crash dumps.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostDir, loadHost, newUuid, updatePool } from './store.mjs';

const DOM0_KERNEL = '2.6.32.43-0.4.1.xs1.6.10.734.170748xen';

/** syslog's prefix as CentOS 5's sysklogd writes it, with the kernel's printk time. */
const line = (host, clock, uptime, text) => `Sep 26 ${clock} ${host} kernel: [${uptime}] ${text}`;

/** The boot messages every lab XenServer host's kern.log starts with. */
export function bootKernLog(host) {
  return [
    line(host, '00:00:01', '    0.000000', `Linux version ${DOM0_KERNEL} (root@dom0-build) (gcc version 4.1.2 20080704 (Red Hat 4.1.2-48)) #1 SMP Thu Sep 6 12:22:16 EDT 2012`),
    line(host, '00:00:01', '    0.000000', 'Command line: root=LABEL=root-ujnbqjdi ro xencons=hvc console=hvc0 console=tty0 quiet vga=785 splash'),
    line(host, '00:00:04', '    3.141592', 'bond0: Adding slave eth0.'),
    line(host, '00:00:04', '    3.141877', 'bond0: Adding slave eth1.'),
    '',
  ].join('\n');
}

const LINES = {
  oom: (host) => [
    line(host, '03:14:15', '11234.567890', 'xapi invoked oom-killer: gfp_mask=0x201da, order=0, oom_adj=0'),
    line(host, '03:14:15', '11234.568012', 'Out of memory: kill process 4620 (xapi) score 70413 or a child'),
    line(host, '03:14:15', '11234.568230', 'Killed process 4620 (xapi) vsz:281652kB, anon-rss:151240kB, file-rss:2096kB'),
  ],
  segfault: (host) => [
    line(host, '02:51:07', '10046.123456', 'squeezed[3377]: segfault at 10 ip 00000000004a3b2c sp 00007fff5e8b1c70 error 4 in squeezed[400000+7a1000]'),
  ],
};

/** @param {string} labRoot @param {string} host @param {string[]} args @param {boolean} off */
export function crashFault(labRoot, host, args, off) {
  const kernLog = join(hostDir(labRoot, host), 'var', 'log', 'kern.log');
  const { pool, uuid } = loadHost(labRoot, host);
  if (off) {
    writeFileSync(kernLog, bootKernLog(host));
    updatePool(labRoot, pool, (db) => { for (const [k, d] of Object.entries(db.host_crashdump ?? {})) if (d['host-uuid'] === uuid) delete db.host_crashdump[k]; });
    return `${host}: kern.log back to the boot messages, crash dumps gone`;
  }
  const kind = args[0] ?? 'oom';
  if (kind === 'panic') {
    updatePool(labRoot, pool, (db) => {
      const dump = newUuid();
      (db.host_crashdump ??= {})[dump] = { uuid: dump, 'host-uuid': uuid, timestamp: '20130926T03:47:09Z', size: '104857600' };
    });
    return `${host}: a crash dump from a kernel panic, listed by xe host-crashdump-list`;
  }
  if (!LINES[kind]) throw new Error(`crash: unknown kind '${kind}' (known: oom, segfault, panic)`);
  appendFileSync(kernLog, `${LINES[kind](host).join('\n')}\n`);
  return `${host}: ${kind} lines in /var/log/kern.log`;
}
