/** Types of seed.mjs (the lab's XenServer estate), for TypeScript callers. */
export interface InventoryHost {
  name: string;
  role: string;
  vars?: Record<string, unknown>;
}
/** Creates pools/<poolName>.json and each XenServer host's local state; returns the pool db. */
export function seedPool(labRoot: string, poolName: string, hosts: InventoryHost[]): Record<string, any>;
/** A fresh XenServer install on `labHost`: standalone pool, no bond, no iSCSI config; the new host uuid. */
export function reinstallHost(labRoot: string, labHost: string): string;
