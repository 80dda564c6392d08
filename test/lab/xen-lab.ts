/**
 * A throwaway lab root with a seeded pool, and helpers that run the XenServer-domain commands
 * (lab/bin/xe, iscsiadm, multipath, ping) in it as a lab host would: same environment, no ssh.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onPowerChange, type PowerState } from '../../lab/sim/xen/hooks.mjs';
import { seedPool, type InventoryHost } from '../../lab/sim/xen/seed.mjs';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'lab', 'bin');

export interface Run {
  stdout: string;
  stderr: string;
  code: number;
}

/** The default estate of inventory/lab.yaml, with the seed's Openfiler target (the fixtures' one). */
export const ESTATE: InventoryHost[] = [
  { name: 'xs-01', role: 'xenserver', vars: { xen_pool: 'pool-a', pool_master: 'xs-01', management_ip: '10.10.0.11', storage_ips: ['10.10.1.11', '10.10.2.11'], iscsi_portals: ['10.10.1.10', '10.10.2.10'] } },
  { name: 'xs-02', role: 'xenserver', vars: { xen_pool: 'pool-a', pool_master: 'xs-01', management_ip: '10.10.0.12', storage_ips: ['10.10.1.12', '10.10.2.12'], iscsi_portals: ['10.10.1.10', '10.10.2.10'] } },
  { name: 'xs-03', role: 'xenserver', vars: { xen_pool: 'pool-a', pool_master: 'xs-01', management_ip: '10.10.0.13', storage_ips: ['10.10.1.13', '10.10.2.13'], iscsi_portals: ['10.10.1.10', '10.10.2.10'] } },
  { name: 'ubuntu-01', role: 'ubuntu-guest', vars: { xen_pool: 'pool-a', vm_name_label: 'ubuntu-01' } },
];

const SERVICES: Record<string, string[]> = { xenserver: ['ntpd', 'open-iscsi', 'multipathd', 'xapi'], 'ubuntu-guest': ['ntp'] };

export class XenLab {
  readonly root = mkdtempSync(join(tmpdir(), 'xen-lab-'));

  constructor(readonly hosts: InventoryHost[] = ESTATE) {
    for (const host of hosts) {
      for (const sub of ['services', 'power']) mkdirSync(join(this.hostDir(host.name), sub), { recursive: true });
      for (const service of SERVICES[host.role] ?? []) this.setService(host.name, service, 'running');
      writeFileSync(join(this.hostDir(host.name), 'power', 'state'), 'running\n');
      writeFileSync(join(this.hostDir(host.name), 'mutations.jsonl'), '');
    }
    seedPool(this.root, 'pool-a', hosts);
  }

  hostDir(host: string): string {
    return join(this.root, 'hosts', host);
  }

  env(host: string): NodeJS.ProcessEnv {
    const role = this.hosts.find((h) => h.name === host)?.role ?? 'xenserver';
    const poolDb = join(this.root, 'pools', 'pool-a.json');
    return { ...process.env, LAB_ROOT: this.root, LAB_HOST: host, LAB_HOST_DIR: this.hostDir(host), LAB_ROLE: role, LAB_POOL: 'pool-a', LAB_POOL_DB: poolDb };
  }

  /** Runs lab/bin/<command> on `host`. */
  run(host: string, command: string, args: string[], input = ''): Run {
    const result = spawnSync(join(BIN, command), args, { env: this.env(host), encoding: 'utf8', input, timeout: 20_000 });
    return { stdout: result.stdout, stderr: result.stderr, code: result.status ?? -1 };
  }

  xe(host: string, ...args: string[]): Run {
    return this.run(host, 'xe', args);
  }

  /** The same, without waiting: for concurrency tests. */
  xeAsync(host: string, ...args: string[]): Promise<Run> {
    return new Promise((resolve) => {
      const child = spawn(join(BIN, 'xe'), args, { env: this.env(host) });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ stdout, stderr, code: code ?? -1 }));
    });
  }

  /** `xe <cmd> … --minimal`, trimmed. */
  minimal(host: string, ...args: string[]): string {
    return this.xe(host, ...args, '--minimal').stdout.trim();
  }

  setService(host: string, name: string, state: 'running' | 'stopped'): void {
    writeFileSync(join(this.hostDir(host), 'services', name), `${state}\n`);
  }

  /** What the lab server does on a power change: write the state, then call the hook. */
  power(host: string, state: PowerState): void {
    writeFileSync(join(this.hostDir(host), 'power', 'state'), `${state}\n`);
    onPowerChange(this.root, host, state);
  }

  reboot(host: string): void {
    this.power(host, 'rebooting');
    this.power(host, 'running');
  }

  powerRequest(host: string): string {
    return readFileSync(join(this.hostDir(host), 'power', 'request'), 'utf8').trim();
  }

  mutations(host: string): { host: string; argv: string[] }[] {
    return readFileSync(join(this.hostDir(host), 'mutations.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }

  hostUuid(name: string): string {
    return this.minimal('xs-01', 'host-list', `name-label=${name}`);
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
