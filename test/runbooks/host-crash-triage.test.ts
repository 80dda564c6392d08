/**
 * runbooks/host-crash-triage.ts end to end on the lab pool (the host crash notes). `lab fault HOST
 * crash oom|segfault|panic` leaves what a crash leaves (kern.log lines, a crash dump xapi lists);
 * the lab seeds the last hotfix on all hosts but xs-03. The triage must find it all, journal it as
 * evidence, survive a kill -9, and leave the lab byte-identical.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKernLog, parseMaxCstate, victims } from '../../runbooks/host-crash-triage.ts';
import { startLab, stepResults, type RunbookLab } from './lab-helpers.ts';

let lab: RunbookLab;
beforeAll(async () => { lab = await startLab(); }, 120_000);
afterAll(async () => { await lab?.stop(); });

/** sha256 of every file the estate's state lives in: host folders, pool databases, XenServer state. */
function estateHashes(): Record<string, string> {
  const root = lab.lab.labRoot;
  const hashes: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (lstatSync(path).isDirectory()) walk(path);
      else hashes[relative(root, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  for (const dir of ['hosts', 'pools', 'xen']) if (existsSync(join(root, dir))) walk(join(root, dir));
  return hashes;
}

describe('host-crash-triage parsers', () => {
  it('finds OOM kills and segfaults with their processes in 2.6.32 kern.log lines', () => {
    const log = [
      'Sep 26 03:14:15 xs-02 kernel: [11234.567890] xapi invoked oom-killer: gfp_mask=0x201da, order=0, oom_adj=0',
      'Sep 26 03:14:15 xs-02 kernel: [11234.568230] Killed process 4620 (xapi) vsz:281652kB, anon-rss:151240kB, file-rss:2096kB',
      'Sep 26 02:51:07 xs-02 kernel: [10046.123456] squeezed[3377]: segfault at 10 ip 00000000004a3b2c sp 00007fff5e8b1c70 error 4 in squeezed[400000+7a1000]',
      'Sep 26 00:00:04 xs-02 kernel: [    3.141592] bond0: Adding slave eth0.',
    ].join('\n');
    const found = parseKernLog(log, 20);
    expect(found.oomKills).toHaveLength(2);
    expect(victims(found)).toEqual({ killed: ['xapi'], segfaulted: ['squeezed'] });
    expect(parseKernLog(log, 1).oomKills).toEqual([log.split('\n')[1]]);
  });

  it('reads max_cstate from the Xen line of extlinux.conf only', () => {
    const conf = (xen: string) => `default xe\nlabel xe\n  kernel mboot.c32\n  append /boot/xen.gz ${xen} --- /boot/vmlinuz-2.6-xen max_cstate=9 --- /boot/initrd-2.6-xen.img\n`;
    expect(parseMaxCstate(conf('dom0_mem=752M max_cstate=1')).maxCstate).toBe(1);
    expect(parseMaxCstate(conf('dom0_mem=752M'))).toEqual({ xenArgs: '/boot/xen.gz dom0_mem=752M', maxCstate: null });
  });
});

describe('host-crash-triage on the lab', () => {
  it('finds what the crashes left, journals it, resumes after a kill -9, and leaves the estate byte-identical', async () => {
    for (const kind of ['oom', 'segfault', 'panic']) await lab.fault('xs-02', 'crash', [kind]);
    const before = estateHashes();
    const mutations = lab.mutations();

    const dry = await lab.applyJson('host-crash-triage', ['--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    const killed = await lab.applyAndKill('host-crash-triage', { afterStep: 'c-states' }, ['-l', 'xs-02']);
    expect(killed.map((r) => r.step)).toContain('c-states');
    const resumed = await lab.resumeUntilDone();
    expect(resumed[resumed.length - 1].code, resumed[resumed.length - 1].stderr).toBe(0);
    const run = await lab.applyJson('host-crash-triage', []);
    expect(run.code, run.stderr).toBe(0);

    expect(estateHashes()).toEqual(before);
    expect(lab.mutations()).toEqual(mutations);

    const xs02 = stepResults(run.events, 'xs-02');
    expect(xs02.every((r) => r.status === 'ok')).toBe(true);
    const kernel = xs02.find((r) => r.step === 'kernel-log');
    expect(kernel?.outputs?.oomKills).toEqual(expect.arrayContaining([expect.stringContaining('Killed process 4620 (xapi)')]));
    expect(kernel?.reason).toBe('3 OOM line(s) (killed xapi), 1 segfault(s) (squeezed), 0 panic/oops line(s)');
    expect(xs02.find((r) => r.step === 'crash-dumps')?.reason).toBe('1 crash dump(s): 20130926T03:47:09Z (104857600 bytes)');
    const summary = xs02.find((r) => r.step === 'summary')?.reason ?? '';
    expect(summary).toMatch(/OOM killer ran \(killed: xapi\).*rebuilding it/);
    expect(summary).toContain('segfault (SIGSEGV) in squeezed');
    expect(summary).toContain('1 crash dump(s) (20130926T03:47:09Z)');
    expect(summary).toContain('C-states are not limited');
    expect(summary).not.toContain('hotfixes missing');

    const xs03 = stepResults(run.events, 'xs-03');
    expect(xs03.find((r) => r.step === 'hotfix-level')?.reason).toBe('XenServer 6.1.0 build 59235p; hotfixes XS61E001, XS61E004; missing XS61E009');
    expect(xs03.find((r) => r.step === 'summary')?.reason).toContain('hotfixes missing here: XS61E009 (applied on xs-01, xs-02)');
    expect(stepResults(run.events, 'xs-01').find((r) => r.step === 'kernel-log')?.reason).toBe('0 OOM line(s), 0 segfault(s), 0 panic/oops line(s)');
  }, 240_000);
});
