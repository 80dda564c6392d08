/**
 * The command-level kill -9 torture (torture.ts) on the XenApp cloning procedure (the notes on
 * cloning Citrix servers with XenApp Prep), both runbooks in one drive: xenapp-gold-image seals the
 * gold server xenapp-01 (six manual gates confirmed with their evidence), then xenapp-clone-deploy
 * clones it to xenapp-02 (the console work at its two gates done as the human would, with the
 * lab's lab-console and netsh). A kill between every pair of commands of every multi-command step
 * of either runbook; the resumed runs must end as the uninterrupted ones. The lab cannot tie a
 * copied VM to a lab machine, so, as in xenapp-clone-deploy.test.ts, the clone's disk copy is
 * stood for by copying the sealed gold's Windows state to xenapp-02.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { REPO } from '../e2e/helpers.ts';
import { startLab, type RunbookLab } from './lab-helpers.ts';
import { torture, type Gate, type Scenario } from './torture.ts';


// The lab's own pool-database lock (a flock that dies with its holder), so no simulated xe runs mid-edit.
const { withLock } = (await import('../../lab/sim/xen/store.mjs' as string)) as { withLock<T>(path: string, fn: () => T): T };

const poolDb = (lab: RunbookLab) => join(lab.lab.labRoot, 'pools', 'pool-a.json');

/** Drops a VM (with its VBDs and VDIs) from the pool database, under the database's own lock. */
function removeSeededVm(lab: RunbookLab, name: string): void {
  withLock(poolDb(lab), () => {
    const db = JSON.parse(readFileSync(poolDb(lab), 'utf8'));
    for (const vm of Object.values<any>(db.vm).filter((v) => v['name-label'] === name)) {
      for (const vbd of Object.values<any>(db.vbd).filter((b) => b['vm-uuid'] === vm.uuid)) {
        delete db.vdi[vbd['vdi-uuid']];
        delete db.vbd[vbd.uuid];
      }
      delete db.vm[vm.uuid];
    }
    writeFileSync(poolDb(lab), JSON.stringify(db, null, 2));
  });
}

/** A command at the Windows host's "console": over SSH, but as the human would type it. */
function atConsole(lab: RunbookLab, host: string, line: string): void {
  const port = lab.lab.hosts.find((h) => h.name === host)!.port;
  const ssh = spawnSync('ssh', ['-i', lab.lab.keyPath, '-p', String(port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', 'root@127.0.0.1', line], { encoding: 'utf8', timeout: 30_000 });
  if (ssh.status !== 0) throw new Error(`console ${host} \`${line}\` exited ${ssh.status}: ${ssh.stderr}`);
}

/** A gate confirmed with its evidence, after the operator's console work. */
function confirmed(evidence: string[], consoleWork?: (lab: RunbookLab, host: string) => void) {
  return async (lab: RunbookLab, { runId, host, step }: Gate) => {
    consoleWork?.(lab, host);
    const result = await lab.cli(['confirm', runId, '--host', host, '--step', step, ...evidence.flatMap((e) => ['--evidence', e])], { env: { RUNBOOK_OPERATOR: 'alice' } });
    expect(result.code, result.stderr).toBe(0);
  };
}

const sharedSr = (lab: RunbookLab): string => Object.values<any>(JSON.parse(readFileSync(poolDb(lab), 'utf8')).sr).find((s) => s.type === 'lvmoiscsi').uuid;
const windowsState = (lab: RunbookLab, host: string) => JSON.parse(lab.hostFile(host, 'windows.json') ?? 'null');
/** The Windows state a run leaves, less what differs every time: the boot id, sysprep's random WIN-… name. */
function settled(lab: RunbookLab, host: string) {
  const { bootId: _bootId, ...state } = windowsState(lab, host);
  return { ...state, computerName: String(state.computerName).replace(/^WIN-\w+$/, 'WIN-<random>') };
}
const vmPower = (lab: RunbookLab, name: string) => Object.values<any>(JSON.parse(readFileSync(poolDb(lab), 'utf8')).vm).filter((v) => v['name-label'] === name).map((v) => v['power-state']);

const SCENARIO: Scenario = {
  name: 'xenapp-gold-image, then xenapp-clone-deploy', runbook: 'xenapp-gold-image',
  estate: (lab) => ({
    gold: settled(lab, 'xenapp-01'), clone: settled(lab, 'xenapp-02'),
    power: { gold: vmPower(lab, 'XenApp-Gold'), clone: vmPower(lab, 'XENAPP-02') },
  }),
  legs: [
    {
      args: () => ['-l', 'xenapp-01'],
      gates: {
        'os-patched': confirmed(['patchedThrough=2009-10 Patch Tuesday']),
        'prerequisites-installed': confirmed([]),
        'xenapp-installed': confirmed(['version=5.0 HRP04']),
        'apps-installed': confirmed(['apps=Notepad,Microsoft Office Word 2007']),
        'sme-signed-off': confirmed(['sme=Bob Jones (finance)', 'tested=Word templates', 'result=pass', 'ticket=CHG-1042']),
        'kms-threshold': confirmed(['currentCount=3', 'plan=two more Server 2008 hosts join the KMS count this week']),
      },
    },
    {
      before: (lab) => {
        // The lab seeds a VM for every guest host; the clone's VM is what this deploy creates.
        removeSeededVm(lab, 'XENAPP-02');
        copyFileSync(join(lab.hostDir('xenapp-01'), 'windows.json'), join(lab.hostDir('xenapp-02'), 'windows.json'));
      },
      runbook: 'xenapp-clone-deploy',
      env: { RUNBOOK_PARAM_domainPassword: 'Pa55 "w0rd" & ^more%' },
      args: (lab) => ['-l', 'xenapp-02', '--param', 'goldVm=XenApp-Gold', '--param', `targetSr=${sharedSr(lab)}`,
        '--param', 'domain=corp.example.com', '--param', 'domainUser=CORP\\joiner', '--param', 'kmsCount=7'],
      gates: {
        'oobe-completed': confirmed(['computerName=XENAPP-02', 'passwordChangedBy=alice', 'ip=10.10.0.52'], (lab, host) => {
          atConsole(lab, host, 'lab-console oobe XENAPP-02');
          atConsole(lab, host, 'netsh interface ip set address name="Local Area Connection" source=static 10.10.0.52 255.255.255.0 10.10.0.1');
          atConsole(lab, host, 'change logon /disable');
        }),
        'apps-published': confirmed(['apps=Notepad,Microsoft Office Word 2007', 'publishedBy=alice'], (lab, host) => {
          atConsole(lab, host, 'lab-console publish Notepad "Microsoft Office Word 2007"');
        }),
      },
    },
  ],
};

/** The lab inventory with the gold server's VM in pool-a and a clone host, as test/runbooks/xenapp-lab.ts has it. */
function writeEstate(dir: string): string {
  const estate = parse(readFileSync(join(REPO, 'inventory', 'lab.yaml'), 'utf8'));
  estate.all.children.windows.hosts = {
    'xenapp-01': { ansible_port: 2205, lab_role: 'windows', windows_hostname: 'XAGOLD', vm_name_label: 'XenApp-Gold', xen_pool: 'pool-a' },
    'xenapp-02': { ansible_port: 2206, lab_role: 'windows', windows_hostname: 'XENAPP-02', vm_name_label: 'XENAPP-02', windows_ip: '10.10.0.52', pool_master: 'xs-01' },
  };
  const path = join(dir, 'estate.yaml');
  writeFileSync(path, stringify(estate));
  return path;
}

const estateDir = mkdtempSync(join(tmpdir(), 'runbook-xenapp-estate-'));
let lab: RunbookLab;
beforeAll(async () => { lab = await startLab({ rebootDownMs: 300, estate: writeEstate(estateDir), hosts: 'xs-01,xenapp-01,xenapp-02' }); }, 120_000);
afterAll(async () => {
  await lab?.stop();
  rmSync(estateDir, { recursive: true, force: true });
});

describe('kill between every pair of commands of every multi-command step: xenapp-gold-image, then xenapp-clone-deploy', () => {
  it('the gold image and a clone of it: the tortured runs end as the uninterrupted ones, no command run twice', async () => {
    const { boundaries } = await torture(lab, SCENARIO);
    expect(boundaries.length, 'the scenario has multi-command steps').toBeGreaterThan(0);
    expect(vmPower(lab, 'XENAPP-02')).toEqual(['running']);
    expect(windowsState(lab, 'xenapp-02')).toMatchObject({ computerName: 'XENAPP-02', domain: 'corp.example.com', farm: { member: true } });
  }, 1_200_000);
});
