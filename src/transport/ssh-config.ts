/**
 * The slice of `~/.ssh/config` (ssh_config(5)) a runbook needs: Host aliases, HostName, Port, User,
 * IdentityFile and ProxyJump. A small parser rather than `ssh -G` because it costs no process per
 * host, works where no `ssh` client is installed, and is tested against `ssh -G` where one is.
 *
 * Supported as OpenSSH does: `Keyword value` and `Keyword=value`, case-insensitive keywords, double
 * quotes, `Host` pattern lists with `*`, `?` and `!`, first value wins (IdentityFile accumulates),
 * `~` and the %d %u %h %r %p %% tokens. Not supported: `Match` blocks (skipped, never applied) and
 * `Include` (ignored), the system-wide /etc/ssh/ssh_config.
 */
import { readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { patternListMatches } from './known-hosts.ts';

/** One `Host` block (or the options before the first one, which apply to every host). */
export interface SshConfigBlock {
  /** Space-separated patterns as written after `Host`; `*` for the leading global options. */
  patterns: string[];
  /** `Match` blocks are kept so their options are never mistaken for the previous block's. */
  isMatch: boolean;
  options: Array<{ keyword: string; value: string; line: number }>;
}

/** What the config says about one alias, before the inventory's own settings are applied. */
export interface SshConfigHost {
  hostName: string;
  port?: number;
  user?: string;
  /** Tokens and `~` expanded; in the order written. */
  identityFiles: string[];
  /** `user@host:port,…`; absent when unset or `none`. */
  proxyJump?: string;
}

/**
 * Splits a config file into blocks.
 * @example parseSshConfig('Host db\n  HostName 10.0.0.9\n')
 */
export function parseSshConfig(text: string): SshConfigBlock[] {
  const blocks: SshConfigBlock[] = [{ patterns: ['*'], isMatch: false, options: [] }];
  text.split('\n').forEach((raw, index) => {
    const words = splitLine(raw);
    if (words.length === 0) return;
    const keyword = words[0].toLowerCase();
    if (keyword === 'host') blocks.push({ patterns: words.slice(1), isMatch: false, options: [] });
    else if (keyword === 'match') blocks.push({ patterns: [], isMatch: true, options: [] });
    else blocks[blocks.length - 1].options.push({ keyword, value: words.slice(1).join(' '), line: index + 1 });
  });
  return blocks;
}

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

/** A `Host` line matches when one positive pattern does and no negated one does. */
function blockMatches(block: SshConfigBlock, alias: string): boolean {
  return !block.isMatch && patternListMatches(block.patterns.join(','), alias);
}

/** The first value of each keyword over the matching blocks; every IdentityFile. */
function collectOptions(blocks: readonly SshConfigBlock[], alias: string): { first: Map<string, string>; identityFiles: string[] } {
  const first = new Map<string, string>();
  const identityFiles: string[] = [];
  for (const block of blocks.filter((b) => blockMatches(b, alias))) {
    for (const { keyword, value } of block.options) {
      if (keyword === 'identityfile') identityFiles.push(value);
      else if (!first.has(keyword)) first.set(keyword, value);
    }
  }
  return { first, identityFiles };
}

export interface ResolveContext {
  home?: string;
  localUser?: string;
}

/**
 * What the config says for an alias (the name as typed: inventory address or jump host).
 * @example resolveSshConfig(parseSshConfig(text), 'db').hostName // '10.0.0.9'
 */
export function resolveSshConfig(blocks: readonly SshConfigBlock[], alias: string, context: ResolveContext = {}): SshConfigHost {
  const { first, identityFiles } = collectOptions(blocks, alias);
  const home = context.home ?? homedir();
  const localUser = context.localUser ?? userInfo().username;
  const hostName = expandTokens(first.get('hostname') ?? '%h', { h: alias, d: home, u: localUser });
  const port = first.has('port') ? Number(first.get('port')) : undefined;
  const user = first.get('user');
  const tokens = { h: hostName, d: home, u: localUser, r: user ?? localUser, p: String(port ?? 22) };
  const proxyJump = first.get('proxyjump');
  return {
    hostName,
    port: Number.isInteger(port) ? port : undefined,
    user,
    identityFiles: identityFiles.map((file) => expandTilde(expandTokens(file, tokens), home)),
    proxyJump: proxyJump && proxyJump.toLowerCase() !== 'none' ? proxyJump : undefined,
  };
}

/** `%h`-style tokens; an unknown token is left as written rather than guessed. */
function expandTokens(value: string, tokens: Record<string, string>): string {
  return value.replace(/%(.)/g, (whole, letter: string) => (letter === '%' ? '%' : tokens[letter] ?? whole));
}

function expandTilde(path: string, home: string): string {
  if (path === '~') return home;
  return path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

/** Reads `~/.ssh/config` (or another file); a missing file is an empty config. */
export async function loadSshConfig(file = join(homedir(), '.ssh', 'config')): Promise<SshConfigBlock[]> {
  try {
    return parseSshConfig(await readFile(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return parseSshConfig('');
    throw error;
  }
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
