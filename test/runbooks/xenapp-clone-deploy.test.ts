/**
 * runbooks/xenapp-clone-deploy.ts end to end (the notes on cloning Citrix servers with XenApp Prep)
 * on a lab whose estate puts the Windows gold server's VM in pool-a (xenapp-01, VM XenApp-Gold)
 * beside two clone hosts (xenapp-02, xenapp-03). The gold is sealed first at its console, as the
 * notes' gold image steps 4-7 do by hand (XenApp Prep, DHCP, sysprep /shutdown; the runbook that
 * does it, xenapp-gold-image, has its own test and shares a torture drive with this one). What a
 * human does at a clone's console (finish the OOBE, set the address, publish applications in the
 * Access Suite Console) is done with the lab's `lab-console` and netsh, never by the runbook.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMutations } from '../../lab/lab.ts';
import runbook from '../../runbooks/xenapp-clone-deploy.ts';
import { parseEvents, statusTable, stepResults } from './lab-helpers.ts';
import { PASSWORD, XenAppLab, expectChecklist, type Confirm } from './xenapp-lab.ts';

const DEPLOY = ['--param', 'goldVm=XenApp-Gold', '--param', 'domain=corp.example.com', '--param', 'domainUser=CORP\\joiner', '--param', 'kmsCount=7'];

let lab: XenAppLab;
beforeAll(async () => {
  lab = await XenAppLab.start(['xenapp-01', 'xenapp-02', 'xenapp-03'], { RUNBOOK_PARAM_domainPassword: PASSWORD });
  lab.atConsole('xenapp-01', '"C:\\Program Files\\Citrix\\XenAppPrep\\XenAppPrep.exe"');
  lab.atConsole('xenapp-01', 'netsh interface ip set address name="Local Area Connection" source=dhcp');
  lab.atConsole('xenapp-01', 'C:\\Windows\\System32\\sysprep\\sysprep.exe /generalize /oobe /shutdown /quiet');
  // The lab powers the gold off once sysprep has reported; its VM then reads halted on the master.
  for (let i = 0; i < 600 && lab.vmPower('XenApp-Gold')[0] !== 'halted'; i++) await new Promise((r) => setTimeout(r, 100));
  expect(lab.vmPower('XenApp-Gold')).toEqual(['halted']);
}, 180_000);
afterAll(() => lab?.stop());

describe('xenapp-clone-deploy on the lab', () => {
  it('refuses, touching no host, a deploy without its params or a clone host without its address, naming what is missing', async () => {
    const noParams = await lab.cli(['apply', 'xenapp-clone-deploy', '-i', lab.inventory, '-l', 'xenapp-02', '--json']);
    expect(noParams.code, noParams.stdout + noParams.stderr).toBe(1);
    for (const param of ['goldVm', 'domain', 'domainUser']) expect(noParams.stderr).toContain(param);
    // xenapp-01 is the gold: it has no windows_ip, so it cannot be a clone host
    const noAddress = await lab.cli(['apply', 'xenapp-clone-deploy', '-i', lab.inventory, '-l', 'xenapp-01', '--json', ...DEPLOY]);
    expect(noAddress.code, noAddress.stdout + noAddress.stderr).toBe(1);
    expect(noAddress.stdout + noAddress.stderr).toMatch(/xenapp-01[\s\S]*windows_ip/);
    expect(readMutations(lab.stateDir, 'xs-01')).toEqual([]);
  });

  it('the Markdown checklist lists every step in order, manual ones with their evidence fields, and points to the gold image runbook', async () => {
    const md = await lab.cli(['describe', 'xenapp-clone-deploy', '--format', 'md']);
    expect(md.code, md.stderr).toBe(0);
    expectChecklist(md.stdout, runbook);
    expect(md.stdout).toContain('xenapp-gold-image');
  });

  it('copies the sealed image on the pool master, waits for the console, joins the domain, and the farm shows the clone and its apps', async () => {
    lab.standInForClone('xenapp-02', 'XENAPP-02');
    expect(lab.vmPower('XENAPP-02')).toEqual([]);
    const deploy = [...DEPLOY, '--param', `targetSr=${lab.sharedSr()}`];
    const dry = await lab.cli(['apply', 'xenapp-clone-deploy', '-i', lab.inventory, '-l', 'xenapp-02', '--dry-run', '--json', '--fresh', ...deploy]);
    expect(dry.code, dry.stdout + dry.stderr).toBe(0);
    const planned = stepResults(parseEvents(dry.stdout), 'xenapp-02').find((r) => r.step === 'clone-copied')!;
    expect(planned.commands, JSON.stringify(planned)).toEqual([expect.stringMatching(new RegExp(`^xe vm-copy uuid=\\S+ new-name-label=XENAPP-02 sr-uuid=${lab.sharedSr()}$`))]);
    expect(readMutations(lab.stateDir, 'xs-01').filter((m) => m.argv[1] === 'vm-copy')).toEqual([]);

    const confirms: Record<string, Confirm> = {
      'oobe-completed': {
        before: () => {
          lab.atConsole('xenapp-02', 'lab-console oobe XENAPP-02');
          lab.atConsole('xenapp-02', 'netsh interface ip set address name="Local Area Connection" source=static 10.10.0.52 255.255.255.0 10.10.0.1');
          lab.atConsole('xenapp-02', 'change logon /disable');
        },
        evidence: ['computerName=XENAPP-02', 'passwordChangedBy=alice', 'ip=10.10.0.52'],
      },
      'apps-published': {
        before: () => { lab.atConsole('xenapp-02', 'lab-console publish Notepad "Microsoft Office Word 2007"'); },
        evidence: ['apps=Notepad,Microsoft Office Word 2007', 'publishedBy=alice'],
      },
    };
    const run = await lab.driveWithConfirms(['apply', 'xenapp-clone-deploy', '-i', lab.inventory, '-l', 'xenapp-02', '--json', '--fresh', ...deploy], 'xenapp-02', confirms);
    expect(run.confirmed).toEqual(['oobe-completed', 'apps-published']);
    // every step of the runbook ran for the clone, none skipped (a confirmed gate's check holds on resume: ok)
    expect(statusTable(run.events)['xenapp-02']).toEqual({
      'inputs-checked': 'ok', 'kms-checked': 'ok', 'kms-threshold': 'ok', 'gold-ready': 'ok', 'clone-copied': 'changed', 'clone-started': 'changed',
      'oobe-completed': 'ok', 'clone-address': 'ok', 'clone-name': 'ok', 'domain-reachable': 'ok', 'domain-joined': 'changed', 'in-farm': 'ok',
      'apps-published': 'ok', 'apps-visible': 'ok', 'logons-enabled': 'changed',
    });
    expect(lab.vmPower('XENAPP-02')).toEqual(['running']);
    expect(lab.vmPower('XenApp-Gold')).toEqual(['halted']);
    expect(lab.windowsState('xenapp-02')).toMatchObject({ computerName: 'XENAPP-02', domain: 'corp.example.com', farm: { member: true }, logons: 'ENABLED' });
    // the password went to netdom quoted as one argument and never into a log
    const netdom = readMutations(lab.stateDir, 'xenapp-02').find((m) => m.argv[0] === 'netdom')!;
    expect(netdom.argv).toEqual(['netdom', 'join', 'XENAPP-02', '/domain:corp.example.com', '/userd:CORP\\joiner', '/passwordd:***', '/reboot']);
    const show = await lab.cli(['show', run.id, '--json']);
    expect(show.stdout).not.toContain(PASSWORD);
    expect(show.stdout).toContain('/passwordd:********');
    const journal = await lab.journalConfirmations(run.id);
    expect(journal['oobe-completed'].evidence).toEqual({ computerName: 'XENAPP-02', passwordChangedBy: 'alice', ip: '10.10.0.52' });

    // a second deploy run is all ok and changes nothing
    const before = [readMutations(lab.stateDir, 'xenapp-02').length, readMutations(lab.stateDir, 'xs-01').length];
    const again = await lab.cli(['apply', 'xenapp-clone-deploy', '-i', lab.inventory, '-l', 'xenapp-02', '--json', '--fresh', ...deploy]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(new Set(Object.values(statusTable(parseEvents(again.stdout))['xenapp-02']))).toEqual(new Set(['ok']));
    expect([readMutations(lab.stateDir, 'xenapp-02').length, readMutations(lab.stateDir, 'xs-01').length]).toEqual(before);
  }, 600_000);

  it('SIGKILLed right after netdom join (the clone rebooting) resumes without joining twice', async () => {
    lab.standInForClone('xenapp-03', 'XENAPP-03');
    const first = await lab.cli(['apply', 'xenapp-clone-deploy', '-i', lab.inventory, '-l', 'xenapp-03', '--json', ...DEPLOY]);
    expect(first.code, first.stdout + first.stderr).toBe(3);
    const id = (parseEvents(first.stdout).find((e) => e.kind === 'run-start') as any).runId;
    // vm-clone (no targetSr) this time
    expect(readMutations(lab.stateDir, 'xs-01').filter((m) => m.argv[1] === 'vm-clone' && m.argv.includes('new-name-label=XENAPP-03'))).toHaveLength(1);
    lab.atConsole('xenapp-03', 'lab-console oobe XENAPP-03');
    lab.atConsole('xenapp-03', 'netsh interface ip set address name="Local Area Connection" source=static 10.10.0.53 255.255.255.0 10.10.0.1');
    expect((await lab.cli(['confirm', id, '--host', 'xenapp-03', '--step', 'oobe-completed', '--evidence', 'computerName=XENAPP-03', '--evidence', 'passwordChangedBy=alice', '--evidence', 'ip=10.10.0.53'])).code).toBe(0);

    const killed = await lab.resumeAndKill(id, (e) => e.kind === 'command' && String(e.command).startsWith('netdom join'));
    expect(killed).toBe(true);
    let resumed = await lab.cli(['resume', id, '--json'], 240_000);
    // the clone may still be rebooting when the resume starts: unreachable (4) is retried once it is back
    for (let i = 0; i < 5 && resumed.code === 4; i++) resumed = await lab.cli(['resume', id, '--json'], 240_000);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(3);
    expect(statusTable(parseEvents(resumed.stdout))['xenapp-03']).toMatchObject({ 'domain-joined': 'ok', 'in-farm': 'ok', 'apps-published': 'waiting' });
    lab.atConsole('xenapp-03', 'lab-console publish Notepad');
    expect((await lab.cli(['confirm', id, '--host', 'xenapp-03', '--step', 'apps-published', '--evidence', 'apps=Notepad', '--evidence', 'publishedBy=alice'])).code).toBe(0);
    const end = await lab.cli(['resume', id, '--json'], 240_000);
    expect(end.code, end.stdout + end.stderr).toBe(0);
    expect(readMutations(lab.stateDir, 'xenapp-03').filter((m) => m.argv[0] === 'netdom')).toHaveLength(1);
    expect(lab.windowsState('xenapp-03')).toMatchObject({ computerName: 'XENAPP-03', domain: 'corp.example.com', farm: { member: true } });
  }, 600_000);
});
