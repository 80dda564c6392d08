import { InventoryError } from '../errors.ts';
import type { InventoryHost } from '../inventory/types.ts';
import { connectionVars } from './ansible-vars.ts';
import { LocalTransport } from './local.ts';
import { createSshTransport, type SshOptions } from './ssh/transport.ts';
import { resolveHostRoute, type Route } from './ssh/route.ts';
export { describeRoute, type Route } from './ssh/route.ts';
import type { Transport } from './types.ts';

export type { Transport, ExecOptions, ExecResult } from './types.ts';
export type { SshOptions } from './ssh/transport.ts';

/** Picks the transport an inventory host asks for (`ansible_connection`). */
export function transportFor(host: InventoryHost, ssh: SshOptions): Transport {
  return host.connection === 'local' ? new LocalTransport(host.name, { becomeUser: connectionVars(host).becomeUser }) : createSshTransport(host, ssh);
}

/**
 * Resolves every host's connection settings (ssh config, ansible_* vars) before any host is
 * touched; every setting runbook would not honour is reported at once, host, setting and file
 * named. Local hosts map to null.
 * @example const routes = await resolveRoutes(prepared.hosts, { sshConfigFile: '/etc/runbook/ssh_config' })
 */
export async function resolveRoutes(hosts: readonly InventoryHost[], ssh: SshOptions): Promise<Map<string, Route | null>> {
  const problems: string[] = [];
  const routes = new Map<string, Route | null>();
  await Promise.all(hosts.map(async (host) => {
    try {
      if (host.connection === 'local') { connectionVars(host); routes.set(host.name, null); } else routes.set(host.name, await resolveHostRoute(host, ssh));
    } catch (error) {
      if (!(error instanceof InventoryError)) throw error;
      if (!problems.includes(error.message)) problems.push(error.message);
    }
  }));
  if (problems.length > 0) throw new InventoryError(`connection settings runbook cannot honour (nothing was touched):\n  ${problems.join('\n  ')}`);
  return new Map(hosts.map((host) => [host.name, routes.get(host.name) ?? null]));
}

/** {@link resolveRoutes} for its refusals only: run before a run touches any host. */
export async function checkConnections(hosts: readonly InventoryHost[], ssh: SshOptions): Promise<void> {
  await resolveRoutes(hosts, ssh);
}
