/**
 * `runbook check NAME --inventory INV`: apply's validation, per host, without connecting. The shipped
 * inventory/prod.example.yaml must fit every shipped runbook.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMain } from '../e2e/helpers.ts';

const REPO = resolve(import.meta.dirname, '../..');
let home: string;
let savedHome: string | undefined;

const runbook = (argv: string[], env: NodeJS.ProcessEnv = {}) => runMain(argv, { cwd: REPO, env: { ...process.env, RUNBOOK_STATE_DIR: join(home, 'state'), ...env } });

beforeAll(async () => {
  // The example names ~/.ssh/xenserver_ed25519: a fake key file (never read: check does not connect) in a fake home.
  home = await mkdtemp(join(tmpdir(), 'runbook-check-'));
  await mkdir(join(home, '.ssh'));
  await writeFile(join(home, '.ssh', 'xenserver_ed25519'), 'FAKE KEY: check only tests that it exists\n');
  savedHome = process.env.HOME;
  process.env.HOME = home;
});

afterAll(async () => {
  process.env.HOME = savedHome;
  await rm(home, { recursive: true, force: true });
});

/** Each shipped runbook with the params it cannot run without (secrets as RUNBOOK_PARAM_*). */
const RUNBOOKS: [name: string, params: string[], env: NodeJS.ProcessEnv, hosts: number][] = [
  ['leap-second', [], {}, 9],
  ['iscsi-reconnect', [], {}, 5],
  ['iscsi-reverse-reset', [], {}, 5],
  ['hvm-to-pv', [], {}, 4],
  ['pv-to-hvm', [], {}, 4],
  ['rebuild-rejoin-host', ['--limit', 'xs-a02'], { RUNBOOK_PARAM_poolPassword: 'example' }, 1],
  ['xenapp-gold-image', [], {}, 2],
  ['xenapp-clone-deploy', ['--param', 'goldVm=xenapp-golden-2012', '--param', 'domain=corp.example.com', '--param', 'domainUser=CORP\\joiner'], { RUNBOOK_PARAM_domainPassword: 'example' }, 2],
  ['ha-enable-timeout', [], {}, 5],
  ['pool-master-failover', ['--param', 'newMaster=xs-a02', '--param', 'mode=planned'], {}, 5],
  ['management-mtu', [], {}, 5],
  ['vdi-not-found', ['--param', 'vm=web-01', '--limit', 'xs-a02'], {}, 1],
  ['host-crash-triage', [], {}, 5],
];

describe('runbook check against inventory/prod.example.yaml', () => {
  it('covers every runbook in runbooks/', async () => {
    const { stdout } = await runbook(['list']);
    for (const [name] of RUNBOOKS) expect(stdout).toContain(name);
    expect(stdout.trim().split('\n').filter((line) => /^\S/.test(line)).length).toBeLessThanOrEqual(RUNBOOKS.length + 1);
  });

  // The compiler check is the test below's (and `tsc --noEmit`'s in CI): here, params and vars.
  it.each(RUNBOOKS)('%s: every target host is ok', async (name, params, env, hosts) => {
    const result = await runbook(['check', name, '--inventory', 'prod.example', '--no-typecheck', ...params], env);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(`: ${hosts} host${hosts === 1 ? '' : 's'} (`);
    expect(result.stdout).toContain('types: not checked (--no-typecheck or RUNBOOK_TYPECHECK=0)\nparams: ok\n');
    expect(result.stdout.trim().split('\n').slice(3).every((line) => / {2}ok$/.test(line))).toBe(true);
    expect(result.code).toBe(0);
  });

  it('type-checks the runbook too, as apply would first', async () => {
    const result = await runbook(['check', 'leap-second', '--inventory', 'prod.example']);
    expect(result.stdout).toContain('types: ok\nparams: ok\n');
    expect(result.code).toBe(0);
  }, 120_000);
});

describe('runbook check refusals', () => {
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'runbook-check-bad-'));
  });
  afterAll(() => rm(folder, { recursive: true, force: true }));

  it('lists a runbook\'s type errors with file and line beside the params and hosts, and exits 1', async () => {
    await writeFile(join(folder, 'package.json'), '{ "type": "module" }\n');
    const file = join(folder, 'motd.ts');
    await writeFile(file, `import { defineRunbook, command, cmd, z } from '${join(REPO, 'src/index.ts')}';
export default defineRunbook({ name: 'motd', summary: 'motd', params: z.object({ who: z.string().default('ops') }) }).steps([
  command({ id: 'x', title: 'x', run: (ctx) => cmd\`echo \${ctx.params.whom}\` }),
]);
`);
    const result = await runbook(['check', file, '--inventory', 'prod.example']);
    expect(result.stdout).toMatch(/\ntypes: does not type-check \(1 error\):\n {2}\S*motd\.ts:3:\d+ Property 'whom' does not exist[^\n]*\nparams: ok\n/);
    expect(result.stdout).toMatch(/\nxs-a01 +ok\n/);
    expect(result.code).toBe(1);
  }, 120_000);

  it('names each host, var, reason and source, and exits 1 (the old example: both portals on one /24)', async () => {
    const example = await readFile(join(REPO, 'inventory/prod.example.yaml'), 'utf8');
    const file = join(folder, 'one-subnet.yaml');
    await writeFile(file, example.replace('[198.51.100.10, 203.0.113.10]', '[198.51.100.10, 198.51.100.74]'));
    const result = await runbook(['check', 'iscsi-reconnect', '--inventory', file, '--limit', 'pool_a']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('xs-a01:\n  var iscsi_portals: portals 198.51.100.10 and 198.51.100.74 share subnet 198.51.100.0/24');
    expect(result.stdout).toContain(`(from ${file}:30 (group pool_a))`);
  });

  it('a clone deploy without its inputs names each param and how to give it, a secret only through the environment', async () => {
    const result = await runbook(['check', 'xenapp-clone-deploy', '--inventory', 'prod.example', '--param', 'domain=corp example']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("param goldVm: missing required param 'goldVm': pass --param goldVm=…");
    expect(result.stdout).toContain("param domainUser: missing required param 'domainUser'");
    expect(result.stdout).toContain("param domainPassword: missing required secret param 'domainPassword': set RUNBOOK_PARAM_domainPassword in the environment");
    expect(result.stdout).toContain('param domain: must be a DNS domain name');
  });

  it('reports a key file that does not exist by its path, and apply refuses before connecting', async () => {
    const file = join(folder, 'nokey.yaml');
    const key = join(folder, 'missing', 'id_ed25519');
    await writeFile(file, `all:\n  vars:\n    ansible_ssh_private_key_file: ${key}\n  hosts:\n    h1:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n`);
    const check = await runbook(['check', 'leap-second', '--inventory', file]);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain(`h1:\n  var ansible_ssh_private_key_file: key file ${key} does not exist (from ${file}:3 (group all))`);
    const apply = await runbook(['apply', 'leap-second', '--inventory', file, '--no-typecheck']);
    expect(apply.stderr).toContain(`host h1: var ansible_ssh_private_key_file: key file ${key} does not exist`);
    // 1: bad input, nothing touched (an attempted connection to port 1 would have made it 4, unreachable).
    expect(apply.code).toBe(1);
  });
});
