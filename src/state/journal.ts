import { constants as fsc, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { RunEvent } from '../engine/events.ts';
import { DIR_MODE, FILE_MODE, fileNameFor, fsyncDir, isErrno, openIfExists, readAt } from './fsutil.ts';
import { decodeLine, encodeLine, encodeLineJson, forEachLine, scanTail } from './lines.ts';

/**
 * The journal of one run: `<runDir>/journal.jsonl` holds every event but command transcripts, which
 * go to `<runDir>/hosts/<host>.jsonl` so the journal stays small enough to fold quickly on resume.
 *
 * Both use the same line format (see lines.ts), one record per line:
 *
 *   {"crc":"9f3c01aa","seq":17,"event":{"kind":"step-result",…}}
 *
 * `crc` is the CRC-32 of the bytes from `"seq"` up to the final `}`; `seq` counts lines from 1 per
 * file. A line is valid only if it ends in a newline and its checksum matches; readers skip any
 * other line with a warning, and a writer that reopens a file moves a torn or corrupt tail aside to
 * `<file>.torn-<n>` and truncates it first, so new lines never glue onto garbage.
 * Files are created 0600 and folders 0700.
 *
 * Durability: `append` resolves once its line is written and fdatasync'd (transcripts: see
 * `transcriptSync`). Appends that arrive while a write + fsync is in flight go out together in the
 * next one (group commit). A failed write or fsync fails the writer for good: every later append
 * rejects, because nothing after a hole may claim to be durable.
 */

export const JOURNAL_FILE = 'journal.jsonl';
export const HOSTS_DIR = 'hosts';

/** The journal file of a run folder. */
export const journalPath = (runDir: string): string => path.join(runDir, JOURNAL_FILE);
/** The transcript file of one host in a run folder. */
export const hostTranscriptPath = (runDir: string, host: string): string => path.join(runDir, HOSTS_DIR, `${fileNameFor(host)}.jsonl`);

/** What goes to hosts/<host>.jsonl. */
export type TranscriptEvent = Extract<RunEvent, { kind: 'command' | 'log' }>;
export type ConfirmationEvent = Extract<RunEvent, { kind: 'confirmation' }>;

/** Events that go to the host's transcript file instead of the journal. */
export const isTranscriptEvent = (event: RunEvent): event is TranscriptEvent => event.kind === 'command' || event.kind === 'log';

/** A file opened for appending; tests inject one that counts syncs. */
export interface AppendFile {
  write(data: Buffer): Promise<void>;
  /** Resolves once everything written so far is on stable storage. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface JournalOptions {
  /** Opens (creating 0600 if needed) a file for appending. Default: O_APPEND, fdatasync. */
  openFile?: (file: string) => Promise<AppendFile>;
  /** Host transcript files kept open at once; others are closed after their batch and reopened on need. */
  maxOpenHostFiles?: number;
  /**
   * When transcript lines (command, log) are fsync'd. `batch` (default): in the batch that writes
   * them, like journal lines — durable when append resolves, at the cost of one fsync per host file
   * per batch. `background`: append resolves once the line is written (it survives a killed process,
   * not a power cut); dirty host files are fsync'd every `transcriptSyncMs` and on close. The journal
   * itself is always fsync'd before append resolves.
   */
  transcriptSync?: 'batch' | 'background';
  /** For `background`: how long a transcript line may wait for its fsync. Default 1000 ms. */
  transcriptSyncMs?: number;
}

/** How hard the writer worked: `syncs` much smaller than `appends` is group commit at work. */
export interface JournalStats {
  appends: number;
  batches: number;
  syncs: number;
}

export interface JournalWriter {
  readonly runDir: string;
  /** What opening found and repaired (a torn tail moved aside), for the engine to show. */
  readonly warnings: string[];
  /** Resolves once the event's line is written and fsync'd; rejects (and so do all later appends) if the disk fails. */
  append(event: RunEvent): Promise<void>;
  /** Waits for pending appends, then closes the files. */
  close(): Promise<void>;
  stats(): JournalStats;
}

/**
 * Opens a run's journal for appending, creating the folder and file or repairing a torn tail.
 * @example const journal = await openJournal(runDir); await journal.append(event); await journal.close();
 */
export async function openJournal(runDir: string, options: JournalOptions = {}): Promise<JournalWriter> {
  const writer = new GroupCommitWriter(runDir, options);
  await writer.start();
  return writer;
}

interface Pending {
  file: string;
  eventJson: string;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Group commit: appends that arrive while a write + fsync is in flight wait, and then go out
 * together as one write and one fsync per file, so a thousand hosts finishing a step at once cost
 * a few fsyncs. Each promise resolves only after the fsync that covers its line.
 */
class GroupCommitWriter implements JournalWriter {
  readonly warnings: string[] = [];
  readonly #open: (file: string) => Promise<AppendFile>;
  readonly #maxOpenHostFiles: number;
  readonly #journalFile: string;
  /** Open files, oldest use first (a Map keeps insertion order; a use re-inserts). */
  readonly #files = new Map<string, AppendFile>();
  /** Last seq per file, kept after a host file is closed so reopening needs no scan. */
  readonly #lastSeq = new Map<string, number>();
  #queue: Pending[] = [];
  #draining: Promise<void> | undefined;
  #failure: unknown;
  #closed = false;
  readonly #syncTranscriptsInBatch: boolean;
  readonly #transcriptSyncMs: number;
  /** Host files written but not yet fsync'd (background mode). */
  readonly #dirty = new Set<string>();
  /** Folders that gained an entry (a new file or folder) not yet fsync'd. */
  readonly #newEntriesIn = new Set<string>();
  #syncTimer: NodeJS.Timeout | undefined;
  #backgroundSync: Promise<void> | undefined;
  readonly #stats: JournalStats = { appends: 0, batches: 0, syncs: 0 };

  constructor(readonly runDir: string, options: JournalOptions) {
    this.#open = options.openFile ?? openAppendFile;
    this.#maxOpenHostFiles = options.maxOpenHostFiles ?? 64;
    this.#syncTranscriptsInBatch = (options.transcriptSync ?? 'batch') === 'batch';
    this.#transcriptSyncMs = options.transcriptSyncMs ?? 1000;
    this.#journalFile = journalPath(runDir);
  }

  append(event: RunEvent): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`journal ${this.#journalFile} is closed`));
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const file = isTranscriptEvent(event) ? hostTranscriptPath(this.runDir, event.host) : this.#journalFile;
    // Serialise now: the caller may reuse the object before the batch goes out.
    const eventJson = JSON.stringify(event);
    this.#stats.appends++;
    return new Promise((resolve, reject) => {
      this.#queue.push({ file, eventJson, resolve, reject });
      this.#draining ??= this.#drain();
    });
  }

  async close(): Promise<void> {
    await this.#draining;
    this.#closed = true;
    clearTimeout(this.#syncTimer);
    await this.#backgroundSync;
    await this.#syncDirty();
    const files = [...this.#files.values()];
    this.#files.clear();
    await Promise.all(files.map((f) => f.close()));
  }

  stats(): JournalStats {
    return { ...this.#stats };
  }

  /** Opens (or creates) the journal itself. */
  async start(): Promise<void> {
    await this.#openFile(this.#journalFile);
    await this.#syncNewEntries();
  }

  /**
   * Opens a file for appending once: repairs its tail and learns its last seq, or creates it (the
   * folder that gained it is fsync'd by the caller, once per batch rather than once per file).
   */
  async #openFile(file: string): Promise<AppendFile> {
    const cached = this.#files.get(file);
    if (cached) {
      this.#files.delete(file);
      this.#files.set(file, cached);
      return cached;
    }
    const existed = this.#lastSeq.has(file) || (await prepareForAppend(file, this.warnings, this.#lastSeq));
    if (!existed) await this.#makeFolderFor(file);
    const opened = await this.#open(file);
    if (!existed) {
      this.#newEntriesIn.add(path.dirname(file));
      this.#lastSeq.set(file, 0);
    }
    this.#files.set(file, opened);
    return opened;
  }

  async #makeFolderFor(file: string): Promise<void> {
    const dir = path.dirname(file);
    const topCreated = await fsp.mkdir(dir, { recursive: true, mode: DIR_MODE });
    if (topCreated === undefined) return;
    // Each created folder is a new entry in its parent, up to the parent of the topmost one.
    const top = path.resolve(topCreated);
    for (let created = path.resolve(dir); created !== path.dirname(created); created = path.dirname(created)) {
      this.#newEntriesIn.add(path.dirname(created));
      if (created === top) break;
    }
  }

  async #syncNewEntries(): Promise<void> {
    const dirs = [...this.#newEntriesIn];
    this.#newEntriesIn.clear();
    await Promise.all(dirs.map(fsyncDir));
  }

  async #drain(): Promise<void> {
    // One turn of the event loop lets appends made in the same tick join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      try {
        await this.#commit(batch);
        for (const pending of batch) pending.resolve();
      } catch (error) {
        this.#fail(error, batch);
      }
    }
    this.#draining = undefined;
  }

  /** After a failed write nothing later may claim durability: the journal is fail-stop. */
  #fail(error: unknown, batch: Pending[]): void {
    this.#failure = error;
    for (const pending of [...batch, ...this.#queue]) pending.reject(error);
    this.#queue = [];
  }

  async #commit(batch: Pending[]): Promise<void> {
    const byFile = new Map<string, string[]>();
    for (const pending of batch) {
      const events = byFile.get(pending.file);
      if (events) events.push(pending.eventJson);
      else byFile.set(pending.file, [pending.eventJson]);
    }
    // In slices, so a batch that touches every host of a thousand never holds a thousand files open.
    const files = [...byFile.keys()];
    for (let start = 0; start < files.length; start += this.#maxOpenHostFiles) {
      await this.#commitFiles(files.slice(start, start + this.#maxOpenHostFiles), byFile);
    }
    this.#stats.batches++;
  }

  async #commitFiles(files: string[], byFile: Map<string, string[]>): Promise<void> {
    // Open first: a host file's last seq is known only once its tail has been read.
    const opened = await Promise.all(files.map((file) => this.#openFile(file)));
    await this.#syncNewEntries();
    await Promise.all(files.map((file, i) => {
      const lines = byFile.get(file)!.map((eventJson) => encodeLineJson(this.#nextSeq(file), eventJson));
      return this.#writeAndSync(file, opened[i], Buffer.concat(lines));
    }));
    await this.#closeIdleHostFiles(new Set(files));
  }

  #nextSeq(file: string): number {
    const seq = (this.#lastSeq.get(file) ?? 0) + 1;
    this.#lastSeq.set(file, seq);
    return seq;
  }

  async #writeAndSync(file: string, opened: AppendFile, data: Buffer): Promise<void> {
    await opened.write(data);
    if (file !== this.#journalFile && !this.#syncTranscriptsInBatch) {
      this.#dirty.add(file);
      this.#syncTimer ??= setTimeout(() => this.#syncInBackground(), this.#transcriptSyncMs).unref();
      return;
    }
    await opened.sync();
    this.#stats.syncs++;
  }

  #syncInBackground(): void {
    this.#syncTimer = undefined;
    this.#backgroundSync = this.#syncDirty()
      .catch((error: unknown) => { this.#failure ??= error; })
      .finally(() => { this.#backgroundSync = undefined; });
  }

  /** Fsyncs every dirty host file that is open (a closed one was fsync'd before closing). */
  async #syncDirty(): Promise<void> {
    const files = [...this.#dirty];
    this.#dirty.clear();
    await Promise.all(files.map(async (file) => {
      const opened = this.#files.get(file);
      if (!opened) return;
      await opened.sync();
      this.#stats.syncs++;
    }));
  }

  /** Keeps open files under the limit (a run of 1,000 hosts must not hold 1,000 descriptors). */
  async #closeIdleHostFiles(justUsed: ReadonlySet<string>): Promise<void> {
    for (const [file, opened] of this.#files) {
      if (this.#files.size <= this.#maxOpenHostFiles + 1) return;
      if (file === this.#journalFile || justUsed.has(file)) continue;
      this.#files.delete(file);
      if (this.#dirty.delete(file)) await opened.sync();
      await opened.close();
    }
  }
}

/** The default {@link AppendFile}: O_APPEND (see appendConfirmation for why), created 0600, fdatasync. */
async function openAppendFile(file: string): Promise<AppendFile> {
  const handle = await fsp.open(file, 'a', FILE_MODE);
  return {
    async write(data) {
      // One write() for the whole batch; a short write (disk full) is completed by a second one.
      for (let offset = 0; offset < data.length; ) {
        const { bytesWritten } = await handle.write(data, offset, data.length - offset);
        offset += bytesWritten;
      }
    },
    sync: () => handle.datasync(),
    close: () => handle.close(),
  };
}

/**
 * Before appending to a file that exists: cut a torn or corrupt tail away (saving it beside the
 * file) and learn the last seq. Returns false if the file does not exist yet.
 */
async function prepareForAppend(file: string, warnings: string[], lastSeq: Map<string, number>): Promise<boolean> {
  const handle = await openIfExists(file, 'r+');
  if (!handle) return false;
  try {
    const { size } = await handle.stat();
    const tail = await scanTail(handle, size);
    lastSeq.set(file, tail.lastSeq);
    if (tail.validEnd < size) warnings.push(await cutTail(handle, file, tail.validEnd, size));
    return true;
  } finally {
    await handle.close();
  }
}

/**
 * Moves bytes [validEnd, size) to `<file>.torn-<n>` and truncates them away. A `runbook confirm`
 * appending in the microseconds between the scan and the truncate would lose its line; that needs
 * a torn tail (a crash) and a confirm racing the resume's open, and confirm then tells the user to
 * check `runbook show`.
 */
async function cutTail(handle: fsp.FileHandle, file: string, validEnd: number, size: number): Promise<string> {
  const torn = await readAt(handle, validEnd, size - validEnd);
  const aside = await saveAside(file, torn);
  await handle.truncate(validEnd);
  await handle.sync();
  return `${file}: ${torn.length} bytes of torn or corrupt tail after the last valid line moved to ${path.basename(aside)}`;
}

async function saveAside(file: string, data: Buffer): Promise<string> {
  for (let n = 1; ; n++) {
    const aside = `${file}.torn-${n}`;
    try {
      const handle = await fsp.open(aside, 'wx', FILE_MODE);
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsyncDir(path.dirname(file));
      return aside;
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
    }
  }
}

/** What a journal or transcript file holds: the valid events, and why any line was skipped. */
export interface JournalContents<E extends RunEvent = RunEvent> {
  events: E[];
  warnings: string[];
  /** `seq` of the last valid line (0 if none). */
  lastSeq: number;
}

/**
 * Reads every valid event; never throws on bad lines: a torn or corrupt line is skipped with a
 * warning that names its line number, and every valid line before and after it is kept.
 * @example const { events, warnings } = await readJournal(journalPath(runDir));
 */
export async function readJournal(file: string): Promise<JournalContents> {
  let buffer: Buffer;
  try {
    buffer = await fsp.readFile(file);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return { events: [], warnings: [`${file}: no journal yet`], lastSeq: 0 };
    throw error;
  }
  return parseJournal(buffer, file);
}

/** {@link readJournal} on bytes already read. */
export function parseJournal(buffer: Buffer, name: string): JournalContents {
  const events: RunEvent[] = [];
  const warnings: string[] = [];
  let lastSeq = 0;
  forEachLine(buffer, (line, lineNumber, terminated, isLast) => {
    if (line.length === 0) return; // `runbook confirm` may add a newline to end a torn line
    const decoded = decodeLine(line);
    if (decoded.ok && terminated) {
      events.push(decoded.event);
      lastSeq = decoded.seq;
      return;
    }
    const problem = decoded.ok ? 'no newline at the end' : decoded.problem;
    warnings.push(`${name}:${lineNumber}: ${isLast ? 'torn or corrupt last line' : 'corrupt line'} (${problem}), skipped`);
  });
  return { events, warnings, lastSeq };
}

/**
 * One host's command transcripts and log lines, in order; empty if the host ran no command.
 * @example const { events } = await readHostTranscript(runDir, 'xs-01');
 */
export async function readHostTranscript(runDir: string, host: string): Promise<JournalContents<TranscriptEvent>> {
  const file = hostTranscriptPath(runDir, host);
  const contents = await readJournal(file);
  if (contents.events.length === 0 && contents.warnings[0]?.endsWith('no journal yet')) return { events: [], warnings: [], lastSeq: 0 };
  return contents as JournalContents<TranscriptEvent>;
}

/**
 * Appends one event (a confirmation) to a run's journal from ANOTHER process — `runbook confirm`
 * while the run is paused or still running — and fsyncs it.
 *
 * Why this is safe beside the run's own writer: both open the journal with O_APPEND and put each
 * line (the writer: each batch of whole lines) into ONE write() call. With O_APPEND the kernel
 * moves to the end of the file and writes as one step, and Linux serialises writes to one file
 * (the inode lock), so two writers' lines land one after the other, never inside each other.
 * (Not on NFS, whose O_APPEND is emulated: keep the state folder on a local disk.) If a crash left
 * the file without a final newline, this line starts with one, so it never glues onto the torn
 * line; readers skip the torn line and the blank.
 * @example await appendConfirmation(runDir, { kind: 'confirmation', time, host: 'xs-01', step: 'reinstall', by: 'ana' })
 */
export async function appendConfirmation(runDir: string, event: ConfirmationEvent): Promise<void> {
  const file = journalPath(runDir);
  // No O_CREAT: confirming a run that has no journal is a mistake, not a new journal.
  const handle = await fsp.open(file, fsc.O_RDWR | fsc.O_APPEND);
  try {
    const { size } = await handle.stat();
    const { lastSeq } = await scanTail(handle, size);
    const endsTorn = size > 0 && (await readAt(handle, size - 1, 1))[0] !== 0x0a;
    const line = encodeLine(lastSeq + 1, event);
    const bytes = endsTorn ? Buffer.concat([Buffer.from('\n'), line]) : line;
    const { bytesWritten } = await handle.write(bytes, 0, bytes.length);
    if (bytesWritten !== bytes.length) throw new Error(`${file}: short write (${bytesWritten} of ${bytes.length} bytes); is the disk full?`);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
