/**
 * The command-level kill -9 torture (torture.ts) on rebuild-rejoin-host (the host rebuild notes) the whole way:
 * the master xs-01 is dead, a survivor takes over, the dead host is forgotten, reinstalled (the
 * lab's reinstall, a new host key) and joins again as master. Both manual gates are confirmed as
 * an operator would, so the kills reach every multi-command step after them too. (The step-level
 * torture, with a kill inside a confirmed step's recording, is rebuild-torture.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type RunbookLab } from './lab-helpers.ts';
import { knownHostsPath, poolView, reinstall, wholePool } from './pool-view.ts';
import { poolEstate, torture, type Gate, type Scenario } from './torture.ts';

async function confirm(lab: RunbookLab, { runId, host, step }: Gate, evidence: Record<string, string> = {}, operator = 'alice') {
  const args = ['confirm', runId, '--host', host, '--step', step, ...Object.entries(evidence).flatMap(([k, v]) => ['--evidence', `${k}=${v}`])];
  const result = await lab.cli(args, { env: { RUNBOOK_OPERATOR: operator } });
  expect(result.code, result.stderr).toBe(0);
}

const SCENARIO: Scenario = {
  name: 'rebuild-rejoin-host', runbook: 'rebuild-rejoin-host', env: { RUNBOOK_PARAM_poolPassword: 'xenroot' },
  prepare: async (lab) => { await lab.fault('xs-01', 'power-off'); },
  estate: poolEstate,
  legs: [{
    args: (lab) => ['--limit', 'xs-01', '--param', 'becomeMaster=true', '--param', `knownHosts=${knownHostsPath(lab)}`],
    gates: {
      'forget-approved': (lab, at) => confirm(lab, at),
      reinstalled: async (lab, at) => {
        const { fingerprint } = await reinstall(lab, at.host);
        await confirm(lab, at, { version: '6.1.0', ip: '10.10.0.11', fingerprint }, 'bob');
      },
    },
  }],
};

let lab: RunbookLab;
beforeAll(async () => { lab = await startLab({ rebootDownMs: 300 }); }, 120_000);
afterAll(async () => { await lab?.stop(); });

describe('kill between every pair of commands of every multi-command step: rebuild-rejoin-host', () => {
  it('a dead master rebuilt past both gates: the tortured run ends as the uninterrupted one, no command run twice', async () => {
    const { boundaries } = await torture(lab, SCENARIO);
    expect(boundaries.length, 'the scenario has multi-command steps').toBeGreaterThan(0);
    // past the gates: the kill points reach steps after the reinstall
    expect(poolView(lab)).toEqual(wholePool('xs-01'));
  }, 1_200_000);
});
