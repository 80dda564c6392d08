/**
 * The credentials offered to an SSH server, as ssh2 auth methods, in the order OpenSSH users
 * expect: the agent, key files (decrypted once per run with the operator's passphrase), then the
 * password, by `password` and by keyboard-interactive. Which files and sockets: auth.ts.
 */
import { createHash } from 'node:crypto';
import type { AnyAuthMethod } from 'ssh2';
import { ssh2 } from './ssh2.ts';
import { forgetPassphrase, type IdentityFile, type PassphrasePrompt } from './auth.ts';

/** Credentials in order: agent, key files, password; each offered once, and only if the server accepts that method. */
export class AuthAttempts {
  #step = 0;
  readonly #steps: Array<{ method: 'publickey' | 'password' | 'keyboard-interactive'; offer: () => Promise<AnyAuthMethod | null> }> = [];

  constructor(
    private readonly user: string,
    sources: { agent?: string; identities: IdentityFile[]; password?: string; prompt?: PassphrasePrompt },
    private readonly tried: string[],
  ) {
    const { agent, identities, password, prompt } = sources;
    if (agent) this.#steps.push({ method: 'publickey', offer: async () => this.offer(`agent (${agent})`, { type: 'agent', username: user, agent }) });
    for (const identity of identities) this.#steps.push({ method: 'publickey', offer: () => this.keyFile(identity, prompt) });
    if (password === undefined) return;
    this.#steps.push({ method: 'password', offer: async () => this.offer('password', { type: 'password', username: user, password }) });
    this.#steps.push({ method: 'keyboard-interactive', offer: async () => this.offer('keyboard-interactive', passwordPrompts(user, password)) });
  }

  /** The next method to try, or null when none is left. */
  async next(methodsLeft: readonly string[] | null): Promise<AnyAuthMethod | null> {
    while (this.#step < this.#steps.length) {
      const step = this.#steps[this.#step++];
      if (methodsLeft && !methodsLeft.includes(step.method)) continue;
      const method = await step.offer();
      if (method) return method;
    }
    return null;
  }

  private offer(label: string, method: AnyAuthMethod): AnyAuthMethod {
    this.tried.push(label);
    return method;
  }

  /** A key file, decrypted with the operator's passphrase when it is encrypted; unusable keys are noted and skipped. */
  private async keyFile(identity: IdentityFile, prompt?: PassphrasePrompt): Promise<AnyAuthMethod | null> {
    let passphrase: string | undefined;
    if (identity.encrypted) {
      passphrase = prompt ? await prompt(identity.file).catch(() => undefined) : undefined;
      if (passphrase === undefined) { this.tried.push(`key ${identity.file} (encrypted, no passphrase given)`); return null; }
    }
    const key = parseKeyOnce(identity, passphrase);
    if (key instanceof Error) {
      if (identity.encrypted && prompt) forgetPassphrase(prompt, identity.file);
      this.tried.push(`key ${identity.file} (${identity.encrypted ? 'wrong passphrase' : 'unreadable'})`);
      return null;
    }
    return this.offer(`key ${identity.file}`, { type: 'publickey', username: this.user, key });
  }
}

type ParsedKey = Exclude<ReturnType<typeof ssh2.utils.parseKey>, Error>;
const decryptedKeys = new Map<string, ParsedKey>();

/**
 * Parses a key file, keeping decrypted keys for the run: decrypting an OpenSSH key runs bcrypt
 * (about a second of CPU each time), which a fan-out to fifty hosts must not pay fifty times.
 */
function parseKeyOnce(identity: IdentityFile, passphrase: string | undefined): ParsedKey | Error {
  // Keyed by a digest that includes the passphrase: a wrong one must never unlock a cached key.
  const cacheKey = createHash('sha256').update(`${identity.file}\0${identity.text}\0${passphrase ?? ''}`).digest('hex');
  const cached = decryptedKeys.get(cacheKey);
  if (cached) return cached;
  const parsed = ssh2.utils.parseKey(identity.text, passphrase);
  if (parsed instanceof Error) return parsed;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (identity.encrypted) decryptedKeys.set(cacheKey, key);
  return key;
}

/**
 * Keyboard-interactive that answers the server's hidden prompts with the password, once: a PAM
 * server (UsePAM yes, PasswordAuthentication no) asks for it this way. A second round means the
 * password was wrong; answering nothing ends it rather than looping.
 */
function passwordPrompts(username: string, password: string): AnyAuthMethod {
  let answered = false;
  return {
    type: 'keyboard-interactive',
    username,
    prompt: (_name, _instructions, _lang, prompts, finish) => {
      const answers = answered ? [] : prompts.map((p) => (p.echo ? '' : password));
      answered = true;
      finish(answers);
    },
  };
}
