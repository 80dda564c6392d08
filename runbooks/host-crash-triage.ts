/**
 * Read-only triage of a XenServer host that crashed or hung, as the notes on host crashes give it:
 *
 *   - OOMKILL: "it can be ascertained from the kern logs"
 *   - kernel segfault: "raises signal 11 (SIGSEGV) … and registers the same in the kern logs"
 *   - kernel panic: the host does not come up, or left a crash dump
 *   - unresponsive in quiet hours: "check for the c-states in your processor settings"
 *   - "host should be patched with all citrix hotfixes"
 *
 * Every step only reads, and puts what it found into the journal as the step's outputs (the
 * evidence a ticket or a vendor case needs); the last step summarises and says what the notes
 * advise. Nothing on the host changes: every step is an assert that always holds.
 */
import { defineRunbook, facts, noop, xe, z } from '../src/index.ts';
import type { Outputs, Shell } from '../src/index.ts';

const params = z.object({
  maxLines: z.number().int().min(1).max(200).default(20)
    .describe('at most this many log lines of each kind kept as evidence'),
});

/** What the helpers below read of a step's context (every step's ctx is one). */
interface Ctx { sh: Shell; host: { name: string }; params: z.output<typeof params> }

const KERN_LOG = '/var/log/kern.log';
const EXTLINUX = '/boot/extlinux.conf';

/** The kern.log lines each crash cause leaves (wording of the 2.6.x dom0 kernels). */
const PATTERNS = {
  oomKills: /invoked oom-killer|Out of memory|Killed process/,
  segfaults: /segfault at /,
  panics: /Kernel panic|BUG: |Oops: /,
} as const;

type KernelFindings = Record<keyof typeof PATTERNS, string[]>;

/** The lines of each kind, the last `max` of each (the most recent matter most). */
export function parseKernLog(text: string, max: number): KernelFindings {
  const lines = text.split('\n');
  const pick = (re: RegExp) => lines.filter((l) => re.test(l)).slice(-max);
  return { oomKills: pick(PATTERNS.oomKills), segfaults: pick(PATTERNS.segfaults), panics: pick(PATTERNS.panics) };
}

/** Processes the OOM killer killed and that segfaulted: `Killed process 4620 (xapi)`, `squeezed[3377]: segfault`. */
export function victims(findings: KernelFindings): { killed: string[]; segfaulted: string[] } {
  const names = (lines: string[], re: RegExp) => [...new Set(lines.flatMap((l) => re.exec(l)?.[1] ?? []))];
  return { killed: names(findings.oomKills, /Killed process \d+ \(([^)]+)\)/), segfaulted: names(findings.segfaults, /\] ([^\s[]+)\[\d+\]: segfault/) };
}

/** `max_cstate=N` on the Xen line of extlinux.conf (the `append /boot/xen.gz …` before the first `---`). */
export function parseMaxCstate(extlinux: string): { xenArgs: string; maxCstate: number | null } {
  const append = extlinux.split('\n').find((l) => /^\s*append\s+\S*xen/.test(l)) ?? '';
  const xenArgs = append.replace(/^\s*append\s+/, '').split(' --- ')[0].trim();
  const match = /(?:^|\s)max_cstate=(\d+)/.exec(xenArgs);
  return { xenArgs, maxCstate: match ? Number(match[1]) : null };
}

async function kernelFindings(ctx: Ctx): Promise<KernelFindings | null> {
  const text = await facts.fileContent(ctx.sh, KERN_LOG);
  return text === null ? null : parseKernLog(text, ctx.params.maxLines);
}

async function crashDumps(ctx: Ctx): Promise<{ uuid: string; timestamp: string; size: string }[]> {
  const me = await xe.host(ctx.sh, ctx.host.name);
  const dumps = await xe.list(ctx.sh, 'host-crashdump', { 'host-uuid': me.uuid }, ['uuid', 'timestamp', 'size']);
  return dumps.map((d) => ({ uuid: d.uuid, timestamp: d.text('timestamp'), size: d.text('size') }));
}

async function cStates(ctx: Ctx): Promise<{ xenArgs: string; maxCstate: number | null } | null> {
  const text = await facts.fileContent(ctx.sh, EXTLINUX);
  return text === null ? null : parseMaxCstate(text);
}

/** This host's release and the pool's hotfixes: applied here, and applied elsewhere but not here. */
async function hotfixes(ctx: Ctx) {
  const me = await xe.host(ctx.sh, ctx.host.name);
  const version = await xe.paramGet(ctx.sh, 'host', me.uuid, 'software-version', 'product_version');
  const build = await xe.paramGet(ctx.sh, 'host', me.uuid, 'software-version', 'build_number');
  const names = new Map((await xe.hosts(ctx.sh)).map((h) => [h.uuid, h.nameLabel]));
  const patches = await xe.list(ctx.sh, 'patch', {}, ['uuid', 'name-label', 'hosts']);
  const on = (p: (typeof patches)[number]) => p.text('hosts').split(/,\s*/).filter(Boolean);
  const applied = patches.filter((p) => on(p).includes(me.uuid)).map((p) => p.text('name-label')).sort();
  const missing = patches.filter((p) => !on(p).includes(me.uuid))
    .map((p) => ({ name: p.text('name-label'), appliedOn: on(p).map((u) => names.get(u) ?? u) }));
  return { version, build, applied, missing };
}

/** Each finding as one sentence, with what the notes advise for it. */
async function findings(ctx: Ctx): Promise<string[]> {
  const out: string[] = [];
  const kernel = await kernelFindings(ctx);
  if (kernel === null) out.push(`no ${KERN_LOG} to read`);
  else {
    const { killed, segfaulted } = victims(kernel);
    if (kernel.oomKills.length) out.push(`OOM killer ran (killed: ${killed.join(', ') || 'unknown'}): dom0 ran out of memory; the notes advise taking the host out of the pool and rebuilding it`);
    if (kernel.segfaults.length) out.push(`segfault (SIGSEGV) in ${segfaulted.join(', ') || 'a process'}: patch firmware and apply every hotfix`);
    if (kernel.panics.length) out.push(`kernel panic or oops logged: hardware failure or file system corruption`);
  }
  const dumps = await crashDumps(ctx);
  if (dumps.length) out.push(`${dumps.length} crash dump(s) (${dumps.map((d) => d.timestamp).join(', ')}): the host crashed; attach them to the vendor case`);
  const cstates = await cStates(ctx);
  if (cstates && cstates.maxCstate === null) out.push('C-states are not limited (no max_cstate= for Xen in /boot/extlinux.conf): the notes blame deep C-states for hosts that stop answering in quiet hours; disable them (and Turbo Boost) in the BIOS');
  const fixes = await hotfixes(ctx);
  if (fixes.missing.length) out.push(`hotfixes missing here: ${fixes.missing.map((m) => `${m.name}${m.appliedOn.length ? ` (applied on ${m.appliedOn.join(', ')})` : ''}`).join(', ')}`);
  return out;
}

/** A finding as journal outputs (plain JSON: what `runbook show` prints and a resume restores). */
const evidence = (value: object): Outputs => JSON.parse(JSON.stringify(value)) as Outputs;

export default defineRunbook({
  name: 'host-crash-triage',
  summary: 'read-only triage of a crashed or hung XenServer host: kern.log OOM kills and segfaults, crash dumps, C-states, hotfix level, into the journal (the host crash notes)',
  description: [
    'Follows the notes on XenServer host crashes and unresponsiveness. Reads, on each host: the kern',
    'logs for OOM kills and kernel segfaults, the crash dumps xapi lists (`xe host-crashdump-list`),',
    'whether Xen limits C-states (max_cstate= in /boot/extlinux.conf), and the hotfix level',
    '(`xe patch-list` against the release). Each step puts what it found into the journal as',
    'evidence (`runbook show RUN` prints it); the last one summarises with what the notes advise.',
    'Changes nothing on any host: run it on one host (--limit) or a whole pool.',
  ].join('\n'),
  hosts: 'xenservers',
  params,
}).steps([
  {
    kind: 'assert',
    id: 'kernel-log',
    title: 'OOM kills, segfaults and panics in the kern logs',
    description: 'The notes: an OOMKILL "can be ascertained from the kern logs"; a kernel segfault raises signal 11 (SIGSEGV) and is registered there too. Reads /var/log/kern.log; keeps the last lines of each kind.',
    async check(ctx) {
      const kernel = await kernelFindings(ctx);
      if (kernel === null) return noop(`${KERN_LOG} is missing`, { kernLog: null });
      const { killed, segfaulted } = victims(kernel);
      return noop(`${kernel.oomKills.length} OOM line(s)${killed.length ? ` (killed ${killed.join(', ')})` : ''}, ${kernel.segfaults.length} segfault(s)${segfaulted.length ? ` (${segfaulted.join(', ')})` : ''}, ${kernel.panics.length} panic/oops line(s)`, evidence(kernel));
    },
  },
  {
    kind: 'assert',
    id: 'crash-dumps',
    title: 'crash dumps xapi found',
    description: 'A host that panicked and rebooted leaves a crash dump in /var/crash, which xapi lists: `xe host-crashdump-list host-uuid=…`.',
    async check(ctx) {
      const dumps = await crashDumps(ctx);
      return noop(dumps.length ? `${dumps.length} crash dump(s): ${dumps.map((d) => `${d.timestamp} (${d.size} bytes)`).join(', ')}` : 'no crash dumps', evidence({ crashDumps: dumps }));
    },
  },
  {
    kind: 'assert',
    id: 'c-states',
    title: 'whether Xen limits the processor C-states',
    description: 'The notes: a host that goes unresponsive in quiet hours and does not come back: "check for the c-states in your processor settings" (deep C-states, even Turbo Boost). Reads the Xen command line in /boot/extlinux.conf for max_cstate=; the BIOS setting itself is not visible from dom0.',
    async check(ctx) {
      const cstates = await cStates(ctx);
      if (cstates === null) return noop(`${EXTLINUX} is missing`, { xenArgs: null, maxCstate: null });
      return noop(cstates.maxCstate === null ? 'Xen does not limit C-states (no max_cstate=)' : `Xen limits C-states to C${cstates.maxCstate}`, evidence(cstates));
    },
  },
  {
    kind: 'assert',
    id: 'hotfix-level',
    title: 'release and hotfixes applied',
    description: 'The notes: "host should be patched with all citrix hotfixes". Reads the release (software-version) and `xe patch-list`: the hotfixes applied here, and those applied on other hosts of the pool but not here.',
    async check(ctx) {
      const fixes = await hotfixes(ctx);
      const missing = fixes.missing.map((m) => m.name);
      return noop(`XenServer ${fixes.version} build ${fixes.build}; hotfixes ${fixes.applied.join(', ') || 'none'}${missing.length ? `; missing ${missing.join(', ')}` : ''}`, evidence(fixes));
    },
  },
  {
    kind: 'assert',
    id: 'summary',
    title: 'what was found, and what the notes advise',
    description: 'Everything above in a few sentences, read again from the host (a resumed run summarises the host as it is).',
    async check(ctx) {
      const found = await findings(ctx);
      return noop(found.length ? `${ctx.host.name}: ${found.join('; ')}` : `${ctx.host.name}: nothing the crash notes point at`, { findings: found });
    },
  },
]);
