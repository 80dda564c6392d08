import { describeInventory, inventoryGraph, loadInventory } from '../inventory/index.ts';
import { selectHosts } from '../inventory/pattern.ts';
import { stateDirOf, type Io } from './options.ts';

/** `runbook inventory INV [--graph] [--limit P] [--json]`: validate and show hosts, groups and merged vars. */
export async function inventoryCommand(args: { inventory: string; graph?: boolean; limit?: string; json?: boolean; stateDir?: string }, io: Io): Promise<number> {
  const inventory = await loadInventory(args.inventory, { cwd: io.cwd, stateDir: stateDirOf(args, io.env, io.cwd) });
  if (args.graph) { io.stdout.write(inventoryGraph(inventory)); return 0; }
  if (args.json) {
    const hosts = args.limit ? selectHosts(inventory, args.limit) : [...inventory.hosts.values()];
    io.stdout.write(`${JSON.stringify({ source: inventory.source, hosts }, null, 2)}\n`);
    return 0;
  }
  if (args.limit) {
    for (const host of selectHosts(inventory, args.limit)) io.stdout.write(`${host.name}\n`);
    return 0;
  }
  io.stdout.write(describeInventory(inventory));
  return 0;
}
