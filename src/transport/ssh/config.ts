/**
 * ssh_config(5) as OpenSSH reads it, for the settings that decide where a connection goes, as
 * whom, and how the host is verified. Our own parser, not `ssh -G`: `ssh -G` prints every option
 * with its default filled in, so it cannot tell "set for this host" from "default", and that
 * difference is what lets an unsupported setting be refused instead of silently ignored; it also
 * costs a process per host (a thousand hosts, two cores) and needs an `ssh` client on the
 * controller. OpenSSH is the oracle instead: test/transport/ssh-config.test.ts compares this file's
 * answers with `ssh -G` on the same configs.
 *
 * As OpenSSH does: `Keyword value` and `Keyword=value`, case-insensitive keywords, double quotes,
 * first value wins (IdentityFile accumulates), `Host` patterns (case-sensitive, `!` negation),
 * `Match` with all/host/originalhost/user/localuser/canonical/final (and `!` negation; `final` runs
 * a second pass where `Host` matches the resolved HostName), `Include` with globs (relative paths
 * under ~/.ssh) evaluated in place, `IgnoreUnknown`. Every keyword that applies to a host is either
 * honoured, known to be harmless (HARMLESS), or refused with host, keyword, file and line: runbook
 * never connects differently from what the config says. Not read: the system-wide /etc/ssh/ssh_config.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { InventoryError } from '../../errors.ts';
import { patternListMatches, wildcardMatches } from './known-hosts.ts';
import { localUserName } from './auth.ts';

/** One `Keyword args…` line, with where it was written. */
export interface ConfigLine {
  /** Lower-cased. */
  keyword: string;
  /** As written, for messages. */
  spelled: string;
  args: string[];
  /** The text after the keyword, quotes kept: ProxyCommand is taken verbatim, as OpenSSH takes it. */
  rest: string;
  file: string;
  line: number;
}

/** Keywords runbook applies (see {@link SshConfigHost}). */
const HONOURED = new Set([
  'hostname', 'port', 'user', 'identityfile', 'proxyjump', 'proxycommand', 'userknownhostsfile', 'globalknownhostsfile',
  'stricthostkeychecking', 'connecttimeout', 'serveraliveinterval', 'serveralivecountmax', 'identityagent', 'identitiesonly',
  'ignoreunknown',
]);

/**
 * Keywords that change neither which host is reached, as whom, nor how it is verified or
 * authenticated for runbook: forwarding, multiplexing, terminal and logging settings of an
 * interactive `ssh` (runbook forwards nothing, shares nothing, opens no terminal).
 */
const HARMLESS = new Set([
  'addkeystoagent', 'batchmode', 'checkhostip', 'clearallforwardings', 'compression', 'controlmaster', 'controlpath',
  'controlpersist', 'dynamicforward', 'enableescapecommandline', 'escapechar', 'exitonforwardfailure', 'fingerprinthash',
  'forkafterauthentication', 'forwardagent', 'forwardx11', 'forwardx11timeout', 'forwardx11trusted', 'gatewayports',
  'gssapiauthentication', 'gssapidelegatecredentials', 'hashknownhosts', 'ipqos', 'kbdinteractiveauthentication',
  'challengeresponseauthentication', 'localcommand', 'localforward', 'loglevel', 'logverbose', 'nohostauthenticationforlocalhost',
  'numberofpasswordprompts', 'obscurekeystroketiming', 'passwordauthentication', 'permitlocalcommand', 'permitremoteopen',
  'preferredauthentications', 'pubkeyauthentication', 'remotecommand', 'remoteforward', 'requesttty', 'sendenv', 'sessiontype',
  'setenv', 'stdinnull', 'streamlocalbindmask', 'streamlocalbindunlink', 'syslogfacility', 'tcpkeepalive', 'updatehostkeys',
  'usekeychain', 'verifyhostkeydns', 'visualhostkey', 'xauthlocation', 'canonicalizehostname', 'canonicaldomains',
  'canonicalizefallbacklocal', 'canonicalizemaxdots', 'canonicalizepermittedcnames', 'hostbasedauthentication',
]);

/** Keywords today's OpenSSH itself accepts and ignores (deprecated or SSH-1 only): no effect to honour. */
const IGNORED_BY_OPENSSH = [
  'useroaming', 'protocol', 'rsaauthentication', 'rhostsrsaauthentication', 'compressionlevel', 'useprivilegedport', 'cipher',
  'fallbacktorsh', 'usersh', 'keepalive', 'gssapikeyexchange', 'gssapitrustdns', 'gssapiclientidentity', 'gssapiserveridentity',
  'gssapirenewalforcesrekey', 'gssapikexalgorithms',
];
for (const keyword of IGNORED_BY_OPENSSH) HARMLESS.add(keyword);

/** HARMLESS keywords whose value is harmless only when it turns the feature off. */
const HARMLESS_ONLY_WHEN_OFF = new Set(['canonicalizehostname', 'hostbasedauthentication']);

/** What the config says about one alias, before the inventory's own settings are applied. */
export interface SshConfigHost {
  hostName: string;
  port?: number;
  user?: string;
  /** Tokens and `~` expanded; in the order written. */
  identityFiles: string[];
  /** `user@host:port,…`; absent when unset or `none`. */
  proxyJump?: string;
  /** As written (tokens are expanded when it runs, see proxy-command.ts); absent when unset or `none`. */
  proxyCommand?: string;
  /** `~` and tokens expanded; replace ~/.ssh/known_hosts{,2}. */
  userKnownHostsFiles?: string[];
  globalKnownHostsFiles?: string[];
  strictHostKeyChecking?: 'yes' | 'accept-new' | 'no' | 'ask';
  connectTimeoutS?: number;
  serverAliveIntervalS?: number;
  serverAliveCountMax?: number;
  /** A socket path, `SSH_AUTH_SOCK`, or `none`. */
  identityAgent?: string;
  identitiesOnly?: boolean;
  /** `file:line` of each keyword's winning value, for refusals and `runbook inventory`. */
  sources: Record<string, string>;
}

/**
 * Splits a config file into lines.
 * @example parseSshConfig('Host db\n  HostName 10.0.0.9\n', '/home/op/.ssh/config')
 */
export function parseSshConfig(text: string, file = 'ssh config'): ConfigLine[] {
  const lines: ConfigLine[] = [];
  text.split('\n').forEach((raw, index) => {
    const words = splitLine(raw);
    if (words.length > 0) lines.push({ keyword: words[0].toLowerCase(), spelled: words[0], args: words.slice(1), rest: restOf(raw), file, line: index + 1 });
  });
  return lines;
}

/** The line after its keyword and separator (`Keyword value`, `Keyword=value`). */
const restOf = (raw: string): string => /^\s*[A-Za-z]+\s*(?:=\s*|\s+|$)(.*)$/.exec(raw)?.[1].trim() ?? '';

/** Words of one line: `Keyword=value` and `Keyword value`, double quotes grouping, `#` comments. */
function splitLine(raw: string): string[] {
  const line = raw.trim();
  if (line === '' || line.startsWith('#')) return [];
  const head = /^([A-Za-z]+)\s*(?:=\s*|\s+|$)(.*)$/.exec(line);
  if (!head) return [];
  const words = [head[1]];
  for (const match of head[2].matchAll(/"([^"]*)"|(\S+)/g)) words.push(match[1] ?? match[2]);
  return words;
}

export interface ResolveContext {
  home?: string;
  localUser?: string;
  /** The inventory host, named in refusals. */
  hostLabel?: string;
  /** Set before the config is read, as `ssh -l` is: wins, and `Match user` sees it. */
  user?: string;
  /** Lines from the command line (`-o`, ansible_ssh_common_args): applied before the files. */
  commandLine?: ConfigLine[];
  /** Reads an included file; default the filesystem (cached by mtime). */
  readFile?: (path: string) => ConfigLine[] | undefined;
}

/**
 * What the config says for an alias (the name as typed: inventory address or jump host).
 * Throws InventoryError naming host, keyword, file and line for a setting runbook cannot honour.
 * @example resolveSshConfig(parseSshConfig(text), 'db').hostName // '10.0.0.9'
 */
export function resolveSshConfig(lines: readonly ConfigLine[], alias: string, context: ResolveContext = {}): SshConfigHost {
  const evaluation = new Evaluation(alias, context);
  evaluation.pass(lines, false);
  if (evaluation.wantFinal) evaluation.pass(lines, true);
  return evaluation.result();
}

/** One resolution: OpenSSH's first-value-wins option state, filled over one or two passes. */
class Evaluation {
  readonly first = new Map<string, ConfigLine>();
  readonly identityFiles: ConfigLine[] = [];
  wantFinal = false;
  private final = false;
  readonly home: string;
  readonly localUser: string;

  constructor(readonly alias: string, readonly context: ResolveContext) {
    this.home = context.home ?? homedir();
    this.localUser = context.localUser ?? localUserName();
  }

  pass(lines: readonly ConfigLine[], final: boolean): void {
    this.final = final;
    if (!final) for (const line of this.context.commandLine ?? []) this.set(line);
    this.walk(lines, 0);
  }

  /** Host and Match lines switch what follows on or off until the next one; an Include is read in place. */
  private walk(lines: readonly ConfigLine[], depth: number): void {
    let active = true;
    for (const line of lines) {
      if (line.keyword === 'host') active = this.hostMatches(line.args);
      else if (line.keyword === 'match') active = this.matchMatches(line);
      else if (!active) continue;
      else if (line.keyword === 'include') this.include(line, depth);
      else this.set(line);
    }
  }

  /** `Host`: case-sensitive patterns against the name as typed (the resolved HostName in the final pass). */
  private hostMatches(patterns: string[]): boolean {
    const name = this.final ? this.currentHostName() : this.alias;
    let matched = false;
    for (const raw of patterns) {
      const negated = raw.startsWith('!');
      if (!wildcardMatches(negated ? raw.slice(1) : raw, name)) continue;
      if (negated) return false;
      matched = true;
    }
    return matched;
  }

  /** Every criterion must hold; OpenSSH skips `exec` once the result is already false, and so do we. */
  private matchMatches(line: ConfigLine): boolean {
    const args = [...line.args];
    let result = true;
    if (args.length === 0) throw this.refuse(line, 'Match needs criteria');
    while (args.length > 0) {
      const word = args.shift()!;
      const negated = word.startsWith('!');
      const criterion = (negated ? word.slice(1) : word).toLowerCase();
      if (criterion === 'all') continue;
      if (criterion === 'final') { if (!this.final) this.wantFinal = true; result = result && this.final !== negated; continue; }
      if (criterion === 'canonical') { result = result && this.final !== negated; continue; }
      const list = args.shift();
      if (list === undefined) throw this.refuse(line, `Match ${criterion} needs an argument`);
      if (criterion === 'exec' && !result) continue;
      result = result && this.criterionMatches(line, criterion, list) !== negated;
    }
    return result;
  }

  private criterionMatches(line: ConfigLine, criterion: string, list: string): boolean {
    switch (criterion) {
      case 'host': return patternListMatches(list, this.currentHostName());
      case 'originalhost': return patternListMatches(list, this.alias);
      case 'user': return caseSensitiveListMatches(list, this.currentUser());
      case 'localuser': return caseSensitiveListMatches(list, this.localUser);
      default: throw this.refuse(line, `Match ${criterion} is not supported by runbook (supported: all, host, originalhost, user, localuser, canonical, final)`);
    }
  }

  private include(line: ConfigLine, depth: number): void {
    if (depth >= 16) throw this.refuse(line, 'Include nested too deeply');
    for (const pattern of line.args) {
      const path = isAbsolute(expandTilde(pattern, this.home)) ? expandTilde(pattern, this.home) : join(this.home, '.ssh', pattern);
      for (const file of expandGlob(path)) {
        const lines = (this.context.readFile ?? readConfigFileCached)(file);
        if (lines) this.walk(lines, depth + 1);
      }
    }
  }

  /** First value wins; ProxyCommand and ProxyJump share one slot, as in OpenSSH. */
  private set(line: ConfigLine): void {
    this.check(line);
    if (line.keyword === 'identityfile') { this.identityFiles.push(line); return; }
    const slot = line.keyword === 'proxyjump' ? 'proxycommand' : line.keyword;
    if (!this.first.has(slot)) this.first.set(slot, line);
  }

  /** A keyword runbook would otherwise ignore is refused where it applies to a host. */
  private check(line: ConfigLine): void {
    if (HONOURED.has(line.keyword)) return;
    const value = (line.args[0] ?? '').toLowerCase();
    if (HARMLESS.has(line.keyword) && (!HARMLESS_ONLY_WHEN_OFF.has(line.keyword) || value === 'no' || value === 'none')) return;
    const ignore = this.first.get('ignoreunknown');
    if (ignore && !HARMLESS.has(line.keyword) && patternListMatches(ignore.args.join(','), line.keyword)) return;
    throw this.refuse(line, `${line.spelled} ${line.args.join(' ')} is not supported by runbook; remove it for this host (runbook would otherwise connect differently from ssh)`);
  }

  refuse(line: ConfigLine, message: string): InventoryError {
    const host = this.context.hostLabel ?? this.alias;
    return new InventoryError(`host ${host}: ssh config: ${message}`, line.file, line.line);
  }

  currentHostName(): string {
    const hostName = this.first.get('hostname');
    return hostName ? expandTokens(hostName.args[0] ?? '', { h: this.alias.toLowerCase() }) : this.alias.toLowerCase();
  }

  currentUser(): string {
    return this.context.user ?? this.first.get('user')?.args[0] ?? this.localUser;
  }

  result(): SshConfigHost {
    return buildHost(this);
  }
}

/** Turns the winning lines into typed settings, tokens and `~` expanded where OpenSSH expands them. */
function buildHost(state: Evaluation): SshConfigHost {
  const value = (keyword: string) => state.first.get(keyword)?.args[0];
  const hostName = state.currentHostName();
  const port = value('port') === undefined ? undefined : Number(value('port'));
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) throw state.refuse(state.first.get('port')!, `Port ${value('port')} is not a port number`);
  const user = value('user');
  const tokens = { h: hostName, n: state.alias, d: state.home, u: state.localUser, r: state.context.user ?? user ?? state.localUser, p: String(port ?? 22) };
  const files = (keyword: string) => state.first.get(keyword)?.args.map((file) => expandTilde(expandTokens(file, tokens), state.home));
  const proxy = state.first.get('proxycommand');
  const proxyValue = proxy && (proxy.keyword === 'proxycommand' ? proxy.rest : proxy.args.join(' '));
  const sources = Object.fromEntries([...state.first].map(([keyword, line]) => [line.keyword === 'proxyjump' ? 'proxyjump' : keyword, `${line.file}:${line.line}`]));
  return {
    hostName,
    ...(port !== undefined && { port }),
    ...(user !== undefined && { user }),
    identityFiles: [...new Set(state.identityFiles.map((line) => expandTilde(expandTokens(line.args[0] ?? '', tokens), state.home)))],
    ...(proxy?.keyword === 'proxyjump' && proxyValue!.toLowerCase() !== 'none' && { proxyJump: proxyValue }),
    ...(proxy?.keyword === 'proxycommand' && proxyValue!.toLowerCase() !== 'none' && { proxyCommand: proxyValue }),
    ...optionalFiles('userKnownHostsFiles', files('userknownhostsfile')),
    ...optionalFiles('globalKnownHostsFiles', files('globalknownhostsfile')),
    ...strictness(state),
    ...seconds(state, 'connecttimeout', 'connectTimeoutS'),
    ...seconds(state, 'serveraliveinterval', 'serverAliveIntervalS'),
    ...seconds(state, 'serveralivecountmax', 'serverAliveCountMax'),
    ...(value('identityagent') !== undefined && { identityAgent: expandTilde(value('identityagent')!, state.home) }),
    ...(value('identitiesonly') !== undefined && { identitiesOnly: yes(value('identitiesonly')!) }),
    sources,
  };
}

const optionalFiles = (key: 'userKnownHostsFiles' | 'globalKnownHostsFiles', files: string[] | undefined) =>
  (files && files.length > 0 && files[0].toLowerCase() !== 'none' ? { [key]: files } : {});

const yes = (value: string): boolean => ['yes', 'true'].includes(value.toLowerCase());

function strictness(state: Evaluation): Pick<SshConfigHost, 'strictHostKeyChecking'> {
  const line = state.first.get('stricthostkeychecking');
  if (!line) return {};
  const value = (line.args[0] ?? '').toLowerCase();
  const mapped = ({ yes: 'yes', true: 'yes', 'accept-new': 'accept-new', no: 'no', off: 'no', false: 'no', ask: 'ask' } as const)[value];
  if (!mapped) throw state.refuse(line, `StrictHostKeyChecking ${line.args[0]} is not one of yes, accept-new, no, ask`);
  return { strictHostKeyChecking: mapped };
}

function seconds<K extends 'connectTimeoutS' | 'serverAliveIntervalS' | 'serverAliveCountMax'>(state: Evaluation, keyword: string, key: K): Partial<Record<K, number>> {
  const line = state.first.get(keyword);
  if (!line) return {};
  const number = Number(line.args[0]);
  if (!Number.isInteger(number) || number < 0) throw state.refuse(line, `${line.spelled} ${line.args[0]} is not a whole number`);
  return { [key]: number } as Partial<Record<K, number>>;
}

/** `Match user`/`localuser`: OpenSSH's match_pattern_list, case-sensitive, `!` negation. */
function caseSensitiveListMatches(list: string, name: string): boolean {
  let matched = false;
  for (const raw of list.split(',')) {
    const negated = raw.startsWith('!');
    if (!wildcardMatches(negated ? raw.slice(1) : raw, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** `%h`-style tokens; an unknown token is left as written rather than guessed. */
export function expandTokens(value: string, tokens: Record<string, string>): string {
  return value.replace(/%(.)/g, (whole, letter: string) => (letter === '%' ? '%' : tokens[letter] ?? whole));
}

function expandTilde(path: string, home: string): string {
  if (path === '~') return home;
  return path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

/** glob(3) over `*`, `?` per path segment, sorted as OpenSSH's glob sorts; no match is no file. */
function expandGlob(path: string): string[] {
  if (!/[*?[]/.test(path)) return [path];
  const segments = path.split('/');
  let bases = [segments[0] === '' ? '/' : '.'];
  for (const segment of segments.slice(1)) {
    bases = bases.flatMap((base) => {
      if (!/[*?[]/.test(segment)) return [join(base, segment)];
      let names: string[] = [];
      try { names = readdirSync(base); } catch { return []; }
      return names.filter((name) => !name.startsWith('.') && wildcardMatches(segment, name)).sort().map((name) => join(base, name));
    });
  }
  return bases;
}

const fileCache = new Map<string, { stamp: string; lines: ConfigLine[] }>();

/** A config file's lines, parsed again only when it changed; undefined when it does not exist. */
export function readConfigFileCached(file: string): ConfigLine[] | undefined {
  let stamp: string;
  try {
    const st = statSync(file);
    if (st.isDirectory()) return undefined;
    stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const cached = fileCache.get(file);
  if (cached?.stamp === stamp) return cached.lines;
  const lines = parseSshConfig(readFileSync(file, 'utf8'), file);
  fileCache.set(file, { stamp, lines });
  return lines;
}

/**
 * Reads `~/.ssh/config` (or another file); a missing default file is an empty config, a missing
 * file named on purpose (`--ssh-config`) is an error.
 */
export async function loadSshConfig(file = join(homedir(), '.ssh', 'config'), required = false): Promise<ConfigLine[]> {
  const lines = readConfigFileCached(file);
  if (lines) return lines;
  if (required) throw new InventoryError(`ssh config file not found: ${file}`);
  return [];
}

/** One hop of a ProxyJump chain. */
export interface JumpHop {
  host: string;
  port?: number;
  user?: string;
}

/**
 * Parses a ProxyJump value (or the inventory's `jump` var): `[user@]host[:port]`, `ssh://…` URIs,
 * `[v6]:port`, comma-separated hops in connection order.
 * @example parseJumpSpec('ops@bastion:2222,inner') // [{ user: 'ops', host: 'bastion', port: 2222 }, { host: 'inner' }]
 */
export function parseJumpSpec(spec: string): JumpHop[] {
  return spec.split(',').map((s) => s.trim()).filter((s) => s !== '').map(parseHop);
}

function parseHop(text: string): JumpHop {
  const bare = text.replace(/^ssh:\/\//, '');
  const at = bare.lastIndexOf('@');
  const user = at >= 0 ? bare.slice(0, at) : undefined;
  const rest = at >= 0 ? bare.slice(at + 1) : bare;
  const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest) ?? /^([^:]+)(?::(\d+))?$/.exec(rest);
  if (!match || (user !== undefined && user === '')) throw new Error(`malformed jump host ${JSON.stringify(text)}: expected [user@]host[:port]`);
  const port = match[2] === undefined ? undefined : Number(match[2]);
  if (port !== undefined && (port < 1 || port > 65535)) throw new Error(`malformed jump host ${JSON.stringify(text)}: bad port`);
  return { host: match[1], ...(port !== undefined && { port }), ...(user !== undefined && { user }) };
}
