import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';

/** Every file the state layer creates: it may hold host names, commands and their output. */
export const FILE_MODE = 0o600;
/** Every folder the state layer creates. */
export const DIR_MODE = 0o700;

/**
 * A host name as a file name: letters, digits, `.`, `_` and `-` pass; anything else (a `/`, a
 * space) becomes `%XX`, so no host name can escape its folder or collide with another.
 * @example fileNameFor('xs-01') // 'xs-01'; fileNameFor('../x') → '..%2Fx'
 */
export function fileNameFor(host: string): string {
  const safe = host.replace(/[^A-Za-z0-9._-]/g, (c) => [...Buffer.from(c)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
  // "." and ".." are names the file system gives a meaning to.
  return safe === '.' || safe === '..' || safe === '' ? `%2E${safe}` : safe;
}

/** Creates a folder (and missing parents) as 0700; an existing folder is left as it is. */
export async function makePrivateDir(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: DIR_MODE });
}

/**
 * Fsyncs a folder, so a file created or renamed in it survives a power cut (the file's own fsync
 * covers its bytes, not its name).
 */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Test hooks for {@link writeFileAtomic}: lets a test die between the temp write and the rename. */
export interface AtomicWriteHooks {
  beforeRename?: (tempPath: string) => void | Promise<void>;
}

/**
 * Replaces a file so that readers see either the old or the new content, even across a crash:
 * write a temp file beside it, fsync, rename over, fsync the folder.
 * @example await writeFileAtomic('.runbook/runs/x/run.json', JSON.stringify(record))
 */
export async function writeFileAtomic(file: string, data: string | Buffer, hooks: AtomicWriteHooks = {}): Promise<void> {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const handle = await fsp.open(temp, 'wx', FILE_MODE);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await hooks.beforeRename?.(temp);
    await fsp.rename(temp, file);
  } catch (error) {
    await fsp.rm(temp, { force: true });
    throw error;
  }
  await fsyncDir(dir);
}

/** Reads `length` bytes at `position` (fewer at the end of the file). */
export async function readAt(handle: fsp.FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

/** True if the error is a Node system error with this code (`ENOENT`, `EEXIST`…). */
export function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}

/**
 * Runs `work` on every item, at most `limit` at once; settles all, like Promise.allSettled.
 * @example await mapLimited(hosts, 16, (host) => takeLock(host))
 */
export async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) {
      results[i] = await work(items[i]).then((value) => ({ status: 'fulfilled', value }) as const, (reason: unknown) => ({ status: 'rejected', reason }) as const);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Opens a file that may not exist: undefined when it does not (a lock nobody holds, a run with no
 * journal yet); any other error is thrown.
 * @example const handle = await openIfExists(file, 'r'); if (!handle) return undefined;
 */
export async function openIfExists(file: string, flags: string): Promise<fsp.FileHandle | undefined> {
  try {
    return await fsp.open(file, flags);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}
