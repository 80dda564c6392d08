import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InventoryError } from '../../src/errors.ts';
import { inventoryGraph, loadInventory, selectHosts } from '../../src/inventory/index.ts';
import type { Inventory } from '../../src/inventory/index.ts';
import { ansibleGraph, ansibleList, ansibleListHosts, ansibleUnparsable, hasAnsible } from './oracle.ts';
import type { AnsibleList } from './oracle.ts';

/**
 * Differential tests: the same fixture read by runbook and by the real `ansible-inventory` must
 * give the same hosts, groups (direct hosts and children, in order), merged hostvars and graph;
 * and `ansible PATTERN --list-hosts` the same hosts as selectHosts.
 */
const fixtures = resolve(import.meta.dirname, '../fixtures/inventory');
const FIXTURES = ['estate.ini', 'estate.yaml', 'edges.ini', 'hosts', 'varsdirs/site.ini', 'typing.yaml', '../../../inventory/prod.example.yaml'];
/** --graph is one more Ansible call per file; these cover INI, YAML and the shipped example. */
const GRAPHED = new Set(['estate.ini', 'estate.yaml', '../../../inventory/prod.example.yaml']);
const ansible = hasAnsible();
if (!ansible) console.warn('SKIPPED differential inventory tests: ansible-inventory / ansible-playbook not on PATH (apt-get install ansible-core)');

/** Ansible drops empty groups and empty host/children lists from --list; so do we, to compare. */
function ourGroups(inventory: Inventory): Record<string, { hosts?: string[]; children?: string[] }> {
  const groups: Record<string, { hosts?: string[]; children?: string[] }> = {};
  for (const group of inventory.groups.values()) {
    const entry = {
      ...(group.name !== 'all' && group.hosts.length ? { hosts: group.hosts } : {}),
      ...(group.children.length ? { children: group.children } : {}),
    };
    if (Object.keys(entry).length) groups[group.name] = entry;
  }
  return groups;
}

function theirGroups(list: AnsibleList): Record<string, unknown> {
  return Object.fromEntries(Object.entries(list).filter(([name]) => name !== '_meta'));
}

function theirHosts(list: AnsibleList): string[] {
  const groups = Object.values(theirGroups(list)) as { hosts?: string[] }[];
  return [...new Set(groups.flatMap((group) => group.hosts ?? []))].sort();
}

describe.skipIf(!ansible)('inventories read as ansible-inventory reads them', () => {
  const oracle = new Map<string, { list: AnsibleList; graph?: string }>();
  beforeAll(async () => {
    await Promise.all(
      FIXTURES.map(async (name) => {
        const file = resolve(fixtures, name);
        const [list, graph] = await Promise.all([ansibleList(file), GRAPHED.has(name) ? ansibleGraph(file) : undefined]);
        oracle.set(name, { list, graph });
      }),
    );
  }, 30_000);

  describe.each(FIXTURES)('%s', (name) => {
    let inventory: Inventory;
    beforeAll(async () => {
      inventory = await loadInventory(resolve(fixtures, name));
    });

    it('has the same hosts', () => {
      expect([...inventory.hosts.keys()].sort()).toEqual(theirHosts(oracle.get(name)!.list));
    });

    it('has the same groups, with their direct hosts and children in order', () => {
      expect(ourGroups(inventory)).toEqual(theirGroups(oracle.get(name)!.list));
    });

    it('merges every host var to the same value', () => {
      const hostvars = oracle.get(name)!.list._meta.hostvars;
      for (const host of inventory.hosts.values()) {
        expect({ host: host.name, vars: host.vars }).toEqual({ host: host.name, vars: hostvars[host.name] ?? {} });
      }
    });

    if (GRAPHED.has(name)) {
      it('prints the same --graph', () => {
        expect(inventoryGraph(inventory)).toBe(oracle.get(name)!.graph);
      });
    }
  });
});

const PATTERNS: [file: string, pattern: string][] = [
  ['estate.ini', 'all'],
  ['estate.ini', '*'],
  ['estate.ini', 'xenserver'],
  ['estate.ini', 'xs-0*'],
  ['estate.ini', 'pool_a:!xs-03'],
  ['estate.ini', 'pools:&storage'],
  ['estate.ini', 'pool_b,storage:!backup:&pools'],
  ['estate.ini', '~(xs|db)-0?[1-3a]$'],
  ['estate.ini', '!pools'],
  ['estate.ini', 'pool_a[1:2],db-[a:b]'],
  ['estate.ini', 'ungrouped:legacy'],
  ['estate.ini', 'pool_b[-1]:storage[1:]'],
  ['estate.ini', 'xs-0[!13]'],
  // `[1-4]` after a name is a subscript to Ansible, not a glob class: it matches nothing here.
  ['estate.ini', 'xs-0[1-4]'],
  ['estate.yaml', 'xs-0?:&storage'],
  ['estate.ini', 'nosuch*,pool_c'],
  ['estate.yaml', 'guests,*-01:!jump*'],
  ['estate.yaml', 'all:!xenserver:!local*'],
  // Ansible keeps a pattern whole when it starts like an IPv6 address (a scoped one included).
  ['typing.yaml', 'fe80::1%eth0'],
  ['typing.yaml', 'fe80::2'],
  ['typing.yaml', 'fe80*'],
  ['typing.yaml', 'fe80::1%eth0,typed-01'],
  ['../../../inventory/prod.example.yaml', 'pool_a:!xs-a03'],
  ['../../../inventory/prod.example.yaml', 'xenservers:&*-b0*,windows'],
  ['../../../inventory/prod.example.yaml', 'all:!windows'],
];

describe.skipIf(!ansible)('host patterns select what Ansible selects', () => {
  const expected = new Map<string, string[]>();
  beforeAll(async () => {
    const files = [...new Set(PATTERNS.map(([file]) => file))];
    await Promise.all(
      files.map(async (file) => {
        const patterns = PATTERNS.filter(([candidate]) => candidate === file).map(([, pattern]) => pattern);
        const results = await ansibleListHosts(resolve(fixtures, file), patterns);
        patterns.forEach((pattern, index) => expected.set(`${file} ${pattern}`, results[index]));
      }),
    );
  }, 30_000);

  it.each(PATTERNS)('%s: %s', async (file, pattern) => {
    const inventory = await loadInventory(resolve(fixtures, file));
    const theirs = expected.get(`${file} ${pattern}`)!;
    if (theirs.length === 0) {
      expect(() => selectHosts(inventory, pattern)).toThrow(`no hosts match the pattern '${pattern}'`);
      return;
    }
    const ours = selectHosts(inventory, pattern).map((host) => host.name);
    // Ansible lists in the order the pattern's parts produced them; we list in inventory order.
    expect([...ours].sort()).toEqual([...theirs].sort());
  });
});

/** Malformed files: Ansible refuses each; we refuse each too, and say which line. */
const MALFORMED: [name: string, text: string, line: number][] = [
  ['section.ini', '[web:kids]\n', 1],
  ['assignment.ini', '[web]\nh1 novalue\n', 2],
  ['cycle.ini', '[a]\n[b]\n[a:children]\nb\n[b:children]\na\n', 6],
  ['list.yaml', 'all:\n  hosts:\n    - a\n', 2],
  ['syntax.yaml', 'all:\n  hosts:\n    a: b: c\n', 3],
];

describe.skipIf(!ansible)('malformed inventories are refused by both', () => {
  let folder: string;
  let refused: Set<string>;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'runbook-malformed-'));
    await Promise.all(MALFORMED.map(([name, text]) => writeFile(join(folder, name), text)));
    refused = await ansibleUnparsable(MALFORMED.map(([name]) => join(folder, name)));
  }, 30_000);
  afterAll(() => rm(folder, { recursive: true, force: true }));

  it.each(MALFORMED)('%s', async (name, _text, line) => {
    expect(refused.has(join(folder, name))).toBe(true);
    await expect(loadInventory(join(folder, name))).rejects.toSatisfy(
      (error) => error instanceof InventoryError && error.line === line && error.file === join(folder, name),
    );
  });
});
