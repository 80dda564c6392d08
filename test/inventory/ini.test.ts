import { describe, expect, it } from 'vitest';
import { InventoryError } from '../../src/errors.ts';
import { parseIni } from '../../src/inventory/ini.ts';
import { pythonValue, shlexSplit } from '../../src/inventory/python.ts';
import { expandHostPattern } from '../../src/inventory/ranges.ts';

describe('INI values are typed as Python literal_eval types them', () => {
  it.each<[string, unknown]>([
    ['22', 22],
    ['-3', -3],
    ['1_000', 1000],
    ['0x1f', 31],
    ['0o17', 15],
    ['1.5e3', 1500],
    ['20000000000000000001', '20000000000000000001'], // too big for a JS number: kept exact, as text
    ['-0x20000000000000001', '-36893488147419103233'],
    ['.5', 0.5],
    ['00', 0],
    ['01', '01'], // Python 3 refuses leading zeros: stays text
    ['True', true],
    ['False', false],
    ['None', null],
    ['yes', 'yes'], // not a Python literal
    ["'007'", '007'],
    ['"a" \'b\'', 'ab'],
    ["u'x\\n'", 'x\n'],
    ["r'x\\n'", 'x\\n'],
    ['1,2', [1, 2]],
    ['(1,)', [1]],
    ['(1)', 1],
    ["{'k': [1, {'n': None}]}", { k: [1, { n: null }] }],
    ['{1, 2}', [1, 2]],
    ['8080 # web port', 8080],
    ['hello # comment', 'hello # comment'],
    ['[1,2', '[1,2'],
    ['1.2.3', '1.2.3'],
    ['192.0.2.1', '192.0.2.1'],
    ['1j', '1j'],
    ['', ''],
  ])('%s → %j', (text, expected) => {
    expect(pythonValue(text)).toEqual(expected);
  });
});

describe('host lines split as shlex.split(comments=True) splits them', () => {
  it.each<[string, string[]]>([
    ['xs-01 a=1 b=2', ['xs-01', 'a=1', 'b=2']],
    [`h motd="hi there" q='x y'`, ['h', 'motd=hi there', 'q=x y']],
    [`h pw="'03#pa33'"`, ['h', "pw='03#pa33'"]],
    ['h a=ab#c d=e', ['h', 'a=ab']],
    ['h a=b # note', ['h', 'a=b']],
    ['h esc=a\\ b', ['h', 'esc=a b']],
    ['h q="a \\"b\\" \\n"', ['h', 'q=a "b" \\n']],
    ["h empty=''", ['h', 'empty=']],
  ])('%s', (line, tokens) => {
    expect(shlexSplit(line)).toEqual(tokens);
  });

  it('refuses an unclosed quote', () => {
    expect(() => shlexSplit('h a="open')).toThrow('No closing quotation');
  });
});

describe('host ranges and ports', () => {
  it.each<[string, string[], number?]>([
    ['xs-[01:04]', ['xs-01', 'xs-02', 'xs-03', 'xs-04']],
    ['db-[a:c]', ['db-a', 'db-b', 'db-c']],
    ['n[0:10:2]', ['n0', 'n2', 'n4', 'n6', 'n8', 'n10']],
    ['n[:2]', ['n0', 'n1', 'n2']],
    ['w[8:10]x[a:b]', ['w8xa', 'w8xb', 'w9xa', 'w9xb', 'w10xa', 'w10xb']],
    ['k[a:e:2]', ['ka', 'kc', 'ke']],
    ['xs-01:2222', ['xs-01'], 2222],
    ['xs-[1:2]:22', ['xs-1', 'xs-2'], 22],
    ['[2001:db8::1]:2200', ['2001:db8::1'], 2200],
    ['fe80::1', ['fe80::1']],
    ['plain.example.org', ['plain.example.org']],
  ])('%s', (pattern, names, port) => {
    expect(expandHostPattern(pattern)).toEqual(port === undefined ? { names } : { names, port });
  });

  it.each([
    ['x[1:]', 'must specify end value'],
    ['x[01:4]', 'equal-length begin and end'],
    ['x[c:a]', 'begin <= end'],
    ['x[1:5:0]', 'step must be positive'],
    ['x[1', 'no closing ]'],
    ['x[1:2:3:4]', 'begin:end or begin:end:step'],
  ])('%s is refused: %s', (pattern, message) => {
    expect(() => expandHostPattern(pattern)).toThrow(message);
  });
});

describe('INI structure', () => {
  it('reads ungrouped hosts, sections, children declared later, and vars', () => {
    const raw = parseIni(
      [
        'jump ansible_host=192.0.2.1',
        '[pools:children]',
        'pool_a   # declared below',
        '[pool_a]',
        'xs-[1:2] ansible_user=root',
        '[pool_a:vars]',
        'pool_master = xs-1',
        '[pools:vars]',
        'ansible_group_priority=5',
      ].join('\n'),
      'inv.ini',
    );
    expect([...raw.hosts.keys()]).toEqual(['jump', 'xs-1', 'xs-2']);
    expect(raw.groups.get('ungrouped')!.hosts).toEqual(['jump']);
    expect(raw.groups.get('pools')!.children).toEqual(['pool_a']);
    expect(raw.groups.get('pool_a')!.vars.get('pool_master')).toEqual({ value: 'xs-1', line: 7 });
    expect(raw.hosts.get('xs-2')!.vars.get('ansible_user')).toEqual({ value: 'root', line: 5 });
    expect(raw.groups.get('pools')!.priority).toBe(5);
    expect(raw.groups.get('pools')!.vars.has('ansible_group_priority')).toBe(false);
  });

  it('keeps the first port given for a host, as Ansible does', () => {
    const raw = parseIni('[a]\nh:2200\n[b]\nh:2300\n', 'inv.ini');
    expect(raw.hosts.get('h')!.vars.get('ansible_port')).toEqual({ value: 2200, line: 2 });
  });
});

describe('malformed INI names the file and the line', () => {
  it.each([
    ['[web\nhost', 1, 'no closing ]'],
    ['[web:kids]', 1, 'unknown type: kids'],
    ['[we b]', 1, 'invalid section entry [we b]'],
    ['\n[web]\nh1 novalue', 3, 'expected key=value host variable assignment, got: novalue'],
    ['[web:vars]\nnovalue', 2, 'expected key=value, got: novalue'],
    ['[a:children]\nb', 2, 'section [a:children] includes undefined group: b'],
    ['[a:vars]\nx=1', 1, 'section [a:vars] is for an undefined group: a'],
    ['[a]\nh1 x="unclosed', 2, 'No closing quotation'],
    ['[a]\nh1:', 2, "trailing ':' is reserved for a port"],
    ['[a]\n[b]\n[a:children]\nb\n[b:children]\na', 6, 'creates a cycle'],
    ['[a:children]\na', 2, 'cannot be its own child'],
    ['[a]\nx[01:4]', 2, 'equal-length begin and end'],
    ['[a]\n---', 2, "'---' is normally a sign this is a YAML file"],
  ])('%j → line %d: %s', (text, line, message) => {
    let error: unknown;
    try {
      parseIni(text, 'inventory/bad.ini');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InventoryError);
    expect(error).toMatchObject({ file: 'inventory/bad.ini', line });
    expect((error as Error).message).toContain(`inventory/bad.ini:${line}: `);
    expect((error as Error).message).toContain(message);
  });
});
