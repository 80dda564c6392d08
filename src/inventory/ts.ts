import { pathToFileURL } from 'node:url';
import { InventoryError } from '../errors.ts';
import { RawInventory } from './raw.ts';
import { addGroupTrees, isMapping, plainTree } from './tree.ts';
import type { InventoryInput } from './types.ts';

/**
 * A typed inventory: Ansible's YAML shape as a `.ts` file's default export.
 * @example export default defineInventory({ all: { children: { pool_a: { hosts: { 'xs-[01:02]': null } } } } });
 */
export function defineInventory<const T extends InventoryInput>(input: T): T {
  return input;
}

/** Imports a `.ts` inventory (the CLI runs under tsx) and reads its default export as a group tree. */
export async function loadTsInventory(absolutePath: string, file: string): Promise<RawInventory> {
  const input = await importDefault(absolutePath, file);
  if (!isMapping(input)) {
    throw new InventoryError('the default export must be defineInventory({ all: { … } }), a mapping of groups', file);
  }
  const inventory = new RawInventory(file);
  addGroupTrees(inventory, plainTree(input));
  return inventory;
}

async function importDefault(absolutePath: string, file: string): Promise<unknown> {
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(absolutePath).href)) as { default?: unknown };
  } catch (error) {
    throw new InventoryError(`cannot load: ${error instanceof Error ? error.message : String(error)}`, file);
  }
  if (module.default === undefined) throw new InventoryError('no default export (export default defineInventory({ … }))', file);
  return module.default;
}
