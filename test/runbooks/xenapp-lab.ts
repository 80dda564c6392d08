/**
 * The lab the XenApp cloning runbooks are tested on (xenapp-gold-image.test.ts,
 * xenapp-clone-deploy.test.ts): an estate whose Windows gold server has its VM in pool-a
 * (xenapp-01, VM XenApp-Gold) and clone hosts beside it (xenapp-02, xenapp-03), the real CLI
 * against it, what a human does at a Windows console (over SSH, typed as the human would), and a
 * driver that confirms each manual gate with its evidence and resumes until the run ends.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { parse, stringify } from 'yaml';
import { labDown, labUp, type Lab } from '../../lab/lab.ts';
import { BIN, REPO, runCli, type CliResult } from '../e2e/helpers.ts';
import type { Runbook } from '../../src/runbook/types.ts';
import { parseEvents, stepResults } from './lab-helpers.ts';

export const PASSWORD = 'Pa55 "w0rd" & ^more%';
const ENV = { NO_COLOR: '1', RUNBOOK_OPERATOR: 'alice' };

/** The Windows hosts of the estate: the gold server and two clone hosts (each naming its clone). */
const WINDOWS_HOSTS: Record<string, Record<string, unknown>> = {
  'xenapp-01': { ansible_port: 2205, lab_role: 'windows', windows_hostname: 'XAGOLD', vm_name_label: 'XenApp-Gold', xen_pool: 'pool-a' },
  'xenapp-02': { ansible_port: 2206, lab_role: 'windows', windows_hostname: 'XENAPP-02', vm_name_label: 'XENAPP-02', windows_ip: '10.10.0.52', pool_master: 'xs-01' },
  'xenapp-03': { ansible_port: 2207, lab_role: 'windows', windows_hostname: 'XENAPP-03', vm_name_label: 'XENAPP-03', windows_ip: '10.10.0.53', pool_master: 'xs-01' },
};

/**
 * `describe --format md` as a change-ticket checklist: every step in order with its title, manual
 * ones marked with their evidence fields, the KMS threshold named.
 */
export function expectChecklist(md: string, runbook: Runbook): void {
  const items = [...md.matchAll(/^(\d+)\. \[ \] \*\*(.+?)\*\*(.*)— `([^`]+)`$/gm)];
  expect(items.map((m) => m[4])).toEqual(runbook.steps.map((s) => s.id));
  expect(items.map((m) => m[2])).toEqual(runbook.steps.map((s) => s.title));
  for (const step of runbook.steps.filter((s) => s.kind === 'manual')) {
    expect(items.find((m) => m[4] === step.id)![3]).toContain('[manual]');
    for (const field of Object.keys(step.kind === 'manual' && step.evidence ? step.evidence.shape : {})) {
      expect(md, `${step.id}.${field}`).toContain(`   - ${field} (`);
    }
  }
  expect(md).toContain('fewer than 5');
}

/** A confirmation of a manual gate: the console work first, then its evidence and note. */
export interface Confirm { evidence?: string[]; note?: string; before?: () => void }

// The lab's own pool-database lock (a flock that dies with its holder), so no simulated xe runs mid-edit.
const { withLock } = (await import('../../lab/sim/xen/store.mjs' as string)) as { withLock<T>(path: string, fn: () => T): T };

export class XenAppLab {
  private constructor(readonly stateDir: string, readonly lab: Lab, private readonly env: NodeJS.ProcessEnv) {}

  /**
   * Starts the lab with xs-01 (the pool master) and the named Windows hosts; `env` goes to every
   * CLI call (a secret param as RUNBOOK_PARAM_*: only the runbook that takes it may be given it).
   */
  static async start(windowsHosts: string[], env: NodeJS.ProcessEnv = {}): Promise<XenAppLab> {
    const stateDir = mkdtempSync(join(tmpdir(), 'runbook-xenapp-'));
    const estate = parse(readFileSync(join(REPO, 'inventory', 'lab.yaml'), 'utf8'));
    estate.all.vars.ansible_ssh_private_key_file = join(stateDir, 'lab', 'id_ed25519');
    estate.all.children.windows.hosts = Object.fromEntries(windowsHosts.map((name) => [name, WINDOWS_HOSTS[name]]));
    const estatePath = join(stateDir, 'estate.yaml');
    writeFileSync(estatePath, stringify(estate));
    try {
      return new XenAppLab(stateDir, await labUp({ stateDir, portBase: 0, rebootDownMs: 300, estate: estatePath, hosts: ['xs-01', ...windowsHosts].join(',') }), { ...ENV, ...env });
    } catch (error) {
      await labDown({ stateDir }).catch(() => undefined);
      throw error;
    }
  }

  async stop(): Promise<void> {
    await labDown({ stateDir: this.stateDir }).catch(() => undefined);
    rmSync(this.stateDir, { recursive: true, force: true });
  }

  get inventory(): string {
    return this.lab.inventoryPath;
  }

  cli(args: string[], timeoutMs = 120_000): Promise<CliResult> {
    return runCli([...args, '--state-dir', this.stateDir], { cwd: REPO, env: this.env, timeoutMs });
  }

  /** A command at the Windows host's "console": over SSH, but as the human would type it. */
  atConsole(host: string, line: string): string {
    const port = this.lab.hosts.find((h) => h.name === host)!.port;
    const ssh = spawnSync('ssh', ['-i', this.lab.keyPath, '-p', String(port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', 'root@127.0.0.1', line], { encoding: 'utf8', timeout: 30_000 });
    if (ssh.status !== 0) throw new Error(`console ${host} \`${line}\` exited ${ssh.status}: ${ssh.stderr}`);
    return ssh.stdout;
  }

  windowsState(host: string) {
    return JSON.parse(readFileSync(join(this.lab.labRoot, 'hosts', host, 'windows.json'), 'utf8'));
  }

  private get poolDb(): string {
    return join(this.lab.labRoot, 'pools', 'pool-a.json');
  }

  vmPower(name: string): string[] {
    const db = JSON.parse(readFileSync(this.poolDb, 'utf8'));
    return Object.values<any>(db.vm).filter((v) => v['name-label'] === name).map((v) => v['power-state']);
  }

  /** The uuid of pool-a's shared iSCSI SR (a copy's target). */
  sharedSr(): string {
    return Object.values<any>(JSON.parse(readFileSync(this.poolDb, 'utf8')).sr).find((s) => s.type === 'lvmoiscsi').uuid;
  }

  /** Drops a VM (with its VBDs and VDIs) from the pool database, under the database's own lock. */
  removeSeededVm(name: string): void {
    withLock(this.poolDb, () => {
      const db = JSON.parse(readFileSync(this.poolDb, 'utf8'));
      for (const vm of Object.values<any>(db.vm).filter((v) => v['name-label'] === name)) {
        for (const vbd of Object.values<any>(db.vbd).filter((b) => b['vm-uuid'] === vm.uuid)) {
          delete db.vdi[vbd['vdi-uuid']];
          delete db.vbd[vbd.uuid];
        }
        delete db.vm[vm.uuid];
      }
      writeFileSync(this.poolDb, JSON.stringify(db, null, 2));
    });
  }

  /**
   * The clone host as a deploy finds it: the lab seeds a VM for every guest host, but the clone's
   * VM is what the deploy creates, so that record goes. The lab does not tie a copied VM to a lab
   * machine, so the disk copy is stood for by giving the clone host the sealed gold's Windows state.
   */
  standInForClone(host: string, vmName: string): void {
    this.removeSeededVm(vmName);
    copyFileSync(join(this.lab.labRoot, 'hosts', 'xenapp-01', 'windows.json'), join(this.lab.labRoot, 'hosts', host, 'windows.json'));
  }

  /**
   * Runs `first` (an apply --json), then at each pause confirms the waiting step with its evidence
   * (after doing its console work) and resumes, until the run ends. Returns the steps confirmed, in
   * order, and every run's events.
   */
  async driveWithConfirms(first: string[], host: string, confirms: Record<string, Confirm>) {
    let result = await this.cli(first);
    const events = [parseEvents(result.stdout)];
    const id = (events[0].find((e) => e.kind === 'run-start') as { runId?: string } | undefined)?.runId;
    expect(id, result.stdout + result.stderr).toBeTruthy();
    const confirmed: string[] = [];
    for (let round = 0; round < 12 && result.code === 3; round++) {
      const waiting = stepResults(events.at(-1)!, host).filter((r) => r.status === 'waiting').at(-1);
      expect(waiting, result.stdout).toBeDefined();
      const plan = confirms[waiting!.step];
      expect(plan, `no confirmation planned for ${waiting!.step}`).toBeDefined();
      plan!.before?.();
      const evidence = (plan!.evidence ?? []).flatMap((e) => ['--evidence', e]);
      const ok = await this.cli(['confirm', id!, '--host', host, '--step', waiting!.step, ...(plan!.note ? ['--note', plan!.note] : []), ...evidence]);
      expect(ok.code, ok.stderr).toBe(0);
      confirmed.push(waiting!.step);
      result = await this.cli(['resume', id!, '--json'], 240_000);
      events.push(parseEvents(result.stdout));
    }
    expect(result.code, result.stdout + result.stderr).toBe(0);
    return { id: id!, confirmed, events: events.flat() };
  }

  /** The confirmations `runbook show --json` reports, by step. */
  async journalConfirmations(id: string): Promise<Record<string, { by: string; note?: string; evidence?: Record<string, unknown> }>> {
    const show = await this.cli(['show', id, '--json']);
    expect(show.code, show.stderr).toBe(0);
    const out: Record<string, any> = {};
    for (const e of parseEvents(show.stdout) as any[]) if (e.kind === 'confirmation') out[e.step] = e;
    return out;
  }

  /** `runbook resume RUN --json`, SIGKILLed as soon as an event matches; resolves when the process is gone. */
  resumeAndKill(id: string, match: (event: any) => boolean): Promise<boolean> {
    return new Promise((done) => {
      const child = spawn(process.execPath, [BIN, 'resume', id, '--json', '--state-dir', this.stateDir], { cwd: REPO, env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let buffer = '';
      let killed = false;
      child.stdout.on('data', (chunk) => {
        buffer += chunk;
        const lines = buffer.split('\n');
        buffer = lines.pop()!;
        if (!killed && parseEvents(lines.join('\n')).some(match)) { killed = true; child.kill('SIGKILL'); }
      });
      child.stderr.resume();
      const cap = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.on('close', () => { clearTimeout(cap); done(killed); });
    });
  }
}
