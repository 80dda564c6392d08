/**
 * runbooks/xenapp-gold-image.ts end to end (the notes on cloning Citrix servers with XenApp Prep)
 * on a lab whose estate puts the Windows gold server's VM in pool-a (xenapp-01, VM XenApp-Gold):
 * every manual step confirmed through `runbook confirm` with its evidence, the journal read back
 * with `runbook show`, and the gold left sealed and halted for xenapp-clone-deploy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMutations } from '../../lab/lab.ts';
import runbook from '../../runbooks/xenapp-gold-image.ts';
import { parseEvents, statusTable, stepResults } from './lab-helpers.ts';
import { XenAppLab, expectChecklist, type Confirm } from './xenapp-lab.ts';

let lab: XenAppLab;
beforeAll(async () => { lab = await XenAppLab.start(['xenapp-01']); }, 120_000);
afterAll(() => lab?.stop());

describe('xenapp-gold-image on the lab', () => {
  it('the Markdown checklist lists every step in order, manual ones with their evidence fields, and points to the deploy', async () => {
    const md = await lab.cli(['describe', 'xenapp-gold-image', '--format', 'md']);
    expect(md.code, md.stderr).toBe(0);
    expectChecklist(md.stdout, runbook);
    expect(md.stdout).toContain('xenapp-clone-deploy');
    expect(md.stdout).toContain('--param goldVm=');
  });

  it('dry-run changes nothing; apply pauses at each manual step, confirms land in the journal, the gold ends sealed and halted, no step skipped', async () => {
    const dry = await lab.cli(['apply', 'xenapp-gold-image', '-i', lab.inventory, '-l', 'xenapp-01', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(statusTable(parseEvents(dry.stdout))['xenapp-01']).toMatchObject({ 'os-patched': 'would-change', 'name-generic': 'ok', 'xenapp-prep-run': 'would-change', 'ip-isolated': 'would-change', 'sysprep-sealed': 'would-change' });
    expect(readMutations(lab.stateDir, 'xenapp-01')).toEqual([]);
    expect(readMutations(lab.stateDir, 'xs-01')).toEqual([]);

    const evidence: Record<string, Confirm> = {
      'os-patched': { evidence: ['patchedThrough=2009-10 Patch Tuesday'] },
      'prerequisites-installed': { note: '.NET 3.5 SP1, J#, TS role' },
      'xenapp-installed': { evidence: ['version=5.0 HRP04'] },
      'apps-installed': { evidence: ['apps=Notepad,Microsoft Office Word 2007'] },
      'sme-signed-off': { evidence: ['sme=Bob Jones (finance)', 'tested=Word templates, ledger app month-end run', 'result=pass', 'ticket=CHG-1042'] },
      'kms-threshold': { evidence: ['currentCount=3', 'plan=two more Server 2008 hosts join the KMS count this week; grace period accepted by ops'] },
    };
    const run = await lab.driveWithConfirms(['apply', 'xenapp-gold-image', '-i', lab.inventory, '-l', 'xenapp-01', '--json'], 'xenapp-01', evidence);
    expect(run.confirmed).toEqual(['os-patched', 'prerequisites-installed', 'xenapp-installed', 'apps-installed', 'sme-signed-off', 'kms-threshold']);
    const last = statusTable(run.events)['xenapp-01'];
    expect(last).toMatchObject({ 'xenapp-prep-installed': 'ok', 'xenapp-prep-run': 'changed', 'ip-isolated': 'changed', 'sysprep-sealed': 'changed', 'gold-halted': 'ok' });
    // every step of the runbook belongs to the gold image: none is skipped
    const statuses = new Map(stepResults(run.events, 'xenapp-01').map((r) => [r.step, r.status]));
    expect([...statuses.keys()].sort()).toEqual(runbook.steps.map((s) => s.id).sort());
    expect([...statuses.values()]).not.toContain('skipped');
    expect(stepResults(run.events, 'xenapp-01').find((r) => r.step === 'kms-checked')?.reason).toMatch(/^WARNING: the KMS host's count is unknown: it activates servers only once 5/);

    // the gold: prepped, DHCP, sysprep'd, and halted as the pool master sees it
    expect(lab.windowsState('xenapp-01')).toMatchObject({ sysprep: 'oobe', xenAppPrep: { ran: true }, ip: { dhcp: true }, domain: null });
    expect(lab.vmPower('XenApp-Gold')).toEqual(['halted']);
    const argv = readMutations(lab.stateDir, 'xenapp-01').map((m) => m.argv);
    expect(argv).toEqual([
      ['XenAppPrep.exe'],
      ['netsh', 'interface', 'ip', 'set', 'address', 'name=Local Area Connection', 'source=dhcp'],
      ['sysprep.exe', '/generalize', '/oobe', '/shutdown', '/quiet'],
    ]);

    // every confirmation, with who and every evidence field, is in the journal
    const journal = await lab.journalConfirmations(run.id);
    expect(Object.keys(journal).sort()).toEqual([...run.confirmed].sort());
    expect(journal['sme-signed-off']).toMatchObject({ by: 'alice', evidence: { sme: 'Bob Jones (finance)', tested: 'Word templates, ledger app month-end run', result: 'pass', ticket: 'CHG-1042' } });
    expect(journal['kms-threshold'].evidence).toEqual({ currentCount: 3, plan: 'two more Server 2008 hosts join the KMS count this week; grace period accepted by ops' });
    expect(journal['prerequisites-installed']).toMatchObject({ by: 'alice', note: '.NET 3.5 SP1, J#, TS role' });
    const human = await lab.cli(['show', run.id, '--host', 'xenapp-01']);
    expect(human.stdout).toContain('Bob Jones (finance)');
    expect(human.stdout).toContain('CHG-1042');
  }, 600_000);

  it('evidence is checked against its schema: a confirmation without its required field is refused', async () => {
    const bad = await lab.cli(['apply', 'xenapp-gold-image', '-i', lab.inventory, '-l', 'xenapp-01', '--json', '--fresh']);
    expect(bad.code, bad.stdout + bad.stderr).toBe(3);
    const id = (parseEvents(bad.stdout).find((e) => e.kind === 'run-start') as any).runId;
    const refused = await lab.cli(['confirm', id, '--host', 'xenapp-01', '--step', 'os-patched', '--evidence', 'wrong=1']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/patchedThrough/);
  });
});
