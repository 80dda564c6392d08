import { resolve } from 'node:path';
import { describeInventory, inventoryGraph, loadInventory } from '../inventory/index.ts';
import { selectHosts } from '../inventory/pattern.ts';
import type { InventoryHost } from '../inventory/types.ts';
import { MASK } from '../shell/command.ts';
import { maskSecretKeys } from '../state/runs.ts';
import { describeRoute, resolveRoutes, type Route } from '../transport/index.ts';
import { stateDirOf, type Io } from './options.ts';

export interface InventoryArgs {
  inventory: string;
  graph?: boolean;
  limit?: string;
  json?: boolean;
  stateDir?: string;
  /** `--ssh-config FILE` (`-F`): the routes shown are resolved with it instead of ~/.ssh/config. */
  sshConfig?: string;
}

/**
 * `runbook inventory INV [--graph] [--limit P] [--json] [-F FILE]`: validate and show hosts,
 * groups, merged vars and each host's resolved route (ssh config, jump hosts, proxy command);
 * passwords are masked. A connection setting runbook cannot honour fails it (exit 1).
 */
export async function inventoryCommand(args: InventoryArgs, io: Io): Promise<number> {
  const inventory = await loadInventory(args.inventory, { cwd: io.cwd, stateDir: stateDirOf(args, io.env, io.cwd) });
  const hosts = args.limit ? selectHosts(inventory, args.limit) : [...inventory.hosts.values()];
  const routes = await resolveRoutes(hosts, args.sshConfig ? { sshConfigFile: resolve(io.cwd, args.sshConfig) } : {});
  const summaries = new Map([...routes].map(([name, route]) => [name, route ? describeRoute(route.hops) : 'local']));
  if (args.graph) { io.stdout.write(inventoryGraph(inventory, 'all', summaries)); return 0; }
  if (args.json) {
    const shown = hosts.map((host) => ({ ...host, route: routeJson(host, routes.get(host.name) ?? null) }));
    io.stdout.write(`${pythonJson(maskSecretKeys({ source: inventory.source, hosts: shown }))}\n`);
    return 0;
  }
  if (args.limit) {
    for (const host of hosts) io.stdout.write(`${host.name}\n`);
    return 0;
  }
  io.stdout.write(describeInventory(inventory, summaries));
  return 0;
}

/** The route as data: `summary` as the text view shows it, then each hop (jump hosts first). */
function routeJson(host: InventoryHost, route: Route | null): unknown {
  if (!route) return { summary: 'local', hops: [] };
  return {
    summary: describeRoute(route.hops),
    hops: route.hops.map(({ password, ...hop }) => ({ ...hop, ...(password && { password: MASK }) })),
    ...(route.vars.becomeUser && host.become && { becomeUser: route.vars.becomeUser }),
  };
}

const NON_FINITE = '\u0000non-finite:';

/**
 * JSON as Ansible's `--list` writes it (Python's json.dumps): `.inf` and `.nan` vars print as bare
 * Infinity, -Infinity and NaN, where JSON.stringify would print null and lose them.
 */
function pythonJson(value: unknown): string {
  const text = JSON.stringify(value, (_key, item: unknown) => (typeof item === 'number' && !Number.isFinite(item) ? `${NON_FINITE}${item}` : item), 2);
  return text.replace(/"\\u0000non-finite:(-?Infinity|NaN)"/g, '$1');
}
