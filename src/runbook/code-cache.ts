import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

/** A CommonJS module loaded by `requireWithCodeCache`, and how to keep what V8 compiled of it. */
export interface CachedModule<T> {
  exports: T;
  /** V8 took its code from the cache (false: none yet, or rejected). */
  fromCache: boolean;
  /** Saves V8's code for the module, with every function compiled so far, if the cache had none. */
  keep(): void;
}

/**
 * Loads a CommonJS file as `require` would, but through a V8 code cache kept in `cacheDir`, so a
 * process that runs a large module for a few seconds (the TypeScript compiler: 9 MB of source)
 * does not compile it again every time. Node 22 has this built in (`module.enableCompileCache`);
 * Node 20 has only `vm.Script`'s `cachedData`, which is what this uses.
 *
 * The cache is named by the source's digest, Node's version and the architecture, because V8 checks
 * only the source's length before trusting it. Call `keep()` after the module has done its work:
 * the cache then holds the functions it compiled lazily, most of a compiler's start-up cost.
 * V8 rejects a cache it cannot use (another V8, other flags), and it is made again. A cache someone
 * else could have written is not read at all: it would be code run as this user.
 * @example const { exports: ts, keep } = requireWithCodeCache(path, '.runbook/cache/typecheck'); …; keep();
 */
export function requireWithCodeCache<T>(path: string, cacheDir: string): CachedModule<T> {
  const source = readFileSync(path, 'utf8');
  const cacheFile = join(cacheDir, `v8-${createHash('sha256').update(process.version).update(process.arch).update(source).digest('hex').slice(0, 32)}.bin`);
  const cachedData = readOwnCache(cacheFile);
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: path, cachedData });
  const loaded = { exports: {} as T };
  (script.runInThisContext() as (...args: unknown[]) => void)(loaded.exports, createRequire(path), loaded, path, dirname(path));
  const fromCache = cachedData !== undefined && script.cachedDataRejected === false;
  return { exports: loaded.exports, fromCache, keep: () => { if (!fromCache) writeAtomically(cacheFile, script.createCachedData()); } };
}

/**
 * A cache is code this process will run, so only one this user wrote is read: owned by the user
 * and writable by no one else (checked on the open file, so it cannot be swapped in between).
 */
function readOwnCache(file: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const { uid, mode } = fstatSync(fd);
    const ours = process.getuid === undefined || (uid === process.getuid() && (mode & 0o022) === 0);
    return ours ? readFileSync(fd) : undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Written aside and renamed: another process never reads half a cache. A cache that cannot be
 * written (a full disk, a read-only state folder) costs the next process its compile time, nothing
 * else, so it does not fail the caller.
 */
function writeAtomically(file: string, data: Buffer): void {
  const aside = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(aside, data, { mode: 0o600 });
    renameSync(aside, file);
  } catch {
    rmSync(aside, { force: true });
  }
}
