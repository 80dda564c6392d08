/**
 * The lab's Windows XenApp host: cmd.exe semantics over SSH (as Windows OpenSSH runs exec requests)
 * and the HA and XenApp cloning notes' gold image and clone procedure, step by step, on one host.
 */
import type ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labFault, labStatus, readMutations, type Lab } from '../../lab/lab.ts';
import { connect, exec, sleep, testLab } from './infra-helpers.ts';

let lab: Lab;
let client: ssh2.Client;
beforeAll(async () => {
  lab = await testLab({ hosts: 'xenapp-01' });
  client = await connect(lab, 'xenapp-01');
});
afterAll(async () => {
  client?.end();
  await lab?.stop();
});

const cmd = (line: string) => exec(client, line);

async function waitForPower(state: string): Promise<void> {
  for (let i = 0; i < 100 && labStatus({ stateDir: lab.stateDir }).hosts[0]!.power !== state; i++) await sleep(50);
  expect(labStatus({ stateDir: lab.stateDir }).hosts[0]!.power).toBe(state);
}

/** After a reboot: a fresh connection once the port answers again. */
async function reconnect(): Promise<void> {
  client.end();
  for (let attempt = 0; ; attempt++) {
    try {
      client = await connect(lab, 'xenapp-01');
      return;
    } catch (error) {
      if (attempt > 50) throw error;
      await sleep(100);
    }
  }
}

describe('cmd.exe on the Windows host', () => {
  it.each([
    ['echo a & echo b', 0, 'a\r\nb\r\n'],
    ['nosuch || echo fallback', 0, 'fallback\r\n'],
    ['(echo x) && exit /b 5', 5, 'x\r\n'],
    ['echo %COMPUTERNAME% %NOSUCH%', 0, 'XENAPP-01 %NOSUCH%\r\n'],
    ['hostname | findstr /i xenapp', 0, 'XENAPP-01\r\n'],
    ['echo hidden >nul & echo shown', 0, 'shown\r\n'],
    ['echo saved> C:\\out.txt & type c:\\OUT.TXT', 0, 'saved\r\n'],
    ['if exist "C:\\Windows\\System32\\sysprep\\sysprep.exe" (echo yes) else (echo no)', 0, 'yes\r\n'],
    ['if not exist C:\\nothing.txt echo absent', 0, 'absent\r\n'],
  ])('%s', async (line, code, stdout) => {
    expect(await cmd(line)).toMatchObject({ code, stdout });
  });

  it('reports an unknown program with cmd\'s message and 32-bit exit code 9009', async () => {
    expect(await cmd('XenAppPrep.exe')).toMatchObject({
      code: 9009,
      stderr: "'XenAppPrep.exe' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n",
    });
  });
});

describe('the HA and XenApp cloning notes: gold image, then a clone', () => {
  it('prepares the image: XenApp Prep, IP off the subnet, sysprep OOBE with shutdown', async () => {
    expect((await cmd('qfarm')).stdout).toMatch(/^Server Name .*\r\n-+ .*\r\nXENAPP-01 \* +10\.10\.0\.50 +D\r\n$/);
    const prep = await cmd('cd /d "C:\\Program Files\\Citrix\\XenAppPrep" && XenAppPrep.exe');
    expect(prep).toMatchObject({ code: 0, stdout: expect.stringContaining('XenApp Prep completed successfully.') });
    expect(await cmd('qfarm')).toMatchObject({ code: 1 });
    expect((await cmd('netsh interface ip set address name="Local Area Connection" source=dhcp')).code).toBe(0);
    expect((await cmd('ipconfig')).stdout).toContain('Autoconfiguration IPv4 Address. . : 169.254.');
    expect((await cmd('ping -n 1 corp.example.com')).code).toBe(1);
    expect((await cmd('C:\\Windows\\System32\\sysprep\\sysprep.exe /generalize /oobe /shutdown /quiet')).code).toBe(0);
    await waitForPower('halted');
    const logged = readMutations(lab.stateDir, 'xenapp-01').map((m) => m.argv[0]);
    expect(logged).toEqual(['XenAppPrep.exe', 'netsh', 'sysprep.exe']);
  });

  it('deploys the clone: OOBE name, IP, domain join, reboot, farm, apps, logons', async () => {
    await labFault({ stateDir: lab.stateDir, host: 'xenapp-01', kind: 'power-off', off: true });
    await reconnect();
    expect((await cmd('hostname')).stdout).toMatch(/^WIN-[A-Z0-9]+\r\n$/);
    expect((await cmd('lab-console oobe XENAPP-02')).code).toBe(0);
    const ip = 'netsh interface ip set address name="Local Area Connection" static 10.10.0.51 255.255.255.0 10.10.0.1 1';
    expect((await cmd(`${ip} && ping -n 1 corp.example.com`)).stdout).toContain('Reply from 10.10.0.5: bytes=32 time<1ms TTL=128');
    const join = await cmd('netdom join %COMPUTERNAME% /domain:corp.example.com /userd:CORP\\admin /passwordd:s3cret');
    expect(join).toMatchObject({ code: 0, stdout: expect.stringContaining('The command completed successfully.') });
    expect(readMutations(lab.stateDir, 'xenapp-01').at(-1)!.argv).toContain('/passwordd:***');
    expect((await cmd('wmic computersystem get partofdomain')).stdout).toMatch(/FALSE/);
    expect((await cmd('shutdown /r /t 0')).code).toBe(0);
    await sleep(700);
    await reconnect();
    expect((await cmd('wmic computersystem get domain,name')).stdout).toMatch(/corp\.example\.com +XENAPP-02/);
    expect((await cmd('qfarm | findstr XENAPP-02')).stdout).toMatch(/^XENAPP-02 \* +10\.10\.0\.51 +D\r\n$/);
    expect((await cmd('lab-console publish Notepad')).code).toBe(0);
    expect((await cmd('qfarm /app')).stdout).toMatch(/Notepad +XENAPP-02/);
    expect((await cmd('change logon /disable & change logon /enable & change logon /query')).stdout).toBe('Session logins are currently ENABLED\r\n');
  });
});
