/**
 * The inventory as the engine sees it, whatever file format it came from (INI, YAML, .ts).
 * Vars are merged with Ansible's precedence: all < parent group < child group < host.
 */
export interface InventoryHost {
  name: string;
  /** `ansible_host`, else the name. */
  address: string;
  /** `ansible_port`, else 22. */
  port: number;
  /** `ansible_user`. */
  user?: string;
  /** `ansible_connection=local` → 'local'; anything ssh-like → 'ssh'. */
  connection: 'ssh' | 'local';
  /** `ansible_become`. */
  become: boolean;
  /** `ansible_ssh_private_key_file` (tilde expanded, relative to the inventory file). */
  privateKeyFile?: string;
  /** Every group the host is in, ancestors included, "all" first, in inventory order. */
  groups: string[];
  /** Merged vars, ansible_* vars included. */
  vars: Record<string, unknown>;
  /** Where each var's winning value came from: "inventory/lab.yaml:12 (group pool-a)". */
  varSources: Record<string, string>;
}

export interface InventoryGroup {
  name: string;
  /** Hosts listed directly in this group. */
  hosts: string[];
  children: string[];
  vars: Record<string, unknown>;
  /** `ansible_group_priority` (default 1): among groups at one depth, higher merges later and wins. */
  priority?: number;
}

export interface Inventory {
  /** The file it was read from (absolute path). */
  source: string;
  /** In inventory order. */
  hosts: Map<string, InventoryHost>;
  groups: Map<string, InventoryGroup>;
  /** What Ansible would warn about and skip while reading (an unknown key in a YAML group, …). */
  warnings?: string[];
}

/** What a `.ts` inventory's `defineInventory()` takes: Ansible's YAML shape, typed. */
export interface InventoryGroupInput {
  hosts?: Record<string, Record<string, unknown> | null>;
  vars?: Record<string, unknown>;
  children?: Record<string, InventoryGroupInput | null>;
}
export type InventoryInput = Record<string, InventoryGroupInput>;
