import { crc32 } from 'node:zlib';
import type { promises as fsp } from 'node:fs';
import type { RunEvent } from '../engine/events.ts';
import { readAt } from './fsutil.ts';

/*
 * The line format of journal.jsonl and hosts/<host>.jsonl, one record per line:
 *
 *   {"crc":"9f3c01aa","seq":17,"event":{"kind":"step-result","time":"…",…}}\n
 *
 * `crc` is the CRC-32 (zlib's, IEEE) of the UTF-8 bytes from `"seq"` up to, not including, the
 * final `}` — that is, of `"seq":17,"event":{…}` — as 8 lowercase hex digits. The fixed prefix
 * lets a reader check the bytes as written without re-serialising; the whole line is still plain
 * JSON for `jq`. `seq` counts the writer's lines from 1; it orders nothing (file order does) and
 * may repeat when `runbook confirm` appends from another process, it only helps a human spot a gap.
 */

const PREFIX = Buffer.from('{"crc":"');
/** `{"crc":"` + 8 hex digits + `",` */
const BODY_START = PREFIX.length + 8 + 2;
const NEWLINE = 0x0a;

/**
 * One record as the bytes to append, newline included.
 * @example encodeLine(1, { kind: 'warning', time, message: 'x' }) // {"crc":"…","seq":1,"event":{…}}\n
 */
export function encodeLine(seq: number, event: RunEvent): Buffer {
  return encodeLineJson(seq, JSON.stringify(event));
}

/** {@link encodeLine} for an event already serialised (the writer serialises at append time). */
export function encodeLineJson(seq: number, eventJson: string): Buffer {
  const body = Buffer.from(`"seq":${seq},"event":${eventJson}`);
  const crc = crc32(body).toString(16).padStart(8, '0');
  return Buffer.concat([PREFIX, Buffer.from(`${crc}",`), body, Buffer.from('}\n')]);
}

export type DecodedLine = { ok: true; seq: number; event: RunEvent } | { ok: false; problem: string };

/**
 * Checks and parses one line (without its newline). Never throws: a bad line says what is wrong.
 * @example decodeLine(buf) // { ok: true, seq: 1, event } or { ok: false, problem: 'checksum mismatch' }
 */
export function decodeLine(line: Buffer): DecodedLine {
  if (line.length < BODY_START + 2 || !line.subarray(0, PREFIX.length).equals(PREFIX) || line[line.length - 1] !== 0x7d) {
    return { ok: false, problem: 'not a journal record' };
  }
  const stored = line.toString('latin1', PREFIX.length, PREFIX.length + 8);
  const actual = crc32(line.subarray(BODY_START, line.length - 1)).toString(16).padStart(8, '0');
  if (stored !== actual) return { ok: false, problem: 'checksum mismatch' };
  try {
    const record = JSON.parse(line.toString('utf8')) as { seq?: unknown; event?: { kind?: unknown } };
    if (typeof record.seq !== 'number' || typeof record.event?.kind !== 'string') return { ok: false, problem: 'record without seq or event kind' };
    return { ok: true, seq: record.seq, event: record.event as RunEvent };
  } catch {
    // The checksum matched, so the writer wrote unparseable JSON: a bug, reported like corruption.
    return { ok: false, problem: 'checksum matches but JSON does not parse' };
  }
}

/** Calls `visit` for each line of `buffer` (without its newline); `terminated` is false for a last line with no newline. */
export function forEachLine(buffer: Buffer, visit: (line: Buffer, lineNumber: number, terminated: boolean, isLast: boolean) => void): void {
  let start = 0;
  let lineNumber = 1;
  while (start < buffer.length) {
    const end = buffer.indexOf(NEWLINE, start);
    if (end === -1) {
      visit(buffer.subarray(start), lineNumber, false, true);
      return;
    }
    visit(buffer.subarray(start, end), lineNumber, true, end + 1 === buffer.length);
    start = end + 1;
    lineNumber++;
  }
}

/** Where the valid part of a file ends: everything after `validEnd` is a torn or corrupt tail. */
export interface TailScan {
  validEnd: number;
  /** `seq` of the last valid line; 0 if there is none. */
  lastSeq: number;
}

/**
 * Finds the last whole, checksum-valid line by reading backwards in doubling windows, so opening a
 * large journal for append costs a read of its tail, not of all of it.
 */
export async function scanTail(handle: fsp.FileHandle, size: number): Promise<TailScan> {
  for (let window = 64 * 1024; ; window *= 2) {
    const start = Math.max(0, size - window);
    const buffer = await readAt(handle, start, size - start);
    const found = lastValidLine(buffer, start === 0);
    if (found) return { validEnd: start + found.end, lastSeq: found.seq };
    if (start === 0) return { validEnd: 0, lastSeq: 0 };
  }
}

/** The last valid line wholly inside `buffer`; undefined if the window may cut it (read more). */
function lastValidLine(buffer: Buffer, atFileStart: boolean): { end: number; seq: number } | undefined {
  let end = buffer.lastIndexOf(NEWLINE);
  while (end !== -1) {
    const previous = end === 0 ? -1 : buffer.lastIndexOf(NEWLINE, end - 1);
    if (previous === -1 && !atFileStart) return undefined;
    const decoded = decodeLine(buffer.subarray(previous + 1, end));
    if (decoded.ok) return { end: end + 1, seq: decoded.seq };
    end = previous;
  }
  return undefined;
}
