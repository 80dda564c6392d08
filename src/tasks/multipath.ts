/**
 * `multipath -ll` as a fact, and an assert on the number of working paths per LUN (the iSCSI multipath notes: "check
 * for the multipath status", and after the repair every LUN should see all its paths again).
 *
 * Two formats exist. multipath-tools ≥ 0.4.9 (RHEL 6+, XenServer 7+) prints, per libmultipath
 * print.c (`PRINT_MAP_PROPS`, `PRINT_PG_INDENT`, `PRINT_PATH_INDENT` = `%i %d %D %t %T %o`):
 *   mpatha (3600…) dm-2 VENDOR,PRODUCT
 *   size=10G features='1 queue_if_no_path' hwhandler='1 alua' wp=rw
 *   |-+- policy='service-time 0' prio=50 status=active
 *   | `- 3:0:0:0 sdb 8:16 active ready running
 * 0.4.7 (RHEL 5, the XenServer 5.x/6.x dom0 of the seeds' era) prints brackets:
 *   mpath1 (3600…) dm-0 VENDOR,PRODUCT
 *   [size=10 GB][features="0"][hwhandler="0"]
 *   \_ round-robin 0 [prio=1][active]
 *    \_ 2:0:0:6 sdb 8:16 [active][ready]
 */
import { z } from 'zod';
import { change, noop } from '../runbook/check.ts';
import type { ActionStep, AssertStep, Dynamic } from '../runbook/types.ts';
import { cmd } from '../shell/command.ts';
import type { Shell } from '../shell/shell.ts';
import { FactError } from './facts.ts';
import { checkOptions, commonOf, resolve, type TaskCommon } from './resolve.ts';
import { waitFor, type Clock } from './wait-for.ts';

export interface MultipathPath {
  /** host:channel:target:lun; null when the SCSI device is gone (`#:#:#:#`). */
  hcil: string | null;
  /** sdX; null when gone (`-`). */
  dev: string | null;
  /** major:minor; null when gone (`#:#`). */
  majorMinor: string | null;
  /** The kernel's view: active or failed (undef while a map is being built). */
  dmState: string;
  /** multipathd's path checker: ready, ghost (passive but up), faulty, shaky, i/o pending, … */
  checkerState: string;
  /** The SCSI device: running or offline; absent in the 0.4.7 format. */
  onlineState?: string;
}

export interface PathGroup {
  policy: string;
  prio?: number;
  /** active, enabled or disabled (0.4.7 may also say `first`). */
  status?: string;
  paths: MultipathPath[];
}

export interface MultipathLun {
  /** The alias (mpatha) or, without user_friendly_names, the WWID itself. */
  name: string;
  wwid: string;
  dm?: string;
  vendor?: string;
  product?: string;
  size?: string;
  features?: string;
  hwhandler?: string;
  writePermission?: string;
  groups: PathGroup[];
}

const ANSI = /\x1b\[[0-9;]*m/g;
const ACTION = /^(?:create|reload|switchpg|rename|load|unchanged|remove): /;
const PROPS = /^size=(\S+) features='([^']*)' hwhandler='([^']*)'(?: wp=(\S+))?/;
const LEGACY_PROPS = /^\[size=([^\]]*)\]\[features=([^\]]*)\]\[hwhandler=([^\]]*)\](?:\[(\w+)\])?/;
const GROUP = /^[|`]-\+- policy='([^']*)' prio=(\S+)\s+status=(\S+)/;
const PATH = /^[|`\s]*[|`]- (.+)$/;
const LEGACY_PATH = /^\s+\\_ (\S+) (\S+) (\S+)\s*((?:\[[^\]]*\]\s*)+)$/;
const LEGACY_GROUP = /^\\_ ([^[]+?)\s*((?:\[[^\]]*\]\s*)*)$/;
const DM_STATES = new Set(['active', 'failed', 'undef']);

const orNull = (text: string, placeholder: string): string | null => (text === placeholder ? null : text);
const brackets = (text: string): string[] => [...text.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1].trim());

function parseHeader(line: string): MultipathLun {
  const tokens = line.replace(ACTION, '').split(' ');
  const name = tokens.shift()!;
  const lun: MultipathLun = { name, wwid: name, groups: [] };
  if (tokens[0]?.startsWith('(') && tokens[0].endsWith(')')) lun.wwid = tokens.shift()!.slice(1, -1);
  if (tokens[0] && /^dm-\d+$/.test(tokens[0])) lun.dm = tokens.shift();
  const rest = tokens.join(' ');
  if (rest.includes(',')) {
    const comma = rest.indexOf(',');
    lun.vendor = rest.slice(0, comma).trim();
    lun.product = rest.slice(comma + 1).trim();
  }
  return lun;
}

function parseModernPath(fields: string): MultipathPath {
  const words = fields.trim().split(/\s+/);
  if (words.length < 6) throw new FactError(`not a multipath path line: ${JSON.stringify(fields)}`);
  const [hcil, dev, majorMinor, dmState] = words;
  return {
    hcil: orNull(hcil, '#:#:#:#'), dev: orNull(dev, '-'), majorMinor: orNull(majorMinor, '#:#'),
    dmState, checkerState: words.slice(4, -1).join(' '), onlineState: words[words.length - 1],
  };
}

function parseLegacyPath(m: RegExpExecArray): MultipathPath {
  const states = brackets(m[4]);
  // 0.4.7 prints [dm][checker] but SUSE's build printed [checker][dm]: tell them apart by vocabulary.
  const dmState = states.find((s) => DM_STATES.has(s)) ?? 'undef';
  const checkerState = states.find((s) => !DM_STATES.has(s)) ?? 'undef';
  return { hcil: orNull(m[1], '#:#:#:#'), dev: orNull(m[2], '-'), majorMinor: orNull(m[3], '#:#'), dmState, checkerState };
}

function parseLegacyGroup(m: RegExpExecArray): PathGroup {
  const group: PathGroup = { policy: m[1].trim(), paths: [] };
  for (const word of brackets(m[2])) {
    const prio = /^prio=(\d+)$/.exec(word);
    if (prio) group.prio = Number(prio[1]);
    else if (group.status === undefined && word !== '') group.status = word;
  }
  return group;
}

/** Applies one line to the LUN list; false when the line is not a property, group or path line. */
function parseBodyLine(line: string, lun: MultipathLun): boolean {
  const group = () => {
    const last = lun.groups[lun.groups.length - 1];
    if (!last) throw new FactError(`multipath path before any path group: ${JSON.stringify(line)}`);
    return last;
  };
  let m: RegExpExecArray | null;
  if ((m = PROPS.exec(line)) || (m = LEGACY_PROPS.exec(line))) {
    Object.assign(lun, { size: m[1], features: m[2], hwhandler: m[3] }, m[4] ? { writePermission: m[4] } : {});
  } else if ((m = GROUP.exec(line))) {
    lun.groups.push({ policy: m[1], prio: Number(m[2]), status: m[3], paths: [] });
  } else if ((m = LEGACY_PATH.exec(line))) {
    group().paths.push(parseLegacyPath(m));
  } else if ((m = LEGACY_GROUP.exec(line))) {
    lun.groups.push(parseLegacyGroup(m));
  } else if ((m = PATH.exec(line))) {
    group().paths.push(parseModernPath(m[1]));
  } else {
    return false;
  }
  return true;
}

/**
 * Parses `multipath -ll` (either format) into LUNs with their path groups and paths.
 * Empty output means no multipath devices.
 * @example parseMultipathLl(stdout).map((lun) => [lun.name, activePaths(lun).length])
 */
export function parseMultipathLl(output: string): MultipathLun[] {
  const luns: MultipathLun[] = [];
  for (const raw of output.replace(ANSI, '').split(/\r?\n/)) {
    const line = raw.replace(/\s+$/, '');
    if (line.trim() === '') continue;
    const current = luns[luns.length - 1];
    if (current && parseBodyLine(line, current)) continue;
    if (/^\s/.test(line) || /^[|`\\]/.test(line)) throw new FactError(`cannot read multipath -ll line: ${JSON.stringify(line)}`);
    luns.push(parseHeader(line));
  }
  return luns;
}

/** A path that carries I/O or stands ready to: the kernel has it active and the checker finds it up (ghost: an ALUA standby path). */
export const isPathUp = (path: MultipathPath): boolean =>
  path.dmState === 'active' && (path.checkerState === 'ready' || path.checkerState === 'ghost') && path.onlineState !== 'offline';

/** The LUN's working paths, over all its groups. */
export const activePaths = (lun: MultipathLun): MultipathPath[] => lun.groups.flatMap((g) => g.paths).filter(isPathUp);

const describePath = (p: MultipathPath): string => `${p.dev ?? p.hcil ?? 'gone'} ${p.dmState} ${p.checkerState}${p.onlineState ? ` ${p.onlineState}` : ''}`;

/**
 * The host's multipath LUNs from `multipath -ll`.
 * @example const luns = await multipathLuns(ctx.sh)
 */
export async function multipathLuns(sh: Shell): Promise<MultipathLun[]> {
  return parseMultipathLl(await sh`multipath -ll`.reads().text());
}

export interface PathsActiveOptions<P = any, V = any> extends TaskCommon<P, V> {
  /** How many working paths every LUN must have (e.g. one per storage NIC × controller port). */
  expected: Dynamic<number, P, V>;
  /** How many LUNs there must be at least; default 1 (no LUN at all is a failure). */
  minLuns?: Dynamic<number, P, V>;
}

/**
 * Every multipath LUN has at least `expected` working paths; the reason names each LUN short of
 * them with its failed paths.
 * @example multipath.pathsActive({ id: 'paths', title: 'all paths back', expected: (ctx) => ctx.host.vars.portals.length })
 */
const pathsActiveSchema = z.object({ expected: z.number().int().min(1), minLuns: z.number().int().min(0).optional() });

export function pathsActive<P = any, V = any>(options: PathsActiveOptions<P, V>): AssertStep<P, V> {
  checkOptions(options.id, pathsActiveSchema, options);
  return {
    ...commonOf(options),
    kind: 'assert',
    async check(ctx) {
      const expected = await resolve(options.expected, ctx);
      const minLuns = options.minLuns === undefined ? 1 : await resolve(options.minLuns, ctx);
      const luns = await multipathLuns(ctx.sh);
      if (luns.length < minLuns) return change(`multipath -ll shows ${luns.length} LUN(s), want at least ${minLuns}`);
      const short = luns.filter((lun) => activePaths(lun).length < expected);
      const counts = { luns: luns.length, activePaths: Object.fromEntries(luns.map((l) => [l.name, activePaths(l).length])) };
      if (short.length === 0) return noop(`all ${luns.length} LUN(s) have ${expected} or more active paths`, counts);
      return change(short.map((lun) => {
        const down = lun.groups.flatMap((g) => g.paths).filter((p) => !isPathUp(p)).map(describePath);
        return `LUN ${lun.name} (${lun.wwid}) has ${activePaths(lun).length} of ${expected} paths active${down.length ? ` (down: ${down.join(', ')})` : ''}`;
      }).join('; '), counts);
    },
  };
}

export interface PathsRestoredOptions<P = any, V = any> extends PathsActiveOptions<P, V> {
  /** How long multipathd may take to build its maps after a login (also the step's limit); default 2 min. */
  timeoutMs?: number;
  /** Between two looks at `multipath -ll`; default 2 s. */
  intervalMs?: number;
  clock?: Clock;
}

/**
 * Waits until every LUN has its `expected` working paths (pathsActive, asked again until it holds):
 * multipathd builds its maps a moment after an iSCSI login, so a repair checks by waiting.
 * @example multipath.pathsRestored({ id: 'paths-active', title: 'every LUN shows all its paths', expected: 2 })
 */
export function pathsRestored<P = any, V = any>(options: PathsRestoredOptions<P, V>): ActionStep<P, V> {
  const { timeoutMs = 120_000, intervalMs = 2000, clock, ...active } = options;
  const paths = pathsActive<P, V>({ ...active, title: 'every LUN has all its paths' });
  return waitFor<P, V>({ ...commonOf(options), until: (ctx) => paths.check(ctx), timeoutMs, intervalMs, clock });
}

/** The command behind multipathLuns, for plans that want to show it. */
export const multipathListCommand = () => cmd`multipath -ll`;
