/**
 * Issue 13, item 2: a completed command is never sent again. The iSCSI runbooks (the iSCSI multipath notes: the
 * host that lost a path is taken down, rebooted and brought back) through the command-level kill
 * -9 torture of torture.ts: a kill between every pair of commands of every multi-command step.
 * The other runbooks have their own files (command-torture-*.test.ts), each with its own lab, so
 * the two test workers can run them side by side.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type RunbookLab } from './lab-helpers.ts';
import { poolEstate, torture, type Scenario } from './torture.ts';

const cutPath = async (lab: RunbookLab) => { await lab.fault('xs-02', 'cut-path'); };

const SCENARIOS: Scenario[] = [
  { name: 'iscsi-reverse-reset', runbook: 'iscsi-reverse-reset', prepare: cutPath, legs: [{ args: () => ['-l', 'xs-02'] }], estate: poolEstate },
  { name: 'iscsi-reconnect', runbook: 'iscsi-reconnect', prepare: cutPath, legs: [{ args: () => ['-l', 'xs-02'] }], estate: poolEstate },
];

let lab: RunbookLab;
beforeAll(async () => { lab = await startLab({ rebootDownMs: 300 }); }, 120_000);
afterAll(async () => { await lab?.stop(); });

describe('kill between every pair of commands of every multi-command step', () => {
  it.each(SCENARIOS.map((s) => [s.name, s] as const))('%s: the tortured run ends as the uninterrupted one, no command run twice', async (_name, scenario) => {
    const { boundaries, notSentAgain } = await torture(lab, scenario);
    expect(boundaries.length, 'the scenario has multi-command steps').toBeGreaterThan(0);
    // here some resume finds a step half done, and its ledger must stand in for the commands that ended
    expect(notSentAgain).toBeGreaterThan(0);
  }, 900_000);
});
