import { describe, expect, it } from 'vitest';
import { InventoryError } from '../../src/errors.ts';
import { parseYamlInventory } from '../../src/inventory/yaml.ts';

describe('YAML inventories', () => {
  it('reads nested groups, ranges and vars with the line of every key', () => {
    const raw = parseYamlInventory(
      ['all:', '  children:', '    pool_a:', '      hosts:', '        xs-[01:02]:', '          iscsi_portals: [198.51.100.10]', '      vars:', '        pool_master: xs-01'].join('\n'),
      'inventory/lab.yaml',
    );
    expect([...raw.hosts.keys()]).toEqual(['xs-01', 'xs-02']);
    expect(raw.groups.get('all')!.children).toEqual(['ungrouped', 'pool_a']);
    expect(raw.hosts.get('xs-02')!.vars.get('iscsi_portals')).toEqual({ value: ['198.51.100.10'], line: 6 });
    expect(raw.groups.get('pool_a')!.vars.get('pool_master')).toEqual({ value: 'xs-01', line: 8 });
  });

  it('reads scalars as YAML 1.1 (PyYAML) does: yes/no/on are booleans, 0755 is octal, dates stay text', () => {
    const raw = parseYamlInventory('all:\n  vars:\n    a: yes\n    b: off\n    c: 0755\n    d: 2012-06-30\n    e: "yes"\n', 'x.yaml');
    const vars = Object.fromEntries([...raw.groups.get('all')!.vars].map(([key, { value }]) => [key, value]));
    expect(vars).toEqual({ a: true, b: false, c: 493, d: '2012-06-30', e: 'yes' });
  });

  // What ansible-inventory --list prints for each (PyYAML 6 under ansible-core 2.14); the differential test re-asks Ansible.
  it.each([
    ['[x, y]', ['x', 'y']],
    ['1e3', '1e3'],
    ['6e23', '6e23'],
    ['1.0e3', '1.0e3'],
    ['1.5e+3', 1500],
    ['0089', '0089'],
    ['+.5', '+.5'],
    ['.5', 0.5],
    ['09.5', 9.5],
    ['0o17', '0o17'],
    ['1:20', 80],
    ['2001-12-14t21:59:43.10-05:00', '2001-12-14T21:59:43.100000-05:00'],
    ['2001-12-14 21:59:43', '2001-12-14T21:59:43'],
    ['2001-12-14T21:59:43.5Z', '2001-12-14T21:59:43.500000+00:00'],
    ['123456789012345678', '123456789012345678'],
    ['-123456789012345678', '-123456789012345678'],
    ['.inf', Infinity],
    ['-.Inf', -Infinity],
    ['.NaN', NaN],
    ['n', 'n'],
  ])('types %s as Ansible does', (text, expected) => {
    const raw = parseYamlInventory(`all:\n  vars:\n    v: ${text}\n`, 'x.yaml');
    expect(raw.groups.get('all')!.vars.get('v')!.value).toEqual(expected);
  });

  it('refuses a timestamp that is no date, at its line', () => {
    expect(() => parseYamlInventory('all:\n  vars:\n    v: 2012-13-45\n', 'x.yaml')).toThrow(/^x\.yaml:3: invalid YAML: .*invalid date in timestamp 2012-13-45/);
  });

  it('accepts a bare string for hosts or children, and anchors with merge keys', () => {
    const raw = parseYamlInventory(
      ['defaults: &d', '  vars: { ntp: 198.51.100.1 }', 'web:', '  <<: *d', '  hosts: web-01', '  children: edge', 'edge:'].join('\n'),
      'x.yaml',
    );
    expect(raw.groups.get('web')!.hosts).toEqual(['web-01']);
    expect(raw.groups.get('web')!.children).toEqual(['edge']);
    expect(raw.groups.get('web')!.vars.get('ntp')?.value).toBe('198.51.100.1');
  });

  it('warns about and skips what Ansible skips', () => {
    const raw = parseYamlInventory('web:\n  hosts: { a: }\n  host: { b: }\nbroken: [1, 2]\n', 'x.yaml');
    expect([...raw.hosts.keys()]).toEqual(['a']);
    expect(raw.warnings).toEqual([
      "x.yaml:3: skipping unexpected key 'host' in group web (only vars, children and hosts)",
      "x.yaml:4: skipping 'broken': a group must be a mapping",
    ]);
  });

  it.each([
    ['all:\n  hosts:\n    a: b: c\n', 3, 'invalid YAML'],
    ['all:\n  hosts:\n    - a\n    - b\n', 2, "invalid 'hosts' entry for group all: it must be a mapping, found a list"],
    ['all:\n  hosts:\n    a: just-text\n', 3, 'host a: vars must be a mapping, found a string'],
    ['all:\n  hosts:\n    42:\n', 3, 'host pattern (quote numbers) must be a string'],
    ['all:\n  hosts:\n    x[c:a]:\n', 3, 'begin <= end'],
    // Ansible finds the loop when the outer edge (a → b) is added, after b's own children.
    ['a:\n  children:\n    b:\n      children:\n        a:\n', 3, 'adding group b as a child of a creates a cycle'],
    ['plugin: aws_ec2\n', 1, 'inventory plugin configuration'],
    ['all:\n  vars:\n    pw: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n      6162\n', 3, 'ansible-vault encrypted values are not supported'],
    ['- a\n- b\n', 1, 'must be a mapping of groups'],
  ])('%j is refused at line %d: %s', (text, line, message) => {
    let error: unknown;
    try {
      parseYamlInventory(text, 'inventory/bad.yaml');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InventoryError);
    expect(error).toMatchObject({ file: 'inventory/bad.yaml', line });
    expect((error as Error).message).toContain(message);
  });

  it('reads !unsafe as plain text and numeric var names as text, as Ansible prints them', () => {
    const raw = parseYamlInventory('all:\n  vars:\n    motd: !unsafe "{{ not templated }}"\n    1: one\n', 'x.yaml');
    expect([...raw.groups.get('all')!.vars].map(([key, { value }]) => [key, value])).toEqual([['motd', '{{ not templated }}'], ['1', 'one']]);
  });

  it('refuses an empty file', () => {
    expect(() => parseYamlInventory('# nothing\n', 'inventory/empty.yaml')).toThrow('inventory/empty.yaml: empty YAML inventory');
  });
});
