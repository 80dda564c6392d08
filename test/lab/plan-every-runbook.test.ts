/**
 * For every shipped runbook (issue 17): plan it on the lab, apply the plan, and the result (each
 * host's step results and the exit code) equals a plain apply of the runbook on a fresh lab.
 * The lab is reset before each run, so both start from the same estate.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEvents, startLab, statusTable, type RunbookLab } from '../runbooks/lab-helpers.ts';
import { RUNBOOK_DRIVES } from './runbook-drives.ts';

let lab: RunbookLab;
beforeAll(async () => {
  lab = await startLab({ rebootDownMs: 300 });
}, 120_000);
afterAll(async () => {
  await lab?.stop();
});

describe('apply PLAN equals a plain apply', () => {
  it.each(RUNBOOK_DRIVES.map((d) => [d.runbook, d] as const))('%s', async (_name, { runbook, args, env }) => {
    const options = { env, timeoutMs: 240_000 };
    await lab.reset();
    const planFile = join(lab.stateDir, `${runbook}.plan.json`);
    const plan = await lab.cli(['plan', runbook, '-i', lab.inventory, '-o', planFile, ...args(lab)], options);
    expect(plan.stderr, plan.stdout).toMatch(/plan written: /);
    const planned = await lab.cli(['apply', planFile, '--json', '--fresh'], options);
    await lab.reset();
    const plain = await lab.cli(['apply', runbook, '-i', lab.inventory, '--json', '--fresh', ...args(lab)], options);
    expect(statusTable(parseEvents(planned.stdout)), planned.stderr).toEqual(statusTable(parseEvents(plain.stdout)));
    expect(planned.code, planned.stderr).toBe(plain.code);
    expect(parseEvents(planned.stdout).find((e) => e.kind === 'run-start')).toMatchObject({ plan: { file: planFile } });
  }, 600_000);
});
