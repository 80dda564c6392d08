/**
 * Host key policy over known_hosts files: strict checking, with OpenSSH's `accept-new` behind an
 * explicit flag. Every check looks at the files as they are now (another run may have recorded or
 * removed a key meanwhile): a file is re-parsed whenever its inode, size, mtime or ctime changed,
 * so a fan-out to a thousand hosts does not parse it a thousand times. Appends are serialised so
 * two connections to one new host record it once.
 */
import { appendFile, chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  blobKeyType, checkHostKey, fingerprintSha256, formatKnownHostLine, hostLookupName, keyKind, knownKeyTypes,
  parseKnownHosts, type HostKeyVerdict, type KnownHostEntry,
} from './known-hosts.ts';

export interface HostKeyPolicy {
  /** Files read, in order (e.g. `~/.ssh/known_hosts` and the project's file). Missing files are empty. */
  files: readonly string[];
  /** Where a newly accepted key is appended (created with mode 0600); usually the project's file. */
  recordFile: string;
  /** OpenSSH's `StrictHostKeyChecking accept-new`: record unknown hosts. Changed keys stay refused. */
  acceptNew: boolean;
}

/** A refusal or an acceptance, with the sentence a user should read. */
export type HostKeyDecision = { ok: true; recorded?: string } | { ok: false; reason: string };

const appendQueues = new Map<string, Promise<unknown>>();

/**
 * Checks server host keys against known_hosts files.
 * @example await new HostKeyChecker({ files, recordFile, acceptNew: false }).verify('db1', 22, blob)
 */
export class HostKeyChecker {
  constructor(readonly policy: HostKeyPolicy) {}

  /** Key types already known for the host, so the client can ask for those first, as `ssh` does. */
  async knownTypes(host: string, port: number): Promise<string[]> {
    return knownKeyTypes(await this.entries(), hostLookupName(host, port));
  }

  /** Decides whether to trust `key` for `host:port`; records it when new and the policy allows. */
  async verify(host: string, port: number, key: Buffer): Promise<HostKeyDecision> {
    const verdict = checkHostKey(await this.entries(), hostLookupName(host, port), key);
    if (verdict.status === 'known') return { ok: true };
    if (verdict.status === 'unknown' && this.policy.acceptNew) return this.record(host, port, key);
    return { ok: false, reason: describeRefusal(verdict, host, port, key, this.policy) };
  }

  private async entries(): Promise<KnownHostEntry[]> {
    return (await Promise.all(this.policy.files.map(entriesOf))).flat();
  }

  /** Appends under a per-file queue, re-checking first so concurrent first contacts record one line. */
  private record(host: string, port: number, key: Buffer): Promise<HostKeyDecision> {
    const file = this.policy.recordFile;
    const run = async (): Promise<HostKeyDecision> => {
      const verdict = checkHostKey(await this.entries(), hostLookupName(host, port), key);
      if (verdict.status === 'known') return { ok: true };
      if (verdict.status !== 'unknown') return { ok: false, reason: describeRefusal(verdict, host, port, key, this.policy) };
      await appendKnownHost(file, formatKnownHostLine(host, port, key));
      return { ok: true, recorded: file };
    };
    const queued = (appendQueues.get(file) ?? Promise.resolve()).then(run, run);
    appendQueues.set(file, queued.catch(() => undefined));
    return queued;
  }
}

const parsedFiles = new Map<string, { stamp: string; entries: KnownHostEntry[] }>();

/**
 * A known_hosts file's entries, parsed again only when the file changed. The stamp is taken
 * before reading, so a write between the two leaves an older stamp on newer text: the next
 * check sees a stamp that differs and reads again. Entries are never older than the file.
 */
async function entriesOf(file: string): Promise<KnownHostEntry[]> {
  let stamp: string;
  try {
    const st = await stat(file, { bigint: true });
    stamp = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const cached = parsedFiles.get(file);
  if (cached?.stamp === stamp) return cached.entries;
  const entries = parseKnownHosts(await readOptional(file), file);
  parsedFiles.set(file, { stamp, entries });
  return entries;
}

async function readOptional(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

/** Appends one line, starting a new line if the file lacks a final newline; the file stays 0600. */
async function appendKnownHost(file: string, line: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const existing = await readOptional(file);
  const separator = existing === '' || existing.endsWith('\n') ? '' : '\n';
  await appendFile(file, `${separator}${line}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
}

/** How the server's key reads in messages: `ED25519 key SHA256:…`. */
function describeKey(key: Buffer): string {
  return `${keyKind(blobKeyType(key) ?? '?')} key ${fingerprintSha256(key)}`;
}

function describeRefusal(
  verdict: Exclude<HostKeyVerdict, { status: 'known' }>, host: string, port: number, key: Buffer, policy: HostKeyPolicy,
): string {
  const name = hostLookupName(host, port);
  if (verdict.status === 'revoked') {
    return `host key for ${name} is REVOKED: the server sent ${describeKey(key)}, marked @revoked in ${where(verdict.entry)}`;
  }
  if (verdict.status === 'unknown') {
    return `host key for ${name} is not known (the server sent ${describeKey(key)}); looked in ${policy.files.join(', ')}. ` +
      'Check the fingerprint with the host\'s owner, then rerun with --accept-new-host-keys to record it.';
  }
  return describeChange(name, key, verdict.known);
}

/** The same facts OpenSSH prints under "REMOTE HOST IDENTIFICATION HAS CHANGED!". */
function describeChange(name: string, key: Buffer, known: readonly KnownHostEntry[]): string {
  const offending = known.map((entry) => `  ${keyKind(entry.keyType)} key ${fingerprintSha256(entry.key)} in ${where(entry)}`);
  const files = [...new Set(known.map((entry) => entry.file))];
  return [
    `REMOTE HOST IDENTIFICATION HAS CHANGED for ${name}: someone could be eavesdropping (a man-in-the-middle attack),`,
    'or the host key has just been changed. Refusing to connect.',
    `The fingerprint for the ${describeKey(key).replace(' key ', ' key sent by the remote host is ')}.`,
    'Known keys for this host:',
    ...offending,
    `If the change is expected, remove the old entry: ${files.map((f) => `ssh-keygen -R '${name}' -f ${f}`).join('; ')}`,
  ].join('\n');
}

const where = (entry: KnownHostEntry): string => `${entry.file}:${entry.line}`;
