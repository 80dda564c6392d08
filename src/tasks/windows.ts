/**
 * Facts about a Windows server read with cmd.exe tools (Windows OpenSSH runs every exec request as
 * `cmd.exe /c`; Server 2008 has no PowerShell unless the feature is added): pure parsers of what
 * `ipconfig`, `netsh`, `wmic` and XenApp's `qfarm` print, each tested on recorded output, and the
 * facts that run them. Commands are built with `winCmd`, which quotes for cmd.exe.
 */
import { winCmd, type Command } from '../shell/command.ts';
import type { Shell, ShellResult } from '../shell/shell.ts';

/** A cmd.exe command's result, never thrown, with `out`: its stdout without Windows line ends. */
export type CmdOutput = ShellResult & { out: string };

/**
 * Runs a cmd.exe command without throwing on a non-zero exit; `out` is stdout without `\r`.
 * @example const { ok, out } = await windows.cmdOutput(ctx.sh, winCmd`qfarm`)
 */
export async function cmdOutput(sh: Shell, command: Command): Promise<CmdOutput> {
  const result = await sh.run(command).nothrow();
  return { ...result, out: result.stdout.replace(/\r/g, '') };
}

// ---- parsers (pure) --------------------------------------------------------------------------

/**
 * The IPv4 addresses `ipconfig` lists ("IPv4 Address. . . : 10.0.0.5", DHCP's "Autoconfiguration IPv4 Address").
 * @example windows.ipconfigAddresses('   IPv4 Address. . . . . . . . . . . : 10.0.0.5\n') // ['10.0.0.5']
 */
export function ipconfigAddresses(text: string): string[] {
  return [...text.matchAll(/IPv4 Address[ .]*: (\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]);
}

/**
 * `netsh interface ip show config`: whether DHCP is on, and the address.
 * @example windows.netshConfig('    DHCP enabled:                         Yes\n') // { dhcp: true, address: undefined }
 */
export function netshConfig(text: string): { dhcp: boolean; address?: string } {
  return { dhcp: /DHCP enabled:\s+Yes/i.test(text), address: /IP Address:\s+(\d+\.\d+\.\d+\.\d+)/.exec(text)?.[1] };
}

/**
 * The value under the header of a one-column `wmic … get FIELD` (`wmic computersystem get domain`
 * → the domain, WORKGROUP when none).
 * @example windows.wmicValue('Domain  \ncorp.example.com  \n') // 'corp.example.com'
 */
export function wmicValue(text: string): string | undefined {
  return text.split('\n').map((l) => l.trim()).filter(Boolean)[1];
}

/**
 * The server names XenApp's `qfarm` lists (the `*` marks the server asked).
 * @example windows.qfarmServers('Server Name  Server IP\n-----------  ---------\nXENAPP-02 *  10.0.0.52\n') // ['XENAPP-02']
 */
export function qfarmServers(text: string): string[] {
  return text.split('\n').slice(2).map((l) => l.trim().split(/\s+/)[0]).filter((n): n is string => Boolean(n) && !/^-+$/.test(n));
}

/**
 * `qfarm /app` rows as application → the servers publishing it.
 * @example windows.qfarmApps(text).get('Notepad') // ['XENAPP-02']
 */
export function qfarmApps(text: string): Map<string, string[]> {
  const apps = new Map<string, string[]>();
  for (const line of text.split('\n').slice(2)) {
    const m = /^(.*\S)\s{2,}(\S+)\s*$/.exec(line);
    if (m) apps.set(m[1], [...(apps.get(m[1]) ?? []), m[2]]);
  }
  return apps;
}

// ---- facts -----------------------------------------------------------------------------------

/**
 * The computer name, as `hostname` prints it.
 * @example if ((await windows.hostname(ctx.sh)).toUpperCase() === 'GOLD') …
 */
export async function hostname(sh: Shell): Promise<string> {
  return (await cmdOutput(sh, winCmd`hostname`)).out.trim();
}

/**
 * The IPv4 addresses `ipconfig` shows.
 * @example (await windows.ipv4Addresses(ctx.sh)).includes('10.0.0.5')
 */
export async function ipv4Addresses(sh: Shell): Promise<string[]> {
  return ipconfigAddresses((await cmdOutput(sh, winCmd`ipconfig`)).out);
}

/**
 * A network connection's addressing, from `netsh interface ip show config name=ADAPTER`.
 * @example const { dhcp } = await windows.adapterConfig(ctx.sh, 'Local Area Connection')
 */
export async function adapterConfig(sh: Shell, adapter: string): Promise<{ dhcp: boolean; address?: string }> {
  return netshConfig((await cmdOutput(sh, winCmd`netsh interface ip show config name=${adapter}`)).out);
}

/**
 * The domain the server belongs to (`wmic computersystem get domain`); WORKGROUP when none, '' when wmic says nothing.
 * @example const joined = (await windows.domain(ctx.sh)).toLowerCase() === 'corp.example.com'
 */
export async function domain(sh: Shell): Promise<string> {
  return wmicValue((await cmdOutput(sh, winCmd`wmic computersystem get domain`)).out) ?? '';
}

/** What `qfarm` says: whether it ran (a server outside any farm makes it fail), the servers, its stderr. */
export interface FarmView { ok: boolean; servers: string[]; out: string; stderr: string }

/**
 * The XenApp farm's servers as this server's `qfarm` lists them.
 * @example const { servers } = await windows.farm(ctx.sh)
 */
export async function farm(sh: Shell): Promise<FarmView> {
  const result = await cmdOutput(sh, winCmd`qfarm`);
  return { ok: result.ok, servers: qfarmServers(result.out), out: result.out, stderr: result.stderr };
}

/**
 * The farm's published applications and their servers, from `qfarm /app`.
 * @example (await windows.farmApps(ctx.sh)).get('Notepad')
 */
export async function farmApps(sh: Shell): Promise<Map<string, string[]>> {
  return qfarmApps((await cmdOutput(sh, winCmd`qfarm /app`)).out);
}
