/**
 * Round trips (issue 18): reads sent ahead in the frame of an apply's last command, reads asked side
 * by side sent as one frame, and the rules that keep an answer honest. Hosts are real /bin/sh on
 * this machine (ansible_connection=local); the transport only counts what it is asked to run.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executeRun } from '../../src/engine/run.ts';
import type { RunEvent } from '../../src/engine/events.ts';
import { createExecutor } from '../../src/engine/executor.ts';
import { ReadAhead, READ_AHEAD_MAX_AGE_MS } from '../../src/engine/read-ahead.ts';
import type { Inventory, InventoryHost } from '../../src/inventory/types.ts';
import { defineRunbook } from '../../src/runbook/define.ts';
import { change, noop } from '../../src/runbook/check.ts';
import type { Step } from '../../src/runbook/types.ts';
import { cmd } from '../../src/shell/command.ts';
import { createShell } from '../../src/shell/shell.ts';
import { file } from '../../src/tasks/file.ts';
import { pathExists } from '../../src/tasks/facts.ts';
import { CountedLocal } from '../helpers/counted-local.ts';
import { EventLog } from './fakes.ts';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'runbook-read-ahead-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function inventoryOf(vars: Record<string, unknown> = {}): Inventory {
  const host: InventoryHost = { name: 'h1', address: '127.0.0.1', port: 22, connection: 'local', become: false, groups: ['all'], vars, varSources: {} };
  return { source: '/test/inventory.ini', hosts: new Map([['h1', host]]), groups: new Map() };
}

async function run(steps: Step[], vars: Record<string, unknown> = {}) {
  const runbook = defineRunbook({ name: 'read-ahead', summary: 'test runbook', hosts: 'all' }).steps(steps);
  const inventory = inventoryOf(vars);
  const log = new EventLog();
  const transport = new CountedLocal('h1');
  await executeRun({
    runId: 'r1', runbook, inventory, hosts: [...inventory.hosts.values()], params: {}, hostVars: new Map(),
    dryRun: false, forks: 1, transports: () => transport, sinks: [log], runSecrets: [],
  });
  const trips = Object.fromEntries(log.results('h1').map((r) => [r.step, r.roundTrips]));
  const commands = log.events.filter((e): e is Extract<RunEvent, { kind: 'command' }> => e.kind === 'command')
    .map((e) => `${e.step}: ${e.command} → ${e.code}${e.stdout ? ` ${e.stdout.trim()}` : ''}`);
  return { log, trips, commands, sent: transport.sent, statuses: log.results('h1').map((r) => `${r.step} ${r.status}`) };
}

const files = () => [
  file({ id: 'a', title: 'a', path: join(dir, 'a'), state: 'present' }),
  file({ id: 'b', title: 'b', path: join(dir, 'b'), state: 'present' }),
  {
    kind: 'assert', id: 'both', title: 'both there',
    async check(ctx) {
      const [a, b] = await Promise.all([pathExists(ctx.sh, join(dir, 'a')), pathExists(ctx.sh, join(dir, 'b'))]);
      return a && b ? noop('both there') : change('missing');
    },
  } satisfies Step,
];

describe('reads sent ahead', () => {
  it('the re-check and the next step\'s first read ride with the last command of an apply, with the journal unchanged', async () => {
    const framed = await run(files());
    expect(framed.statuses).toEqual(['a changed', 'b changed', 'both ok']);
    // a: its stat, then touch + [re-check stat, b's stat]; b: touch + [re-check stat]; both: one frame of two tests.
    expect(framed.trips).toEqual({ a: 2, b: 1, both: 1 });
    expect(framed.sent).toHaveLength(4);
    rmSync(join(dir, 'a'));
    rmSync(join(dir, 'b'));
    // A host the inventory says runs PowerShell gets no frames: one command each (the two side by
    // side still wait for one round trip), the same events.
    const plain = await run(files(), { ansible_shell_type: 'powershell' });
    expect(plain.trips).toEqual({ a: 3, b: 3, both: 1 });
    expect(plain.sent).toHaveLength(8);
    // In order, but for the two reads asked side by side, which end in either order.
    const inOrder = (commands: string[]) => [...commands.filter((c) => !c.startsWith('both:')), ...commands.filter((c) => c.startsWith('both:')).sort()];
    expect(inOrder(framed.commands)).toEqual(inOrder(plain.commands));
    expect(framed.commands).toHaveLength(8);
  });

  it('a command that changes the host is never sent early: a step after a failed one sends nothing', async () => {
    const failing: Step = {
      kind: 'action', id: 'fails', title: 'does not converge',
      check: () => change('always'), commands: () => [cmd`true`],
    };
    const writesInCheck: Step = {
      kind: 'action', id: 'writes', title: 'its check writes',
      check: async (ctx) => { await ctx.sh`touch ${join(dir, 'written')}`; return noop('done'); },
      commands: () => [],
    };
    const result = await run([failing, writesInCheck]);
    expect(result.statuses).toEqual(['fails failed']);
    expect(existsSync(join(dir, 'written'))).toBe(false);
  });

  it('a read sent ahead is not taken once anything else was sent to the host', async () => {
    const transport = new CountedLocal('h1');
    const readAhead = new ReadAhead();
    const marker = join(dir, 'm');
    const scope = { transport, host: 'h1', stepId: 's', become: false, sensitive: false, runSecrets: [], signal: new AbortController().signal, emit: () => {}, readAhead };
    const reader = createShell('h1', createExecutor(scope));
    // What a frame left: the marker was absent when it ran.
    readAhead.keep([{ command: cmd`test -e ${marker} || test -L ${marker}`, on: 'h1', sudo: false }], [{ stdout: '', stderr: '', code: 1 }]);
    await reader`touch ${marker}`;
    expect(await pathExists(reader, marker)).toBe(true);
    expect(transport.sent).toHaveLength(2);
  });

  it('answers are taken in order, once, and not after they are too old', () => {
    const readAhead = new ReadAhead();
    const read = (text: string) => ({ command: cmd`${text}`, on: 'h1', sudo: false });
    const answer = (stdout: string) => ({ stdout, stderr: '', code: 0 });
    readAhead.keep([read('one'), read('two'), read('three')], [answer('1'), answer('2'), answer('3')], readAhead.sending(), 1000);
    expect(readAhead.take('two', false, 1000)?.stdout).toBe('2');
    expect(readAhead.take('one', false, 1000)).toBeUndefined();
    expect(readAhead.take('two', true, 1000)).toBeUndefined();
    expect(readAhead.take('three', false, 1000 + READ_AHEAD_MAX_AGE_MS + 1)).toBeUndefined();
    expect(readAhead.size).toBe(0);
  });

  it('a frame\'s answers are not kept when another command went to the host while it was out', () => {
    const readAhead = new ReadAhead();
    const reads = [{ command: cmd`test -e /x`, on: 'h1', sudo: false }];
    const answers = [{ stdout: '', stderr: '', code: 1 }];
    const frameSent = readAhead.sending();
    readAhead.sending(); // another step's command on the same host, while the frame is out
    readAhead.keep(reads, answers, frameSent);
    expect(readAhead.size).toBe(0);
    readAhead.keep(reads, answers, readAhead.sending());
    expect(readAhead.size).toBe(1);
  });
});

describe('the trial of the next step', () => {
  it('a check that waits on its own does not hold the frame before it', async () => {
    const slowCheck: Step = {
      kind: 'assert', id: 'slow', title: 'waits between asks',
      async check(ctx) {
        // Only the trial fails here (its shell answers nothing): it then waits a minute.
        try { await pathExists(ctx.sh, join(dir, 'x')); } catch { await new Promise((r) => setTimeout(r, 60_000).unref()); }
        return noop('fine');
      },
    };
    // Were the frame to wait for the trial, this would take a minute and the test time out.
    const result = await run([file({ id: 'a', title: 'a', path: join(dir, 'a'), state: 'present' }), slowCheck]);
    expect(result.statuses).toEqual(['a changed', 'slow ok']);
    expect(result.trips).toEqual({ a: 2, slow: 1 });
  }, 30_000);
});
