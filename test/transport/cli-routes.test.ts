/**
 * The CLI side of connection settings, through the real `runbook` binary: `inventory` shows each
 * host's resolved route with passwords masked, `-F/--ssh-config` is read, and a setting runbook
 * cannot honour stops `apply` with exit 1 before any host is touched.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, makeProject, runCli } from '../e2e/helpers.ts';
import { isSshdAvailable, startSshd } from '../helpers/sshd.ts';

const PASSWORD = 'S3cret-pw-do-not-print';

const RUNBOOK = `
import { defineRunbook, command, cmd } from '${API}';
export default defineRunbook({
  name: 'touch', summary: 'one command (test)',
}).steps([command({ id: 'hello', title: 'say hello', run: () => cmd\`true\` })]);
`;

describe('runbook inventory / apply with connection settings', { timeout: 60_000 }, () => {
  let project: string;
  let listener: Server;
  let connections = 0;
  let port: number;

  beforeAll(async () => {
    listener = createServer((socket) => { connections++; socket.destroy(); });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    port = (listener.address() as AddressInfo).port;
    project = makeProject({
      'package.json': '{ "type": "module" }\n',
      'runbooks/touch.ts': RUNBOOK,
      'inventory/prod.ini': [
        '[db]',
        `db1 ansible_host=db ansible_user=ops ansible_password=${PASSWORD} ansible_port=${port}`,
        'db2 ansible_host=inner ansible_ssh_common_args="-J jumper@bastion:2222"',
        '[web]',
        'web1 ansible_host=127.0.0.1 ansible_port=' + port,
      ].join('\n'),
      'ssh/config': [
        'Host db',
        '  HostName 10.0.0.9',
        '  ProxyCommand nc -X connect -x proxy:3128 %h %p',
        'Host inner',
        '  HostName 10.0.1.7',
        '  User app',
      ].join('\n'),
      'ssh/refused': ['Host web*', '  Ciphers aes128-ctr', 'Host 127.0.0.1', '  HostKeyAlias elsewhere'].join('\n'),
    });
  });
  afterAll(() => listener.close());

  const cli = (args: string[]) => runCli([...args, '--state-dir', join(project, 'state')], { cwd: project, env: { HOME: join(project, 'home') } });

  it('--json shows the resolved route per host and masks passwords', async () => {
    const result = await cli(['inventory', 'prod', '-F', 'ssh/config', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toContain(PASSWORD);
    const hosts = JSON.parse(result.stdout).hosts as Array<{ name: string; vars: Record<string, unknown>; route: { summary: string; hops: Array<Record<string, unknown>> } }>;
    const db1 = hosts.find((h) => h.name === 'db1')!;
    expect(db1.vars.ansible_password).toBe('********');
    expect(db1.route.summary).toBe(`ops@10.0.0.9:${port} via proxy command "nc -X connect -x proxy:3128 10.0.0.9 ${port}"`);
    expect(db1.route.hops[0]).toMatchObject({ host: '10.0.0.9', port, user: 'ops', password: '********' });
    const db2 = hosts.find((h) => h.name === 'db2')!;
    expect(db2.route.summary).toMatch(/^app@10\.0\.1\.7:22 via jump jumper@bastion:2222$/);
  });

  it('--graph and the text view show routes; the text view masks passwords too', async () => {
    const graph = await cli(['inventory', 'prod', '--ssh-config', 'ssh/config', '--graph']);
    expect(graph.code, graph.stderr).toBe(0);
    expect(graph.stdout).toContain(`  |  |--db1  (ops@10.0.0.9:${port} via proxy command "nc -X connect -x proxy:3128 10.0.0.9 ${port}")`);
    expect(graph.stdout).toContain('  |  |--db2  (app@10.0.1.7:22 via jump jumper@bastion:2222)');
    const text = await cli(['inventory', 'prod', '-F', 'ssh/config']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).not.toContain(PASSWORD);
    expect(text.stdout).toMatch(/ansible_password\s+\*{8}/);
    expect(text.stdout).toContain(`db1  ops@10.0.0.9:${port} via proxy command`);
  });

  it('refuses a setting it cannot honour, naming host, keyword, file and line (exit 1)', async () => {
    const result = await cli(['inventory', 'prod', '-F', 'ssh/refused']);
    expect(result.code).toBe(1);
    // The config is matched against the address (ansible_host), as ssh and Ansible match it: `Host web*` does not apply.
    expect(result.stderr).toContain(`${join(project, 'ssh/refused')}:4: host web1: ssh config: HostKeyAlias elsewhere is not supported by runbook`);
    expect(result.stderr).not.toContain('Ciphers');
  });

  it('apply stops before touching any host, and records no run', async () => {
    const before = connections;
    const result = await cli(['apply', 'touch', '-i', 'prod', '-l', 'web1', '-F', 'ssh/refused', '--accept-new-host-keys']);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stderr).toMatch(/connection settings runbook cannot honour \(nothing was touched\):\n {2}.*refused:4: host web1: ssh config: HostKeyAlias/);
    expect(connections).toBe(before);
    const runs = join(project, 'state', 'runs');
    expect(existsSync(runs) ? readdirSync(runs) : []).toEqual([]);
  });

  it('apply refuses a --ssh-config file that does not exist', async () => {
    const result = await cli(['apply', 'touch', '-i', 'prod', '-l', 'web1', '--ssh-config', 'ssh/missing']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/ssh config file not found: .*ssh\/missing/);
  });

  it.skipIf(!isSshdAvailable())('apply connects with what --ssh-config says (HostName, Port), through to the real server', async () => {
    const sshd = await startSshd();
    try {
      writeFileSync(join(project, 'inventory/lab.ini'), `target ansible_host=lab-target ansible_ssh_private_key_file=${sshd.clientKeyFile} ansible_password=${PASSWORD}\n`);
      writeFileSync(join(project, 'ssh/lab'), `Host lab-target\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  IdentitiesOnly yes\n`);
      const result = await cli(['apply', 'touch', '-i', 'lab', '-F', 'ssh/lab', '--accept-new-host-keys', '--no-prompt']);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(sshd.log()).toMatch(/Accepted publickey/);
      // The run's record and journal hold the host's vars: the password is masked there too.
      const runDir = join(project, 'state', 'runs', readdirSync(join(project, 'state', 'runs'))[0]);
      const files = readdirSync(runDir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
      expect(files.length).toBeGreaterThan(1);
      for (const entry of files) expect(readFileSync(join(entry.parentPath, entry.name), 'utf8'), entry.name).not.toContain(PASSWORD);
      expect(readFileSync(join(runDir, 'run.json'), 'utf8')).toContain('"ansible_password": "********"');
    } finally {
      await sshd.stop();
    }
  });
});
