/**
 * Facts about a Windows server read with cmd.exe tools (Windows OpenSSH runs every exec request as
 * `cmd.exe /c`; Server 2008 has no PowerShell unless the feature is added): pure parsers of what
 * `ipconfig`, `netsh`, `wmic` and XenApp's `qfarm` print, each tested on recorded output, and the
 * facts that run them. Commands are built with `winCmd`, which quotes for cmd.exe. Also the KMS
 * activation threshold check that both the gold image and each clone deployment go through.
 */
import { z } from 'zod';
import { change, noop } from '../runbook/check.ts';
import type { AssertStep, ManualStep, StepContext } from '../runbook/types.ts';
import { winCmd, type Command } from '../shell/command.ts';
import type { Shell, ShellResult } from '../shell/shell.ts';
import { assert } from './assert.ts';
import { manual } from './manual.ts';

/**
 * A NetBIOS computer name (what Windows Server 2008 takes as the computer name): 1-15 letters,
 * digits and hyphens, not starting with a hyphen.
 * @example vars: z.object({ windows_hostname: windows.computerName })
 */
export const computerName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,14}$/, 'must be a NetBIOS computer name (1-15 letters, digits, -)');

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

// ---- KMS activation (the KMS notes of the XenApp cloning post) -------------------------------

/** The KMS notes: a KMS host activates servers once 5 distinct machines asked it, clients once 25 did. */
export const KMS_THRESHOLD = { server: 5, client: 25 } as const;

/** What the KMS host must activate: Windows servers or clients. */
export type KmsKind = keyof typeof KMS_THRESHOLD;

/**
 * The KMS notes' arithmetic: can the KMS host activate this kind of machine at `count`?
 * @example windows.kmsVerdict('server', 4) // { ok: false, reason: 'the KMS host has counted 4 of the 5 machines …' }
 */
export function kmsVerdict(kind: KmsKind, count: number | undefined): { ok: boolean; reason: string } {
  const need = KMS_THRESHOLD[kind];
  if (count === undefined) return { ok: false, reason: `the KMS host's count is unknown: it activates ${kind}s only once ${need} distinct machines have asked it` };
  if (count >= need) return { ok: true, reason: `the KMS host has counted ${count} machines (≥ ${need}): ${kind}s activate` };
  return { ok: false, reason: `the KMS host has counted ${count} of the ${need} machines it needs before it activates ${kind}s: clones stay unactivated (30-day grace, then nag screens)` };
}

/**
 * The params kmsThreshold's steps read, to spread into a runbook's params, so every runbook that
 * checks activation asks for the same thing in the same words.
 * @example params: z.object({ ...windows.kmsParams, goldVm: z.string() })
 */
export const kmsParams = {
  kmsKind: z.enum(['server', 'client']).default('server').describe('what the KMS host must activate: Server 2008 for XenApp (threshold 5) or clients (25)'),
  kmsCount: z.number().int().min(0).optional().describe('the KMS host\'s current count (`cscript slmgr.vbs /dlv` on it); unknown: an operator confirms the risk'),
};

/** What kmsThreshold's steps read of ctx.params: the runbook's params must hold kmsParams. */
export type KmsParams = z.output<z.ZodObject<typeof kmsParams>>;

export interface KmsThresholdOptions<V = any> {
  /**
   * A host that answers, for the verdict step: an assert connects to the host it runs on, and a
   * clone being deployed does not exist yet (`xe.poolMasterOf`). The confirmation needs no host.
   */
  on?: string | ((ctx: StepContext<KmsParams, V>) => string | Promise<string>);
  when?: (ctx: StepContext<KmsParams, V>) => boolean | Promise<boolean>;
}

/**
 * The KMS activation threshold before an image is sealed or cloned, as two steps to spread into a
 * runbook whose params hold `windows.kmsParams` (a runbook without them does not type-check):
 * `kms-checked` says the verdict in every run's output and journal (a manual step's own reason is
 * not shown while it waits), and `kms-threshold` asks an operator to confirm, with the KMS host's
 * count and the plan, unless --param kmsCount meets the threshold for --param kmsKind.
 * @example ...windows.kmsThreshold({ on: xe.poolMasterOf })
 */
export function kmsThreshold<V = any>(options: KmsThresholdOptions<V> = {}): [AssertStep<KmsParams, V>, ManualStep<KmsParams, V>] {
  const where = { ...(options.when && { when: options.when }), ...(options.on && { on: options.on }) };
  const verdictOf = (ctx: StepContext<KmsParams, V>) => kmsVerdict(ctx.params.kmsKind, ctx.params.kmsCount);
  const checked = assert<KmsParams, V>({
    id: 'kms-checked',
    title: 'check the KMS activation threshold (5 servers / 25 clients)',
    description: 'Always passes; its reason starts with WARNING when activation will fail, and the next step then asks an operator to confirm.',
    ...where,
    that: (ctx) => {
      const verdict = verdictOf(ctx);
      return noop(verdict.ok ? verdict.reason : `WARNING: ${verdict.reason}`);
    },
  });
  const confirmed = manual<KmsParams, V>({
    id: 'kms-threshold',
    title: 'the KMS host can activate the clones (the KMS notes\' thresholds)',
    ...(options.when && { when: options.when }),
    instructions: [
      'The KMS notes: a KMS host activates nothing until enough distinct machines have asked it: 5 for servers, 25 for clients',
      '(counting virtual machines only when the KMS host runs Server 2008 R2). Below that the clones run unactivated in',
      'the 30-day grace period and nag in its last days. Nobody is asked when --param kmsCount says the threshold is met.',
      'Otherwise read "Current count" from `cscript slmgr.vbs /dlv` on the KMS host and record how activation will be',
      'reached (more machines, a MAK key, an R2 KMS host) before the image is sealed or cloned.',
    ].join('\n'),
    evidence: z.object({
      currentCount: z.coerce.number().int().min(0).describe('"Current count" of the KMS host'),
      plan: z.string().min(3).describe('how activation will be reached, or who accepted the grace period'),
    }),
    check: (ctx) => {
      const verdict = verdictOf(ctx);
      return verdict.ok ? noop(verdict.reason) : change(`WARNING: ${verdict.reason}`);
    },
  });
  return [checked, confirmed];
}
