/**
 * A bonded management interface brought back to MTU 1500 on every host of a pool, as the note on
 * XenServer management and jumbo frames gives it ("In a word, don't do it"): on XenServer 6.1 a
 * management bond at MTU 9000 makes a rebooted member contact the pool for a moment and vanish;
 * with the bond at the default 1500 "it correctly re-joined the pool after a reboot".
 *
 * The note recreated the bond by hand; here the same end state without tearing the bond down:
 * the MTU the pool database gives the management PIF (its network's MTU, and no per-PIF
 * other-config:mtu override) is set to 1500 on the master, then the running interface takes it
 * with `xe pif-plug` of the management PIF (interface-reconfigure brings it up with the new MTU;
 * the SSH connection over it stays up). One host at a time, each verified live in the pool after.
 */
import { change, cmd, defineRunbook, noop, xe, z } from '../src/index.ts';
import type { Command, Shell } from '../src/index.ts';

const params = z.object({
  mtu: z.number().int().min(1280).max(1500).default(1500)
    .describe('the management MTU wanted (the note: the default 1500)'),
});

const vars = z.object({
  pool_master: z.string().min(1).describe('the pool master\'s inventory name: the xe commands run there'),
});

/** What the helpers below read of a step's context (every step's ctx is one). */
interface Ctx { sh: Shell; host: { name: string; vars: z.output<typeof vars> }; params: z.output<typeof params> }

const master = (ctx: Ctx): string => ctx.host.vars.pool_master;

interface Management { uuid: string; device: string; mtu: number; override?: string; network: string; networkMtu: number; bridge: string }

/** This host's management PIF as the pool database has it, with its network's MTU and bridge. */
async function management(sh: Shell, host: string): Promise<Management> {
  const me = await xe.host(sh, host);
  const [pif] = await xe.list(sh, 'pif', { 'host-uuid': me.uuid, management: 'true' }, ['uuid', 'device', 'MTU', 'network-uuid', 'other-config']);
  if (!pif) throw new Error(`${host} has no management PIF`);
  const network = pif.text('network-uuid');
  const [net] = await xe.list(sh, 'network', { uuid: network }, ['uuid', 'MTU', 'bridge']);
  return {
    uuid: pif.uuid, device: pif.text('device'), mtu: Number(pif.text('MTU')), override: pif.map('other-config').mtu,
    network, networkMtu: Number(net.text('MTU')), bridge: net.text('bridge'),
  };
}

/** `ip -o link show DEV`: the MTU the device runs with now. */
export function parseIpLinkMtu(text: string): number | undefined {
  const match = / mtu (\d+) /.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** The commands that make the database say the wanted MTU for this host's management PIF. */
function configure(m: Management, mtu: number): Command[] {
  const commands: Command[] = [];
  if (m.override !== undefined) commands.push(cmd`xe pif-param-remove ${`uuid=${m.uuid}`} param-name=other-config param-key=mtu`);
  if (m.networkMtu !== mtu) commands.push(cmd`xe network-param-set ${`uuid=${m.network}`} ${`MTU=${mtu}`}`);
  return commands;
}

export default defineRunbook({
  name: 'management-mtu',
  summary: 'a bonded management interface at MTU 9000 brought back to 1500 on every host, connection kept, pool verified (the management jumbo frames note)',
  description: [
    'Follows the note on XenServer 6.1 management bonds with jumbo frames: a member whose management',
    'bond has MTU 9000 does not rejoin its pool after a reboot; at 1500 it does. One host at a time:',
    'the host must be in the pool now (not in emergency mode); on the master the management PIF\'s',
    'MTU is set back (a per-PIF other-config:mtu removed, the management network\'s MTU set with',
    '`xe network-param-set MTU=1500`); the running interface takes it with `xe pif-plug` of the',
    'management PIF (checked with `ip link` on the host; the connection stays up); then the master',
    'must see the host live and enabled. A host already at 1500 is left alone. The network MTU is',
    'pool-wide: the first host sets it for all, the others only re-plug.',
  ].join('\n'),
  hosts: 'xenservers',
  serial: 1,
  params,
  vars,
}).steps([
  {
    kind: 'assert',
    id: 'host-in-pool',
    title: 'the host is in the pool now',
    description: 'The note\'s symptom is a member that, once rebooted with MTU 9000, is no longer in the pool: `xe host-is-in-emergency-mode` on it. Such a host needs the note\'s console fix first (an emergency network reset); this runbook works on hosts the pool still sees, before they reboot.',
    async check(ctx) {
      return (await xe.isEmergencyMode(ctx.sh))
        ? change(`${ctx.host.name} is in emergency mode: it lost the pool (the note's symptom). Reset its networking at the console (xe-reset-networking), then run this again`)
        : noop(`${ctx.host.name} is in the pool`);
    },
  },
  {
    kind: 'action',
    id: 'mtu-configured',
    title: 'the pool database gives the management PIF the MTU',
    description: 'On the master: `xe pif-list host-uuid=… management=true params=MTU` says 1500. Otherwise a per-PIF `other-config:mtu` (XenServer 6.0 style) is removed and the management network\'s MTU set: `xe network-param-set uuid=… MTU=1500`.',
    on: master,
    async check(ctx) {
      const m = await management(ctx.sh, ctx.host.name);
      const why = [m.override !== undefined && `other-config:mtu=${m.override}`, m.networkMtu !== ctx.params.mtu && `network MTU ${m.networkMtu}`].filter(Boolean).join(', ');
      return m.mtu === ctx.params.mtu && !why
        ? noop(`management ${m.device} of ${ctx.host.name} has MTU ${m.mtu} in the pool database`)
        : change(`management ${m.device} of ${ctx.host.name} has MTU ${m.mtu} (${why})`);
    },
    commands: async (ctx) => configure(await management(ctx.sh, ctx.host.name), ctx.params.mtu),
  },
  {
    kind: 'action',
    id: 'mtu-running',
    title: 'the management interface runs with the MTU',
    description: '`ip -o link show <management bridge>` on the host. Otherwise `xe pif-plug uuid=<management PIF>`, from the host (xe forwards it to the master): interface-reconfigure brings the bond up with the MTU the database now gives it, without a reboot; the SSH connection stays up (a lower MTU drops nothing).',
    async check(ctx) {
      const m = await management(ctx.sh, ctx.host.name);
      const running = parseIpLinkMtu(await ctx.sh`ip -o link show ${m.bridge}`.text());
      return running === ctx.params.mtu ? noop(`${m.bridge} runs with MTU ${running}`) : change(`${m.bridge} runs with MTU ${running ?? 'unknown'}`);
    },
    commands: async (ctx) => [cmd`xe pif-plug ${`uuid=${(await management(ctx.sh, ctx.host.name)).uuid}`}`],
  },
  {
    kind: 'assert',
    id: 'pool-sees-host',
    title: 'the master sees the host live and enabled',
    description: 'The pool verified after the change: on the master, `xe host-list` says the host is enabled and its host-metrics-live true.',
    on: master,
    async check(ctx) {
      const [h] = await xe.list(ctx.sh, 'host', { 'name-label': ctx.host.name }, ['uuid', 'enabled', 'host-metrics-live']);
      if (!h) return change(`the pool has no host ${ctx.host.name}`);
      return h.bool('host-metrics-live') && h.bool('enabled')
        ? noop(`${ctx.host.name} is live and enabled in the pool`)
        : change(`${ctx.host.name}: live ${h.text('host-metrics-live')}, enabled ${h.text('enabled')}`);
    },
  },
]);
