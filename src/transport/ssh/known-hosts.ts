/**
 * OpenSSH known_hosts, read the way `ssh` reads it (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"):
 * plain and `[host]:port` names, comma lists, `*`/`?` wildcards, `!` negation, hashed `|1|salt|hash`
 * names (HMAC-SHA1 of the name keyed by the salt) and the `@revoked` / `@cert-authority` markers.
 *
 * Pure: text in, verdict out. Reading the files and appending new keys lives in host-keys.ts.
 * Certificates are not supported, so `@cert-authority` lines never vouch for a plain host key.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** One key line of a known_hosts file. */
export interface KnownHostEntry {
  file: string;
  /** 1-based, as `ssh` prints it in "Offending key in FILE:LINE". */
  line: number;
  marker: 'revoked' | 'cert-authority' | null;
  /** The host field as written: `host,[host]:2222,!bad*` or `|1|salt|hash`. */
  hosts: string;
  keyType: string;
  /** The key blob (the base64 field decoded): what the server sends during key exchange. */
  key: Buffer;
}

/** What a host key is, measured against the known_hosts entries for that host. */
export type HostKeyVerdict =
  | { status: 'known'; entry: KnownHostEntry }
  | { status: 'unknown' }
  /** The host is known, but with other keys: OpenSSH's "REMOTE HOST IDENTIFICATION HAS CHANGED". */
  | { status: 'changed'; known: KnownHostEntry[] }
  | { status: 'revoked'; entry: KnownHostEntry };

/**
 * The name `ssh` looks up: the bare host on port 22, `[host]:port` elsewhere.
 * @example hostLookupName('10.0.0.5', 2222) // '[10.0.0.5]:2222'
 */
export function hostLookupName(host: string, port: number): string {
  const lower = host.toLowerCase();
  return port === 22 ? lower : `[${lower}]:${port}`;
}

/**
 * Parses a known_hosts file; comments, blank and malformed lines are skipped as `ssh` skips them.
 * @example parseKnownHosts(readFileSync(f, 'utf8'), f)
 */
export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const entry = parseLine(raw, file, index + 1);
    if (entry) entries.push(entry);
  });
  return entries;
}

function parseLine(raw: string, file: string, line: number): KnownHostEntry | null {
  const fields = raw.trim().split(/[ \t]+/);
  if (fields[0] === '' || fields[0].startsWith('#')) return null;
  let marker: KnownHostEntry['marker'] = null;
  if (fields[0].startsWith('@')) {
    if (fields[0] === '@revoked') marker = 'revoked';
    else if (fields[0] === '@cert-authority') marker = 'cert-authority';
    else return null; // an unknown marker: `ssh` ignores the whole line
    fields.shift();
  }
  const [hosts, keyType, base64] = fields;
  if (!hosts || !keyType || !base64 || !/^[A-Za-z0-9+/]+=*$/.test(base64)) return null;
  const key = Buffer.from(base64, 'base64');
  if (blobKeyType(key) !== keyType) return null; // a truncated or mislabelled key matches nothing
  return { file, line, marker, hosts, keyType, key };
}

/** The key type named inside a key blob (its first SSH string), or null if the blob is malformed. */
export function blobKeyType(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const length = blob.readUInt32BE(0);
  if (length === 0 || 4 + length > blob.length) return null;
  return blob.subarray(4, 4 + length).toString('latin1');
}

/**
 * Whether an entry's host field names this lookup name (see {@link hostLookupName}).
 * @example entryMatchesHost(entry, '[127.0.0.1]:2222')
 */
export function entryMatchesHost(entry: Pick<KnownHostEntry, 'hosts'>, lookupName: string): boolean {
  if (entry.hosts.startsWith('|1|')) return hashedNameMatches(entry.hosts, lookupName);
  return patternListMatches(entry.hosts, lookupName);
}

/** `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, as `ssh-keygen -H` writes it. */
function hashedNameMatches(field: string, lookupName: string): boolean {
  const [, , salt64, hash64] = field.split('|');
  if (!salt64 || !hash64) return false;
  const expected = Buffer.from(hash64, 'base64');
  const actual = createHmac('sha1', Buffer.from(salt64, 'base64')).update(lookupName).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * OpenSSH's match_hostname: any negated pattern that matches rules the host out, whatever else
 * matches; otherwise one positive match is enough. Host names compare case-insensitively.
 * @example patternListMatches('*.lab,!db.lab', 'web.lab') // true
 */
export function patternListMatches(list: string, name: string): boolean {
  let matched = false;
  for (const raw of list.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase();
    if (!wildcardMatches(pattern, name.toLowerCase())) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** `*` is any run of characters, `?` exactly one; everything else is literal. */
export function wildcardMatches(pattern: string, text: string): boolean {
  let regex = compiledPatterns.get(pattern);
  if (!regex) {
    const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    regex = new RegExp(`^${source}$`, 's');
    // A thousand hosts against an ssh config of a few hundred Host lines: compile each pattern once.
    if (compiledPatterns.size < 10_000) compiledPatterns.set(pattern, regex);
  }
  return regex.test(text);
}

const compiledPatterns = new Map<string, RegExp>();

/**
 * The entries that name a host, markers included (what `ssh-keygen -F` lists).
 * @example findHostEntries(entries, hostLookupName('db1', 22))
 */
export function findHostEntries(entries: readonly KnownHostEntry[], lookupName: string): KnownHostEntry[] {
  return entries.filter((entry) => entryMatchesHost(entry, lookupName));
}

/**
 * Judges the key a server presented. A revoked key is refused even if another line lists it; a
 * host known only with other keys (of any type) is "changed", never "unknown", so a server cannot
 * dodge the check by offering a key type we have not seen.
 * @example checkHostKey(entries, '[127.0.0.1]:2222', blob).status // 'known'
 */
export function checkHostKey(entries: readonly KnownHostEntry[], lookupName: string, key: Buffer): HostKeyVerdict {
  const named = findHostEntries(entries, lookupName);
  const revoked = named.find((entry) => entry.marker === 'revoked' && entry.key.equals(key));
  if (revoked) return { status: 'revoked', entry: revoked };
  const plain = named.filter((entry) => entry.marker === null);
  const same = plain.find((entry) => entry.key.equals(key));
  if (same) return { status: 'known', entry: same };
  return plain.length === 0 ? { status: 'unknown' } : { status: 'changed', known: plain };
}

/** Key types known for a host, in file order: the host key algorithms to ask the server for first. */
export function knownKeyTypes(entries: readonly KnownHostEntry[], lookupName: string): string[] {
  const types = findHostEntries(entries, lookupName).filter((e) => e.marker === null).map((e) => e.keyType);
  return [...new Set(types)];
}

/**
 * The fingerprint as `ssh` prints it: `SHA256:` and the unpadded base64 of the blob's SHA-256.
 * @example fingerprintSha256(blob) // 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s'
 */
export function fingerprintSha256(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/**
 * The short key kind `ssh` shows in messages: ED25519, ECDSA, RSA, DSA.
 * @example keyKind('ssh-ed25519') // 'ED25519'
 */
export function keyKind(keyType: string): string {
  if (keyType === 'ssh-ed25519') return 'ED25519';
  if (keyType.startsWith('ecdsa-')) return 'ECDSA';
  if (keyType === 'ssh-rsa') return 'RSA';
  if (keyType === 'ssh-dss') return 'DSA';
  return keyType.toUpperCase();
}

/**
 * The line OpenSSH's `StrictHostKeyChecking accept-new` appends for a new host.
 * @example formatKnownHostLine('10.0.0.5', 2222, blob) // '[10.0.0.5]:2222 ssh-ed25519 AAAA…'
 */
export function formatKnownHostLine(host: string, port: number, key: Buffer): string {
  const keyType = blobKeyType(key);
  if (keyType === null) throw new TypeError('malformed host key blob');
  return `${hostLookupName(host, port)} ${keyType} ${key.toString('base64')}`;
}
