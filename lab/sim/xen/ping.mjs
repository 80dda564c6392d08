#!/usr/bin/env node
/**
 * The lab's `ping` (iputils): replies from the host's storage portals it can reach (the iSCSI multipath notes:
 * "ping all the IPs of the storage") and from lab hosts that are powered on; 100% packet loss and
 * exit 1 otherwise; also from names/IPs listed in $LAB_ROOT/xen/reachable.json (e.g. a domain
 * controller the Windows host must see). Output follows iputils ping's format, or Windows ping's on
 * a windows host (-n count). A Linux run without -c stops after 4 packets (the real one would run
 * until interrupted).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { canReach, loadArray } from './storage.mjs';
import { loadHost, loadPool, powerOf, readJson } from './store.mjs';

function parse(argv) {
  const opts = { count: 4, quiet: false, dest: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-c') opts.count = Number(argv[++i]);
    else if (/^-c\d+$/.test(arg)) opts.count = Number(arg.slice(2));
    else if (['-W', '-w', '-i', '-s', '-I', '-t'].includes(arg)) i++;
    else if (arg === '-q') opts.quiet = true;
    else if (!arg.startsWith('-')) opts.dest = arg;
  }
  return opts;
}

/** Every XenServer host record in the lab's pools: address/hostname → inventory host. */
function labAddresses(labRoot) {
  const map = new Map();
  let pools = [];
  try {
    pools = readdirSync(join(labRoot, 'pools')).filter((f) => f.endsWith('.json'));
  } catch {
    return map;
  }
  for (const file of pools) {
    const db = loadPool(labRoot, file.slice(0, -5));
    for (const h of Object.values(db?.host ?? {})) {
      map.set(h.address, { ip: h.address, labHost: h.labHost });
      map.set(h.hostname, { ip: h.address, labHost: h.labHost });
    }
  }
  return map;
}

/** @returns {{ ip?: string, up: boolean }} */
function resolve(labRoot, host, dest) {
  const state = loadHost(labRoot, host);
  const array = loadArray(labRoot);
  const known = labAddresses(labRoot).get(dest);
  if (known) return { ip: known.ip, up: powerOf(labRoot, known.labHost) === 'running' };
  const extra = readJson(join(labRoot, 'xen', 'reachable.json'), {});
  if (Object.hasOwn(extra, dest)) return { ip: extra[dest], up: true };
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(dest)) return { up: false };
  if (dest.startsWith('127.') || Object.values(state?.storageIps ?? {}).includes(dest)) return { ip: dest, up: true };
  return { ip: dest, up: !!state && canReach(array, state, dest) };
}

export function runPing(argv, env = process.env) {
  if (env.LAB_ROLE === 'windows') return windowsPing(argv, env);
  const opts = parse(argv);
  if (!opts.dest) return { stdout: '', stderr: 'ping: usage error: Destination address required\n', code: 2 };
  const { ip, up } = resolve(env.LAB_ROOT ?? '', env.LAB_HOST ?? '', opts.dest);
  if (!ip) return { stdout: '', stderr: `ping: ${opts.dest}: Name or service not known\n`, code: 2 };
  const lines = [`PING ${opts.dest} (${ip}) 56(84) bytes of data.`];
  const times = [];
  for (let seq = 1; seq <= opts.count && up; seq++) {
    const time = (0.15 + Math.random() * 0.2).toFixed(3);
    times.push(Number(time));
    if (!opts.quiet) lines.push(`64 bytes from ${ip}: icmp_seq=${seq} ttl=64 time=${time} ms`);
  }
  const received = times.length;
  const loss = Math.round(100 * (opts.count - received) / opts.count);
  const elapsed = Math.max(0, opts.count - 1) * 1000 + Math.floor(Math.random() * 40);
  lines.push('', `--- ${opts.dest} ping statistics ---`, `${opts.count} packets transmitted, ${received} received, ${loss}% packet loss, time ${elapsed}ms`);
  lines.push(received ? rttLine(times) : '');
  return { stdout: lines.join('\n') + '\n', stderr: '', code: received ? 0 : 1 };
}

function rttLine(times) {
  const avg = times.reduce((a, b) => a + b, 0) / times.length;
  const mdev = Math.sqrt(times.reduce((a, t) => a + (t - avg) ** 2, 0) / times.length);
  return `rtt min/avg/max/mdev = ${Math.min(...times).toFixed(3)}/${avg.toFixed(3)}/${Math.max(...times).toFixed(3)}/${mdev.toFixed(3)} ms`;
}

/** Windows ping.exe: `ping [-n count] [-w ms] host`. */
function windowsPing(argv, env) {
  let count = 4;
  let dest;
  for (let i = 0; i < argv.length; i++) {
    if (/^[-/]n$/i.test(argv[i])) count = Number(argv[++i]);
    else if (/^[-/][wlit]$/i.test(argv[i])) i++;
    else if (!/^[-/]/.test(argv[i])) dest = argv[i];
  }
  if (!dest) return { stdout: '', stderr: 'IP address must be specified.\n', code: 1 };
  const { ip, up } = resolve(env.LAB_ROOT ?? '', env.LAB_HOST ?? '', dest);
  if (!ip) return { stdout: `Ping request could not find host ${dest}. Please check the name and try again.\r\n`, stderr: '', code: 1 };
  const lines = ['', `Pinging ${dest === ip ? ip : `${dest} [${ip}]`} with 32 bytes of data:`];
  for (let i = 0; i < count; i++) lines.push(up ? `Reply from ${ip}: bytes=32 time<1ms TTL=64` : 'Request timed out.');
  const received = up ? count : 0;
  lines.push('', `Ping statistics for ${ip}:`, `    Packets: Sent = ${count}, Received = ${received}, Lost = ${count - received} (${up ? 0 : 100}% loss),`);
  if (up) lines.push('Approximate round trip times in milli-seconds:', '    Minimum = 0ms, Maximum = 0ms, Average = 0ms');
  return { stdout: lines.join('\r\n') + '\r\n', stderr: '', code: up ? 0 : 1 };
}

const result = runPing(process.argv.slice(2));
process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
process.exitCode = result.code;
