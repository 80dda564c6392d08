/**
 * IPv4 addresses (and a zod schema for params and host vars that hold one), storage portals and
 * whether they answer. The iSCSI multipath notes: "The storage NICs must be on different subnets
 * and so should be the storage controllers", and the first check of the multipath repair is to
 * "ping all the ip's of the storage".
 */
import { z } from 'zod';
import { change, noop } from '../runbook/check.ts';
import type { AssertStep, Dynamic } from '../runbook/types.ts';
import { cmd, type Command } from '../shell/command.ts';
import type { Shell } from '../shell/shell.ts';
import { FactError } from './facts.ts';
import { checkOptions, commonOf, resolve, type TaskCommon } from './resolve.ts';

// Four decimal octets 0–255 without leading zeros (inet_aton would read 010 as octal 8).
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);

/** The iSCSI port when a portal names none (RFC 7143 §13.1). */
export const ISCSI_PORT = 3260;

/**
 * True for a dotted-quad IPv4 address.
 * @example isIPv4('10.10.1.10') // true
 */
export const isIPv4 = (text: string): boolean => IPV4.test(text);

/**
 * A param or host var that holds one IPv4 address (four decimal octets 0-255).
 * @example vars: z.object({ windows_ip: net.ipv4Address })
 */
export const ipv4Address = z.string().refine(isIPv4, 'must be an IPv4 address (four decimal octets 0-255)');

const toNumber = (ip: string): number => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
const toDotted = (n: number): string => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');

/**
 * The network an address is in, as `network/prefix`.
 * @example subnetOf('10.10.1.10') // '10.10.1.0/24'
 */
export function subnetOf(ip: string, prefix = 24): string {
  if (!isIPv4(ip)) throw new TypeError(`not an IPv4 address: ${JSON.stringify(ip)}`);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new RangeError(`prefix must be 0–32, got ${prefix}`);
  const size = 2 ** (32 - prefix);
  return `${toDotted(Math.floor(toNumber(ip) / size) * size)}/${prefix}`;
}

export interface Portal { address: string; port: number }

/**
 * An iSCSI portal `address[:port]`, port 3260 when absent; throws on anything else.
 * @example parsePortal('10.10.1.10') // { address: '10.10.1.10', port: 3260 }
 */
export function parsePortal(text: string): Portal {
  const match = /^([^:]+)(?::(\d{1,5}))?$/.exec(text);
  const port = match?.[2] === undefined ? ISCSI_PORT : Number(match[2]);
  if (!match || !isIPv4(match[1]) || port < 1 || port > 65535) throw new TypeError(`not an iSCSI portal (IPv4 address[:port]): ${JSON.stringify(text)}`);
  return { address: match[1], port };
}

/** True when parsePortal accepts it. */
export const isPortal = (text: string): boolean => { try { parsePortal(text); return true; } catch { return false; } };

/** `address:port`, the form iscsiadm prints and takes. */
export const portalText = (portal: Portal): string => `${portal.address}:${portal.port}`;

/**
 * The first two portals on one subnet, or undefined when each has its own.
 * @example findSharedSubnet(['10.10.1.10', '10.10.1.11']) // { first: '10.10.1.10', second: '10.10.1.11', subnet: '10.10.1.0/24' }
 */
export function findSharedSubnet(portals: readonly string[], prefix = 24): { first: string; second: string; subnet: string } | undefined {
  const seen = new Map<string, string>();
  for (const portal of portals) {
    const subnet = subnetOf(parsePortal(portal).address, prefix);
    const earlier = seen.get(subnet);
    if (earlier !== undefined) return { first: earlier, second: portal, subnet };
    seen.set(subnet, portal);
  }
  return undefined;
}

/**
 * A zod schema for a host var listing storage portals: each a valid portal, each on its own subnet.
 * @example vars: z.object({ portals: portalsOnDistinctSubnets() })
 */
export function portalsOnDistinctSubnets(options: { prefix?: number; min?: number } = {}) {
  const prefix = options.prefix ?? 24;
  return z.array(z.string().refine(isPortal, { error: (issue) => `${JSON.stringify(issue.input)} is not an IPv4 portal (address or address:port)` }))
    .min(options.min ?? 1)
    .superRefine((portals, ctx) => {
      if (!portals.every(isPortal)) return;
      const shared = findSharedSubnet(portals, prefix);
      if (shared) {
        ctx.addIssue({
          code: 'custom',
          message: `portals ${shared.first} and ${shared.second} share subnet ${shared.subnet}; each storage path needs its own subnet (the iSCSI multipath notes: storage NICs and controllers on different subnets, never bonded)`,
        });
      }
    });
}

/** One echo request, two seconds to answer (iputils ping: `-c` count, `-W` timeout in seconds). */
export const pingCommand = (ip: string): Command => cmd`ping -c 1 -W 2 ${ip}`;

/**
 * Whether the address answers one ping from the host: exit 0 yes, 1 no reply; anything else
 * (2: unknown host, no route to build a packet) is an error, not a "no".
 * @example if (!(await pingable(ctx.sh, '10.10.1.10'))) …
 */
export async function pingable(sh: Shell, ip: string): Promise<boolean> {
  const result = await sh.run(pingCommand(ip), { read: true, nothrow: true });
  if (result.code === 0) return true;
  if (result.code === 1) return false;
  throw new FactError(`${sh.host}: \`${result.command.display}\` exited ${result.code}: ${(result.stderr || result.stdout).trim().split('\n')[0]}`);
}

/**
 * Every address answers a ping from the host (the iSCSI multipath notes' first check); the reason names those that do not.
 * @example allPingable({ id: 'ping-storage', title: 'every storage IP answers', addresses: (ctx) => ctx.host.vars.portals })
 */
export function allPingable<P = any, V = any>(options: TaskCommon<P, V> & { addresses: Dynamic<readonly string[], P, V> }): AssertStep<P, V> {
  checkOptions(options.id, z.object({ addresses: z.array(z.string().refine(isPortal, 'must be an IPv4 address (or portal)')).min(1) }), options);
  return {
    ...commonOf(options),
    kind: 'assert',
    async check(ctx) {
      const addresses = (await resolve(options.addresses, ctx)).map((a) => parsePortal(a).address);
      const silent: string[] = [];
      for (const address of addresses) if (!(await pingable(ctx.sh, address))) silent.push(address);
      if (silent.length === 0) return noop(`${addresses.join(', ')} answer a ping`);
      return change(`no ping reply from ${silent.join(', ')}`);
    },
  };
}
