/**
 * The ansible_* vars that change how a host is reached, read the way Ansible's ssh connection
 * plugin reads them. Each one is honoured or refused with host, var and where it was set: a
 * connection setting is never ignored. Pure: the inventory host in, typed settings out.
 */
import { InventoryError } from '../errors.ts';
import type { InventoryHost } from '../inventory/types.ts';
import { Secret } from '../shell/command.ts';
import { parseSshConfig, type ConfigLine } from './ssh/config.ts';

/** What the vars add to a host's connection, beyond InventoryHost's own fields. */
export interface ConnectionVars {
  /** `-o`, `-i`, `-p`, `-l`, `-J` from ansible_ssh_args/_common_args/_extra_args, as ssh_config lines that win over the files. */
  commandLine: ConfigLine[];
  /** `-F FILE` in the args. */
  configFile?: string;
  password?: Secret;
  becomeUser?: string;
  becomePassword?: Secret;
  connectTimeoutS?: number;
}

/** Vars that would change the connection and that runbook does not implement. */
const REFUSED = new Set([
  'ansible_ssh_executable', 'ansible_scp_extra_args', 'ansible_sftp_extra_args', 'ansible_become_exe', 'ansible_become_flags',
  'ansible_sudo', 'ansible_sudo_user', 'ansible_sudo_pass', 'ansible_sudo_exe', 'ansible_sudo_flags', 'ansible_su', 'ansible_su_user',
  'ansible_su_pass', 'ansible_su_exe', 'ansible_su_flags', 'ansible_private_key_passphrase', 'ansible_ssh_private_key_passphrase',
]);

/** ssh flags without a value that change nothing runbook does (quiet, compression, no tty, no X11/agent forwarding). */
const HARMLESS_FLAGS = new Set(['-q', '-C', '-T', '-x', '-a', '-n', '-v', '-vv', '-vvv']);

/**
 * Reads a host's connection vars; throws InventoryError for one runbook cannot honour.
 * @example connectionVars(host).becomeUser // 'postgres' for ansible_become_user=postgres
 */
export function connectionVars(host: InventoryHost): ConnectionVars {
  const refuse = (name: string, message: string) => new InventoryError(`host ${host.name}: ${name}: ${message} (from ${host.varSources[name] ?? 'the inventory'})`);
  for (const name of Object.keys(host.vars)) if (REFUSED.has(name)) throw refuse(name, 'is not supported by runbook; remove it for this host');
  const method = host.vars.ansible_become_method;
  if (method !== undefined && method !== 'sudo') throw refuse('ansible_become_method', `only sudo is supported, not ${JSON.stringify(method)}`);
  const checking = host.vars.ansible_host_key_checking ?? host.vars.ansible_ssh_host_key_checking;
  if (checking !== undefined && !truthy(checking)) {
    const name = host.vars.ansible_host_key_checking !== undefined ? 'ansible_host_key_checking' : 'ansible_ssh_host_key_checking';
    throw refuse(name, 'false would connect to unverified host keys, which runbook never does; record unknown keys with --accept-new-host-keys instead');
  }
  const result: ConnectionVars = { commandLine: [] };
  for (const name of ['ansible_ssh_args', 'ansible_ssh_common_args', 'ansible_ssh_extra_args']) {
    const value = host.vars[name];
    if (value === undefined || value === null || value === '') continue;
    if (typeof value !== 'string') throw refuse(name, 'must be a string of ssh arguments');
    readSshArgs(value, `${name} (from ${host.varSources[name] ?? 'the inventory'})`, result, (message) => refuse(name, message));
  }
  const password = host.vars.ansible_password ?? host.vars.ansible_ssh_pass ?? host.vars.ansible_ssh_password;
  if (password !== undefined) result.password = asSecret(password);
  const becomePassword = host.vars.ansible_become_password ?? host.vars.ansible_become_pass;
  if (becomePassword !== undefined) result.becomePassword = asSecret(becomePassword);
  const becomeUser = host.vars.ansible_become_user;
  if (becomeUser !== undefined) {
    if (typeof becomeUser !== 'string' || !/^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/.test(becomeUser)) throw refuse('ansible_become_user', `${JSON.stringify(becomeUser)} is not a user name`);
    result.becomeUser = becomeUser;
  }
  const timeout = host.vars.ansible_timeout ?? host.vars.ansible_ssh_timeout;
  if (timeout !== undefined) {
    const seconds = Number(timeout);
    if (!Number.isFinite(seconds) || seconds <= 0) throw refuse('ansible_timeout', `${JSON.stringify(timeout)} is not a number of seconds`);
    result.connectTimeoutS = seconds;
  }
  return result;
}

const truthy = (value: unknown): boolean => ['true', 'yes', '1', 'on'].includes(String(value).toLowerCase());

const asSecret = (value: unknown): Secret => (value instanceof Secret ? value : new Secret(String(value)));

/** Options of `ssh` that take a value, in the forms Ansible users write: `-o K=V`, `-oK=V`, `-J x`, `-Jx`. */
function readSshArgs(text: string, where: string, into: ConnectionVars, refuse: (message: string) => Error): void {
  const words = shellWords(text, refuse);
  const asLine = (keyword: string, value: string): ConfigLine => ({ keyword: keyword.toLowerCase(), spelled: keyword, args: [value], rest: value, file: where, line: 0 });
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    const flag = /^-[oJFipl]/.exec(word)?.[0];
    if (!flag) {
      if (HARMLESS_FLAGS.has(word)) continue;
      throw refuse(`ssh argument ${JSON.stringify(word)} is not supported by runbook (supported: -o, -J, -F, -i, -p, -l and ${[...HARMLESS_FLAGS].join(' ')})`);
    }
    const value = word.length > 2 ? word.slice(2) : words[++i];
    if (value === undefined) throw refuse(`${flag} needs a value`);
    if (flag === '-o') into.commandLine.push(...optionLine(value, where, refuse));
    else if (flag === '-F') into.configFile = value;
    else into.commandLine.push(asLine({ '-J': 'ProxyJump', '-i': 'IdentityFile', '-p': 'Port', '-l': 'User' }[flag]!, value));
  }
}

function optionLine(value: string, where: string, refuse: (message: string) => Error): ConfigLine[] {
  const lines = parseSshConfig(value, where);
  if (lines.length !== 1) throw refuse(`-o ${JSON.stringify(value)} is not Keyword=value`);
  return [{ ...lines[0], line: 0 }];
}

/**
 * POSIX shell word splitting without expansion (Ansible uses Python's shlex.split): single and
 * double quotes, backslash escapes. A `$`, backquote or glob is kept literally, as shlex keeps it.
 * @example shellWords(`-o ProxyCommand="ssh -W %h:%p bastion"`) // ['-o', 'ProxyCommand=ssh -W %h:%p bastion']
 */
export function shellWords(text: string, refuse: (message: string) => Error = (m) => new Error(m)): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote === "'") { if (c === "'") quote = undefined; else word += c; continue; }
    if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && /["\\$`]/.test(text[i + 1] ?? '')) word += text[++i];
      else word += c;
      continue;
    }
    if (/\s/.test(c)) { if (word !== undefined) words.push(word); word = undefined; continue; }
    word ??= '';
    if (c === '\\') word += text[++i] ?? '';
    else if (c === '"' || c === "'") quote = c;
    else word += c;
  }
  if (quote) throw refuse(`unterminated ${quote} quote`);
  if (word !== undefined) words.push(word);
  return words;
}
