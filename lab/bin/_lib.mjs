/**
 * Shared helpers for the lab's simulated commands (generic ones here, LabB's xe/iscsiadm/… too).
 * Every simulated command runs with LAB_ROOT, LAB_HOST, LAB_HOST_DIR, LAB_ROLE and, for pool
 * members, LAB_POOL and LAB_POOL_DB in its environment (see lab/README.md for the contract).
 * Plain .mjs with no dependencies, so a command starts in one node boot and no more.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

// A cut session (the client killed: the lab server hangs up, SIGHUP; or SIGTERM) ends the command between
// two of its synchronous pieces, never inside one: a change and its mutation-log line, written in
// one synchronous run, are made together, so a done change is never missing from the log. (Node
// runs a signal handler on the event loop; with none, the kernel would stop it mid-write.)
for (const [signal, code] of [['SIGTERM', 143], ['SIGHUP', 129], ['SIGINT', 130]]) process.on(signal, () => process.exit(code));

/** The lab environment of the current command; throws when it runs outside a lab host. */
export function labEnv() {
  const env = process.env;
  if (!env.LAB_ROOT || !env.LAB_HOST_DIR) {
    throw new Error('not on a lab host: LAB_ROOT and LAB_HOST_DIR are unset');
  }
  return {
    root: env.LAB_ROOT,
    host: env.LAB_HOST ?? basename(env.LAB_HOST_DIR),
    hostDir: env.LAB_HOST_DIR,
    role: env.LAB_ROLE ?? '',
    pool: env.LAB_POOL || undefined,
    poolDb: env.LAB_POOL_DB || undefined,
  };
}

/** A path inside this host's state folder: hostPath('services', 'ntpd'). */
export function hostPath(...parts) {
  return join(labEnv().hostDir, ...parts);
}

/** A path inside another host's state folder (e.g. a guest's power/request from the pool master). */
export function otherHostPath(host, ...parts) {
  return join(labEnv().root, 'hosts', host, ...parts);
}

/**
 * Appends one line to $LAB_HOST_DIR/mutations.jsonl: {"time","host","argv"}. Call it once per
 * mutating invocation, right after its change is made (not before: a call refused or killed
 * half-way would show a change that never happened), so a dry-run that logs nothing provably
 * changed nothing and each line is one change made. argv defaults to this process's command name and arguments.
 */
export function logMutation(argv = [basename(process.argv[1] ?? 'node'), ...process.argv.slice(2)]) {
  const { host, hostDir } = labEnv();
  const line = JSON.stringify({ time: new Date().toISOString(), host, argv }) + '\n';
  // One write() of a short line with O_APPEND: concurrent commands never interleave inside a line.
  appendFileSync(join(hostDir, 'mutations.jsonl'), line);
}

/** The file's text, or `fallback` when it does not exist. */
export function readText(path, fallback = undefined) {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') return fallback;
    throw error;
  }
}

/** Writes through a temp file and rename, so a concurrent reader never sees half a file. */
export function writeTextAtomic(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, path);
}

/** Parsed JSON file, or `fallback` when it does not exist. */
export function readJson(path, fallback = undefined) {
  const text = readText(path);
  return text === undefined ? fallback : JSON.parse(text);
}

export function writeJsonAtomic(path, value) {
  writeTextAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/** 'running' | 'stopped', or undefined when the host has no such service. */
export function serviceState(name, hostDir = labEnv().hostDir) {
  const text = readText(join(hostDir, 'services', name));
  return text === undefined ? undefined : text.trim();
}

export function setServiceState(name, state, hostDir = labEnv().hostDir) {
  writeTextAtomic(join(hostDir, 'services', name), `${state}\n`);
}

/**
 * Asks the lab server to change a host's power: 'reboot' | 'halt' | 'on' | 'off'.
 * The server acts shortly after the current command returns (see lab/README.md, Power).
 */
export function requestPower(request, host = labEnv().host) {
  // Line 2 names this command's session: the server lets it finish and report before acting.
  writeTextAtomic(join(labEnv().root, 'hosts', host, 'power', 'request'), `${request}\n${process.env.LAB_SESSION ?? ''}\n`);
}

/** The host's power state as the server last wrote it: running | rebooting | halted | off. */
export function powerState(host = labEnv().host) {
  return readText(join(labEnv().root, 'hosts', host, 'power', 'state'), 'running\n').trim();
}

/**
 * Runs `fn` holding an exclusive lock on `path` (e.g. the pool database), so two commands on
 * different hosts of one pool never lose each other's update. The lock is flock(2) on
 * `<path>.flock`: the kernel drops it when its holder dies (an xe killed mid-update), whatever PID
 * namespace the next command runs in — no pid to check, nothing left to clean up. Node has no
 * flock, so flock(1) takes it on this process's open file (its fd 3): the lock belongs to that
 * open file, so it stays ours after flock(1) exits, until we close the file or die.
 */
export function withFileLock(path, fn, timeoutMs = 30_000) {
  const lock = `${path}.flock`;
  mkdirSync(dirname(lock), { recursive: true });
  const fd = openSync(lock, 'a');
  try {
    const taken = spawnSync('flock', ['--exclusive', '--wait', String(timeoutMs / 1000), '3'], { stdio: ['ignore', 'ignore', 'pipe', fd], encoding: 'utf8' });
    if (taken.error) throw new Error(`cannot lock ${lock}: flock: ${taken.error.message}`);
    if (taken.status !== 0) throw new Error(`lock ${lock} held for over ${timeoutMs} ms${taken.stderr ? `: ${taken.stderr.trim()}` : ''}`);
    return fn();
  } finally {
    closeSync(fd);
  }
}

/** Prints `message` to stderr and exits with `code`, as a real tool does on misuse. */
export function die(message, code = 1) {
  process.stderr.write(message.endsWith('\n') ? message : `${message}\n`);
  process.exit(code);
}
