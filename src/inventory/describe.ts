import { MASK } from '../shell/command.ts';
import { isSecretKey } from '../state/runs.ts';
import type { Inventory, InventoryHost } from './types.ts';

/** Host name → its resolved route (`ops@10.0.0.9:22 via jump …`), from transport/ssh/route.ts. */
export type HostRoutes = ReadonlyMap<string, string>;

/**
 * The text `runbook inventory INV` prints (ending in a newline): every host with how it is reached, its groups and
 * each var with the place its winning value came from (passwords masked); then the groups; then any warnings.
 * With `routes`, each host shows its resolved route (ssh config, jump hosts, proxy command) instead of the bare address.
 * @example console.log(describeInventory(await loadInventory('prod')));
 */
export function describeInventory(inventory: Inventory, routes?: HostRoutes): string {
  const hostCount = `${inventory.hosts.size} host${inventory.hosts.size === 1 ? '' : 's'}`;
  const lines = [`inventory ${inventory.source}: ${hostCount}, ${inventory.groups.size} groups`, ''];
  for (const host of inventory.hosts.values()) lines.push(...describeHost(host, routes?.get(host.name)), '');
  lines.push('groups:');
  for (const group of inventory.groups.values()) {
    const facts = [
      `hosts: ${group.hosts.join(', ') || '-'}`,
      `children: ${group.children.join(', ') || '-'}`,
      ...(Object.keys(group.vars).length ? [`vars: ${Object.keys(group.vars).join(', ')}`] : []),
      ...(group.priority !== undefined && group.priority !== 1 ? [`priority: ${group.priority}`] : []),
    ];
    lines.push(`  ${group.name}  ${facts.join('  ')}`);
  }
  for (const warning of inventory.warnings ?? []) lines.push(`warning: ${warning}`);
  return `${lines.join('\n')}\n`;
}

function describeHost(host: InventoryHost, route?: string): string[] {
  const target = host.connection === 'local' ? 'local' : route ?? `${host.user ? `${host.user}@` : ''}${host.address}:${host.port}`;
  const flags = [host.connection, ...(host.become ? ['become'] : []), ...(host.privateKeyFile ? [`key ${host.privateKeyFile}`] : [])];
  const groups = host.groups.filter((group) => group !== 'all');
  const lines = [`${host.name}  ${target} (${flags.join(', ')})  groups: ${groups.join(', ') || '-'}`];
  const keys = Object.keys(host.vars).sort();
  const keyWidth = Math.max(0, ...keys.map((key) => key.length));
  const values = keys.map((key) => (isSecretKey(key) ? MASK : JSON.stringify(host.vars[key]) ?? 'undefined'));
  const valueWidth = Math.min(40, Math.max(0, ...values.map((value) => value.length)));
  keys.forEach((key, index) => {
    lines.push(`    ${key.padEnd(keyWidth)}  ${values[index].padEnd(valueWidth)}  ${host.varSources[key] ?? ''}`.trimEnd());
  });
  return lines;
}

/**
 * The tree `ansible-inventory --graph` prints, byte for byte (final newline included): `@all:`, `  |--@group:`, `  |  |--host`.
 * With `routes`, each host line ends with its route in parentheses (no longer Ansible's bytes).
 * @example console.log(inventoryGraph(inventory)); // @all:\n  |--@ungrouped:\n  |--@pool_a:\n  |  |--xs-01
 */
export function inventoryGraph(inventory: Inventory, group = 'all', routes?: HostRoutes): string {
  return `${graphLines(inventory, group, 0, routes).join('\n')}\n`;
}

function graphLines(inventory: Inventory, name: string, depth: number, routes?: HostRoutes): string[] {
  const group = inventory.groups.get(name);
  const lines = [graphName(`@${name}:`, depth)];
  for (const child of group?.children ?? []) lines.push(...graphLines(inventory, child, depth + 1, routes));
  // Ansible leaves out hosts listed directly under all: they show under ungrouped.
  if (name !== 'all') for (const host of group?.hosts ?? []) lines.push(graphName(routes?.has(host) ? `${host}  (${routes.get(host)})` : host, depth + 1));
  return lines;
}

function graphName(name: string, depth: number): string {
  return depth ? `${'  |'.repeat(depth)}--${name}` : name;
}
