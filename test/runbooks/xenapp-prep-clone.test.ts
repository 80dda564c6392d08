/**
 * runbooks/xenapp-prep-clone.ts end to end (the HA and XenApp cloning notes) on a lab whose estate puts the Windows gold
 * server's VM in pool-a (xenapp-01, VM XenApp-Gold) and adds a clone host (xenapp-02), every
 * manual step confirmed through `runbook confirm` with its evidence, the journal read back with
 * `runbook show`. What a human does at the console (finish the OOBE, set the address, publish
 * applications in the Access Suite Console) is done with the lab's `lab-console` and netsh, never
 * by the runbook. The lab does not tie a copied VM to a lab machine, so the clone's disk copy is
 * stood for by copying the sealed gold's Windows state to xenapp-02 (said where it happens).
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { labDown, labUp, readMutations, type Lab } from '../../lab/lab.ts';
import runbook, { kmsVerdict } from '../../runbooks/xenapp-prep-clone.ts';
import { BIN, REPO, runCli, type CliResult } from '../e2e/helpers.ts';
import { parseEvents, statusTable, stepResults } from './lab-helpers.ts';

const PASSWORD = 'Pa55 "w0rd" & ^more%';
const ENV = { NO_COLOR: '1', RUNBOOK_OPERATOR: 'alice', RUNBOOK_PARAM_domainPassword: PASSWORD };
const PREPARE = ['--param', 'phase=prepare'];

let stateDir: string;
let lab: Lab;
let sharedSr: string;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'runbook-xenapp-'));
  const estate = parse(readFileSync(join(REPO, 'inventory', 'lab.yaml'), 'utf8'));
  estate.all.vars.ansible_ssh_private_key_file = join(stateDir, 'lab', 'id_ed25519');
  estate.all.children.windows.hosts = {
    'xenapp-01': { ansible_port: 2205, lab_role: 'windows', windows_hostname: 'XAGOLD', vm_name_label: 'XenApp-Gold', xen_pool: 'pool-a' },
    'xenapp-02': { ansible_port: 2206, lab_role: 'windows', windows_hostname: 'XENAPP-02', vm_name_label: 'XENAPP-02', windows_ip: '10.10.0.52', pool_master: 'xs-01' },
    'xenapp-03': { ansible_port: 2207, lab_role: 'windows', windows_hostname: 'XENAPP-03', vm_name_label: 'XENAPP-03', windows_ip: '10.10.0.53', pool_master: 'xs-01' },
  };
  const estatePath = join(stateDir, 'estate.yaml');
  writeFileSync(estatePath, stringify(estate));
  try {
    lab = await labUp({ stateDir, portBase: 0, rebootDownMs: 300, estate: estatePath, hosts: 'xs-01,xenapp-01,xenapp-02,xenapp-03' });
  } catch (error) {
    await labDown({ stateDir }).catch(() => undefined);
    throw error;
  }
  const db = JSON.parse(readFileSync(join(lab.labRoot, 'pools', 'pool-a.json'), 'utf8'));
  sharedSr = Object.values<any>(db.sr).find((s) => s.type === 'lvmoiscsi').uuid;
}, 120_000);

afterAll(async () => {
  await labDown({ stateDir }).catch(() => undefined);
  rmSync(stateDir, { recursive: true, force: true });
});

const cli = (args: string[], timeoutMs = 120_000): Promise<CliResult> =>
  runCli([...args, '--state-dir', stateDir], { cwd: REPO, env: ENV, timeoutMs });

/** A command at the Windows host's "console": over SSH, but as the human would type it. */
function atConsole(host: string, line: string): string {
  const port = lab.hosts.find((h) => h.name === host)!.port;
  const ssh = spawnSync('ssh', ['-i', lab.keyPath, '-p', String(port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', 'root@127.0.0.1', line], { encoding: 'utf8', timeout: 30_000 });
  if (ssh.status !== 0) throw new Error(`console ${host} \`${line}\` exited ${ssh.status}: ${ssh.stderr}`);
  return ssh.stdout;
}

const windowsState = (host: string) => JSON.parse(readFileSync(join(lab.labRoot, 'hosts', host, 'windows.json'), 'utf8'));
const vmPower = (name: string) => {
  const db = JSON.parse(readFileSync(join(lab.labRoot, 'pools', 'pool-a.json'), 'utf8'));
  return Object.values<any>(db.vm).filter((v) => v['name-label'] === name).map((v) => v['power-state']);
};

// The lab's own pool-database lock (a flock that dies with its holder), so no simulated xe runs mid-edit.
const { withLock } = (await import('../../lab/sim/xen/store.mjs' as string)) as { withLock<T>(path: string, fn: () => T): T };

/** Drops a VM (with its VBDs and VDIs) from the pool database, under the database's own lock. */
function removeSeededVm(name: string): void {
  const path = join(lab.labRoot, 'pools', 'pool-a.json');
  withLock(path, () => {
    const db = JSON.parse(readFileSync(path, 'utf8'));
    for (const vm of Object.values<any>(db.vm).filter((v) => v['name-label'] === name)) {
      for (const vbd of Object.values<any>(db.vbd).filter((b) => b['vm-uuid'] === vm.uuid)) {
        delete db.vdi[vbd['vdi-uuid']];
        delete db.vbd[vbd.uuid];
      }
      delete db.vm[vm.uuid];
    }
    writeFileSync(path, JSON.stringify(db, null, 2));
  });
}

/** `runbook resume RUN --json`, SIGKILLed as soon as an event matches; resolves when the process is gone. */
function resumeAndKill(id: string, match: (event: any) => boolean): Promise<boolean> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, 'resume', id, '--json', '--state-dir', stateDir], { cwd: REPO, env: { ...process.env, ...ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
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

interface Confirm { evidence?: string[]; note?: string; before?: () => void }

/**
 * Runs `first` (an apply --json), then at each pause confirms the waiting step with its evidence
 * (after doing its console work) and resumes, until the run ends. Returns the steps confirmed, in
 * order, and every run's events.
 */
async function driveWithConfirms(first: string[], host: string, confirms: Record<string, Confirm>) {
  let result = await cli(first);
  const events = [parseEvents(result.stdout)];
  const runId = (events[0].find((e) => e.kind === 'run-start') as { runId?: string; run?: string } | undefined);
  const id = runId?.runId ?? runId?.run;
  expect(id, result.stdout + result.stderr).toBeTruthy();
  const confirmed: string[] = [];
  for (let round = 0; round < 12 && result.code === 3; round++) {
    const waiting = stepResults(events.at(-1)!, host).filter((r) => r.status === 'waiting').at(-1);
    expect(waiting, result.stdout).toBeDefined();
    const plan = confirms[waiting!.step];
    expect(plan, `no confirmation planned for ${waiting!.step}`).toBeDefined();
    plan!.before?.();
    const evidence = (plan!.evidence ?? []).flatMap((e) => ['--evidence', e]);
    const ok = await cli(['confirm', id!, '--host', host, '--step', waiting!.step, ...(plan!.note ? ['--note', plan!.note] : []), ...evidence]);
    expect(ok.code, ok.stderr).toBe(0);
    confirmed.push(waiting!.step);
    result = await cli(['resume', id!, '--json'], 240_000);
    events.push(parseEvents(result.stdout));
  }
  expect(result.code, result.stdout + result.stderr).toBe(0);
  return { id: id!, confirmed, events: events.flat() };
}

/** The confirmations `runbook show --json` reports, by step. */
async function journalConfirmations(id: string): Promise<Record<string, { by: string; note?: string; evidence?: Record<string, unknown> }>> {
  const show = await cli(['show', id, '--json']);
  expect(show.code, show.stderr).toBe(0);
  const out: Record<string, any> = {};
  for (const e of parseEvents(show.stdout) as any[]) if (e.kind === 'confirmation') out[e.step] = e;
  return out;
}

describe('pure parts', () => {
  it('KMS thresholds are the HA and XenApp cloning notes\'s: 5 servers, 25 clients', () => {
    expect(kmsVerdict('server', 4).ok).toBe(false);
    expect(kmsVerdict('server', 5).ok).toBe(true);
    expect(kmsVerdict('client', 24).ok).toBe(false);
    expect(kmsVerdict('client', 25).ok).toBe(true);
    expect(kmsVerdict('server', undefined)).toMatchObject({ ok: false, reason: expect.stringContaining('unknown') });
  });
});

describe('xenapp-prep-clone on the lab', () => {
  it('the Markdown checklist lists every step in order, manual ones with their evidence fields', async () => {
    const md = await cli(['describe', 'xenapp-prep-clone', '--format', 'md']);
    expect(md.code, md.stderr).toBe(0);
    const items = [...md.stdout.matchAll(/^(\d+)\. \[ \] \*\*(.+?)\*\*(.*)— `([^`]+)`$/gm)];
    expect(items.map((m) => m[4])).toEqual(runbook.steps.map((s) => s.id));
    expect(items.map((m) => m[2])).toEqual(runbook.steps.map((s) => s.title));
    for (const step of runbook.steps.filter((s) => s.kind === 'manual')) {
      expect(items.find((m) => m[4] === step.id)![3]).toContain('[manual]');
      for (const field of Object.keys(step.kind === 'manual' && step.evidence ? step.evidence.shape : {})) {
        expect(md.stdout, `${step.id}.${field}`).toContain(`   - ${field} (`);
      }
    }
    expect(md.stdout).toContain('fewer than 5');
  });

  it('prepare: dry-run changes nothing; apply pauses at each manual step, confirms land in the journal, the gold ends sealed and halted', async () => {
    const dry = await cli(['apply', 'xenapp-prep-clone', '-i', lab.inventoryPath, '-l', 'xenapp-01', '--dry-run', '--json', ...PREPARE]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(statusTable(parseEvents(dry.stdout))['xenapp-01']).toMatchObject({ 'os-patched': 'would-change', 'name-generic': 'ok', 'xenapp-prep-run': 'would-change', 'ip-isolated': 'would-change', 'sysprep-sealed': 'would-change', 'clone-copied': 'skipped' });
    expect(readMutations(stateDir, 'xenapp-01')).toEqual([]);
    expect(readMutations(stateDir, 'xs-01')).toEqual([]);

    const evidence: Record<string, Confirm> = {
      'os-patched': { evidence: ['patchedThrough=2009-10 Patch Tuesday'] },
      'prerequisites-installed': { note: '.NET 3.5 SP1, J#, TS role' },
      'xenapp-installed': { evidence: ['version=5.0 HRP04'] },
      'apps-installed': { evidence: ['apps=Notepad,Microsoft Office Word 2007'] },
      'sme-signed-off': { evidence: ['sme=Bob Jones (finance)', 'tested=Word templates, ledger app month-end run', 'result=pass', 'ticket=CHG-1042'] },
      'kms-threshold': { evidence: ['currentCount=3', 'plan=two more Server 2008 hosts join the KMS count this week; grace period accepted by ops'] },
    };
    const run = await driveWithConfirms(['apply', 'xenapp-prep-clone', '-i', lab.inventoryPath, '-l', 'xenapp-01', '--json', ...PREPARE], 'xenapp-01', evidence);
    expect(run.confirmed).toEqual(['os-patched', 'prerequisites-installed', 'xenapp-installed', 'apps-installed', 'sme-signed-off', 'kms-threshold']);
    const last = statusTable(run.events)['xenapp-01'];
    expect(last).toMatchObject({ 'xenapp-prep-installed': 'ok', 'xenapp-prep-run': 'changed', 'ip-isolated': 'changed', 'sysprep-sealed': 'changed', 'gold-halted': 'ok', 'gold-ready': 'skipped' });
    expect(stepResults(run.events, 'xenapp-01').find((r) => r.step === 'kms-checked')?.reason).toMatch(/^WARNING: the KMS host's count is unknown: it activates servers only once 5/);

    // the gold: prepped, DHCP, sysprep'd, and halted as the pool master sees it
    expect(windowsState('xenapp-01')).toMatchObject({ sysprep: 'oobe', xenAppPrep: { ran: true }, ip: { dhcp: true }, domain: null });
    expect(vmPower('XenApp-Gold')).toEqual(['halted']);
    const argv = readMutations(stateDir, 'xenapp-01').map((m) => m.argv);
    expect(argv).toEqual([
      ['XenAppPrep.exe'],
      ['netsh', 'interface', 'ip', 'set', 'address', 'name=Local Area Connection', 'source=dhcp'],
      ['sysprep.exe', '/generalize', '/oobe', '/shutdown', '/quiet'],
    ]);

    // every confirmation, with who and every evidence field, is in the journal
    const journal = await journalConfirmations(run.id);
    expect(Object.keys(journal).sort()).toEqual([...run.confirmed].sort());
    expect(journal['sme-signed-off']).toMatchObject({ by: 'alice', evidence: { sme: 'Bob Jones (finance)', tested: 'Word templates, ledger app month-end run', result: 'pass', ticket: 'CHG-1042' } });
    expect(journal['kms-threshold'].evidence).toEqual({ currentCount: 3, plan: 'two more Server 2008 hosts join the KMS count this week; grace period accepted by ops' });
    expect(journal['prerequisites-installed']).toMatchObject({ by: 'alice', note: '.NET 3.5 SP1, J#, TS role' });
    const human = await cli(['show', run.id, '--host', 'xenapp-01']);
    expect(human.stdout).toContain('Bob Jones (finance)');
    expect(human.stdout).toContain('CHG-1042');
  }, 600_000);

  it('evidence is checked against its schema: a confirmation without its required field is refused', async () => {
    const bad = await cli(['apply', 'xenapp-prep-clone', '-i', lab.inventoryPath, '-l', 'xenapp-02', '--json', '--fresh', ...PREPARE]);
    expect(bad.code).toBe(3);
    const id = (parseEvents(bad.stdout).find((e) => e.kind === 'run-start') as any).runId;
    const refused = await cli(['confirm', id, '--host', 'xenapp-02', '--step', 'os-patched', '--evidence', 'wrong=1']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/patchedThrough/);
  });

  it('deploy: copies the sealed image on the pool master, waits for the console, joins the domain, and the farm shows the clone and its apps', async () => {
    // The lab seeds a VM for every guest host; the clone's VM is what this deploy creates, so that record goes.
    removeSeededVm('XENAPP-02');
    expect(vmPower('XENAPP-02')).toEqual([]);
    // Stand-in for the disk copy the lab cannot tie to a lab machine: the clone's disk is the gold's.
    copyFileSync(join(lab.labRoot, 'hosts', 'xenapp-01', 'windows.json'), join(lab.labRoot, 'hosts', 'xenapp-02', 'windows.json'));
    const deploy = ['--param', 'phase=deploy', '--param', 'goldVm=XenApp-Gold', '--param', `targetSr=${sharedSr}`, '--param', 'domain=corp.example.com',
      '--param', 'domainUser=CORP\\joiner', '--param', 'kmsCount=7'];
    const dry = await cli(['apply', 'xenapp-prep-clone', '-i', lab.inventoryPath, '-l', 'xenapp-02', '--dry-run', '--json', '--fresh', ...deploy]);
    expect(dry.code, dry.stdout + dry.stderr).toBe(0);
    const planned = stepResults(parseEvents(dry.stdout), 'xenapp-02').find((r) => r.step === 'clone-copied')!;
    expect(planned.commands, JSON.stringify(planned)).toEqual([expect.stringMatching(new RegExp(`^xe vm-copy uuid=\\S+ new-name-label=XENAPP-02 sr-uuid=${sharedSr}$`))]);
    expect(readMutations(stateDir, 'xs-01').filter((m) => m.argv[1] === 'vm-copy')).toEqual([]);

    const confirms: Record<string, Confirm> = {
      'oobe-completed': {
        before: () => {
          atConsole('xenapp-02', 'lab-console oobe XENAPP-02');
          atConsole('xenapp-02', 'netsh interface ip set address name="Local Area Connection" source=static 10.10.0.52 255.255.255.0 10.10.0.1');
          atConsole('xenapp-02', 'change logon /disable');
        },
        evidence: ['computerName=XENAPP-02', 'passwordChangedBy=alice', 'ip=10.10.0.52'],
      },
      'apps-published': {
        before: () => { atConsole('xenapp-02', 'lab-console publish Notepad "Microsoft Office Word 2007"'); },
        evidence: ['apps=Notepad,Microsoft Office Word 2007', 'publishedBy=alice'],
      },
    };
    const run = await driveWithConfirms(['apply', 'xenapp-prep-clone', '-i', lab.inventoryPath, '-l', 'xenapp-02', '--json', '--fresh', ...deploy], 'xenapp-02', confirms);
    expect(run.confirmed).toEqual(['oobe-completed', 'apps-published']);
    const table = statusTable(run.events)['xenapp-02'];
    expect(table).toMatchObject({
      'kms-checked': 'ok', 'kms-threshold': 'ok', 'gold-ready': 'ok', 'clone-copied': 'changed', 'clone-started': 'changed', 'clone-address': 'ok', 'clone-name': 'ok',
      'domain-reachable': 'ok', 'domain-joined': 'changed', 'in-farm': 'ok', 'apps-visible': 'ok', 'logons-enabled': 'changed', 'os-patched': 'skipped',
    });
    expect(vmPower('XENAPP-02')).toEqual(['running']);
    expect(vmPower('XenApp-Gold')).toEqual(['halted']);
    expect(windowsState('xenapp-02')).toMatchObject({ computerName: 'XENAPP-02', domain: 'corp.example.com', farm: { member: true }, logons: 'ENABLED' });
    // the password went to netdom quoted as one argument and never into a log
    const netdom = readMutations(stateDir, 'xenapp-02').find((m) => m.argv[0] === 'netdom')!;
    expect(netdom.argv).toEqual(['netdom', 'join', 'XENAPP-02', '/domain:corp.example.com', '/userd:CORP\\joiner', '/passwordd:***', '/reboot']);
    const show = await cli(['show', run.id, '--json']);
    expect(show.stdout).not.toContain(PASSWORD);
    expect(show.stdout).toContain('/passwordd:********');
    const journal = await journalConfirmations(run.id);
    expect(journal['oobe-completed'].evidence).toEqual({ computerName: 'XENAPP-02', passwordChangedBy: 'alice', ip: '10.10.0.52' });

    // a second deploy run is all ok (or skipped) and changes nothing
    const before = [readMutations(stateDir, 'xenapp-02').length, readMutations(stateDir, 'xs-01').length];
    const again = await cli(['apply', 'xenapp-prep-clone', '-i', lab.inventoryPath, '-l', 'xenapp-02', '--json', '--fresh', ...deploy]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(new Set(Object.values(statusTable(parseEvents(again.stdout))['xenapp-02']))).toEqual(new Set(['ok', 'skipped']));
    expect([readMutations(stateDir, 'xenapp-02').length, readMutations(stateDir, 'xs-01').length]).toEqual(before);
  }, 600_000);

  it('deploy SIGKILLed right after netdom join (the clone rebooting) resumes without joining twice', async () => {
    removeSeededVm('XENAPP-03');
    copyFileSync(join(lab.labRoot, 'hosts', 'xenapp-01', 'windows.json'), join(lab.labRoot, 'hosts', 'xenapp-03', 'windows.json'));
    const deploy = ['--param', 'phase=deploy', '--param', 'goldVm=XenApp-Gold', '--param', 'domain=corp.example.com', '--param', 'domainUser=CORP\\joiner', '--param', 'kmsCount=7'];
    const first = await cli(['apply', 'xenapp-prep-clone', '-i', lab.inventoryPath, '-l', 'xenapp-03', '--json', ...deploy]);
    expect(first.code, first.stdout + first.stderr).toBe(3);
    const id = (parseEvents(first.stdout).find((e) => e.kind === 'run-start') as any).runId;
    // vm-clone (no targetSr) this time
    expect(readMutations(stateDir, 'xs-01').filter((m) => m.argv[1] === 'vm-clone' && m.argv.includes('new-name-label=XENAPP-03'))).toHaveLength(1);
    atConsole('xenapp-03', 'lab-console oobe XENAPP-03');
    atConsole('xenapp-03', 'netsh interface ip set address name="Local Area Connection" source=static 10.10.0.53 255.255.255.0 10.10.0.1');
    expect((await cli(['confirm', id, '--host', 'xenapp-03', '--step', 'oobe-completed', '--evidence', 'computerName=XENAPP-03', '--evidence', 'passwordChangedBy=alice', '--evidence', 'ip=10.10.0.53'])).code).toBe(0);

    const killed = await resumeAndKill(id, (e) => e.kind === 'command' && String(e.command).startsWith('netdom join'));
    expect(killed).toBe(true);
    let resumed = await cli(['resume', id, '--json'], 240_000);
    // the clone may still be rebooting when the resume starts: unreachable (4) is retried once it is back
    for (let i = 0; i < 5 && resumed.code === 4; i++) resumed = await cli(['resume', id, '--json'], 240_000);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(3);
    expect(statusTable(parseEvents(resumed.stdout))['xenapp-03']).toMatchObject({ 'domain-joined': 'ok', 'in-farm': 'ok', 'apps-published': 'waiting' });
    atConsole('xenapp-03', 'lab-console publish Notepad');
    expect((await cli(['confirm', id, '--host', 'xenapp-03', '--step', 'apps-published', '--evidence', 'apps=Notepad', '--evidence', 'publishedBy=alice'])).code).toBe(0);
    const end = await cli(['resume', id, '--json'], 240_000);
    expect(end.code, end.stdout + end.stderr).toBe(0);
    expect(readMutations(stateDir, 'xenapp-03').filter((m) => m.argv[0] === 'netdom')).toHaveLength(1);
    expect(windowsState('xenapp-03')).toMatchObject({ computerName: 'XENAPP-03', domain: 'corp.example.com', farm: { member: true } });
  }, 600_000);
});
