#!/usr/bin/env node
/**
 * The lab's `iscsiadm` (open-iscsi): sendtargets discovery, node login/logout, session listing.
 * Messages, their stdout/stderr split (log_info → stdout, log_error/log_warning → "iscsiadm: …" on
 * stderr) and exit codes follow open-iscsi's usr/iscsiadm.c, usr/session_mgmt.c, usr/iscsi_err.c.
 */
import { logMutation } from '../../bin/_lib.mjs';
import { addSession, canReach, dropSessionsIfStopped, iscsidRunning, loadArray, recordNodes, visibleSessions } from './storage.mjs';
import { loadHost, updateHost } from './store.mjs';

/** iscsi_err.h codes used here */
const ERR = { TRANS: 4, INVAL: 7, TRANS_TIMEOUT: 8, SESS_EXISTS: 15, ISCSID_NOTCONN: 20, NO_OBJS_FOUND: 21 };
const ERR_TEXT = { 4: 'encountered connection failure', 8: 'connection timed out', 15: 'session exists', 20: 'could not connect to iscsid', 21: 'no objects found' };

class Exit extends Error {
  constructor(code) {
    super(`exit ${code}`);
    this.code = code;
  }
}

/** What one run prints. */
function output() {
  const out = { stdout: [], stderr: [] };
  return { ...out, info: (l) => out.stdout.push(l), error: (l) => out.stderr.push(`iscsiadm: ${l}`) };
}

const SHORT_WITH_ARG = new Set('mabcCpPTHiIUkLdrnvotxA'.split(''));
const LONG = { mode: 'm', portal: 'p', targetname: 'T', interface: 'I', op: 'o', type: 't', name: 'n', value: 'v', host: 'H', sid: 'r', rescan: 'R', print: 'P', discover: 'D', login: 'l', loginall: 'L', logout: 'u', logoutall: 'U', stats: 's', show: 'S', version: 'V', help: 'h' };
const LONG_WITH_ARG = new Set(['mode', 'portal', 'targetname', 'interface', 'op', 'type', 'name', 'value', 'host', 'sid', 'print', 'loginall', 'logoutall']);

/** getopt_long over iscsiadm's options; extra words (the seed's `-u all`) are ignored like iscsiadm does. */
function parseOptions(argv, io) {
  /** @type {Record<string, string>} */
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg.startsWith('--')) {
      const [name, inline] = arg.slice(2).split(/=(.*)/s);
      if (!LONG[name]) {
        io.error(`unrecognized option '${arg}'`);
        io.stderr.push("Try `iscsiadm --help' for more information.");
        throw new Exit(ERR.INVAL);
      }
      opts[LONG[name]] = LONG_WITH_ARG.has(name) ? inline ?? argv[++i] : 'true';
    } else if (arg.startsWith('-') && arg.length > 1) {
      const flag = arg[1];
      opts[flag] = SHORT_WITH_ARG.has(flag) ? (arg.length > 2 ? arg.slice(2) : argv[++i]) : 'true';
    }
  }
  return opts;
}

function portalOf(spec, array) {
  const [ip, port] = spec.split(':');
  return { ip, port: Number(port || array.port) };
}

/** `-m discovery -t sendtargets -p IP[:port]`: the target's portals, one line each. */
function discovery(ctx, opts) {
  const { io, array } = ctx;
  if (!['sendtargets', 'st'].includes(opts.t ?? '')) {
    io.error(opts.t ? `Unsupported discovery type: ${opts.t}` : 'discovery type not specified');
    throw new Exit(ERR.INVAL);
  }
  if (!opts.p) {
    io.error('Please specify portal as <ipaddr>[:<ipport>]');
    throw new Exit(ERR.INVAL);
  }
  const { ip, port } = portalOf(opts.p, array);
  if (!iscsidRunning(ctx.labRoot, ctx.host)) {
    io.error('can not connect to iSCSI daemon (111)!');
    io.error('Cannot perform discovery. Initiatorname required.');
    io.error(`Could not perform SendTargets discovery: ${ERR_TEXT[20]}`);
    throw new Exit(ERR.ISCSID_NOTCONN);
  }
  const reachable = updateHost(ctx.labRoot, ctx.host, (state) => {
    if (!canReach(array, state, ip) || port !== array.port) return false;
    recordNodes(state, array, ip);
    return true;
  });
  logMutation(['iscsiadm', ...ctx.argv]);
  if (!reachable) return connectionFailure(io, ip, loadHost(ctx.labRoot, ctx.host));
  for (const portal of array.portals) io.info(`${portal}:${array.port},${array.tpgt} ${array.target}`);
  // `-m discovery … -l` logs in to what it found (iscsiadm.c do_software_sendtargets, do_login)
  if (opts.l) login(ctx, {}, true);
}

/** usr/io.c and discovery.c: one failed connect, then reopen_max (5) retries, then give up. */
function connectionFailure(io, ip, state) {
  const own = Object.values(state?.storageIps ?? {}).some((mine) => mine.split('.').slice(0, 3).join('.') === ip.split('.').slice(0, 3).join('.'));
  const reason = own ? 'No route to host' : 'Network is unreachable';
  for (let i = 0; i < 6; i++) io.error(`cannot make connection to ${ip}: ${reason}`);
  io.error('connection login retries (reopen_max) 5 exceeded');
  io.error(`Could not perform SendTargets discovery: ${ERR_TEXT[4]}`);
  throw new Exit(ERR.TRANS);
}

/** `-m node` with no action: the node records. */
function listNodes(ctx) {
  const state = loadHost(ctx.labRoot, ctx.host);
  if (!state.iscsi.nodes.length) {
    ctx.io.error('No records found');
    throw new Exit(ERR.NO_OBJS_FOUND);
  }
  for (const n of state.iscsi.nodes) ctx.io.info(`${n.portal}:${n.port},${n.tpgt} ${n.target}`);
}

/** The node records an action applies to: all of them, or those matching -T and -p. */
function nodesFor(state, opts, array) {
  return state.iscsi.nodes.filter((n) => (!opts.T || n.target === opts.T) && (!opts.p || n.portal === portalOf(opts.p, array).ip));
}

const recText = (n) => `[iface: default, target: ${n.target}, portal: ${n.portal},${n.port}]`;

/** Login (-l, -L all, --login): "Logging in to" for each, then each result (session_mgmt.c). */
function login(ctx, opts, bulk) {
  const { io, array } = ctx;
  const daemon = iscsidRunning(ctx.labRoot, ctx.host);
  const results = updateHost(ctx.labRoot, ctx.host, (state) => {
    dropSessionsIfStopped(ctx.labRoot, ctx.host, state);
    const nodes = nodesFor(state, opts, array);
    return { nodes, outcomes: nodes.map((n) => loginOne(state, array, n, daemon)) };
  });
  logMutation(['iscsiadm', ...ctx.argv]);
  if (results.nodes.length === 0) {
    io.error('No records found');
    throw new Exit(ERR.NO_OBJS_FOUND);
  }
  reportLogins(io, results, bulk);
}

function loginOne(state, array, node, daemon) {
  const live = state.iscsi.sessions.some((s) => s.portal === node.portal && s.target === node.target && s.visible);
  if (live) return ERR.SESS_EXISTS;
  if (!daemon) return ERR.ISCSID_NOTCONN;
  if (!canReach(array, state, node.portal)) return ERR.TRANS_TIMEOUT;
  state.iscsi.sessions = state.iscsi.sessions.filter((s) => !(s.portal === node.portal && s.target === node.target));
  addSession(state, array, node.portal);
  return 0;
}

/**
 * No " (multiple)" suffix: open-iscsi before 2.0-873 (XenServer 6.x) never printed it, and later
 * ones only when node.session.nr_sessions > 1 (session_mgmt.c).
 */
function reportLogins(io, { nodes, outcomes }, bulk) {
  let rc = 0;
  nodes.forEach((n, i) => {
    if (outcomes[i] === ERR.SESS_EXISTS) io.error('default: 1 session requested, but 1 already present.');
    else io.info(`Logging in to ${recText(n)}`);
  });
  nodes.forEach((n, i) => {
    const code = outcomes[i];
    if (code && !rc) rc = code;
    if (code === 0) io.info(`Login to ${recText(n)} successful.`);
    else if (code !== ERR.SESS_EXISTS) {
      if (code === ERR.ISCSID_NOTCONN) io.error('can not connect to iSCSI daemon (111)!');
      io.error(`Could not login to ${recText(n)}.`);
      io.error(`initiator reported error (${code} - ${ERR_TEXT[code]})`);
    }
  });
  if (rc) {
    if (bulk || nodes.length > 1) io.error('Could not log into all portals');
    throw new Exit(rc);
  }
}

/** Logout (-u, -U all): every live session of the matching nodes (session_mgmt.c). */
function logout(ctx, opts) {
  const { io, array } = ctx;
  const gone = updateHost(ctx.labRoot, ctx.host, (state) => {
    dropSessionsIfStopped(ctx.labRoot, ctx.host, state);
    const matching = state.iscsi.sessions.filter((s) => (!opts.T || s.target === opts.T) && (!opts.p || s.portal === portalOf(opts.p, array).ip));
    state.iscsi.sessions = state.iscsi.sessions.filter((s) => !matching.includes(s));
    return matching.filter((s) => s.visible);
  });
  logMutation(['iscsiadm', ...ctx.argv]);
  if (gone.length === 0) {
    io.error('No matching sessions found');
    throw new Exit(ERR.NO_OBJS_FOUND);
  }
  const text = (s) => `[sid: ${s.sid}, target: ${s.target}, portal: ${s.portal},${s.port}]`;
  for (const s of gone) io.info(`Logging out of session ${text(s)}`);
  for (const s of gone) io.info(`Logout of ${text(s)} successful.`);
}

/** `-m session [-P N]`: session_info.c's flat line, or the tree for -P 1 and up. */
function sessions(ctx, opts) {
  const state = loadHost(ctx.labRoot, ctx.host);
  const live = iscsidRunning(ctx.labRoot, ctx.host) ? visibleSessions(state) : [];
  if (live.length === 0) {
    ctx.io.error('No active sessions.');
    throw new Exit(ERR.NO_OBJS_FOUND);
  }
  const level = Number(opts.P ?? 0);
  if (level === 0) {
    // "(non-flash)" since open-iscsi 2.0-873; XenServer 6.x's 2.0-872 prints the bare line
    const suffix = ctx.array.tools === 'xs6' ? '' : ' (non-flash)';
    for (const s of live) ctx.io.info(`tcp: [${s.sid}] ${s.portal}:${s.port},${s.tpgt} ${s.target}${suffix}`);
    return;
  }
  for (const s of live) sessionTree(ctx, state, s, level);
}

function sessionTree(ctx, state, s, level) {
  const ownIp = Object.values(state.storageIps).find((ip) => ip.split('.').slice(0, 3).join('.') === s.portal.split('.').slice(0, 3).join('.')) ?? '<empty>';
  const failed = s.failed || state.cutPaths?.[s.portal] === 'network';
  const lines = [
    `Target: ${s.target}${ctx.array.tools === 'xs6' ? '' : ' (non-flash)'}`, `\tCurrent Portal: ${s.portal}:${s.port},${s.tpgt}`, `\tPersistent Portal: ${s.portal}:${s.port},${s.tpgt}`,
    '\t\t**********', '\t\tInterface:', '\t\t**********', '\t\tIface Name: default', '\t\tIface Transport: tcp',
    `\t\tIface Initiatorname: ${state.iqn}`, `\t\tIface IPaddress: ${ownIp}`, '\t\tIface HWaddress: <empty>', '\t\tIface Netdev: <empty>',
    `\t\tSID: ${s.sid}`, `\t\tiSCSI Connection State: ${failed ? 'TRANSPORT WAIT' : 'LOGGED IN'}`, `\t\tiSCSI Session State: ${failed ? 'FAILED' : 'LOGGED_IN'}`,
    `\t\tInternal iscsid Session State: ${failed ? 'REOPEN' : 'NO CHANGE'}`,
  ];
  if (level >= 3) {
    const array = ctx.array;
    lines.push('\t\t************************', '\t\tAttached SCSI devices:', '\t\t************************', `\t\tHost Number: ${s.hostNo}\tState: running`);
    for (const lun of array.luns) lines.push(`\t\tscsi${s.hostNo} Channel 00 Id 0 Lun: ${lun.lun}`, `\t\t\tAttached scsi disk ${s.dev}\t\tState: ${failed ? 'blocked' : 'running'}`);
  }
  for (const line of lines) ctx.io.info(line);
}

/** @returns {{ stdout: string, stderr: string, code: number }} */
export function runIscsiadm(argv, env = process.env) {
  const io = output();
  const ctx = { labRoot: env.LAB_ROOT ?? '', host: env.LAB_HOST ?? '', argv, io, array: loadArray(env.LAB_ROOT ?? '') };
  let code = 0;
  try {
    if (!loadHost(ctx.labRoot, ctx.host)) return { stdout: '', stderr: 'iscsiadm: command not found\n', code: 127 };
    dispatch(ctx, parseOptions(argv, io));
  } catch (error) {
    if (!(error instanceof Exit)) throw error;
    code = error.code;
  }
  const text = (lines) => lines.map((l) => `${l}\n`).join('');
  return { stdout: text(io.stdout), stderr: text(io.stderr), code };
}

function dispatch(ctx, opts) {
  switch (opts.m) {
    case 'discovery':
    case 'discoverydb':
      return discovery(ctx, opts);
    case 'node':
      if (opts.L) return login(ctx, {}, true);
      if (opts.l) return login(ctx, opts, !opts.T);
      if (opts.U || opts.u) return logout(ctx, opts.U ? {} : opts);
      return listNodes(ctx);
    case 'session':
      if (opts.u) return logout(ctx, opts);
      return sessions(ctx, opts);
    case undefined:
      ctx.io.error('no mode specified');
      throw new Exit(ERR.INVAL);
    default:
      ctx.io.error(`Invalid mode '${opts.m}'`);
      throw new Exit(ERR.INVAL);
  }
}

const result = runIscsiadm(process.argv.slice(2));
process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
process.exitCode = result.code;
