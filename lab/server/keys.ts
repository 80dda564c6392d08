/**
 * Keys of the lab: the client key `lab up` generates, one persisted host key per host, and the
 * known_hosts lines the runbook CLI (and OpenSSH) check those host keys against.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { readTrimmed, writeFileAtomic } from './config.ts';

/** Writes an ed25519 pair, OpenSSH format: `path` (0600) and `path.pub`. Returns the .pub line. */
export function generateKey(path: string, comment: string): string {
  const pair = generateValidPair(comment);
  writeFileAtomic(path, pair.private, 0o600);
  writeFileAtomic(`${path}.pub`, `${pair.public}\n`, 0o644);
  return pair.public;
}

/**
 * ssh2's generator drops a leading zero byte of the ed25519 public key (~1 key in 200), writing a
 * 31-byte key neither ssh2 nor OpenSSH accepts: draw again until the pair parses.
 */
function generateValidPair(comment: string): { private: string; public: string } {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
    const parsed = ssh2.utils.parseKey(pair.private);
    if (!(parsed instanceof Error) && !(ssh2.utils.parseKey(pair.public) instanceof Error)) return pair;
  }
}

/** The existing pair's .pub line, generating the pair first when it is missing or unreadable. */
export function ensureKey(path: string, comment: string): string {
  const usable = existsSync(path) && existsSync(`${path}.pub`) && !(ssh2.utils.parseKey(readFileSync(path)) instanceof Error);
  return usable ? readTrimmed(`${path}.pub`) : generateKey(path, comment);
}

/** OpenSSH's fingerprint of a public key line: "SHA256:" + unpadded base64 of the blob's digest. */
export function fingerprint(publicLine: string): string {
  const blob = Buffer.from(publicLine.trim().split(/\s+/)[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The known_hosts host field OpenSSH uses for a non-22 port. */
export function knownHostsName(port: number): string {
  return `[127.0.0.1]:${port}`;
}

/**
 * Replaces the lines for `entries`' ports in a known_hosts file (other lines untouched), so a
 * restarted or reinstalled lab never leaves a stale key that would trip strict checking.
 */
export function updateKnownHosts(file: string, entries: { port: number; publicLine: string }[]): void {
  const names = new Set(entries.map((entry) => knownHostsName(entry.port)));
  const kept = readTrimmed(file)
    .split('\n')
    .filter((line) => line && !line.split(/\s+/)[0]!.split(',').some((name) => names.has(name)));
  const added = entries.map(({ port, publicLine }) => {
    const [type, key] = publicLine.trim().split(/\s+/);
    return `${knownHostsName(port)} ${type} ${key}`;
  });
  writeFileAtomic(file, [...kept, ...added].join('\n') + '\n');
}

/** A parsed key, or an error naming the file. */
export function parseKeyFile(path: string): ssh2.ParsedKey {
  const parsed = ssh2.utils.parseKey(readFileSync(path));
  if (parsed instanceof Error) throw new Error(`${path}: ${parsed.message}`);
  return Array.isArray(parsed) ? parsed[0]! : parsed;
}

/** A fresh boot id in the kernel's format (a random UUID). */
export function newBootId(): string {
  return randomUUID();
}
