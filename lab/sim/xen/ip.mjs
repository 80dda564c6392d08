#!/usr/bin/env node
/**
 * The lab's `ip` (iproute2), `ip [-o] link show [dev] NAME` only: a XenServer host's management
 * devices with the MTU they run with (mtu.mjs), other devices at 1500, in iproute2's format
 * (`-o` puts the record on one line, the line break as a backslash). Anything else is refused.
 */
import { labEnv } from '../../bin/_lib.mjs';
import { managementDevices } from './mtu.mjs';

function main() {
  const argv = process.argv.slice(2);
  const oneline = argv[0] === '-o';
  const rest = oneline ? argv.slice(1) : argv;
  if (rest[0] !== 'link' || !['show', 'list', 'sh'].includes(rest[1] ?? 'show')) {
    process.stderr.write('lab: only `ip [-o] link show [dev] NAME` is simulated\n');
    process.exitCode = 255;
    return;
  }
  const name = rest[2] === 'dev' ? rest[3] : rest[2];
  const env = labEnv();
  const devices = { lo: { mtu: '16436', mac: '00:00:00:00:00:00' }, ...managementDevices(env.root, env.host) };
  const names = name ? [name] : Object.keys(devices);
  if (name && !devices[name]) {
    process.stderr.write(`Device "${name}" does not exist.\n`);
    process.exitCode = 1;
    return;
  }
  const text = names.map((n) => {
    const index = Object.keys(devices).indexOf(n) + 1;
    const { mtu, mac } = devices[n];
    const flags = n === 'lo' ? '<LOOPBACK,UP,LOWER_UP>' : '<BROADCAST,MULTICAST,UP,LOWER_UP>';
    const kind = n === 'lo' ? 'loopback' : 'ether';
    const first = `${index}: ${n}: ${flags} mtu ${mtu} qdisc noqueue state UNKNOWN`;
    const second = `    link/${kind} ${mac} brd ${n === 'lo' ? '00:00:00:00:00:00' : 'ff:ff:ff:ff:ff:ff'}`;
    return oneline ? `${first} \\${second}\n` : `${first}\n${second}\n`;
  }).join('');
  process.stdout.write(text);
}

main();
