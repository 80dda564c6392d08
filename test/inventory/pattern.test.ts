import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.ts';
import { parseIni } from '../../src/inventory/ini.ts';
import { resolveInventory } from '../../src/inventory/merge.ts';
import { globToRegExp, selectHosts, splitPattern } from '../../src/inventory/pattern.ts';

const inventory = resolveInventory(
  parseIni(
    ['jump', '[pool_a]', 'xs-[01:03]', '[pool_b]', 'xs-[04:05]', '[storage]', 'xs-01', 'xs-04', 'san-01', '[pools:children]', 'pool_a', 'pool_b'].join('\n'),
    'inventory/t.ini',
  ),
  { source: '/srv/inventory/t.ini', baseDir: '/srv/inventory' },
);
const select = (pattern: string) => selectHosts(inventory, pattern).map((host) => host.name);

describe('selectHosts', () => {
  it.each<[string, string[]]>([
    ['all', ['jump', 'xs-01', 'xs-02', 'xs-03', 'xs-04', 'xs-05', 'san-01']],
    ['*', ['jump', 'xs-01', 'xs-02', 'xs-03', 'xs-04', 'xs-05', 'san-01']],
    ['pool_a', ['xs-01', 'xs-02', 'xs-03']],
    ['pools', ['xs-01', 'xs-02', 'xs-03', 'xs-04', 'xs-05']],
    ['xs-02', ['xs-02']],
    ['xs-0*', ['xs-01', 'xs-02', 'xs-03', 'xs-04', 'xs-05']],
    ['xs-0[!13]', ['xs-02', 'xs-04', 'xs-05']],
    ['pool_a:!xs-03', ['xs-01', 'xs-02']],
    ['pool_a:&storage', ['xs-01']],
    // results come in inventory order whatever the order of the parts
    ['pool_b,pool_a', ['xs-01', 'xs-02', 'xs-03', 'xs-04', 'xs-05']],
    ['pool_b:pool_a', ['xs-01', 'xs-02', 'xs-03', 'xs-04', 'xs-05']],
    // exclusions apply last, wherever they are written
    ['!xs-01,pool_a', ['xs-02', 'xs-03']],
    ['!pools', ['jump', 'san-01']],
    ['&storage', ['xs-01', 'xs-04', 'san-01']],
    ['~xs-0[45]', ['xs-04', 'xs-05']],
    ['~sa', ['san-01']], // a regex matches from the start of the name
    ['~st', ['xs-01', 'xs-04', 'san-01']], // and matches group names too
    ['pool_a[0]', ['xs-01']],
    ['pool_a[-1]', ['xs-03']],
    ['pool_a[1:]', ['xs-02', 'xs-03']],
    [' pool_a , jump ', ['jump', 'xs-01', 'xs-02', 'xs-03']],
  ])('%s', (pattern, expected) => {
    expect(select(pattern)).toEqual(expected);
  });

  it('returns the InventoryHost objects themselves', () => {
    expect(selectHosts(inventory, 'jump')[0]).toBe(inventory.hosts.get('jump'));
  });

  it('names the pattern and the groups when nothing matches', () => {
    expect(() => select('pool_c')).toThrow(UsageError);
    expect(() => select('pool_c')).toThrow(
      "no hosts match the pattern 'pool_c'; groups in /srv/inventory/t.ini: pool_a, pool_b, storage, pools",
    );
    expect(() => select('pool_a:&pool_b')).toThrow("no hosts match the pattern 'pool_a:&pool_b' (parts: pool_a, &pool_b)");
  });

  it('refuses an invalid regex clearly', () => {
    expect(() => select('~xs-(')).toThrow('invalid host pattern: ~xs-(');
  });
});

describe('splitPattern', () => {
  it.each<[string, string[]]>([
    ['a,b', ['a', 'b']],
    ['a:b:&c:!d', ['a', 'b', '&c', '!d']],
    ['db[0:2]', ['db[0:2]']],
    ['fe80::1', ['fe80::1']],
    ['a[1:2]:b', ['a[1:2]', 'b']],
    // What ansible-core 2.14's split_host_pattern returns, quirks included.
    ['fe80::1%eth0', ['fe80::1%eth0']],
    ['db:cafe', ['db', 'cafe']],
    ['web:8080', ['web:8080']],
    ['ab::cd:!x', ['ab::cd:!x']],
    ['xs-[01:03]:&storage', ['xs-[01:03]', '&storage']],
    ['[fe80::1]:22', ['[fe80::1]:22']],
    ['10.0.0.1:22', ['10.0.0.1:22']],
  ])('%s', (pattern, parts) => {
    expect(splitPattern(pattern)).toEqual(parts);
  });
});

describe('globToRegExp (fnmatch)', () => {
  it.each<[string, string, boolean]>([
    ['xs-0*', 'xs-01', true],
    ['xs-0?', 'xs-010', false],
    ['xs-[ab]', 'xs-a', true],
    ['xs-[!ab]', 'xs-a', false],
    ['a.b', 'axb', false],
    ['[', '[', true],
    ['XS-*', 'xs-01', false],
  ])('%s matches %s: %s', (glob, name, matches) => {
    expect(globToRegExp(glob).test(name)).toBe(matches);
  });
});
