/** Windows facts: the parsers on recorded output (XenApp 5 on Server 2008, as the lab prints it), and the facts through a FAKE shell. */
import { describe, expect, it } from 'vitest';
import * as windows from '../../src/tasks/windows.ts';
import { fakeShell } from '../shell/fake-shell.ts';

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
