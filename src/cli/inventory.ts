import { describeInventory, inventoryGraph, loadInventory } from '../inventory/index.ts';
import { selectHosts } from '../inventory/pattern.ts';
import { stateDirOf, type Io } from './options.ts';

/** `runbook inventory INV [--graph] [--limit P] [--json]`: validate and show hosts, groups and merged vars. */
export async function inventoryCommand(args: { inventory: string; graph?: boolean; limit?: string; json?: boolean; stateDir?: string }, io: Io): Promise<number> {
  const inventory = await loadInventory(args.inventory, { cwd: io.cwd, stateDir: stateDirOf(args, io.env, io.cwd) });
  if (args.graph) { io.stdout.write(inventoryGraph(inventory)); return 0; }
  if (args.json) {
    const hosts = args.limit ? selectHosts(inventory, args.limit) : [...inventory.hosts.values()];
    io.stdout.write(`${pythonJson({ source: inventory.source, hosts })}\n`);
    return 0;
  }
  if (args.limit) {
    for (const host of selectHosts(inventory, args.limit)) io.stdout.write(`${host.name}\n`);
    return 0;
  }
  io.stdout.write(describeInventory(inventory));
  return 0;
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
