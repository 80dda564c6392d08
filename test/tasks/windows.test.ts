/**
 * Windows facts: the parsers on recorded output (XenApp 5 on Server 2008, as the lab prints it), and
 * the facts through a FAKE shell; the computer name schema and the KMS activation threshold steps.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import * as windows from '../../src/tasks/windows.ts';
import { fakeContext, fakeShell } from '../shell/fake-shell.ts';

const QFARM = 'Server Name        Server IP         Data Collector\r\n-----------------  ----------------  --------------\r\nXENAPP-02 *        10.10.0.52        D\r\n';
const QFARM_APP = 'Application Name                Server Name\n------------------------------  ----------------\nNotepad                         XENAPP-02\nMicrosoft Office Word 2007      XENAPP-02\n';
const IPCONFIG = 'Windows IP Configuration\r\n\r\nEthernet adapter Local Area Connection:\r\n\r\n   IPv4 Address. . . . . . . . . . . : 10.10.0.52(Preferred)\r\n   Autoconfiguration IPv4 Address. . : 169.254.3.4\r\n';
const NETSH_STATIC = 'Configuration for interface "Local Area Connection"\n    DHCP enabled:                         No\n    IP Address:                           192.0.2.50\n';

describe('parsers', () => {
  it('reads qfarm and qfarm /app', () => {
    expect(windows.qfarmServers(QFARM.replace(/\r/g, ''))).toEqual(['XENAPP-02']);
    expect([...windows.qfarmApps(QFARM_APP)]).toEqual([['Notepad', ['XENAPP-02']], ['Microsoft Office Word 2007', ['XENAPP-02']]]);
  });

  it.each<[string, string, string | undefined]>([
    ['a domain', 'Domain            \ncorp.example.com  \n\n', 'corp.example.com'],
    ['a workgroup', 'Domain\nWORKGROUP\n', 'WORKGROUP'],
    ['nothing', '', undefined],
  ])('reads wmic: %s', (_, text, want) => {
    expect(windows.wmicValue(text)).toBe(want);
  });

  it('reads ipconfig addresses (plain and autoconfiguration) and netsh addressing', () => {
    expect(windows.ipconfigAddresses(IPCONFIG)).toEqual(['10.10.0.52', '169.254.3.4']);
    expect(windows.netshConfig(NETSH_STATIC)).toEqual({ dhcp: false, address: '192.0.2.50' });
    expect(windows.netshConfig('    DHCP enabled:                         Yes\n')).toEqual({ dhcp: true, address: undefined });
  });
});

describe('facts', () => {
  it('run cmd.exe tools and strip Windows line ends', async () => {
    const sh = fakeShell({
      hostname: { stdout: 'XENAPP-02\r\n' },
      ipconfig: { stdout: IPCONFIG },
      'wmic computersystem get domain': { stdout: 'Domain  \r\ncorp.example.com  \r\n' },
      qfarm: { stdout: QFARM },
      'qfarm /app': { stdout: QFARM_APP },
      'netsh interface ip show config name=^"Local Area Connection^"': { stdout: NETSH_STATIC },
    });
    expect(await windows.hostname(sh)).toBe('XENAPP-02');
    expect(await windows.ipv4Addresses(sh)).toEqual(['10.10.0.52', '169.254.3.4']);
    expect(await windows.domain(sh)).toBe('corp.example.com');
    expect(await windows.farm(sh)).toMatchObject({ ok: true, servers: ['XENAPP-02'] });
    expect((await windows.farmApps(sh)).get('Notepad')).toEqual(['XENAPP-02']);
    expect(await windows.adapterConfig(sh, 'Local Area Connection')).toEqual({ dhcp: false, address: '192.0.2.50' });
  });

  it('a server outside any farm: qfarm fails, and that is an answer, not an error', async () => {
    const sh = fakeShell({ qfarm: { code: 1, stderr: 'Error: this server is not a member of a farm\r\n' } });
    expect(await windows.farm(sh)).toMatchObject({ ok: false, servers: [], stderr: expect.stringContaining('not a member') });
  });
});

describe('computerName', () => {
  it.each([
    ['XENAPP-02', true], ['xagold', true], ['A', true], ['ABCDEFGHIJKLMNO', true],
    ['ABCDEFGHIJKLMNOP', false], ['-XENAPP', false], ['XEN APP', false], ['XEN_APP', false], ['', false],
  ])('%s is a NetBIOS computer name: %s', (name, ok) => {
    expect(windows.computerName.safeParse(name).success).toBe(ok);
  });
});

describe('KMS activation threshold (the KMS notes: 5 servers, 25 clients)', () => {
  it.each<[windows.KmsKind, number | undefined, boolean, string]>([
    ['server', 4, false, 'counted 4 of the 5 machines'],
    ['server', 5, true, 'counted 5 machines (≥ 5): servers activate'],
    ['client', 24, false, 'counted 24 of the 25 machines'],
    ['client', 25, true, 'clients activate'],
    ['server', undefined, false, 'count is unknown: it activates servers only once 5'],
  ])('kmsVerdict(%s, %s): ok %s', (kind, count, ok, reason) => {
    expect(windows.kmsVerdict(kind, count)).toEqual({ ok, reason: expect.stringContaining(reason) });
  });

  const ctxWith = (params: windows.KmsParams) => fakeContext(fakeShell({}), { params });

  it('gives two steps, the verdict (always passing) on the host named by `on`, then the confirmation', () => {
    const [checked, confirmed] = windows.kmsThreshold({ on: 'xs-01' });
    expect(checked).toMatchObject({ id: 'kms-checked', kind: 'assert', on: 'xs-01' });
    expect(confirmed).toMatchObject({ id: 'kms-threshold', kind: 'manual', instructions: expect.stringContaining('slmgr.vbs /dlv') });
    expect(confirmed.on).toBeUndefined();
    expect(Object.keys(confirmed.evidence!.shape)).toEqual(['currentCount', 'plan']);
  });

  it.each<[string, windows.KmsParams, string]>([
    ['below the threshold', { kmsKind: 'server', kmsCount: 3 }, 'WARNING: the KMS host has counted 3 of the 5'],
    ['count unknown', { kmsKind: 'client' }, 'WARNING: the KMS host\'s count is unknown: it activates clients only once 25'],
    ['met', { kmsKind: 'server', kmsCount: 7 }, 'the KMS host has counted 7 machines'],
  ])('%s: the verdict step passes and says so', async (_, params, reason) => {
    const [checked] = windows.kmsThreshold();
    const result = await checked.check(ctxWith(params));
    expect(result.done).toBe(true);
    expect(result.reason.startsWith(reason), result.reason).toBe(true);
  });

  it.each<[string, windows.KmsParams, boolean]>([
    ['below the threshold: an operator is asked', { kmsKind: 'server', kmsCount: 3 }, false],
    ['count unknown: an operator is asked', { kmsKind: 'server' }, false],
    ['met: nobody is asked', { kmsKind: 'client', kmsCount: 25 }, true],
  ])('%s', async (_, params, done) => {
    const [, confirmed] = windows.kmsThreshold();
    const result = await confirmed.check!(ctxWith(params));
    expect(result.done).toBe(done);
    expect(result.reason.startsWith('WARNING: ')).toBe(!done);
  });

  it('kmsParams: server by default, a count is a whole number ≥ 0 and may be left out', () => {
    const params = z.object(windows.kmsParams);
    expect(params.parse({})).toEqual({ kmsKind: 'server' });
    expect(params.safeParse({ kmsCount: -1 }).success).toBe(false);
    expect(params.safeParse({ kmsKind: 'laptop' }).success).toBe(false);
  });
});
