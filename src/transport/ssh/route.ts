/**
 * Where a host's connection goes: the target and any jump hosts or proxy command before it, each
 * with its address, port, user, key files and host key policy, from the inventory first (its
 * ansible_* vars act as ssh's command line), then the ssh config, then OpenSSH's defaults. Pure
 * apart from reading config files, so precedence is unit-tested; every setting that would change
 * the connection is honoured or refused here, before any host is touched.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InventoryError } from '../../errors.ts';
import type { InventoryHost } from '../../inventory/types.ts';
import type { Secret } from '../../shell/command.ts';
import { connectionVars, type ConnectionVars } from '../ansible-vars.ts';
import { identityCandidates, localUserName } from './auth.ts';
import { isValidHostName, proxyCommandLine } from './proxy-command.ts';
import { loadSshConfig, parseJumpSpec, resolveSshConfig, type ConfigLine, type SshConfigHost } from './config.ts';

/** The options that shape a route (a subset of SshOptions). */
export interface RouteOptions {
  /** Home directory for `~/.ssh/config` and default keys. */
  home?: string;
  /** Default `~/.ssh/config`; `false` to ignore it. A file given here (`--ssh-config`) must exist. */
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
  /** The shell command whose stdin/stdout carry this hop (ProxyCommand, tokens expanded); only on the first hop. */
  proxyCommand?: string;
  /** UserKnownHostsFile (and GlobalKnownHostsFile) when the config sets them; else the defaults. */
  knownHostsFiles?: string[];
  /** From StrictHostKeyChecking: `accept-new` records an unknown key for this hop. */
  acceptNewHostKey?: boolean;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** IdentityAgent (a socket path, or false for `none`); IdentitiesOnly yes also leaves the agent out. */
  agent?: string | false;
  /** ansible_password, for the target only. */
  password?: Secret;
}

/** A host's whole connection: the hops, and what runs on the far side. */
export interface Route {
  hops: Endpoint[];
  vars: ConnectionVars;
}

/** `user@host:port`, as messages name a hop. */
export const describeEndpoint = (ep: Endpoint): string => `${ep.user}@${ep.host}:${ep.port}`;

/**
 * `ops@10.0.0.9:22 via jump@192.0.2.1:22` / `… via proxy command "nc …"`: a route in one line.
 * @example describeRoute(await resolveRoute(host, {})) // 'root@10.0.0.9:22'
 */
export function describeRoute(route: Endpoint[]): string {
  const target = route[route.length - 1];
  const first = route[0];
  const via = [
    ...(first.proxyCommand ? [`proxy command ${JSON.stringify(first.proxyCommand)}`] : []),
    ...route.slice(0, -1).map((hop) => `jump ${describeEndpoint(hop)}`),
  ];
  return `${describeEndpoint(target)}${via.length ? ` via ${via.join(', ')}` : ''}`;
}

/**
 * The hops to the host: jump hosts (inventory `jump` var, else ProxyJump) then the host itself.
 * The inventory's port and user win over the config's, as `ssh -p`/`-l` win over ssh_config.
 * @example await resolveRoute(host, { sshConfigFile: false }) // [{ host: '10.0.0.9', port: 22, user: 'root', identityFiles: […] }]
 */
export async function resolveRoute(host: InventoryHost, options: RouteOptions): Promise<Endpoint[]> {
  return (await resolveHostRoute(host, options)).hops;
}

/** The route with the host's connection vars; throws InventoryError for a setting runbook cannot honour. */
export async function resolveHostRoute(host: InventoryHost, options: RouteOptions): Promise<Route> {
  const home = options.home ?? homedir();
  const vars = connectionVars(host);
  const config = await configLines(vars, options, home);
  const inventoryLines = [...(host.vars.ansible_port !== undefined || host.port !== 22 ? [commandLineOption('Port', String(host.port))] : [])];
  const context = { home, hostLabel: host.name, user: host.user, commandLine: [...inventoryLines, ...vars.commandLine] };
  refuseShellSyntax(host, host.address, host.varSources.ansible_host ?? 'the inventory');
  const fromConfig = resolveSshConfig(config, host.address, context);
  const target: Endpoint = {
    ...hopSettings(host, fromConfig, home),
    port: fromConfig.port ?? 22,
    user: host.user ?? fromConfig.user ?? localUserName(),
    identityFiles: identityCandidates({
      inventoryKey: host.privateKeyFile, configured: [...(options.identityFiles ?? []), ...fromConfig.identityFiles], home,
    }),
    ...(vars.password && { password: vars.password }),
    ...(vars.connectTimeoutS !== undefined && { connectTimeoutMs: vars.connectTimeoutS * 1000 }),
  };
  const jumpSpec = typeof host.vars.jump === 'string' ? host.vars.jump : fromConfig.proxyJump;
  const jumps = jumpSpec ? parseJumps(host, jumpSpec).map((hop) => jumpEndpoint(host, hop, config, home, options)) : [];
  const firstAlias = jumpSpec ? parseJumps(host, jumpSpec)[0]?.host ?? host.address : host.address;
  return { hops: withProxyCommand(host, [...jumps, target], firstAlias), vars };
}

/** Only the first hop's ProxyCommand is used, tokens expanded: later hops are reached through the one before (as with ssh -J). */
function withProxyCommand(host: InventoryHost, hops: Endpoint[], firstAlias: string): Endpoint[] {
  const first = hops[0];
  const proxy = first.proxyCommand;
  for (const hop of hops) delete hop.proxyCommand;
  if (proxy) {
    first.proxyCommand = proxyCommandLine(proxy, { host: first.host, port: first.port, user: first.user, alias: firstAlias }, (message) =>
      new InventoryError(`host ${host.name}: ProxyCommand ${JSON.stringify(proxy)}: ${message}`));
  }
  return hops;
}

const commandLineOption = (keyword: string, value: string): ConfigLine => ({ keyword: keyword.toLowerCase(), spelled: keyword, args: [value], rest: value, file: 'the inventory', line: 0 });

/** The config files for a host: `-F` in its ssh args, else --ssh-config, else ~/.ssh/config. */
async function configLines(vars: ConnectionVars, options: RouteOptions, home: string): Promise<ConfigLine[]> {
  if (vars.configFile) return loadSshConfig(expandHome(vars.configFile, home), true);
  if (options.sshConfigFile === false) return [];
  return options.sshConfigFile ? loadSshConfig(options.sshConfigFile, true) : loadSshConfig(join(home, '.ssh', 'config'));
}

const expandHome = (path: string, home: string): string => (path.startsWith('~/') ? join(home, path.slice(2)) : path);

/** Host key policy, timeouts and agent for one hop, as its config block says. */
function hopSettings(host: InventoryHost, fromConfig: SshConfigHost, home: string): Omit<Endpoint, 'port' | 'user' | 'identityFiles'> {
  const knownHostsFiles = fromConfig.userKnownHostsFiles || fromConfig.globalKnownHostsFiles
    ? [...(fromConfig.userKnownHostsFiles ?? [join(home, '.ssh', 'known_hosts'), join(home, '.ssh', 'known_hosts2')]),
      ...(fromConfig.globalKnownHostsFiles ?? ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'])]
    : undefined;
  if (fromConfig.strictHostKeyChecking === 'no') {
    throw new InventoryError(`host ${host.name}: StrictHostKeyChecking no (${fromConfig.sources.stricthostkeychecking}) would connect to an unverified host key, ` +
      'which runbook never does; use StrictHostKeyChecking accept-new or --accept-new-host-keys to record unknown keys (a changed key is still refused)');
  }
  const agent = fromConfig.identitiesOnly ? false
    : fromConfig.identityAgent === undefined ? undefined
      : fromConfig.identityAgent.toLowerCase() === 'none' ? false
        : fromConfig.identityAgent === 'SSH_AUTH_SOCK' ? undefined : fromConfig.identityAgent;
  return {
    host: fromConfig.hostName,
    ...(fromConfig.proxyCommand && { proxyCommand: fromConfig.proxyCommand }),
    ...(knownHostsFiles && { knownHostsFiles }),
    ...(fromConfig.strictHostKeyChecking === 'accept-new' && { acceptNewHostKey: true }),
    ...(fromConfig.connectTimeoutS && { connectTimeoutMs: fromConfig.connectTimeoutS * 1000 }),
    ...(fromConfig.serverAliveIntervalS && { keepaliveIntervalMs: fromConfig.serverAliveIntervalS * 1000 }),
    ...(fromConfig.serverAliveCountMax && { keepaliveCountMax: fromConfig.serverAliveCountMax }),
    ...(agent !== undefined && { agent }),
  };
}

/** As `ssh` refuses a host name with shell syntax ("hostname contains invalid characters"): it may reach a ProxyCommand's %h. */
function refuseShellSyntax(host: InventoryHost, name: string, source: string): void {
  if (!isValidHostName(name)) {
    throw new InventoryError(`host ${host.name}: host name ${JSON.stringify(name)} contains characters a shell would interpret, which ssh refuses too (from ${source})`);
  }
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

function jumpEndpoint(host: InventoryHost, hop: ReturnType<typeof parseJumpSpec>[number], config: ConfigLine[], home: string, options: RouteOptions): Endpoint {
  refuseShellSyntax(host, hop.host, host.varSources.jump ?? 'ProxyJump in the ssh config');
  const fromConfig = resolveSshConfig(config, hop.host, { home, hostLabel: `${host.name} (jump host ${hop.host})`, user: hop.user });
  return {
    ...hopSettings(host, fromConfig, home),
    port: hop.port ?? fromConfig.port ?? 22,
    user: hop.user ?? fromConfig.user ?? localUserName(),
    identityFiles: identityCandidates({ configured: [...(options.identityFiles ?? []), ...fromConfig.identityFiles], home }),
  };
}
