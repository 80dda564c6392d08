import { describe, expect, it } from 'vitest';
import { InventoryError } from '../../src/errors.ts';
import type { InventoryHost } from '../../src/inventory/types.ts';
import { connectionVars, shellWords } from '../../src/transport/ansible-vars.ts';

const host = (vars: Record<string, unknown>): InventoryHost => ({
  name: 'db1', address: 'db', port: 22, connection: 'ssh', become: false, groups: ['all'], vars,
  varSources: Object.fromEntries(Object.keys(vars).map((key) => [key, 'inventory/prod.ini:3 (host db1)'])),
});

describe('shellWords (as Python shlex.split, which Ansible uses)', () => {
  it.each([
    ['-o ProxyCommand="ssh -W %h:%p -q ops@bastion"', ['-o', 'ProxyCommand=ssh -W %h:%p -q ops@bastion']],
    ["-o 'ProxyJump=a,b'  -i ~/k", ['-o', 'ProxyJump=a,b', '-i', '~/k']],
    ['-oStrictHostKeyChecking=accept-new', ['-oStrictHostKeyChecking=accept-new']],
    ['a\\ b "c\\"d" $HOME', ['a b', 'c"d', '$HOME']],
    ['', []],
  ])('%s', (text, words) => {
    expect(shellWords(text)).toEqual(words);
  });
});

describe('connectionVars', () => {
  it('reads -o, -J, -i, -p, -l and -F from ansible_ssh_common_args, in order', () => {
    const vars = connectionVars(host({ ansible_ssh_common_args: '-o ProxyCommand="nc %h %p" -J ops@b -i /k -p 2200 -l me -F /etc/cfg -q' }));
    expect(vars.commandLine.map((line) => [line.spelled, line.args.join(' ')])).toEqual([
      ['ProxyCommand', 'nc %h %p'], ['ProxyJump', 'ops@b'], ['IdentityFile', '/k'], ['Port', '2200'], ['User', 'me'],
    ]);
    expect(vars.configFile).toBe('/etc/cfg');
    expect(vars.commandLine[0].file).toBe('ansible_ssh_common_args (from inventory/prod.ini:3 (host db1))');
  });

  it('keeps passwords as Secrets', () => {
    const vars = connectionVars(host({ ansible_password: 'pw1', ansible_become_password: 'pw2' }));
    expect(String(vars.password)).not.toContain('pw1');
    expect(vars.password?.reveal()).toBe('pw1');
    expect(vars.becomePassword?.reveal()).toBe('pw2');
    expect(connectionVars(host({ ansible_ssh_pass: 'pw3' })).password?.reveal()).toBe('pw3');
  });

  it('reads ansible_become_user and ansible_timeout', () => {
    expect(connectionVars(host({ ansible_become_user: 'postgres', ansible_become_method: 'sudo', ansible_timeout: '30' }))).toMatchObject({ becomeUser: 'postgres', connectTimeoutS: 30 });
  });

  it.each([
    [{ ansible_become_method: 'su' }, 'host db1: ansible_become_method: only sudo is supported, not "su" (from inventory/prod.ini:3 (host db1))'],
    [{ ansible_become_user: 'x; rm -rf /' }, 'ansible_become_user: "x; rm -rf /" is not a user name'],
    [{ ansible_ssh_executable: '/opt/ssh' }, 'ansible_ssh_executable: is not supported by runbook'],
    [{ ansible_become_flags: '-H -S' }, 'ansible_become_flags: is not supported by runbook'],
    [{ ansible_host_key_checking: false }, 'ansible_host_key_checking: false would connect to unverified host keys'],
    [{ ansible_ssh_common_args: '-R 8080:localhost:80' }, 'ansible_ssh_common_args: ssh argument "-R" is not supported by runbook'],
    [{ ansible_ssh_extra_args: '-o' }, 'ansible_ssh_extra_args: -o needs a value'],
    [{ ansible_ssh_common_args: '-o "ProxyCommand=nc' }, 'ansible_ssh_common_args: unterminated " quote'],
  ])('refuses %j', (vars, message) => {
    expect(() => connectionVars(host(vars))).toThrow(InventoryError);
    expect(() => connectionVars(host(vars))).toThrow(message);
  });
});
