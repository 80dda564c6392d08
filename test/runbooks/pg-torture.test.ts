/**
 * The kill -9 torture with the state in PostgreSQL (issue 15: "every journal readable, no step
 * applied twice, final lab state equal to an uninterrupted run", ≥ 30 trials). iscsi-reverse-reset
 * (the iSCSI multipath notes: xs-02 lost a path, is taken down, rebooted and brought back) runs on
 * the lab with RUNBOOK_STATE_URL pointing at a private PostgreSQL (test/helpers/postgres.ts), a
 * fresh database per drive, the lab's host keys copied into it as a team would (`state copy`):
 *
 * 1. the command-level torture of torture.ts: an uninterrupted reference run, then a kill between
 *    every pair of commands of every multi-command step, each resumed from the database;
 * 2. a kill right after every step result: the run is SIGKILLed as soon as it prints a step's
 *    result (printed only once the database has committed it), resumed, killed again after the
 *    next one, to the end;
 * 3. a kill right after every command an apply sent (its `command-end`, committed before the next
 *    command may go): for a one-command step, the crash between the change and its step result,
 *    and after the reboot request itself (`nohup sh -c 'sleep 1; reboot' &`): the lab hangs up on
 *    a closed channel's commands, which the nohup'd reboot survives, as under OpenSSH.
 * After every kill the journal is read back from the database with no warning; the lab must end as
 * the reference run left it, with no mutating call in the lab's log more often than there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStateBackend, type StateBackend } from '../../src/state/index.ts';
import { copyState } from '../../src/state/copy.ts';
import { initPostgresState } from '../../src/state/postgres.ts';
import type { RunEvent } from '../../src/engine/events.ts';
import { PG_MISSING, startPostgres, type PgServer } from '../helpers/postgres.ts';
import { runUntil, type KilledRun } from './kill-at-event.ts';
import { startLab, type RunbookLab } from './lab-helpers.ts';
import { mutationCounts, poolEstate, torture, type Reference, type Scenario, type TortureState } from './torture.ts';

const SCENARIO: Scenario = {
  name: 'iscsi-reverse-reset (state in PostgreSQL)', runbook: 'iscsi-reverse-reset', estate: poolEstate,
  prepare: async (lab) => { await lab.fault('xs-02', 'cut-path'); },
  legs: [{ args: () => ['-l', 'xs-02'] }],
};

/** The state in a fresh database of `pg` per drive, the lab's known_hosts copied in. */
function postgresState(pg: PgServer): TortureState & { url(): string; open(): Promise<StateBackend> } {
  let url = '';
  let databases = 0;
  const env = () => ({ ...process.env, ...pg.env });
  const open = () => openStateBackend({ state: url }, env());
  return {
    url: () => url,
    open,
    async reset(lab) {
      url = pg.url(pg.createDatabase(`torture_${process.pid}_${++databases}`));
      await initPostgresState(url, { env: env(), from: '--state' });
      const [folder, db] = [await openStateBackend({ stateDir: lab.stateDir }, { ...process.env, RUNBOOK_STATE_URL: '' }), await open()];
      try { await copyState(folder, db); } finally { await Promise.all([folder.close(), db.close()]); }
    },
    env: () => ({ ...pg.env, RUNBOOK_STATE_URL: url }),
    async events(runId) {
      const db = await open();
      try {
        const { events, warnings } = await db.readJournal(runId);
        expect(warnings, `journal of ${runId} in ${url}`).toEqual([]);
        return events;
      } finally {
        await db.close();
      }
    },
  };
}

/**
 * From a clean lab: the run SIGKILLed right after the first event `killAt` picks in each process,
 * resumed, until it ends. `killAt` must pick events a resume does not print again (a step result,
 * an apply's command-end), so each process gets further. Checks the journal reads back clean after each.
 */
async function killAfterEach(lab: RunbookLab, scenario: Scenario, where: TortureState, killAt: (e: RunEvent) => boolean): Promise<KilledRun[]> {
  await lab.reset();
  await where.reset?.(lab);
  await scenario.prepare?.(lab);
  const runs: KilledRun[] = [];
  let args = ['apply', scenario.runbook, '-i', lab.inventory, ...scenario.legs[0].args(lab)];
  let runId: string | undefined;
  for (let i = 0; i < 80; i++) {
    const run = await runUntil(lab, args, killAt, where.env());
    runs.push(run);
    runId ??= run.events.find((e) => e.kind === 'run-start')?.runId;
    expect(runId, `no run-start\n${run.stdout}\n${run.stderr}`).toBeTruthy();
    await where.events(runId!);
    args = ['resume', runId!];
    if (run.killed) continue;
    // a host that is rebooting may not answer yet; a kill after the last result may land once the run is recorded finished
    if (run.code === 4) continue;
    if (run.code === 1 && /nothing to resume/.test(run.stderr)) return runs;
    expect(run.code, `exit ${run.code}\n${run.stdout.slice(-3000)}\n${run.stderr}`).toBe(0);
    return runs;
  }
  throw new Error(`${scenario.name}: not finished after ${runs.length} runs`);
}


/** Every call the lab logged no more often than in the reference run. */
const moreThan = (reference: Reference, lab: RunbookLab) => Object.entries(mutationCounts(lab)).filter(([call, n]) => n > (reference.mutations[call] ?? 0));

describe.skipIf(PG_MISSING !== undefined)(`kill -9 torture with the state in PostgreSQL${PG_MISSING ? ` (skipped: ${PG_MISSING})` : ''}`, () => {
  let lab: RunbookLab;
  let pg: PgServer;
  beforeAll(async () => {
    pg = await startPostgres();
    lab = await startLab({ rebootDownMs: 300 });
  }, 180_000);
  afterAll(async () => {
    await lab?.stop();
    pg?.destroy();
  });

  it('iscsi-reverse-reset killed between every pair of commands, after every step result and after every command, ≥ 30 kills, ends as the uninterrupted run', async () => {
    const state = postgresState(pg);
    const commandLevel = await torture(lab, SCENARIO, state);
    const kills = { betweenCommands: commandLevel.runs.filter((r) => r.killed).length, afterStepResults: 0, afterCommands: 0 };
    expect(kills.betweenCommands).toBe(commandLevel.boundaries.length);
    expect(kills.betweenCommands).toBeGreaterThan(0);

    const passes = [
      ['afterStepResults', (e: RunEvent) => e.kind === 'step-result'],
      ['afterCommands', (e: RunEvent) => e.kind === 'command-end'],
    ] as const;
    for (const [pass, killAt] of passes) {
      const runs = await killAfterEach(lab, SCENARIO, state, killAt);
      kills[pass] = runs.filter((r) => r.killed).length;
      expect(SCENARIO.estate(lab), pass).toEqual(commandLevel.expected.estate);
      expect(moreThan(commandLevel.expected, lab), `${pass}: calls run more often than without the kills`).toEqual([]);
      // the run is recorded finished, ok, in its database
      const db = await state.open();
      try {
        expect((await db.listRuns()).map((r) => [r.finished, r.state]), pass).toEqual([[true, 'ok']]);
      } finally {
        await db.close();
      }
    }
    console.log(`${SCENARIO.name}: kills ${JSON.stringify(kills)}`);
    expect(kills.afterStepResults).toBeGreaterThan(10);
    expect(kills.afterCommands).toBeGreaterThan(5);
    expect(kills.betweenCommands + kills.afterStepResults + kills.afterCommands).toBeGreaterThanOrEqual(30);
  }, 2_400_000);
});
