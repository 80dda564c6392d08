import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RunEvent } from '../../src/engine/events.ts';
import {
  appendConfirmation, hostTranscriptPath, journalPath, openJournal, readHostTranscript, readJournal, type AppendFile,
} from '../../src/state/journal.ts';
import { encodeLine } from '../../src/state/lines.ts';

const CHILD = fileURLToPath(new URL('./fixtures/append-child.ts', import.meta.url));
const time = '2026-11-21T23:25:00.000Z';
const warning = (message: string): RunEvent => ({ kind: 'warning', time, message });
const command = (host: string, n: number): RunEvent => ({
  kind: 'command', time, host, step: 's1', on: host, command: `echo ${n}`, code: 0, signal: null, stdout: `${n}\n`, stderr: '', durationMs: 1, timedOut: false,
});
const messages = (events: RunEvent[]) => events.map((e) => (e.kind === 'warning' ? e.message : e.kind));

let runDir: string;
beforeEach(async () => {
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'runbook-journal-'));
  runDir = path.join(base, 'runs', 'r1');
});
afterEach(async () => {
  await fsp.rm(path.dirname(path.dirname(runDir)), { recursive: true, force: true });
});

async function writeEvents(events: RunEvent[]): Promise<void> {
  const journal = await openJournal(runDir);
  await Promise.all(events.map((e) => journal.append(e)));
  await journal.close();
}

describe('journal writer and reader', () => {
  it('round-trips events in order, transcripts in per-host files', async () => {
    await writeEvents([warning('a'), command('xs-01', 1), warning('b'), command('xs-02', 2), command('xs-01', 3)]);
    const journal = await readJournal(journalPath(runDir));
    expect(journal).toMatchObject({ warnings: [], lastSeq: 2 });
    expect(messages(journal.events)).toEqual(['a', 'b']);
    const xs01 = await readHostTranscript(runDir, 'xs-01');
    expect(xs01.events.map((e) => e.kind === 'command' && e.command)).toEqual(['echo 1', 'echo 3']);
    expect(await readHostTranscript(runDir, 'nobody')).toEqual({ events: [], warnings: [], lastSeq: 0 });
  });

  it('writes one checksummed JSON record per line', async () => {
    await writeEvents([warning('a')]);
    const text = await fsp.readFile(journalPath(runDir), 'utf8');
    expect(text).toMatch(/^\{"crc":"[0-9a-f]{8}","seq":1,"event":\{"kind":"warning",.*\}\}\n$/);
    expect(JSON.parse(text).event.message).toBe('a');
  });

  it('creates files 0600 and folders 0700', async () => {
    await writeEvents([warning('a'), command('xs-01', 1)]);
    const mode = async (p: string) => (await fsp.stat(p)).mode & 0o777;
    expect(await mode(journalPath(runDir))).toBe(0o600);
    expect(await mode(hostTranscriptPath(runDir, 'xs-01'))).toBe(0o600);
    expect(await mode(runDir)).toBe(0o700);
    expect(await mode(path.dirname(hostTranscriptPath(runDir, 'xs-01')))).toBe(0o700);
  });

  it('continues seq numbers after a reopen', async () => {
    await writeEvents([warning('a'), warning('b')]);
    await writeEvents([warning('c')]);
    const text = await fsp.readFile(journalPath(runDir), 'utf8');
    expect(text.split('\n').filter(Boolean).map((l) => JSON.parse(l).seq)).toEqual([1, 2, 3]);
  });

  it('never holds many more files open than maxOpenHostFiles, even when one batch touches every host', async () => {
    let open = 0;
    let mostOpen = 0;
    const openFile = async (file: string): Promise<AppendFile> => {
      const handle = await fsp.open(file, 'a', 0o600);
      mostOpen = Math.max(mostOpen, ++open);
      return { write: async (data) => { await handle.write(data); }, sync: () => handle.datasync(), close: async () => { open--; await handle.close(); } };
    };
    const journal = await openJournal(runDir, { openFile, maxOpenHostFiles: 4 });
    await Promise.all(Array.from({ length: 40 }, (_, i) => journal.append(command(`h${i}`, i))));
    await journal.close();
    expect(mostOpen).toBeLessThanOrEqual(2 * 4 + 1);
    expect(open).toBe(0);
    expect((await readHostTranscript(runDir, 'h39')).events).toHaveLength(1);
  });

  it('keeps host transcripts right when host files are closed and reopened', async () => {
    const journal = await openJournal(runDir, { maxOpenHostFiles: 2 });
    for (let round = 0; round < 3; round++) {
      await Promise.all(['a', 'b', 'c', 'd', 'e'].map((h) => journal.append(command(h, round))));
    }
    await journal.close();
    for (const h of ['a', 'b', 'c', 'd', 'e']) {
      const text = await fsp.readFile(hostTranscriptPath(runDir, h), 'utf8');
      expect(text.split('\n').filter(Boolean).map((l) => JSON.parse(l).seq)).toEqual([1, 2, 3]);
    }
  });
});

describe('torn and corrupt lines', () => {
  it('skips a torn last line on read, moves it aside on reopen, and appends cleanly after', async () => {
    await writeEvents([warning('a'), warning('b')]);
    const half = encodeLine(3, warning('torn')).subarray(0, 30);
    await fsp.appendFile(journalPath(runDir), half);

    const before = await readJournal(journalPath(runDir));
    expect(messages(before.events)).toEqual(['a', 'b']);
    expect(before.warnings).toEqual([expect.stringMatching(/:3: torn or corrupt last line/)]);

    const journal = await openJournal(runDir);
    expect(journal.warnings).toEqual([expect.stringMatching(/30 bytes .* moved to journal\.jsonl\.torn-1/)]);
    await journal.append(warning('c'));
    await journal.close();
    expect(await fsp.readFile(`${journalPath(runDir)}.torn-1`)).toEqual(half);

    const after = await readJournal(journalPath(runDir));
    expect(after.warnings).toEqual([]);
    expect(messages(after.events)).toEqual(['a', 'b', 'c']);
  });

  it('treats a whole last line with a wrong checksum as torn', async () => {
    await writeEvents([warning('a'), warning('b')]);
    await flipByteInLine(2);
    const read = await readJournal(journalPath(runDir));
    expect(messages(read.events)).toEqual(['a']);
    expect(read.warnings).toEqual([expect.stringMatching(/:2: torn or corrupt last line \(checksum mismatch\)/)]);
    const journal = await openJournal(runDir);
    expect(journal.warnings).toHaveLength(1);
    await journal.append(warning('c'));
    await journal.close();
    expect(messages((await readJournal(journalPath(runDir))).events)).toEqual(['a', 'c']);
  });

  it('skips a corrupt line in the middle with its line number and keeps the rest', async () => {
    await writeEvents(['a', 'b', 'c', 'd', 'e'].map(warning));
    await flipByteInLine(2);
    const read = await readJournal(journalPath(runDir));
    expect(messages(read.events)).toEqual(['a', 'c', 'd', 'e']);
    expect(read.warnings).toEqual([expect.stringMatching(/journal\.jsonl:2: corrupt line \(checksum mismatch\), skipped/)]);
    // A reopen leaves a valid tail alone.
    const journal = await openJournal(runDir);
    expect(journal.warnings).toEqual([]);
    await journal.close();
  });

  it('cuts a tail of several bad lines (NULs a crash left) back to the last valid line', async () => {
    await writeEvents([warning('a')]);
    await fsp.appendFile(journalPath(runDir), Buffer.concat([Buffer.from('garbage\n'), Buffer.alloc(100)]));
    const journal = await openJournal(runDir);
    expect(journal.warnings).toEqual([expect.stringMatching(/108 bytes/)]);
    await journal.append(warning('b'));
    await journal.close();
    expect(await readJournal(journalPath(runDir))).toMatchObject({ warnings: [], lastSeq: 2 });
  });

  it('finds the last valid line behind a tail longer than the first read window', async () => {
    const big = 'y'.repeat(200_000);
    await writeEvents([warning('a'), warning(big)]);
    await fsp.appendFile(journalPath(runDir), encodeLine(3, warning(big)).subarray(0, 150_000));
    const journal = await openJournal(runDir);
    expect(journal.warnings).toEqual([expect.stringMatching(/150000 bytes/)]);
    await journal.append(warning('c'));
    await journal.close();
    await appendConfirmation(runDir, { kind: 'confirmation', time, host: 'h', step: 's', by: 'ana' });
    const read = await readJournal(journalPath(runDir));
    expect(read).toMatchObject({ warnings: [], lastSeq: 4 });
    expect(read.events.map((e) => e.kind)).toEqual(['warning', 'warning', 'warning', 'confirmation']);
  });

  it('repairs a torn host transcript the first time the host is written again', async () => {
    await writeEvents([command('xs-01', 1)]);
    await fsp.appendFile(hostTranscriptPath(runDir, 'xs-01'), '{"crc":"0000');
    const journal = await openJournal(runDir);
    await journal.append(command('xs-01', 2));
    expect(journal.warnings).toEqual([expect.stringMatching(/xs-01\.jsonl: 12 bytes/)]);
    await journal.close();
    const read = await readHostTranscript(runDir, 'xs-01');
    expect(read.warnings).toEqual([]);
    expect(read.events).toHaveLength(2);
  });

  async function flipByteInLine(lineNumber: number): Promise<void> {
    const file = journalPath(runDir);
    const lines = (await fsp.readFile(file, 'utf8')).split('\n');
    lines[lineNumber - 1] = lines[lineNumber - 1].replace('"message":"', '"message":"X');
    await fsp.writeFile(file, lines.join('\n'));
  }
});

describe('group commit', () => {
  /** Wraps the real file with counters: bytes written, bytes covered by a finished sync. */
  function countingFiles() {
    const counts = { syncs: 0, written: 0, synced: 0 };
    const openFile = async (file: string): Promise<AppendFile> => {
      const handle = await fsp.open(file, 'a', 0o600);
      const isJournal = file.endsWith('journal.jsonl');
      return {
        async write(data) {
          await handle.write(data);
          if (isJournal) counts.written += data.length;
        },
        async sync() {
          const covered = counts.written;
          await handle.datasync();
          counts.syncs++;
          if (isJournal) counts.synced = Math.max(counts.synced, covered);
        },
        close: () => handle.close(),
      };
    };
    return { counts, openFile };
  }

  it('batches 200 concurrent appends into a few fsyncs, each resolved only once durable', async () => {
    const { counts, openFile } = countingFiles();
    const journal = await openJournal(runDir, { openFile });
    const lineEnds: number[] = [];
    let expectedEnd = 0;
    const appends = Array.from({ length: 200 }, (_, i) => {
      const event = warning(`m${i}`);
      expectedEnd += encodeLine(i + 1, event).length;
      const end = expectedEnd;
      return journal.append(event).then(() => lineEnds.push(end - counts.synced));
    });
    await Promise.all(appends);
    await journal.close();
    expect(counts.syncs).toBeLessThanOrEqual(5);
    expect(journal.stats()).toMatchObject({ appends: 200, syncs: counts.syncs });
    // Every promise resolved when the synced prefix already covered its line.
    expect(lineEnds.every((shortfall) => shortfall <= 0)).toBe(true);
    expect((await readJournal(journalPath(runDir))).events).toHaveLength(200);
  });

  it('batches appends that arrive while an fsync is in flight', async () => {
    const { counts, openFile } = countingFiles();
    const journal = await openJournal(runDir, { openFile });
    const first = journal.append(warning('first'));
    await new Promise((resolve) => setImmediate(resolve));
    const rest = Array.from({ length: 100 }, (_, i) => journal.append(warning(`m${i}`)));
    await Promise.all([first, ...rest]);
    await journal.close();
    expect(counts.syncs).toBeLessThanOrEqual(3);
  });

  it('fsyncs transcripts in the background when asked, and all of them by close', async () => {
    // The journal's sync timer is faked: on a loaded machine the batch below may take longer than
    // any real interval, and a real timer would then fire inside it.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const syncedFiles: string[] = [];
      const openFile = async (file: string): Promise<AppendFile> => {
        const handle = await fsp.open(file, 'a', 0o600);
        return { write: async (data) => { await handle.write(data); }, sync: async () => { syncedFiles.push(path.basename(file)); await handle.datasync(); }, close: () => handle.close() };
      };
      const journal = await openJournal(runDir, { openFile, transcriptSync: 'background', transcriptSyncMs: 50, maxOpenHostFiles: 3 });
      await Promise.all(Array.from({ length: 10 }, (_, i) => [journal.append(command(`h${i}`, i)), journal.append(warning(`w${i}`))]).flat());
      // The journal line is durable at once; the host files are not fsync'd yet, except the 7 closed to stay under the limit.
      expect(syncedFiles.filter((f) => f === 'journal.jsonl')).toHaveLength(1);
      const closedEarly = syncedFiles.filter((f) => f !== 'journal.jsonl');
      expect(closedEarly).toHaveLength(7);
      await vi.advanceTimersByTimeAsync(50);
      const all = new Set(['journal.jsonl', ...Array.from({ length: 10 }, (_, i) => `h${i}.jsonl`)]);
      // The timer has started the background fsync of the 3 files still open; it ends on its own, before close.
      for (const giveUp = Date.now() + 10_000; new Set(syncedFiles).size < all.size && Date.now() < giveUp;) await new Promise((resolve) => setImmediate(resolve));
      expect(new Set(syncedFiles)).toEqual(all);
      const h0Syncs = () => syncedFiles.filter((f) => f === 'h0.jsonl').length;
      const h0SyncsBefore = h0Syncs();
      await journal.append(command('h0', 99));
      await journal.close();
      expect(h0Syncs()).toBe(h0SyncsBefore + 1); // the line written after the timer is fsync'd by close
      expect((await readHostTranscript(runDir, 'h0')).events).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('fails stop: a failed write rejects that batch and every later append', async () => {
    let calls = 0;
    const openFile = async (file: string): Promise<AppendFile> => {
      const handle = await fsp.open(file, 'a', 0o600);
      return {
        write: async (data) => { if (++calls === 2) throw new Error('EIO'); await handle.write(data); },
        sync: () => handle.datasync(),
        close: () => handle.close(),
      };
    };
    const journal = await openJournal(runDir, { openFile });
    await journal.append(warning('ok'));
    await expect(journal.append(warning('lost'))).rejects.toThrow('EIO');
    await expect(journal.append(warning('later'))).rejects.toThrow('EIO');
    await journal.close();
  });
});

describe('appendConfirmation from another process', () => {
  const confirmation = (note: string) => ({ kind: 'confirmation' as const, time, host: 'xs-01', step: 'reinstall', by: 'ana', note });

  it('appends a checksummed line after the last seq', async () => {
    await writeEvents([warning('a')]);
    await appendConfirmation(runDir, confirmation('done'));
    const read = await readJournal(journalPath(runDir));
    expect(read).toMatchObject({ warnings: [], lastSeq: 2 });
    expect(read.events[1]).toMatchObject({ kind: 'confirmation', note: 'done' });
  });

  it('starts a new line after a torn tail, so the confirmation survives', async () => {
    await writeEvents([warning('a')]);
    await fsp.appendFile(journalPath(runDir), '{"crc":"12');
    await appendConfirmation(runDir, confirmation('done'));
    const read = await readJournal(journalPath(runDir));
    expect(read.events.map((e) => e.kind)).toEqual(['warning', 'confirmation']);
    expect(read.warnings).toEqual([expect.stringMatching(/:2: corrupt line/)]);
  });

  it('refuses a run with no journal', async () => {
    await expect(appendConfirmation(runDir, confirmation('x'))).rejects.toThrow(/ENOENT/);
  });

  it('never tears or interleaves lines when two processes append at once', async () => {
    await writeEvents([warning('start')]);
    const [writer, confirmer] = await Promise.all([
      runChild(['writer', runDir, '400', 'w']),
      runChild(['confirm', runDir, '60', 'c']),
    ]);
    expect(writer.code).toBe(0);
    expect(confirmer.code).toBe(0);
    const read = await readJournal(journalPath(runDir));
    expect(read.warnings).toEqual([]);
    expect(read.events.filter((e) => e.kind === 'warning')).toHaveLength(401);
    expect(read.events.filter((e) => e.kind === 'confirmation')).toHaveLength(60);
  }, 30_000);
});

describe('kill -9 while appending', () => {
  it('never loses an acknowledged event and always reads back cleanly', async () => {
    // Three journals killed in turn, side by side: 24 kills, each at a random moment. The third
    // child writes in small pieces, so its kills tear lines and the reopen must repair them.
    const lanes = ['lane-a', 'lane-b', 'lane-torn'].map((lane) => path.join(runDir, lane));
    const acked = await Promise.all(lanes.map((dir, i) => killRepeatedly(dir, 8, i === 2 ? 'forever-torn' : 'forever')));
    expect(acked.reduce((a, b) => a + b, 0)).toBeGreaterThan(24 * 3);
    expect((await fsp.readdir(lanes[2])).filter((f) => f.startsWith('journal.jsonl.torn-')).length).toBeGreaterThan(0);
    for (const dir of lanes) {
      const journal = await openJournal(dir);
      await journal.append(warning('after'));
      await journal.close();
      const final = await readJournal(journalPath(dir));
      expect(final.warnings).toEqual([]);
      expect(messages(final.events).at(-1)).toBe('after');
    }
  }, 120_000);

  /** Kills a child appending to `dir` `trials` times; after each kill checks every acked event is there. Returns the acks. */
  async function killRepeatedly(dir: string, trials: number, mode: string): Promise<number> {
    let total = 0;
    for (let trial = 0; trial < trials; trial++) {
      const acked = await killWhileAppending(dir, mode, `t${trial}`, 5 + Math.floor(Math.random() * 60));
      const read = await readJournal(journalPath(dir));
      const present = new Set(read.events.flatMap((e) => (e.kind === 'warning' ? [e.message.split(' ')[0]] : [])));
      expect(acked.filter((id) => !present.has(id)), `${dir} trial ${trial}`).toEqual([]);
      // Only the very last line may be torn; the next open repairs it.
      expect(read.warnings.filter((w) => !/torn or corrupt last line/.test(w))).toEqual([]);
      total += acked.length;
    }
    return total;
  }

  /** Starts a child appending forever, SIGKILLs it `delayMs` after its first ack, returns what it acked. */
  async function killWhileAppending(dir: string, mode: string, tag: string, delayMs: number): Promise<string[]> {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, mode, dir, tag], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked: string[] = [];
    let buffered = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line.startsWith('ack ')) acked.push(line.slice(4));
      timer ??= setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    await new Promise((resolve) => child.on('close', resolve));
    return acked;
  }
});

function runChild(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.on('close', (code) => resolve({ code, stdout }));
  });
}
