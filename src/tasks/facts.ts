/**
 * Generic facts: the only code in the generic tasks that reads a host. Each fact is a command and a
 * pure parser of its output (tested on recorded output, no host needed), as in pyinfra's facts/.
 * Commands print numbers and fixed words rather than tool messages, because messages are translated
 * under a non-English locale and would fool a parser.
 */
import { RunbookError } from '../errors.ts';
import { cmd, type Command } from '../shell/command.ts';
import type { Shell, ShellResult } from '../shell/shell.ts';

/** A fact's command answered something its parser cannot read. */
export class FactError extends RunbookError {
  override name = 'FactError';
}

/** What a parser reads: the recorded output of its command. */
export type FactOutput = Pick<ShellResult, 'stdout' | 'stderr' | 'code'>;

/** The last line of whatever the command said, for an error message. */
const lastWords = (out: FactOutput): string => (out.stderr.trim() || out.stdout.trim()).split('\n').slice(-1)[0] ?? '';

const unexpected = (out: FactOutput, what: string): FactError =>
  new FactError(`${what} (exit ${out.code ?? 'unknown'}${lastWords(out) ? `: ${lastWords(out)}` : ''})`);

/** Runs a fact's command without throwing on its exit code, and parses; a parse error names host and command. */
async function gather<T>(sh: Shell, command: Command, parse: (out: FactOutput) => T): Promise<T> {
  const out = await sh.run(command, { read: true, nothrow: true });
  try {
    return parse(out);
  } catch (error) {
    if (error instanceof FactError) throw new FactError(`${sh.host}: \`${command.display}\`: ${error.message}`);
    throw error;
  }
}

// ---- paths ---------------------------------------------------------------------------------

/** A dangling symlink counts as something at the path: it is in the way of a file and removable. */
export const pathExistsCommand = (path: string): Command => cmd`test -e ${path} || test -L ${path}`;

/** `test` exits 0 (there) or 1 (not there); anything else is an error, not an answer. */
export function parsePathExists(out: FactOutput): boolean {
  if (out.code === 0) return true;
  if (out.code === 1) return false;
  throw unexpected(out, 'test gave no yes/no answer');
}

/**
 * True when something (a file, directory, symlink, dangling or not) is at the path.
 * @example if (await pathExists(ctx.sh, '/tmp/marker')) return noop('marker exists')
 */
export const pathExists = (sh: Shell, path: string): Promise<boolean> =>
  gather(sh, pathExistsCommand(path), parsePathExists);

export type FileType = 'file' | 'directory' | 'symlink' | 'other';

export interface FileStat {
  type: FileType;
  /** Permission bits with setuid/setgid/sticky, e.g. 0o644. */
  mode: number;
  owner: string;
  uid: number;
  group: string;
  gid: number;
  size: number;
}

/** Symlinks are followed; `%f` (raw mode in hex) rather than `%F`, whose words are translated. */
export const fileStatCommand = (path: string): Command =>
  cmd`if test -e ${path}; then stat -L -c '%f %u %g %s %U %G' -- ${path}; fi`;

const TYPE_BITS: Record<number, FileType> = { 0o100000: 'file', 0o040000: 'directory', 0o120000: 'symlink' };

/** Empty output: nothing at the path (or a dangling symlink). */
export function parseFileStat(out: FactOutput): FileStat | null {
  if (out.code !== 0) throw unexpected(out, 'stat failed');
  const line = out.stdout.trim();
  if (line === '') return null;
  const match = /^([0-9a-f]+) (\d+) (\d+) (\d+) (\S+) (\S+)$/.exec(line);
  if (!match) throw new FactError(`cannot read stat output ${JSON.stringify(line)}`);
  const rawMode = parseInt(match[1], 16);
  return {
    type: TYPE_BITS[rawMode & 0o170000] ?? 'other',
    mode: rawMode & 0o7777,
    uid: Number(match[2]),
    gid: Number(match[3]),
    size: Number(match[4]),
    owner: match[5],
    group: match[6],
  };
}

/**
 * Type, mode, owner and size of what is at the path (symlinks followed), or null when nothing is.
 * @example const stat = await fileStat(ctx.sh, '/etc/ntp.conf'); stat?.mode === 0o644
 */
export const fileStat = (sh: Shell, path: string): Promise<FileStat | null> =>
  gather(sh, fileStatCommand(path), parseFileStat);

/** Read through stdin so the output never carries the file name (sha256sum escapes odd names). */
export const fileSha256Command = (path: string): Command => cmd`if test -f ${path}; then sha256sum < ${path}; fi`;

/** Empty output: no regular file there. */
export function parseFileSha256(out: FactOutput): string | null {
  if (out.code !== 0) throw unexpected(out, 'sha256sum failed');
  if (out.stdout.trim() === '') return null;
  const match = /^([0-9a-f]{64})\s/.exec(out.stdout);
  if (!match) throw new FactError(`cannot read sha256sum output ${JSON.stringify(out.stdout.slice(0, 80))}`);
  return match[1];
}

/**
 * The sha256 (hex) of a regular file's content, or null when there is no regular file.
 * @example (await fileSha256(ctx.sh, '/etc/motd')) === sha256Hex(wanted)
 */
export const fileSha256 = (sh: Shell, path: string): Promise<string | null> =>
  gather(sh, fileSha256Command(path), parseFileSha256);

/** A first line says what is there, so an empty file and a missing one read differently. */
export const fileContentCommand = (path: string): Command =>
  cmd`if test -f ${path}; then echo file && cat -- ${path}; elif test -e ${path}; then echo other; else echo absent; fi`;

export function parseFileContent(out: FactOutput): string | null {
  if (out.code !== 0) throw unexpected(out, 'cannot read the file');
  const newline = out.stdout.indexOf('\n');
  const kind = newline < 0 ? out.stdout : out.stdout.slice(0, newline);
  if (kind === 'absent') return null;
  if (kind === 'other') throw new FactError('the path is not a regular file');
  if (kind !== 'file') throw new FactError(`unexpected output ${JSON.stringify(out.stdout.slice(0, 80))}`);
  return out.stdout.slice(newline + 1);
}

/**
 * A text file's content, or null when nothing is at the path; throws when it is not a regular file.
 * @example const hosts = await fileContent(ctx.sh, '/etc/hosts')
 */
export const fileContent = (sh: Shell, path: string): Promise<string | null> =>
  gather(sh, fileContentCommand(path), parseFileContent);

// ---- services ------------------------------------------------------------------------------

export type InitSystem = 'systemd' | 'sysv';

/** systemd's own test (sd_booted): the directory exists only when systemd is PID 1. */
export const initSystemCommand = (): Command =>
  cmd`if test -d /run/systemd/system && command -v systemctl >/dev/null 2>&1; then echo systemd; else echo sysv; fi`;

export function parseInitSystem(out: FactOutput): InitSystem {
  const word = out.stdout.trim();
  if (out.code === 0 && (word === 'systemd' || word === 'sysv')) return word;
  throw unexpected(out, 'cannot tell the init system');
}

/**
 * systemd when it is PID 1 and systemctl is installed, else SysV. Asked once per host per run.
 * @example if ((await initSystem(ctx.sh)) === 'systemd') …
 */
export const initSystem = (sh: Shell): Promise<InitSystem> =>
  sh.facts.once('init-system', () => gather(sh, initSystemCommand(), parseInitSystem));

/** How a service is driven: systemctl, its /etc/init.d script, or the `service` wrapper. */
export type ServiceManager = 'systemd' | 'init.d' | 'service';

export const serviceManagerCommand = (name: string): Command => cmd`if test -d /run/systemd/system && command -v systemctl >/dev/null 2>&1; then echo systemd; elif test -x /etc/init.d/${name}; then echo init.d; elif command -v service >/dev/null 2>&1; then echo service; else echo none; fi`;

export function parseServiceManager(out: FactOutput): ServiceManager {
  const word = out.stdout.trim();
  if (out.code === 0 && (word === 'systemd' || word === 'init.d' || word === 'service')) return word;
  if (out.code === 0 && word === 'none') throw new FactError('no way to manage the service: no systemd, no /etc/init.d script, no `service` command');
  throw unexpected(out, 'cannot tell how services are managed');
}

/**
 * The command family that drives this service on this host. Asked once per host and service per
 * run: a step that installs the service's init script after it was asked about still finds
 * `service`, which runs that script.
 * @example const manager = await serviceManager(ctx.sh, 'ntpd') // 'init.d'
 */
export const serviceManager = (sh: Shell, name: string): Promise<ServiceManager> =>
  sh.facts.once(`service-manager ${name}`, () => gather(sh, serviceManagerCommand(name), parseServiceManager));

/** `changing`: systemd says it is starting or stopping right now. */
export type ServiceState = 'running' | 'stopped' | 'changing';

export function serviceStatusCommand(manager: ServiceManager, name: string): Command {
  if (manager === 'systemd') return cmd`systemctl is-active ${name}`;
  if (manager === 'init.d') return cmd`/etc/init.d/${name} status`;
  return cmd`service ${name} status`;
}

const SYSTEMD_STATES: Record<string, ServiceState> = {
  active: 'running', reloading: 'running', refreshing: 'running',
  inactive: 'stopped', failed: 'stopped',
  activating: 'changing', deactivating: 'changing',
};

/** `systemctl is-active` prints the state word; its exit code only says active or not. */
export function parseSystemdState(out: FactOutput): ServiceState {
  const word = out.stdout.trim().split('\n')[0];
  const state = SYSTEMD_STATES[word];
  if (state) return state;
  throw unexpected(out, `systemctl is-active said ${JSON.stringify(word)}, not a state this task knows`);
}

/** What the LSB init-script spec says the other status codes mean, for the error message. */
const LSB_MEANINGS: Record<number, string> = {
  1: 'program is dead and a /var/run pid file exists',
  2: 'program is dead and a /var/lock lock file exists',
  4: 'program or service status is unknown',
};

/** LSB status exit codes: 0 running, 3 stopped; anything else needs a human, not a guess. */
export function parseLsbStatus(out: FactOutput): ServiceState {
  if (out.code === 0) return 'running';
  if (out.code === 3) return 'stopped';
  const meaning = out.code !== null && LSB_MEANINGS[out.code] ? LSB_MEANINGS[out.code] : 'not an LSB status answer';
  throw unexpected(out, `status ${meaning}; expected exit 0 (running) or 3 (stopped)`);
}

/**
 * Whether a service runs, asked the way its manager answers.
 * @example (await serviceState(ctx.sh, 'service', 'ntpd')) === 'running'
 */
export const serviceState = (sh: Shell, manager: ServiceManager, name: string): Promise<ServiceState> =>
  gather(sh, serviceStatusCommand(manager, name), manager === 'systemd' ? parseSystemdState : parseLsbStatus);

// ---- packages ------------------------------------------------------------------------------

/** dpkg-query expands the `\t`/`\n` escapes itself; `${Package}` is its field syntax, not the shell's. */
export const packagesInstalledCommand = (names: readonly string[]): Command =>
  cmd`dpkg-query -W -f=${'${Package}\\t${Status}\\n'} ${names}`;

/**
 * dpkg-query exits 1 when some name is unknown to dpkg (not installed); a package counts as
 * installed only in dpkg's "installed" state (the third word of Status), not "config-files".
 */
export function parsePackagesInstalled(out: FactOutput, names: readonly string[]): Record<string, boolean> {
  if (out.code === 127) throw new FactError('dpkg-query is not installed: apt tasks need a Debian-family host');
  if (out.code !== 0 && out.code !== 1) throw unexpected(out, 'dpkg-query failed');
  const installed = new Set<string>();
  for (const line of out.stdout.split('\n')) {
    const [pkg, status] = line.split('\t');
    if (status?.trim().split(/\s+/)[2] === 'installed') installed.add(pkg);
  }
  return Object.fromEntries(names.map((name) => [name, installed.has(name)]));
}

/**
 * Which of these Debian packages are installed.
 * @example const { ntp } = await packagesInstalled(ctx.sh, ['ntp'])
 */
export const packagesInstalled = (sh: Shell, names: readonly string[]): Promise<Record<string, boolean>> =>
  gather(sh, packagesInstalledCommand(names), (out) => parsePackagesInstalled(out, names));

/**
 * Whether one Debian package is installed.
 * @example if (await packageInstalled(ctx.sh, 'ntp')) return noop('ntp is installed')
 */
export const packageInstalled = async (sh: Shell, name: string): Promise<boolean> =>
  (await packagesInstalled(sh, [name]))[name];
