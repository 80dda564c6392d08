/** Inventories as Ansible reads them (INI, YAML) and typed `.ts` ones, merged by Ansible's rules. */
export type { Inventory, InventoryGroup, InventoryGroupInput, InventoryHost, InventoryInput } from './types.ts';
export { loadInventory } from './load.ts';
export { describeInventory, inventoryGraph } from './describe.ts';
export { selectHosts, hostsOfGroup } from './pattern.ts';
export { defineInventory } from './ts.ts';
export { parseIni } from './ini.ts';
export { parseYamlInventory } from './yaml.ts';
export { resolveInventory } from './merge.ts';
export type { ResolveOptions } from './merge.ts';
export { expandHostPattern } from './ranges.ts';
export { RawInventory } from './raw.ts';
