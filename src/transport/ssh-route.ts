/**
 * Where a host's connection goes: the target and any jump hosts before it, each with its
 * address, port, user and key files, from the inventory first, then ~/.ssh/config, then
 * OpenSSH's defaults. Pure apart from reading the config file, so precedence is unit-tested.
 */
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { InventoryError } from '../errors.ts';
import type { InventoryHost } from '../inventory/types.ts';
import { identityCandidates } from './auth.ts';
import { loadSshConfig, parseJumpSpec, resolveSshConfig, type SshConfigBlock } from './ssh-config.ts';

/** The options that shape a route (a subset of SshOptions). */
export interface RouteOptions {
  /** Home directory for `~/.ssh/config` and default keys. */
  home?: string;
  /** Default `~/.ssh/config`; `false` to ignore it. */
  sshConfigFile?: string | false;
  /** Extra private key files for every hop, tried after the inventory's key. */
  identityFiles?: string[];
}

/** One hop to connect to, with everything the handshake needs. */
export interface Endpoint {
  host: string;
  port: number;
  user: string;
  identityFiles: string[];
}

/** `user@host:port`, as messages name a hop. */
export const describeEndpoint = (ep: Endpoint): string => `${ep.user}@${ep.host}:${ep.port}`;

/**
 * The hops to the host: jump hosts (inventory `jump` var, else ProxyJump) then the host itself.
 * The inventory's port and user win over the config's, as `ssh -p`/`-l` win over ssh_config.
 * @example await resolveRoute(host, { sshConfigFile: false }) // [{ host: '10.0.0.9', port: 22, user: 'root', identityFiles: […] }]
 */
export async function resolveRoute(host: InventoryHost, options: RouteOptions): Promise<Endpoint[]> {
  const home = options.home ?? homedir();
  const config = options.sshConfigFile === false ? [] : await loadSshConfig(options.sshConfigFile ?? join(home, '.ssh', 'config'));
  const fromConfig = resolveSshConfig(config, host.address, { home });
  const explicitPort = host.vars.ansible_port !== undefined || host.port !== 22;
  const target: Endpoint = {
    host: fromConfig.hostName,
    port: explicitPort ? host.port : fromConfig.port ?? 22,
    user: host.user ?? fromConfig.user ?? userInfo().username,
    identityFiles: identityCandidates({
      inventoryKey: host.privateKeyFile, configured: [...(options.identityFiles ?? []), ...fromConfig.identityFiles], home,
    }),
  };
  const jumpSpec = typeof host.vars.jump === 'string' ? host.vars.jump : fromConfig.proxyJump;
  const jumps = jumpSpec ? parseJumps(host, jumpSpec).map((hop) => jumpEndpoint(hop, config, home, options)) : [];
  return [...jumps, target];
}

/** A malformed `jump` var is an inventory mistake, reported with the var's source, not a network failure. */
function parseJumps(host: InventoryHost, spec: string): ReturnType<typeof parseJumpSpec> {
  try {
    return parseJumpSpec(spec);
  } catch (error) {
    const source = host.varSources.jump ?? 'ProxyJump in the ssh config';
    throw new InventoryError(`host ${host.name}: ${(error as Error).message} (from ${source})`);
  }
}

function jumpEndpoint(hop: ReturnType<typeof parseJumpSpec>[number], config: SshConfigBlock[], home: string, options: RouteOptions): Endpoint {
  const fromConfig = resolveSshConfig(config, hop.host, { home });
  return {
    host: fromConfig.hostName,
    port: hop.port ?? fromConfig.port ?? 22,
    user: hop.user ?? fromConfig.user ?? userInfo().username,
    identityFiles: identityCandidates({ configured: [...(options.identityFiles ?? []), ...fromConfig.identityFiles], home }),
  };
}

