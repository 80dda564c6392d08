/**
 * Several steps in one round trip (issue 18): consecutive host-judged steps (`command` with
 * `unless`, or with no guard) go to the host as one script, and each step's events are rebuilt
 * from what the script printed. Hosts are real /bin/sh on this machine (ansible_connection=local);
 * the transport only counts the scripts it is given (each one a round trip over SSH). A host the
 * inventory says runs PowerShell gets no frames, which gives the same runbook sent step by step:
 * the journal must be the same but for the round trips.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.ts';
import type { HostResume } from '../../src/engine/host.ts';
import { executeRun } from '../../src/engine/run.ts';
import type { Inventory, InventoryHost } from '../../src/inventory/types.ts';
import { noop } from '../../src/runbook/check.ts';
import { defineRunbook } from '../../src/runbook/define.ts';
import type { Step, StepContext } from '../../src/runbook/types.ts';
import { cmd } from '../../src/shell/command.ts';
import { foldProgress } from '../../src/state/progress.ts';
import { command } from '../../src/tasks/command.ts';
import { file } from '../../src/tasks/file.ts';
import { LocalTransport } from '../../src/transport/local.ts';
import type { ExecOptions } from '../../src/transport/types.ts';
import { CountedLocal } from '../helpers/counted-local.ts';
import { EventLog } from './fakes.ts';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'runbook-frame-steps-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function inventoryOf(vars: Record<string, unknown>): Inventory {
  const host: InventoryHost = { name: 'h1', address: '127.0.0.1', port: 22, connection: 'local', become: false, groups: ['all'], vars, varSources: {} };
  return { source: '/test/inventory.ini', hosts: new Map([['h1', host]]), groups: new Map() };
}

interface RunOptions { dryRun?: boolean; powershell?: boolean; resume?: HostResume }

async function run(steps: Step[], options: RunOptions = {}) {
  const runbook = defineRunbook({ name: 'frames', summary: 'test runbook', hosts: 'all' }).steps(steps);
  const inventory = inventoryOf(options.powershell ? { ansible_shell_type: 'powershell' } : {});
  const log = new EventLog();
  const transport = new CountedLocal('h1');
  const summary = await executeRun({
    runId: 'r1', runbook, inventory, hosts: [...inventory.hosts.values()], params: {}, hostVars: new Map(),
    dryRun: options.dryRun ?? false, forks: 1, transports: () => transport, sinks: [log], runSecrets: [],
    ...(options.resume ? { resume: new Map([['h1', options.resume]]) } : {}),
  });
  const trips = Object.fromEntries(log.results('h1').map((r) => [r.step, r.roundTrips]));
  return { log, trips, sent: transport.sent, summary, statuses: log.results('h1').map((r) => `${r.step} ${r.status}`) };
}

/** A config file that holds one line, written only when it does not. */
const conf = (n: number) => command({
  id: `conf-${n}`, title: `conf-${n} holds value=${n}`,
  unless: cmd`grep -qx ${`value=${n}`} ${join(dir, `conf-${n}`)}`,
  run: cmd`echo ${`value=${n}`} > ${join(dir, `conf-${n}`)}`,
});

/** The journal's events with what differs between two runs of the same work blanked (time, durations, round trips). */
function journalOf(events: readonly RunEvent[]) {
  return events.filter((e) => !['run-start', 'run-end', 'host-end'].includes(e.kind)).map((e) => {
    const { time: _time, ...rest } = e as RunEvent & { durationMs?: number; roundTrips?: number; framedWith?: string[] };
    const blanked: Record<string, unknown> = { ...rest };
    delete blanked.durationMs;
    delete blanked.roundTrips;
    delete blanked.framedWith;
    return blanked;
  });
}

describe('several steps in one frame', () => {
  it('three steps that need a change cost one round trip, and the journal is what steps sent one by one write', async () => {
    const steps = [conf(1), conf(2), conf(3)];
    const framed = await run(steps);
    expect(framed.statuses).toEqual(['conf-1 changed', 'conf-2 changed', 'conf-3 changed']);
    expect(framed.sent).toHaveLength(1);
    expect(framed.trips).toEqual({ 'conf-1': 1, 'conf-2': 0, 'conf-3': 0 });
    expect(readFileSync(join(dir, 'conf-2'), 'utf8')).toBe('value=2\n');
    const first = framed.log.events.find((e) => e.kind === 'step-start');
    expect(first).toMatchObject({ step: 'conf-1', framedWith: ['conf-2', 'conf-3'] });

    for (const n of [1, 2, 3]) rmSync(join(dir, `conf-${n}`));
    const plain = await run(steps, { powershell: true });
    expect(plain.sent.length).toBeGreaterThanOrEqual(6);
    expect(journalOf(framed.log.events)).toEqual(journalOf(plain.log.events));
    // Each step: the probe (grep: exit 2, no such file), command-start, the command, command-end, the probe again (exit 0).
    const conf2 = framed.log.events.filter((e) => 'step' in e && e.step === 'conf-2').map((e) => e.kind === 'command' ? `command ${e.code}` : e.kind);
    expect(conf2).toEqual(['step-start', 'command 2', 'command-start', 'command 0', 'command-end', 'command 0', 'step-result']);
  });

  it('a second run only probes, in one round trip; a dry-run probes in one and changes nothing', async () => {
    writeFileSync(join(dir, 'conf-1'), 'value=1\n');
    const dry = await run([conf(1), conf(2), conf(3)], { dryRun: true });
    expect(dry.statuses).toEqual(['conf-1 ok', 'conf-2 would-change', 'conf-3 would-change']);
    expect(dry.sent).toHaveLength(1);
    expect(existsSync(join(dir, 'conf-2'))).toBe(false);
    expect(dry.log.results('h1')[1].commands).toEqual([`echo value=2 > ${join(dir, 'conf-2')}`]);

    await run([conf(1), conf(2), conf(3)]);
    const again = await run([conf(1), conf(2), conf(3)]);
    expect(again.statuses).toEqual(['conf-1 ok', 'conf-2 ok', 'conf-3 ok']);
    expect(again.sent).toHaveLength(1);
  });

  it('the frame stops at the first command that fails, as the host stops at its failed step', async () => {
    const failing = command({ id: 'fails', title: 'cannot write', unless: cmd`test -e ${join(dir, 'never')}`, run: cmd`sh -c ${'echo denied >&2; exit 4'}` });
    const result = await run([conf(1), failing, conf(3)]);
    expect(result.statuses).toEqual(['conf-1 changed', 'fails failed']);
    expect(result.sent).toHaveLength(1);
    expect(existsSync(join(dir, 'conf-3'))).toBe(false);
    expect(result.log.results('h1')[1].error).toMatch(/exited 4\s+denied/);
  });

  it('a step whose command does not converge fails its re-check, and nothing after it runs', async () => {
    const lying = command({ id: 'lies', title: 'says it wrote', unless: cmd`test -e ${join(dir, 'lie')}`, run: cmd`true` });
    const result = await run([lying, conf(2)]);
    expect(result.statuses).toEqual(['lies failed']);
    expect(result.log.results('h1')[0].reason).toMatch(/^still needs a change after apply/);
    expect(existsSync(join(dir, 'conf-2'))).toBe(false);
  });

  it('a step the frame cannot carry ends it: the ones after it go in a frame of their own', async () => {
    const touched = file({ id: 'touched', title: 'a file', path: join(dir, 'f'), state: 'present' });
    const result = await run([conf(1), conf(2), touched, conf(3), conf(4)]);
    expect(result.statuses).toEqual(['conf-1 changed', 'conf-2 changed', 'touched changed', 'conf-3 changed', 'conf-4 changed']);
    expect(result.trips['conf-1']).toBe(1);
    expect(result.trips['conf-3']).toBe(1);
    expect(result.trips['conf-4']).toBe(0);
  });

  it('a `when` on an earlier step\'s output is known before the frame goes: gated steps share it, a false one is skipped', async () => {
    const gate: Step = {
      kind: 'action', id: 'gate', title: 'look', check: () => noop('looked', { due: true, extra: false }), commands: () => [],
    };
    const gated = (n: number, key: string) => command({ ...confOptions(n), when: (ctx: StepContext) => ctx.outputs.get<boolean>('gate', key) });
    const result = await run([gate, gated(1, 'due'), gated(2, 'extra'), gated(3, 'due')]);
    expect(result.statuses).toEqual(['gate ok', 'conf-1 changed', 'conf-2 skipped', 'conf-3 changed']);
    expect(result.sent).toHaveLength(1);
    expect(existsSync(join(dir, 'conf-2'))).toBe(false);
  });

  it('a script cut short fails the step it was in, with what the host said; the steps before it are journaled as they ran', async () => {
    const killer = command({ id: 'killed', title: 'its command kills the script', unless: cmd`test -e ${join(dir, 'never')}`, run: cmd`kill -9 $$` });
    const result = await run([conf(1), killer, conf(3)]);
    expect(result.statuses).toEqual(['conf-1 changed', 'killed failed']);
    expect(result.log.results('h1')[1].reason).toMatch(/the script of steps conf-1, killed, conf-3 ended before it said how each went \(killed by signal KILL\)/);
    expect(existsSync(join(dir, 'conf-3'))).toBe(false);
  });

  it('a run killed while the frame was out re-checks every step of it on resume, and repeats no change', async () => {
    // What the journal holds when the controller died with the frame out: the first step's start, naming the others.
    const progress = foldProgress([
      { kind: 'run-start', time: 't0', runId: 'r1', runbook: 'frames', hosts: ['h1'], dryRun: false },
      { kind: 'host-start', time: 't0', host: 'h1' },
      { kind: 'step-start', time: 't1', host: 'h1', step: 'conf-1', title: 'conf-1', attempt: 1, framedWith: ['conf-2', 'conf-3'] },
    ]);
    expect(progress.byHost.h1.inFlight).toMatchObject({ step: 'conf-1', framedWith: ['conf-2', 'conf-3'] });
    // The frame had run conf-1 and conf-2 on the host before the kill.
    writeFileSync(join(dir, 'conf-1'), 'value=1\n');
    writeFileSync(join(dir, 'conf-2'), 'value=2\n');
    const resumed = await run([conf(1), conf(2), conf(3)], {
      resume: { done: new Map(), confirmations: new Map(), inFlight: { step: 'conf-1', attempt: 1, applyTry: 1, ended: [] }, attempts: new Map([['conf-1', 1]]) },
    });
    expect(resumed.statuses).toEqual(['conf-1 ok', 'conf-2 ok', 'conf-3 changed']);
    expect(resumed.sent).toHaveLength(1);
    expect(resumed.log.events.find((e) => e.kind === 'step-start')).toMatchObject({ step: 'conf-1', attempt: 1, resumed: true });
    const applied = resumed.log.events.filter((e) => e.kind === 'command-end').map((e) => (e as { step: string }).step);
    expect(applied).toEqual(['conf-3']);
  });
});

describe('the journal of the steps a frame carried', () => {
  /**
   * A journal sink that takes a few ms per event, noting how many step-boundary events are not yet
   * durable. A command-end takes longer than the rest: the engine must not lean on a later event's
   * wait covering the earlier ones (true of the folder's journal, not of every sink).
   */
  class SlowJournal {
    notDurable = 0;
    mostAtOnce = 0;
    async emit(event: RunEvent): Promise<void> {
      if (!['step-start', 'step-result', 'command-end'].includes(event.kind)) return;
      this.notDurable++;
      this.mostAtOnce = Math.max(this.mostAtOnce, this.notDurable);
      await new Promise((resolve) => setTimeout(resolve, event.kind === 'command-end' ? 30 : 2));
      this.notDurable--;
    }
  }

  it('waits once for their events, and every one is durable before the host gets its next command', async () => {
    const journal = new SlowJournal();
    const atSend: number[] = [];
    class Watched extends LocalTransport {
      override async exec(script: string, options?: ExecOptions) {
        atSend.push(journal.notDurable);
        return super.exec(script, options);
      }
    }
    const steps = [conf(1), conf(2), conf(3), file({ id: 'touched', title: 'a file', path: join(dir, 'f'), state: 'present' }), conf(4), conf(5)];
    const runbook = defineRunbook({ name: 'frames', summary: 'test runbook', hosts: 'all' }).steps(steps);
    const inventory = inventoryOf({});
    const log = new EventLog();
    await executeRun({
      runId: 'r1', runbook, inventory, hosts: [...inventory.hosts.values()], params: {}, hostVars: new Map(),
      dryRun: false, forks: 1, transports: () => new Watched('h1'), sinks: [journal, log], runSecrets: [],
    });
    expect(log.results('h1').map((r) => r.status)).toEqual(['changed', 'changed', 'changed', 'changed', 'changed', 'changed']);
    // The three carried steps' starts, command-ends and results were written without a wait each…
    expect(journal.mostAtOnce).toBeGreaterThan(3);
    // …and none was still on its way when anything next went to the host (the file step's commands, the second frame).
    expect(atSend.length).toBeGreaterThan(2);
    expect(atSend.every((n) => n === 0)).toBe(true);
  });
});

function confOptions(n: number) {
  return {
    id: `conf-${n}`, title: `conf-${n} holds value=${n}`,
    unless: cmd`grep -qx ${`value=${n}`} ${join(dir, `conf-${n}`)}`,
    run: cmd`echo ${`value=${n}`} > ${join(dir, `conf-${n}`)}`,
  };
}
