/**
 * Which credentials to offer, in the order OpenSSH users expect: the agent (SSH_AUTH_SOCK), then
 * key files (the inventory's, then the ssh config's IdentityFile lines, else ~/.ssh/id_ed25519,
 * id_ecdsa, id_rsa), then a password only when one was given. Key bytes are read here; parsing
 * and signing stay in transport.ts (ssh2 is imported only inside transport/ssh/).
 */
import { readFile, stat } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';

let userName: string | undefined;

/** The controller's login name (ssh's default remote user, %u), looked up once: getpwuid costs ~60 µs a call, and a fan-out asks per host. */
export const localUserName = (): string => (userName ??= userInfo().username);

/** The defaults `ssh` tries when no IdentityFile is configured (the ones still generated today). */
export const DEFAULT_IDENTITY_NAMES = ['id_ed25519', 'id_ecdsa', 'id_rsa'] as const;

/**
 * Asked once per encrypted key file; resolve `undefined` to skip the key.
 * @example const prompt: PassphrasePrompt = async (file) => askHidden(`Passphrase for ${file}: `)
 */
export type PassphrasePrompt = (keyFile: string) => Promise<string | undefined>;

/** A private key file found on disk, not yet decrypted. */
export interface IdentityFile {
  file: string;
  text: string;
  encrypted: boolean;
}

/**
 * Key files to try, first wins, without duplicates. Configured files replace the defaults, as in `ssh`.
 * @example identityCandidates({ inventoryKey: '/keys/lab', configured: [] }) // ['/keys/lab', '~/.ssh/id_ed25519', …]
 */
export function identityCandidates(sources: { inventoryKey?: string; configured: readonly string[]; home?: string }): string[] {
  const home = sources.home ?? homedir();
  const explicit = [sources.inventoryKey, ...sources.configured].filter((f): f is string => !!f);
  const defaults = sources.configured.length > 0 ? [] : DEFAULT_IDENTITY_NAMES.map((name) => join(home, '.ssh', name));
  return [...new Set([...explicit, ...defaults])];
}

/** Reads the candidate files that exist; an unreadable default key is skipped, as `ssh` skips it. */
export async function readIdentities(files: readonly string[]): Promise<IdentityFile[]> {
  const found = await Promise.all(files.map(async (file) => {
    try {
      const text = await readFile(file, 'utf8');
      return { file, text, encrypted: isEncryptedPrivateKey(text) };
    } catch {
      return null;
    }
  }));
  return found.filter((identity): identity is IdentityFile => identity !== null);
}

/**
 * Whether a private key needs a passphrase: an OpenSSH-format key whose cipher is not `none`, or
 * an encrypted PEM (legacy `Proc-Type: 4,ENCRYPTED` or PKCS#8 `ENCRYPTED PRIVATE KEY`).
 * @example isEncryptedPrivateKey(readFileSync('~/.ssh/id_ed25519', 'utf8'))
 */
export function isEncryptedPrivateKey(text: string): boolean {
  if (/Proc-Type:\s*4,ENCRYPTED/.test(text) || text.includes('BEGIN ENCRYPTED PRIVATE KEY')) return true;
  const body = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
  if (!body) return false;
  return openSshCipher(Buffer.from(body[1].replace(/\s+/g, ''), 'base64')) !== 'none';
}

/** The cipher name stored after the `openssh-key-v1\0` magic (PROTOCOL.key). */
function openSshCipher(blob: Buffer): string | null {
  const magic = 'openssh-key-v1\0';
  if (blob.subarray(0, magic.length).toString('latin1') !== magic || blob.length < magic.length + 4) return null;
  const length = blob.readUInt32BE(magic.length);
  return blob.subarray(magic.length + 4, magic.length + 4 + length).toString('latin1');
}

/**
 * The agent socket from SSH_AUTH_SOCK when it really is a socket; a stale variable is ignored.
 * @example await agentSocket() // '/tmp/ssh-XXXX/agent.123'
 */
export async function agentSocket(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const path = env.SSH_AUTH_SOCK;
  if (!path) return undefined;
  try {
    return (await stat(path)).isSocket() ? path : undefined;
  } catch {
    return undefined;
  }
}

const promptCaches = new WeakMap<PassphrasePrompt, Map<string, Promise<string | undefined>>>();

/**
 * Wraps a prompt so fifty hosts sharing one key ask the operator once, not fifty times. A wrong
 * passphrase is forgotten (see {@link forgetPassphrase}) so the next connection asks again.
 * @example const ask = sharedPrompt(prompt); await ask('/root/.ssh/id_ed25519')
 */
export function sharedPrompt(prompt: PassphrasePrompt): PassphrasePrompt {
  let cache = promptCaches.get(prompt);
  if (!cache) promptCaches.set(prompt, cache = new Map());
  const answers = cache;
  return (file) => {
    let answer = answers.get(file);
    if (!answer) answers.set(file, answer = prompt(file));
    return answer;
  };
}

/** Drops a cached passphrase that turned out wrong. */
export function forgetPassphrase(prompt: PassphrasePrompt, file: string): void {
  promptCaches.get(prompt)?.delete(file);
}
