/**
 * Trusting a host's new SSH host key after a reinstall: the key the host presents now is read by a
 * handshake that authenticates nothing, compared with the fingerprint an operator read at the
 * console, and only on a match written to the project known_hosts in place of the old lines. A
 * changed key is never accepted silently. The only task that reaches into the SSH transport.
 */
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { change, noop } from '../runbook/check.ts';
import type { ActionStep, Dynamic, HostInfo, StepContext } from '../runbook/types.ts';
import { entryMatchesHost, fingerprintSha256, formatKnownHostLine, hostLookupName, parseKnownHosts } from '../transport/ssh/known-hosts.ts';
import { SshTransport } from '../transport/ssh/transport.ts';
import { HostKeyError } from '../transport/ssh/errors.ts';
import { commonOf, resolve, type TaskCommon } from './resolve.ts';

/** Where a host's SSH server is reached, and as whom. */
export type HostAddress = Pick<HostInfo<unknown>, 'name' | 'address' | 'port' | 'user'>;

/**
 * The project known_hosts a run trusts, `<state dir>/known_hosts` (RUNBOOK_STATE_DIR, else `.runbook`):
 * the default for a step that writes a host's new key.
 * @example knownHosts: z.string().default(hostKey.projectKnownHosts())
 */
export const projectKnownHosts = (env: NodeJS.ProcessEnv = process.env): string => join(env.RUNBOOK_STATE_DIR ?? '.runbook', 'known_hosts');

/**
 * The host key the host presents now, read by an SSH handshake that records whatever key it is
 * shown (into a throwaway known_hosts) and then fails authentication on purpose: nothing is sent
 * to a host not trusted yet.
 * @example const fingerprint = fingerprintSha256(await hostKey.presented(ctx.host))
 */
export async function presented(host: HostAddress): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'runbook-hostkey-'));
  try {
    const record = join(dir, 'known_hosts');
    const probe = new SshTransport(
      { name: host.name, address: host.address, port: host.port, user: host.user, connection: 'ssh', become: false, groups: [], vars: {}, varSources: {} },
      { knownHostsFiles: [], projectKnownHostsFile: record, acceptNewHostKeys: true, home: dir, agent: false, sshConfigFile: false, identityFiles: [], connectTimeoutMs: 10_000 },
    );
    await probe.connect().catch(() => undefined);
    await probe.close();
    const [entry] = parseKnownHosts(existsSync(record) ? readFileSync(record, 'utf8') : '', record);
    if (!entry) throw new Error(`${host.name} (${hostLookupName(host.address, host.port)}) presented no host key: is it up?`);
    return entry.key;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The SHA256 fingerprint of a host key, as `ssh-keygen -lf` prints it (`SHA256:…`). */
export const fingerprint = (key: Buffer): string => fingerprintSha256(key);

/** Whether the run's own SSH transport accepts the host's key now (it reads known_hosts afresh). */
async function engineTrusts(ctx: StepContext): Promise<boolean> {
  try {
    await ctx.on(ctx.host.name)`true`;
    return true;
  } catch (error) {
    if (error instanceof HostKeyError) return false;
    throw error;
  }
}

/**
 * Replaces the host's plain key lines in a known_hosts file by one line for `key`, atomically,
 * mode 0600; returns how many lines went.
 * @example hostKey.replaceKnownHost('.runbook/known_hosts', ctx.host, key)
 */
export function replaceKnownHost(path: string, host: HostAddress, key: Buffer): number {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const name = hostLookupName(host.address, host.port);
  const stale = new Set(parseKnownHosts(text, path).filter((e) => e.marker === null && entryMatchesHost(e, name)).map((e) => e.line));
  const kept = text.split('\n').filter((line, i) => line !== '' && !stale.has(i + 1));
  const temp = join(dirname(path), `.known_hosts.${process.pid}.tmp`);
  writeFileSync(temp, [...kept, formatKnownHostLine(host.address, host.port, key)].join('\n') + '\n', { mode: 0o600 });
  renameSync(temp, path);
  return stale.size;
}

/** The fingerprint an operator vouched for, and who or what vouched (for the messages). */
export interface Vouched { fingerprint: string; by: string }

export interface TrustedOptions<P = any, V = any> extends TaskCommon<P, V> {
  /** The known_hosts file the run trusts, where the new key is written. */
  knownHosts: Dynamic<string, P, V>;
  /** The fingerprint read at the console (`SHA256:…`). */
  vouched: (ctx: StepContext<P, V>) => Vouched | Promise<Vouched>;
  /** What the operator should do when the key differs; default: read the fingerprint again. */
  mismatchAdvice?: string;
}

const READ_AGAIN = 'Read the fingerprint at the console again (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)';

/**
 * The host's current key is in known_hosts, and only if it is the key an operator vouched for.
 * Check compares the presented key's fingerprint with the vouched one (a mismatch stops the run)
 * and asks the engine's own transport whether it trusts the host; apply reads the key again just
 * before writing, so the key trusted is the key compared. Hands on `fingerprint` (and
 * `replacedLines` after apply).
 * @example hostKey.trusted({ id: 'host-key-trusted', title: 'trust the new key', knownHosts: '.runbook/known_hosts', vouched: (ctx) => ({ fingerprint: ctx.params.hostKey, by: 'the hostKey param' }) })
 */
export function trusted<P = any, V = any>(options: TrustedOptions<P, V>): ActionStep<P, V> {
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      const { fingerprint: want, by } = await options.vouched(ctx);
      const got = fingerprint(await presented(ctx.host));
      const where = hostLookupName(ctx.host.address, ctx.host.port);
      if (got !== want) {
        throw new Error(`${ctx.host.name} (${where}) presents host key ${got}, but ${by} confirmed ${want}: NOT trusted. ${options.mismatchAdvice ?? READ_AGAIN}`);
      }
      if (await engineTrusts(ctx as StepContext)) return noop(`${where} presents ${got}, as ${by} confirmed, and known_hosts trusts it`, { fingerprint: got });
      return change(`known_hosts does not trust ${where}'s key ${got} (confirmed by ${by}) yet`, { fingerprint: got });
    },
    async apply(ctx) {
      const { fingerprint: want } = await options.vouched(ctx);
      const key = await presented(ctx.host);
      if (fingerprint(key) !== want) throw new Error(`${ctx.host.name}: the host key changed while it was being trusted (now ${fingerprint(key)}, confirmed ${want})`);
      const path = await resolve(options.knownHosts, ctx as StepContext);
      const replaced = replaceKnownHost(path, ctx.host, key);
      ctx.log(`${path}: ${replaced} old line(s) for ${hostLookupName(ctx.host.address, ctx.host.port)} replaced by the key ${want}`);
      return { fingerprint: want, replacedLines: replaced };
    },
  };
}
