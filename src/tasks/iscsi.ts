/**
 * open-iscsi: sessions and node records as facts, discovery and login/logout as steps (the iSCSI multipath notes'
 * multipath repair). Output formats: open-iscsi `usr/session_info.c` (`session_info_print_flat`)
 * and `usr/idbm.c` (node/discovery lines); exit codes: `include/iscsi_err.h`.
 */
import { z } from 'zod';
import { change, noop } from '../runbook/check.ts';
import type { ActionStep, Dynamic, StepContext } from '../runbook/types.ts';
import { cmd, type Command } from '../shell/command.ts';
import type { Shell } from '../shell/shell.ts';
import { FactError, type FactOutput } from './facts.ts';
import { isPortal, parsePortal, portalText, type Portal } from './net.ts';
import { checkOptions, commonOf, resolve, TaskError, type TaskCommon } from './resolve.ts';

/** ISCSI_ERR_NO_OBJS_FOUND: "No active sessions." / "No records found", an answer rather than a failure. */
export const ISCSI_ERR_NO_OBJS_FOUND = 21;

export interface IscsiSession {
  transport: string;
  sid: number;
  address: string;
  port: number;
  tpgt: number;
  target: string;
  /** `flash` or `non-flash` (open-iscsi ≥ 2.0-873); absent in older releases such as XenServer 6's. */
  nodeType?: string;
}

export interface IscsiNode { address: string; port: number; tpgt: number; target: string }

// `tcp: [1] 10.10.1.10:3260,1 iqn… (non-flash)`; IPv6 addresses come in brackets.
const SESSION_LINE = /^(\S+): \[(\d+)\] (?:\[([^\]]+)\]|([^\s:]+)):(\d+),(-?\d+) (\S+)(?: \(([^)]+)\))?$/;
// `10.10.1.10:3260,1 iqn…` (discovery and `-m node`).
const NODE_LINE = /^(?:\[([^\]]+)\]|([^\s:]+)):(\d+),(-?\d+) (\S+)$/;

function lines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
}

/**
 * Parses `iscsiadm -m session` output (exit 0).
 * @example parseSessions('tcp: [1] 10.10.1.10:3260,1 iqn.2006-01.com.example:storage (non-flash)\n')
 */
export function parseSessions(stdout: string): IscsiSession[] {
  return lines(stdout).map((line) => {
    const m = SESSION_LINE.exec(line);
    if (!m) throw new FactError(`not an iscsiadm session line: ${JSON.stringify(line)}`);
    const session: IscsiSession = { transport: m[1], sid: Number(m[2]), address: m[3] ?? m[4], port: Number(m[5]), tpgt: Number(m[6]), target: m[7] };
    if (m[8] !== undefined) session.nodeType = m[8];
    return session;
  });
}

/**
 * Parses discovery (`iscsiadm -m discovery -t sendtargets -p …`) and `iscsiadm -m node` output.
 * @example parseNodes('10.10.1.10:3260,1 iqn.2006-01.com.example:storage\n')[0].target
 */
export function parseNodes(stdout: string): IscsiNode[] {
  return lines(stdout).map((line) => {
    const m = NODE_LINE.exec(line);
    if (!m) throw new FactError(`not an iscsiadm node line: ${JSON.stringify(line)}`);
    return { address: m[1] ?? m[2], port: Number(m[3]), tpgt: Number(m[4]), target: m[5] };
  });
}

/** Exit 21 means "none"; any other failure is an error naming what iscsiadm said. */
function noneOr<T>(out: FactOutput, parse: (stdout: string) => T[], what: string): T[] {
  if (out.code === 0) return parse(out.stdout);
  if (out.code === ISCSI_ERR_NO_OBJS_FOUND) return [];
  throw new FactError(`${what} exited ${out.code ?? 'with no status'}: ${(out.stderr || out.stdout).trim().split('\n')[0] ?? ''}`);
}

export const parseSessionResult = (out: FactOutput): IscsiSession[] => noneOr(out, parseSessions, 'iscsiadm -m session');
export const parseNodeResult = (out: FactOutput): IscsiNode[] => noneOr(out, parseNodes, 'iscsiadm -m node');

/**
 * The host's iSCSI sessions; [] when there are none.
 * @example (await sessions(ctx.sh)).map((s) => s.address)
 */
export async function sessions(sh: Shell): Promise<IscsiSession[]> {
  return parseSessionResult(await sh`iscsiadm -m session`.reads().nothrow());
}

/**
 * The node records (targets per portal) discovery has stored; [] when there are none.
 * @example (await nodes(ctx.sh)).filter((n) => n.address === '10.10.1.10')
 */
export async function nodes(sh: Shell): Promise<IscsiNode[]> {
  return parseNodeResult(await sh`iscsiadm -m node`.reads().nothrow());
}

const portal = z.string().refine(isPortal, 'must be an IPv4 portal: address or address:port');
const discoveredSchema = z.object({ portal });
const loggedInSchema = z.object({ portals: z.array(portal).min(1).optional(), portal: portal.optional(), target: z.string().min(1).optional() });

const samePortal = (a: { address: string; port: number }, b: { address: string; port: number }) => a.address === b.address && a.port === b.port;

/**
 * Discovery has recorded the targets this portal offers: `iscsiadm -m discovery -t sendtargets -p
 * PORTAL` (the iSCSI multipath notes write `--sendtargets --portal`; `-t sendtargets` is the form iscsiadm(8) defines).
 * @example iscsi.discovered({ id: 'discover-a', title: 'discover controller A', portal: '10.10.1.10' })
 */
export function discovered<P = any, V = any>(options: TaskCommon<P, V> & { portal: Dynamic<string, P, V> }): ActionStep<P, V> {
  checkOptions(options.id, discoveredSchema, options);
  const portalOf = async (ctx: StepContext) => parsePortal(await resolve(options.portal, ctx));
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      const portal = await portalOf(ctx);
      const found = (await nodes(ctx.sh)).filter((n) => samePortal(n, portal));
      if (found.length > 0) return noop(`portal ${portalText(portal)} offers ${found.map((n) => n.target).join(', ')}`);
      return change(`no node records for portal ${portalText(portal)}`);
    },
    async commands(ctx) {
      return [cmd`iscsiadm -m discovery -t sendtargets -p ${portalText(await portalOf(ctx))}`];
    },
  };
}

/**
 * Every portal of a list has node records: `iscsiadm -m discovery -t sendtargets -p PORTAL` for
 * each one without (the manual discovery of each storage node that a multipath repair does). One
 * step for the whole list, as the number of portals is usually a host var.
 * @example iscsi.portalsDiscovered({ id: 'portals-discovered', title: 'discover each portal', portals: (ctx) => ctx.host.vars.iscsi_portals })
 */
export function portalsDiscovered<P = any, V = any>(options: TaskCommon<P, V> & { portals: Dynamic<readonly string[], P, V> }): ActionStep<P, V> {
  checkOptions(options.id, z.object({ portals: z.array(portal).min(1) }), options);
  const undiscovered = async (ctx: StepContext): Promise<string[]> => {
    const records = await nodes(ctx.sh);
    return (await resolve(options.portals, ctx)).map(parsePortal)
      .filter((p) => !records.some((n) => samePortal(n, p)))
      .map(portalText);
  };
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      const missing = await undiscovered(ctx);
      if (missing.length) return change(`no node records for ${missing.join(', ')}`);
      return noop(`node records exist for ${(await resolve(options.portals, ctx)).join(', ')}`);
    },
    commands: async (ctx) => (await undiscovered(ctx)).map((p) => cmd`iscsiadm -m discovery -t sendtargets -p ${p}`),
  };
}

export type LoggedInOptions<P = any, V = any> = TaskCommon<P, V> & (
  | { all: true; /** The portals that must each have a session; default: every recorded node's portal. */ portals?: Dynamic<readonly string[], P, V> }
  | { target: Dynamic<string, P, V>; portal: Dynamic<string, P, V> }
);

async function missingSessions(options: LoggedInOptions, ctx: StepContext, id: string): Promise<string[]> {
  const open = await sessions(ctx.sh);
  if ('target' in options) {
    const target = await resolve(options.target, ctx);
    const portal = parsePortal(await resolve(options.portal, ctx));
    return open.some((s) => s.target === target && samePortal(s, portal)) ? [] : [`${target} at ${portalText(portal)}`];
  }
  const wanted = await wantedPortals(options as AllPortals, ctx, id);
  return wanted.filter((p) => !open.some((s) => samePortal(s, p))).map(portalText);
}

/** The `all` form of loggedIn's options. */
type AllPortals = Extract<LoggedInOptions, { all: true }>;

/**
 * The portals of the `all` form, each once: those given, else the host's node records (one per
 * target at a portal, and they outlive a reboot).
 */
async function wantedPortals(options: AllPortals, ctx: StepContext, id: string): Promise<Portal[]> {
  const wanted = options.portals ? (await resolve(options.portals, ctx)).map(parsePortal) : await nodes(ctx.sh);
  if (wanted.length === 0) throw new TaskError(id, 'no node records to log in to: run discovery first');
  return wanted.filter((p, i) => wanted.findIndex((q) => portalText(q) === portalText(p)) === i);
}

const loginCommand = (portal: string): Command => cmd`iscsiadm -m node -p ${portal} -l`;

/**
 * Sessions are open: to every portal (the iSCSI multipath notes: "log on to all the nodes of the storage") or to one
 * target at one portal (`iscsiadm -m node -T … -p … -l`, the iSCSI multipath notes' other form). For `all`, the
 * commands log in to each portal still without a session (`iscsiadm -m node -p PORTAL -l`) rather
 * than the seed's `-L all`: with any session already open (the seed's case, a host that sees only
 * some paths) `-L all` exits 15, ISCSI_ERR_SESS_EXISTS, after logging in to the rest, which would
 * read as a failure.
 * @example iscsi.loggedIn({ id: 'login', title: 'log in to every portal', all: true, portals: (ctx) => ctx.host.vars.portals })
 */
export function loggedIn<P = any, V = any>(options: LoggedInOptions<P, V>): ActionStep<P, V> {
  checkOptions(options.id, loggedInSchema, options);
  const commands = async (ctx: StepContext<P, V>): Promise<Command[]> => {
    if (!('target' in options)) {
      return (await missingSessions(options as LoggedInOptions, ctx, options.id)).map(loginCommand);
    }
    const portal = portalText(parsePortal(await resolve(options.portal, ctx)));
    return [cmd`iscsiadm -m node -T ${await resolve(options.target, ctx)} -p ${portal} -l`];
  };
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      const missing = await missingSessions(options as LoggedInOptions, ctx, options.id);
      if (missing.length === 0) return noop('a session is open to every portal');
      return change(`no session to ${missing.join(', ')}`);
    },
    commands,
    // After an earlier change (a reboot, a logout) no session is open: a login to every portal.
    async commandsAfterChange(ctx) {
      if ('target' in options) return commands(ctx);
      return (await wantedPortals(options as AllPortals, ctx, options.id)).map((p) => loginCommand(portalText(p)));
    },
  };
}

/**
 * No iSCSI session is open (the iSCSI multipath notes' reverse technique: "logoff all the targets"). Runs
 * `iscsiadm -m node -U all`, the documented form (iscsiadm(8) `--logoutall=all`); the seed's
 * `-u all` works only because iscsiadm ignores the stray word after `-u`.
 * @example iscsi.loggedOut({ id: 'logout', title: 'log off all targets', all: true })
 */
export function loggedOut<P = any, V = any>(options: TaskCommon<P, V> & { all: true }): ActionStep<P, V> {
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      const open = await sessions(ctx.sh);
      if (open.length === 0) return noop('no iSCSI session is open');
      return change(`${open.length} session(s) open: ${open.map((s) => `${s.target} at ${s.address}:${s.port}`).join(', ')}`);
    },
    commands: () => [cmd`iscsiadm -m node -U all`],
  };
}
