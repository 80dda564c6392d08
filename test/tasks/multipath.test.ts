import { describe, expect, it } from 'vitest';
import { activePaths, parseMultipathLl, pathsActive, pathsRestored } from '../../src/tasks/multipath.ts';
import { fakeClock, fakeContext, fakeShell, fixture } from '../fixtures/tasks/fake.ts';

const summary = (text: string) => parseMultipathLl(text).map((lun) => ({
  name: lun.name, wwid: lun.wwid, groups: lun.groups.length, paths: lun.groups.flatMap((g) => g.paths).length, active: activePaths(lun).length,
}));

describe('parseMultipathLl on recorded output', () => {
  it.each([
    { file: 'multipath/ll-empty.txt', want: [] },
    { file: 'multipath/ll-rhel6-doc.txt', want: [{ name: '3600d0230000000000e13955cc3757800', wwid: '3600d0230000000000e13955cc3757800', groups: 2, paths: 2, active: 2 }] },
    { file: 'multipath/ll-two-luns-one-failed.txt', want: [
      { name: 'mpatha', wwid: '36001405d363af4e9a69472cbd4711629', groups: 2, paths: 2, active: 1 },
      { name: 'mpathb', wwid: '36001405b52f5c056b524a9c8633cf2b0', groups: 2, paths: 2, active: 1 },
    ] },
    { file: 'multipath/ll-3par-mixed.txt', want: [
      { name: 'mpatha', wwid: '360002ac0000000000000007a0002d495', groups: 1, paths: 4, active: 4 },
      { name: '360002ac0000000000000007b0002d495', wwid: '360002ac0000000000000007b0002d495', groups: 1, paths: 4, active: 3 },
      { name: 'mpathc', wwid: '3600508b1001c7e4f0000000000000001', groups: 1, paths: 1, active: 1 },
    ] },
    { file: 'multipath/ll-vanished-path.txt', want: [
      { name: '3600601601290380036a00936cf13e711', wwid: '3600601601290380036a00936cf13e711', groups: 2, paths: 2, active: 0 },
      { name: '3600601601bd032007c097518e96ae411', wwid: '3600601601bd032007c097518e96ae411', groups: 1, paths: 1, active: 0 },
    ] },
    { file: 'multipath/ll-legacy-rhel5-doc.txt', want: [{ name: 'mpath1', wwid: '3600d0230003228bc000339414edb8101', groups: 2, paths: 2, active: 2 }] },
    { file: 'multipath/ll-legacy-failed.txt', want: [{ name: '360a98000486e2f66426f2f7a32745338', wwid: '360a98000486e2f66426f2f7a32745338', groups: 2, paths: 2, active: 1 }] },
  ])('$file', ({ file, want }) => {
    expect(summary(fixture(file))).toEqual(want);
  });

  it('reads every field of a modern map, its groups and paths', () => {
    const [lun] = parseMultipathLl(fixture('multipath/ll-two-luns-one-failed.txt'));
    expect(lun).toMatchObject({ dm: 'dm-2', vendor: 'LIO-ORG', product: 'data-chunk1', size: '1022M', features: '1 queue_if_no_path', hwhandler: '1 alua', writePermission: 'rw' });
    expect(lun.groups.map((g) => [g.policy, g.prio, g.status])).toEqual([['service-time 0', 0, 'enabled'], ['service-time 0', 50, 'active']]);
    expect(lun.groups[0].paths[0]).toEqual({ hcil: '3:0:0:0', dev: 'sdb', majorMinor: '8:16', dmState: 'failed', checkerState: 'faulty', onlineState: 'running' });
  });

  it('keeps a vendor padded with blanks and a product with a space apart', () => {
    expect(parseMultipathLl(fixture('multipath/ll-padded-vendor.txt'))[0]).toMatchObject({ vendor: 'ATA', product: 'HUS726T4TALA600', wwid: 'HUS726T4TALA600_V6J95GVV' });
    expect(parseMultipathLl(fixture('multipath/ll-3par-mixed.txt'))[2]).toMatchObject({ vendor: 'HPE', product: 'LOGICAL VOLUME' });
  });

  it('reads a path whose device is gone as nulls', () => {
    const lun = parseMultipathLl(fixture('multipath/ll-vanished-path.txt'))[1];
    expect(lun.groups[0].paths[0]).toEqual({ hcil: null, dev: null, majorMinor: null, dmState: 'active', checkerState: 'faulty', onlineState: 'running' });
  });

  it('reads the 0.4.7 bracket format, prio and status included', () => {
    const [lun] = parseMultipathLl(fixture('multipath/ll-legacy-failed.txt'));
    expect(lun).toMatchObject({ dm: 'dm-1', vendor: 'NETAPP', product: 'LUN', size: '20G', writePermission: 'rw' });
    expect(lun.groups.map((g) => [g.policy, g.prio, g.status])).toEqual([['round-robin 0', 4, 'active'], ['round-robin 0', 0, 'enabled']]);
    expect(lun.groups[1].paths[0]).toEqual({ hcil: '3:0:0:0', dev: 'sdd', majorMinor: '8:48', dmState: 'failed', checkerState: 'faulty' });
  });

  it.each([
    { state: 'i/o pending', up: false },
    { state: 'ghost', up: true },
    { state: 'shaky', up: false },
  ])('a path whose checker says "$state" counts as up: $up', ({ state, up }) => {
    const text = `mpatha (3600a) dm-0 X,Y\nsize=1G features='0' hwhandler='0' wp=rw\n\`-+- policy='service-time 0' prio=1 status=active\n  \`- 1:0:0:1 sdb 8:16 active ${state} running\n`;
    const [lun] = parseMultipathLl(text);
    expect(lun.groups[0].paths[0].checkerState).toBe(state);
    expect(activePaths(lun).length).toBe(up ? 1 : 0);
  });

  it('an offline SCSI device is not an active path', () => {
    const [lun] = parseMultipathLl("m (w) dm-0 X,Y\nsize=1G features='0' hwhandler='0' wp=rw\n`-+- policy='service-time 0' prio=1 status=active\n  `- 1:0:0:1 sdb 8:16 active ready offline\n");
    expect(activePaths(lun)).toEqual([]);
  });

  it('strips the bold escapes multipath prints on a terminal, and refuses an unreadable line', () => {
    expect(parseMultipathLl('\x1b[1mmpatha (3600a) dm-0 X,Y\x1b[0m\n')[0].name).toBe('mpatha');
    expect(() => parseMultipathLl("mpatha (3600a) dm-0 X,Y\n  what is this\n")).toThrow(/cannot read multipath -ll line/);
  });
});

describe('multipath.pathsActive', () => {
  const run = async (stdout: string, expected: number, minLuns?: number) =>
    pathsActive({ id: 'paths', title: 't', expected, minLuns }).check(fakeContext({ sh: fakeShell({ 'multipath -ll': stdout }) }));

  it('passes when every LUN has the paths', async () => {
    const result = await run(fixture('multipath/ll-rhel6-doc.txt'), 2);
    expect(result).toMatchObject({ done: true, reason: 'all 1 LUN(s) have 2 or more active paths' });
  });

  it('names each LUN short of paths, with its failed paths', async () => {
    const result = await run(fixture('multipath/ll-two-luns-one-failed.txt'), 2);
    expect(result.done).toBe(false);
    expect(result.reason).toBe('LUN mpatha (36001405d363af4e9a69472cbd4711629) has 1 of 2 paths active (down: sdb failed faulty running); '
      + 'LUN mpathb (36001405b52f5c056b524a9c8633cf2b0) has 1 of 2 paths active (down: sde failed faulty running)');
  });

  it('names only the short LUN of three', async () => {
    const result = await run(fixture('multipath/ll-3par-mixed.txt'), 1);
    expect(result.done).toBe(true);
    const four = await run(fixture('multipath/ll-3par-mixed.txt'), 4);
    expect(four.reason).toMatch(/^LUN 360002ac0000000000000007b0002d495 .* 3 of 4 .*sdg failed faulty running\); LUN mpathc .* 1 of 4/);
  });

  it('fails with no LUN at all', async () => {
    expect(await run('', 2)).toMatchObject({ done: false, reason: 'multipath -ll shows 0 LUN(s), want at least 1' });
  });
});

describe('pathsActive options', () => {
  it.each([0, 1.5, -2])('refuses expected = %s', (expected) => {
    expect(() => pathsActive({ id: 'paths', title: 't', expected })).toThrow(/step paths: expected/);
  });
});

describe('multipath.pathsRestored', () => {
  it('waits until every LUN has its paths, asking multipath -ll again (FAKE clock: no real sleep)', async () => {
    const clock = fakeClock();
    const step = pathsRestored({ id: 'paths-active', title: 'every LUN shows all its paths', expected: 2, intervalMs: 1000, clock });
    expect(step).toMatchObject({ kind: 'action', id: 'paths-active', title: 'every LUN shows all its paths', timeoutMs: 120_000 });
    const sh = fakeShell({ 'multipath -ll': [{ stdout: fixture('multipath/ll-two-luns-one-failed.txt') }, { stdout: fixture('multipath/ll-rhel6-doc.txt') }] });
    const ctx = fakeContext({ sh });
    expect((await step.check(ctx)).reason).toMatch(/^waiting up to 120 s: LUN mpatha .* has 1 of 2 paths active/);
    await step.apply!(ctx);
    expect(clock.slept).toEqual([]);
    expect(await step.check(ctx)).toMatchObject({ done: true, reason: 'all 1 LUN(s) have 2 or more active paths' });
  });

  it('gives up after its timeout with the last reason', async () => {
    const clock = fakeClock();
    const step = pathsRestored({ id: 'p', title: 'paths', expected: 2, timeoutMs: 5000, intervalMs: 1000, clock });
    const ctx = fakeContext({ sh: fakeShell({ 'multipath -ll': { stdout: fixture('multipath/ll-two-luns-one-failed.txt') } }) });
    await expect(Promise.resolve(step.apply!(ctx))).rejects.toThrow(/paths: still not so after 5 s: LUN mpatha/);
    expect(clock.slept.length).toBeGreaterThan(0);
  });
});
