import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InventoryError } from '../../src/errors.ts';
import { defineInventory, describeInventory, inventoryGraph, loadInventory } from '../../src/inventory/index.ts';

const indexModule = resolve(import.meta.dirname, '../../src/inventory/index.ts');
const fixtures = resolve(import.meta.dirname, '../fixtures/inventory');
let cwd: string;

async function write(path: string, text: string): Promise<void> {
  await mkdir(join(cwd, path, '..'), { recursive: true });
  await writeFile(join(cwd, path), text);
}

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'runbook-inventory-'));
  await write('inventory/lab.yaml', 'all:\n  vars:\n    site: lab\n  hosts:\n    xs-01:\n      ansible_port: 2201\n');
  await write('inventory/lab.ini', '[from_ini]\nxs-09\n');
  await write('inventory/old.ini', 'xs-01 ansible_connection=local\n[pool_a]\nxs-01\n');
  await write('hosts-yaml', 'web:\n  hosts:\n    web-01:\n');
  await write(
    'inventory/typed.ts',
    [
      `import { defineInventory } from ${JSON.stringify(indexModule)};`,
      'export default defineInventory({',
      "  all: { vars: { site: 'ts' }, children: { pool_a: { hosts: { 'xs-[01:02]': { ansible_connection: 'local' } }, vars: { pool_master: 'xs-01' } } } },",
      '});',
    ].join('\n'),
  );
  await write('inventory/nodefault.ts', 'export const x = 1;\n');
});

afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

describe('loadInventory', () => {
  it('finds a name as inventory/NAME.{ts,yaml,yml,ini}, in that order', async () => {
    const inventory = await loadInventory('lab', { cwd });
    expect(inventory.source).toBe(join(cwd, 'inventory/lab.yaml'));
    expect(inventory.hosts.get('xs-01')).toMatchObject({ port: 2201, vars: { site: 'lab' } });
    expect(inventory.hosts.get('xs-01')!.varSources).toEqual({
      site: 'inventory/lab.yaml:3 (group all)',
      ansible_port: 'inventory/lab.yaml:6 (host xs-01)',
    });
  });

  it('takes a path, relative to cwd or absolute', async () => {
    expect((await loadInventory('inventory/old.ini', { cwd })).hosts.get('xs-01')!.connection).toBe('local');
    expect((await loadInventory(join(cwd, 'inventory/lab.ini'), { cwd })).groups.has('from_ini')).toBe(true);
  });

  it('sniffs a file without an extension as YAML when it is a YAML mapping', async () => {
    expect((await loadInventory('hosts-yaml', { cwd })).groups.get('web')!.hosts).toEqual(['web-01']);
  });

  it('loads a typed .ts inventory through defineInventory', async () => {
    const inventory = await loadInventory('typed', { cwd });
    expect([...inventory.hosts.keys()]).toEqual(['xs-01', 'xs-02']);
    expect(inventory.hosts.get('xs-02')).toMatchObject({
      connection: 'local',
      groups: ['all', 'pool_a'],
      vars: { site: 'ts', pool_master: 'xs-01', ansible_connection: 'local' },
      varSources: { site: 'inventory/typed.ts (group all)', pool_master: 'inventory/typed.ts (group pool_a)' },
    });
  });

  it('says what it tried when nothing is there', async () => {
    const error = await loadInventory('prod', { cwd }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InventoryError);
    expect((error as Error).message).toBe(
      ["inventory 'prod' not found; tried:", '  inventory/prod.ts', '  inventory/prod.yaml', '  inventory/prod.yml', '  inventory/prod.ini', '  prod'].join('\n'),
    );
  });

  it('says how to start from a shipped example when NAME is missing but NAME.example.yaml is there', async () => {
    await write('inventory/site.example.yaml', 'all:\n  hosts:\n    h1:\n');
    const error = await loadInventory('site', { cwd }).catch((caught: unknown) => caught);
    expect((error as Error).message).toMatch(/^inventory 'site' not found; tried:\n/);
    expect((error as Error).message).toContain(
      '\ninventory/site.example.yaml is an example of that inventory: cp inventory/site.example.yaml inventory/site.yaml and put your own hosts in it',
    );
  });

  it("takes 'lab' as the inventory `runbook lab up` wrote into the state folder, else inventory/lab.yaml", async () => {
    const stateDir = join(cwd, 'elsewhere/state');
    expect((await loadInventory('lab', { cwd, stateDir })).source).toBe(join(cwd, 'inventory/lab.yaml'));
    await write('elsewhere/state/lab/inventory.yaml', 'all:\n  hosts:\n    xs-01:\n      ansible_port: 40001\n');
    const running = await loadInventory('lab', { cwd, stateDir });
    expect(running.source).toBe(join(stateDir, 'lab/inventory.yaml'));
    expect(running.hosts.get('xs-01')!.port).toBe(40001);
    // Only the name `lab` means the running lab; a path is a path.
    expect((await loadInventory('inventory/lab.yaml', { cwd, stateDir })).source).toBe(join(cwd, 'inventory/lab.yaml'));
  });

  it('refuses a .ts inventory without a default export', async () => {
    await expect(loadInventory('nodefault', { cwd })).rejects.toThrow('inventory/nodefault.ts: no default export');
  });

  it('reads group_vars/ and host_vars/ beside the file, naming the vars file as the source', async () => {
    const inventory = await loadInventory('varsdirs/site.ini', { cwd: fixtures });
    expect(inventory.hosts.get('xs-03')!.varSources).toMatchObject({
      level: 'varsdirs/group_vars/all.yml:2 (group all)',
      pool_b_noext: 'varsdirs/group_vars/pool_b:1 (group pool_b)',
      from_file: 'varsdirs/site.ini:16 (group pools)',
    });
    expect(inventory.hosts.get('xs-02')).toMatchObject({ port: 2202, varSources: { ansible_port: 'varsdirs/host_vars/xs-02.json:1 (host xs-02)' } });
    expect(inventory.groups.get('pool_a')!.vars).toEqual({ level: 'pool_a-dir-10', portals: ['198.51.100.11'], from_json: 1 });
  });

  it('refuses a vars file that is not a mapping, naming it', async () => {
    await write('broken/inv.ini', '[web]\nweb-01\n');
    await write('broken/group_vars/web.yml', '# a list is no vars file\n- a\n');
    await expect(loadInventory('broken/inv.ini', { cwd })).rejects.toThrow('broken/group_vars/web.yml:2: vars file must be a mapping');
  });

  it.each([
    ['nul.yaml', 'all:\n  vars:\n    motd: ok\n  hosts:\n    xs-01:\n      marker: "/tmp/a\\0b"\n', 'host xs-01: var "marker"', 'nul.yaml:6 (host xs-01)'],
    ['nul.ini', '[pool]\nxs-01\n[pool:vars]\nsite=lab\nportals=["10.0.0.1", "\\x00"]\n', 'host xs-01: var "portals"', 'nul.ini:5 (group pool)'],
  ])('refuses a NUL byte in a var of %s, naming host, var, file and line', async (name, text, what, where) => {
    await write(name, text);
    const error = await loadInventory(name, { cwd }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InventoryError);
    expect((error as Error).message).toContain(what);
    expect((error as Error).message).toContain(`holds a NUL byte, which no command, path or file can carry (from ${where})`);
  });

  it('reads the shipped example estate', async () => {
    const inventory = await loadInventory('prod.example', { cwd: resolve(import.meta.dirname, '../..') });
    expect(inventory.hosts.get('xs-b02')).toMatchObject({
      address: '192.0.2.22',
      user: 'root',
      groups: ['all', 'xenservers', 'pool_b'],
      vars: { xen_pool: 'pool_b', pool_master: 'xs-b01', multipath_policy: 'failover', iscsi_portals: ['198.51.100.138', '203.0.113.138'] },
    });
    expect(inventory.hosts.get('xenapp-01')).toMatchObject({ user: 'Administrator', become: false, vars: { ansible_shell_type: 'cmd' } });
  });
});

describe('defineInventory', () => {
  it('returns its input, typed', () => {
    const input = defineInventory({ all: { hosts: { 'xs-01': { ansible_host: '192.0.2.1' } } } });
    expect(input.all.hosts['xs-01'].ansible_host).toBe('192.0.2.1');
    // @ts-expect-error hosts is a mapping of host pattern to vars, not a list
    defineInventory({ all: { hosts: ['xs-01'] } });
  });
});

describe('describeInventory and inventoryGraph', () => {
  it('prints each host, how it is reached, and where each var came from', async () => {
    const text = describeInventory(await loadInventory('lab', { cwd }));
    expect(text).toContain(`inventory ${join(cwd, 'inventory/lab.yaml')}: 1 host, 2 groups`);
    expect(text).toContain('xs-01  xs-01:2201 (ssh)  groups: ungrouped');
    expect(text).toMatch(/ {4}ansible_port {2}2201 +inventory\/lab\.yaml:6 \(host xs-01\)/);
    expect(text).toContain('  ungrouped  hosts: xs-01  children: -');
  });

  it('draws the tree as ansible-inventory --graph does', async () => {
    expect(inventoryGraph(await loadInventory('inventory/old.ini', { cwd }))).toBe(
      '@all:\n  |--@ungrouped:\n  |--@pool_a:\n  |  |--xs-01\n',
    );
  });
});
