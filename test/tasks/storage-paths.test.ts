/** storagePaths: the health reading a multipath repair starts from, and the steps gated on it (FAKE shell). */
import { describe, expect, it } from 'vitest';
import { noop } from '../../src/runbook/check.ts';
import { assert } from '../../src/tasks/assert.ts';
import * as storagePaths from '../../src/tasks/storage-paths.ts';
import type { StepContext } from '../../src/runbook/types.ts';
import { fakeContext as anyContext, fakeShell, fixture, type FakeEntry } from '../fixtures/tasks/fake.ts';

/** A FAKE context typed with the storage host vars it carries. */
const fakeContext = (input: Parameters<typeof anyContext>[0]) => anyContext(input) as StepContext<any, storagePaths.HostVars>;

const VARS = { pool_master: 'xs-01', iscsi_portals: ['10.10.1.10', '10.10.2.10'] };
const BOOT = '0f3a5b6c-1d2e-4f50-8a9b-0c1d2e3f4a5b';
const look = (ll: string, sessions: FakeEntry): Record<string, FakeEntry> => ({
  'multipath -ll': ll, 'iscsiadm -m session': sessions, 'cat /proc/sys/kernel/random/boot_id': `${BOOT}\n`,
});
const HEALTHY = look(fixture('multipath/ll-rhel6-doc.txt'), fixture('iscsi/session-two-portals.txt'));
const SHORT = look(fixture('multipath/ll-two-luns-one-failed.txt'), 'tcp: [1] 10.10.1.10:3260,1 iqn.2006-01.com.example:storage (non-flash)\n');

describe('storagePaths.lookedAt', () => {
  const step = storagePaths.lookedAt({ description: 'read the paths', force: (ctx) => (ctx.params as { force?: boolean }).force === true });

  it('on a short host: hands on needsRepair with every problem found', async () => {
    const result = await step.check(fakeContext({ sh: fakeShell(SHORT), vars: VARS }));
    expect(step).toMatchObject({ id: 'paths-looked-at', description: 'read the paths' });
    expect(result).toMatchObject({ done: true, reason: 'LUN mpatha has 1 of 2 paths active; LUN mpathb has 1 of 2 paths active; no iSCSI session to 10.10.2.10:3260: the host needs the repair' });
    expect(result.outputs).toEqual({ needsRepair: true, problems: expect.stringContaining('LUN mpatha'), activePaths: { mpatha: 1, mpathb: 1 }, bootId: BOOT });
  });

  it('on a healthy host: nothing to repair, unless forced', async () => {
    const healthy = await step.check(fakeContext({ sh: fakeShell(HEALTHY), vars: VARS }));
    expect(healthy).toMatchObject({ reason: 'every LUN has 2 active paths and every portal a session: nothing to repair', outputs: { needsRepair: false, problems: 'none' } });
    const forced = await step.check({ ...fakeContext({ sh: fakeShell(HEALTHY), vars: VARS }), params: { force: true } });
    expect(forced).toMatchObject({ reason: expect.stringContaining('but --param force=true: repair anyway'), outputs: { needsRepair: true } });
  });

  it('multipath_paths overrides one path per portal', async () => {
    const { problems } = await storagePaths.problems(fakeShell(HEALTHY), { ...VARS, multipath_paths: 4 });
    expect(problems).toEqual([expect.stringMatching(/has 2 of 4 paths active$/)]);
  });
});

describe('steps gated on the reading', () => {
  const gated = storagePaths.onlyIfNeeded(assert({ id: 'a', title: 't', that: () => noop('checked') }));
  const after = (needsRepair: boolean) => fakeContext({ sh: fakeShell({}), vars: VARS, outputs: { 'paths-looked-at': { needsRepair, problems: needsRepair ? 'LUN x short' : 'none' } } });

  it('onlyIfNeeded says why it does nothing on a healthy host, and checks otherwise', async () => {
    expect(await gated.check(after(false))).toEqual(noop('nothing to repair: not checked'));
    expect(await gated.check(after(true))).toEqual(noop('checked'));
  });

  it('the toolstack restarts only in a run that repairs', async () => {
    const step = storagePaths.toolstackRestarted('why');
    expect(await step.check(after(false))).toMatchObject({ done: true, reason: 'nothing was repaired: the toolstack is left alone' });
    expect(await step.check(after(true))).toMatchObject({ done: false, reason: 'this run repairs the paths (LUN x short)' });
  });
});
