import { homedir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { InventoryError } from '../../src/errors.ts';
import { parseIni } from '../../src/inventory/ini.ts';
import { isTruthy, resolveInventory } from '../../src/inventory/merge.ts';
import { parseYamlInventory } from '../../src/inventory/yaml.ts';

const resolveIni = (text: string) => resolveInventory(parseIni(text, 'inventory/t.ini'), { source: '/srv/inventory/t.ini', baseDir: '/srv/inventory' });

describe('var precedence is Ansible’s: all < parent < child < host; same depth by priority, then name', () => {
  const inventory = resolveIni(
    [
      '[parent:children]', // 1
      'child', // 2
      '[child]', // 3
      'deep-host', // 4
      'host-wins level=host', // 5
      '[zeta]', // 6
      'deep-host', // 7
      'twin', // 8
      '[alpha]', // 9
      'prio', // 10
      '[beta]', // 11
      'prio', // 12
      'twin', // 13
      '[all:vars]', // 14
      'level=all', // 15
      'only_all=1', // 16
      '[parent:vars]', // 17
      'level=parent', // 18
      '[child:vars]', // 19
      'level=child', // 20
      '[zeta:vars]', // 21
      'level=zeta', // 22
      '[alpha:vars]', // 23
      'level=alpha', // 24
      'ansible_group_priority=3', // 25
      '[beta:vars]', // 26
      'level=beta', // 27
    ].join('\n'),
  );
  const level = (host: string) => [inventory.hosts.get(host)!.vars.level, inventory.hosts.get(host)!.varSources.level];

  it.each([
    // child (depth 2) beats zeta (depth 1) although zeta sorts later by name
    ['deep-host', 'child', 'inventory/t.ini:20 (group child)'],
    ['host-wins', 'host', 'inventory/t.ini:5 (host host-wins)'],
    // beta and zeta at one depth, equal priority: zeta sorts later and wins
    ['twin', 'zeta', 'inventory/t.ini:22 (group zeta)'],
    // alpha has ansible_group_priority=3 over beta's default 1
    ['prio', 'alpha', 'inventory/t.ini:24 (group alpha)'],
  ])('%s gets level=%s from %s', (host, value, source) => {
    expect(level(host)).toEqual([value, source]);
  });

  it('gives every host the all group’s vars, sourced to all', () => {
    expect(inventory.hosts.get('twin')!.varSources.only_all).toBe('inventory/t.ini:16 (group all)');
  });

  it('lists a host’s groups with ancestors, all first, in inventory order', () => {
    expect(inventory.hosts.get('deep-host')!.groups).toEqual(['all', 'parent', 'child', 'zeta']);
  });

  it('keeps ansible_group_priority out of vars and on the group', () => {
    expect(inventory.groups.get('alpha')).toMatchObject({ priority: 3, vars: { level: 'alpha' } });
  });
});

describe('connection fields come from ansible_* vars', () => {
  const inventory = resolveIni(
    [
      'plain',
      'local-1 ansible_connection=local',
      'full ansible_host=192.0.2.7 ansible_port=2201 ansible_user=root ansible_become=True ansible_ssh_private_key_file=~/.ssh/id_xs',
      'relkey ansible_private_key_file=keys/lab ansible_connection=paramiko ansible_become=yes',
      'legacy ansible_ssh_host=192.0.2.8 ansible_host=192.0.2.9 ansible_ssh_port=2202 ansible_ssh_user=admin ansible_become=no',
    ].join('\n'),
  );

  it.each([
    ['plain', { address: 'plain', port: 22, connection: 'ssh', become: false }],
    ['local-1', { address: 'local-1', connection: 'local' }],
    ['full', { address: '192.0.2.7', port: 2201, user: 'root', become: true, privateKeyFile: `${homedir()}/.ssh/id_xs` }],
    ['relkey', { connection: 'ssh', become: true, privateKeyFile: '/srv/inventory/keys/lab' }],
    ['legacy', { address: '192.0.2.8', port: 2202, user: 'admin', become: false }],
  ])('%s', (name, expected) => {
    expect(inventory.hosts.get(name)).toMatchObject(expected);
  });

  it.each([
    [true, true], ['yes', true], ['True', true], ['on', true], ['1', true], [1, true], ['t', true],
    [false, false], ['no', false], ['false', false], [0, false], ['maybe', false], [undefined, false],
  ])('ansible_become=%j is %s', (value, expected) => {
    expect(isTruthy(value)).toBe(expected);
  });

  it('refuses a connection it cannot make, naming host and source', () => {
    expect(() => resolveIni('[win]\nxa-01 ansible_connection=winrm')).toThrow(
      "host xa-01: ansible_connection 'winrm' is not supported (ssh or local) (from inventory/t.ini:2 (host xa-01))",
    );
  });

  it('refuses a templated connection var rather than connecting to the template', () => {
    expect(() => resolveIni('h ansible_host="{{ inventory_hostname }}.example.org"')).toThrow(
      'host h: ansible_host is a Jinja template ({{ inventory_hostname }}.example.org), which runbook does not render (from inventory/t.ini:1 (host h))',
    );
  });

  it('refuses a port that is not a number', () => {
    expect(() => resolveIni('h ansible_port=ssh')).toThrow(InventoryError);
    expect(() => resolveIni('h ansible_port=ssh')).toThrow('ansible_port must be a port number, got "ssh" (from inventory/t.ini:1 (host h))');
  });
});

describe('groups and hosts as Ansible reconciles them', () => {
  const inventory = resolveInventory(
    parseYamlInventory(
      'all:\n  hosts:\n    loose:\n  children:\n    a:\n      hosts: { both: , only-a: }\n    b:\n      hosts: { both: }\nungrouped:\n  hosts: { both: }\n',
      'x.yaml',
    ),
    { source: '/x.yaml', baseDir: '/' },
  );

  it('merges a host listed in several groups once', () => {
    expect([...inventory.hosts.keys()]).toEqual(['loose', 'both', 'only-a']);
    expect(inventory.hosts.get('both')!.groups).toEqual(['all', 'a', 'b']);
  });

  it('puts hosts in no group under ungrouped, and takes grouped ones out of it', () => {
    expect(inventory.groups.get('ungrouped')!.hosts).toEqual(['loose']);
    expect(inventory.groups.get('all')!.children).toEqual(['ungrouped', 'a', 'b']);
  });
});
