#!/usr/bin/env node
/**
 * The lab's `multipath` (multipath-tools): `-ll`/`-l` print the topology of the host's multipath
 * maps in libmultipath's format (print.c: "%n %d %s" map line, PRINT_MAP_PROPS, "|-+- "/"`-+- "
 * path groups with PRINT_PG_INDENT, "| |- "/"  `- " paths with PRINT_PATH_INDENT "%i %d %D %t %T %o").
 * One map per LUN of the array, one path per iSCSI session, all in one round-robin group
 * (multibus); a path whose session or link is gone shows `failed faulty running`. The layout is
 * 0.4.9's (XenServer 6.x dom0; Red Hat's DM Multipath guide for RHEL 6, "Multipath Command Output").
 * No maps when the host's multipathing is off (other-config:multipathing on the host).
 */
import { logMutation } from '../../bin/_lib.mjs';
import { loadArray, multipathEnabled, pathsOf, dropSessionsIfStopped } from './storage.mjs';
import { loadHost, serviceOf, updateHost } from './store.mjs';

/** @typedef {ReturnType<typeof pathsOf>[number]} Path */

/** The topology text of one map. @param {Path[]} paths */
export function mapText(lun, paths, dmIndex) {
  const anyOk = paths.some((p) => p.ok);
  const lines = [
    `${lun.wwid} dm-${dmIndex} ${lun.vendor},${lun.product}`,
    `size=${lun.size} features='0' hwhandler='0' wp=rw`,
    `\`-+- policy='round-robin 0' prio=${anyOk ? 1 : 0} status=${anyOk ? 'active' : 'enabled'}`,
  ];
  const hcilWidth = Math.max(4, ...paths.map((p) => `${p.hostNo}:0:0:${lun.lun}`.length));
  paths.forEach((p, i) => {
    const branch = i === paths.length - 1 ? '`-' : '|-';
    // columns padded to the wider of their header (hcil, dev, dev_t, dm_st, chk_st) and values,
    // as 0.4.9's get_path_layout does: hence "8:16  active ready  running"
    const cols = [`${p.hostNo}:0:0:${lun.lun}`.padEnd(hcilWidth), p.dev.padEnd(3), `8:${p.minor}`.padEnd(5), (p.ok ? 'active' : 'failed').padEnd(5), (p.ok ? 'ready' : 'faulty').padEnd(6), 'running'];
    lines.push(`  ${branch} ${cols.join(' ')}`);
  });
  return lines.join('\n') + '\n';
}

/**
 * The same in multipath-tools 0.4.7's layout (RHEL 5, XenServer 5.x/6.x dom0): bracketed map
 * properties, "\\_ " groups and paths (Red Hat DM Multipath guide for RHEL 5, §5.5).
 * @param {Path[]} paths
 */
export function legacyMapText(lun, paths, dmIndex) {
  const anyOk = paths.some((p) => p.ok);
  const lines = [
    `${lun.wwid} dm-${dmIndex} ${lun.vendor},${lun.product}`,
    `[size=${lun.size}][features=0][hwhandler=0][rw]`,
    `\\_ round-robin 0 [prio=${paths.filter((p) => p.ok).length}][${anyOk ? 'active' : 'enabled'}]`,
  ];
  for (const p of paths) {
    lines.push(` \\_ ${p.hostNo}:0:0:${lun.lun} ${p.dev} 8:${p.minor} [${p.ok ? 'active' : 'failed'}][${p.ok ? 'ready' : 'faulty'}]`);
  }
  return lines.join('\n') + '\n';
}

/** Every map's topology for this host, in LUN order. */
function topology(labRoot, host, filter) {
  const state = loadHost(labRoot, host);
  const array = loadArray(labRoot);
  if (!multipathEnabled(labRoot, state)) return '';
  const paths = pathsOf(state, array).sort((a, b) => a.sid - b.sid);
  if (paths.length === 0) return '';
  return array.luns
    .map((lun, i) => ({ lun, i }))
    .filter(({ lun, i }) => !filter || filter === lun.wwid || filter === `dm-${i}`)
    .map(({ lun, i }) => (array.tools === 'xs6' ? legacyMapText : mapText)(lun, paths, i))
    .join('');
}

/** @returns {{ stdout: string, stderr: string, code: number }} */
export function runMultipath(argv, env = process.env) {
  const labRoot = env.LAB_ROOT ?? '';
  const host = env.LAB_HOST ?? '';
  if (!loadHost(labRoot, host)) return { stdout: '', stderr: 'multipath: command not found\n', code: 127 };
  updateHost(labRoot, host, (state) => dropSessionsIfStopped(labRoot, host, state));
  const flags = argv.filter((a) => a.startsWith('-')).join('');
  const target = argv.find((a) => !a.startsWith('-') && !/^\d$/.test(a));
  if (/l/.test(flags)) return listing(labRoot, host, target);
  if (/[Ffr]/.test(flags) || argv.length === 0) {
    logMutation(['multipath', ...argv]);
    return { stdout: '', stderr: '', code: 0 };
  }
  return { stdout: '', stderr: `multipath: invalid option -- '${flags.replace(/-/g, '')[0] ?? '?'}'\n`, code: 1 };
}

function listing(labRoot, host, target) {
  const stdout = topology(labRoot, host, target);
  // multipath/main.c: maps exist but the daemon is not running (multipath-tools 0.8 and later)
  const stderr = stdout && serviceOf(labRoot, host, 'multipathd') !== 'running' ? 'Warning: multipath devices exist, but multipathd service is not running\n' : '';
  return { stdout, stderr, code: 0 };
}

const result = runMultipath(process.argv.slice(2));
process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
process.exitCode = result.code;
