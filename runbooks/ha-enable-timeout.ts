/**
 * Pool HA on with the heartbeat SR and a heartbeat timeout long enough to ride out a storage
 * failover, as the HA notes give it:
 *
 *   xe pool-ha-enable heartbeat-sr-uuids=<sr uuid> ha-config:timeout=120
 *
 * The notes' warnings shape the rest: the default 30 s (60 s in their first test) fenced hosts while
 * a SAN node failed over; the timeout is not kept across a disable/enable (re-enabling from the GUI
 * brings back the default), so every run re-applies it when it differs and then reads, on every
 * host, the timeout that host's HA daemon was really configured with (/etc/xensource/xhad.conf).
 * Before enabling it refuses the pitfalls the notes list: a pool too small for the failures to
 * tolerate (a two-host pool fences itself in a loop), a heartbeat SR some host cannot reach, a
 * management link that is not a bond.
 */
import { change, defineRunbook, facts, noop, xe, z } from '../src/index.ts';
import type { Shell } from '../src/index.ts';

const params = z.object({
  timeout: z.number().int().min(10).default(120)
    .describe('HA heartbeat timeout in seconds (the notes settled on 120 after 60 and 90 still fenced hosts)'),
  sr: z.string().min(1).optional()
    .describe('the heartbeat SR (name-label or uuid); default: the SR HA already uses, else the pool\'s only shared iSCSI or FC SR'),
  hostFailures: z.number().int().min(1).default(1)
    .describe('host failures the pool must survive; the pool needs at least this many plus two hosts'),
});

const vars = z.object({
  pool_master: z.string().min(1).describe('the pool master\'s inventory name: the xe commands run there'),
});

/** What the helpers below read of a step's context (every step's ctx is one). */
interface Ctx { sh: Shell; host: { name: string; vars: z.output<typeof vars> }; params: z.output<typeof params> }

const XHAD_CONF = '/etc/xensource/xhad.conf';
const HEARTBEAT_SR_TYPES = ['lvmoiscsi', 'lvmohba'];

/** The heartbeat SR: named, else the one HA uses now, else the pool's only shared block SR. */
async function heartbeatSr(ctx: Ctx): Promise<{ uuid: string; name: string; shared: boolean }> {
  const ref = ctx.params.sr ?? (await xe.haState(ctx.sh)).heartbeatSrUuids[0];
  if (ref) {
    const sr = await xe.sr(ctx.sh, ref);
    return { uuid: sr.uuid, name: sr.nameLabel, shared: sr.shared };
  }
  const candidates = (await xe.list(ctx.sh, 'sr', {}, ['uuid', 'name-label', 'type', 'shared']))
    .filter((r) => r.bool('shared') && HEARTBEAT_SR_TYPES.includes(r.text('type')));
  if (candidates.length !== 1) {
    const found = candidates.map((r) => r.text('name-label')).join(', ') || 'none';
    throw new Error(`expected one shared iSCSI or FC SR for the heartbeat, found ${found}: name it with --param sr=…`);
  }
  return { uuid: candidates[0].uuid, name: candidates[0].text('name-label'), shared: true };
}

/** Host uuid → name-label, and which are live (xapi's host-metrics-live). */
async function poolHosts(sh: Shell) {
  const records = await xe.list(sh, 'host', {}, ['uuid', 'name-label', 'host-metrics-live']);
  return records.map((r) => ({ uuid: r.uuid, name: r.text('name-label'), live: r.bool('host-metrics-live') }));
}

/** The HA daemon's timeouts as this host's xhad.conf states them; undefined when HA is not armed here. */
export function parseXhadTimeouts(text: string): { heartbeat?: number; statefile?: number } {
  const read = (name: string) => {
    const match = new RegExp(`<${name}>(\\d+)</${name}>`).exec(text);
    return match ? Number(match[1]) : undefined;
  };
  return { heartbeat: read('HeartbeatTimeout'), statefile: read('StateFileTimeout') };
}

export default defineRunbook({
  name: 'ha-enable-timeout',
  summary: 'pool HA on with the heartbeat SR and ha-config:timeout=120, re-applied and verified on every host (the HA timeout notes)',
  description: [
    'Follows the notes on XenServer HA fencing during a SAN failover: enable HA from the command line',
    'with `xe pool-ha-enable heartbeat-sr-uuids=… ha-config:timeout=120`, because the default timeout',
    'fenced hosts whose storage was only failing over, and because the timeout is lost whenever HA is',
    'disabled and enabled again. A pool whose HA runs with another timeout gets it disabled and enabled',
    'again with the right one; each host then shows the timeout its HA daemon runs with.',
    '',
    'Refuses, before changing anything, the pitfalls the notes list: fewer than three hosts (two hosts',
    'fence each other in a loop), fewer hosts than the failures to tolerate plus two, a host that is',
    'not live, a heartbeat SR not plugged on every host, a management interface that is not a bond.',
    'One host at a time (serial 1): the first enables HA on the master, the others only verify.',
  ].join('\n'),
  hosts: 'xenservers',
  serial: 1,
  params,
  vars,
}).steps([
  {
    kind: 'assert',
    id: 'enough-hosts',
    title: 'the pool has enough live hosts for HA',
    description: 'The HA notes: "a two-XenServer pool cannot successfully run HA" (the survivor fences itself); a pool of three or more works. Here: at least three hosts, at least hostFailures + 2, and every host live (pool-ha-enable needs them all).',
    on: (ctx) => ctx.host.vars.pool_master,
    async check(ctx) {
      const hosts = await poolHosts(ctx.sh);
      const names = hosts.map((h) => h.name).join(', ');
      const need = Math.max(3, ctx.params.hostFailures + 2);
      if (hosts.length < need) return change(`the pool has ${hosts.length} host(s) (${names}); HA tolerating ${ctx.params.hostFailures} failure(s) needs at least ${need}`);
      const down = hosts.filter((h) => !h.live).map((h) => h.name);
      if (down.length) return change(`not live: ${down.join(', ')}: HA can only be enabled with every host up`);
      return noop(`${hosts.length} live hosts (${names}) for ${ctx.params.hostFailures} failure(s) to tolerate`);
    },
  },
  {
    kind: 'assert',
    id: 'heartbeat-sr-reachable',
    title: 'the heartbeat SR is shared and plugged on every host',
    description: 'The HA notes: the heartbeat SR is an iSCSI or FC SR every host writes its heartbeat to. Its PBD must be attached on every host (`xe pbd-list sr-uuid=…`), or HA refuses (or worse, fences the host that cannot reach it).',
    on: (ctx) => ctx.host.vars.pool_master,
    async check(ctx) {
      const sr = await heartbeatSr(ctx);
      if (!sr.shared) return change(`SR ${sr.name} (${sr.uuid}) is not shared: it cannot hold the heartbeat`);
      const hosts = await poolHosts(ctx.sh);
      const attached = new Set((await xe.pbds(ctx.sh, { sr: sr.uuid })).filter((p) => p.currentlyAttached).map((p) => p.hostUuid));
      const missing = hosts.filter((h) => !attached.has(h.uuid)).map((h) => h.name);
      if (missing.length) return change(`SR ${sr.name} is not plugged on ${missing.join(', ')}: plug its PBD (xe pbd-plug) or repair the storage path first`);
      return noop(`SR ${sr.name} (${sr.uuid}) is plugged on all ${hosts.length} hosts`);
    },
  },
  {
    kind: 'assert',
    id: 'management-bonded',
    title: 'every host\'s management interface is a bond',
    description: 'The HA notes: with one management NIC per host, a NIC or switch failure fences the host (or the whole pool); bond two NICs for management, split across two switches.',
    on: (ctx) => ctx.host.vars.pool_master,
    async check(ctx) {
      const pifs = await xe.list(ctx.sh, 'pif', { management: 'true' }, ['uuid', 'device', 'host-name-label', 'bond-master-of']);
      const single = pifs.filter((p) => !p.text('bond-master-of')).map((p) => `${p.text('host-name-label')} (${p.text('device')})`);
      if (single.length) return change(`management is not bonded on ${single.join(', ')}: one NIC or switch failure would fence the host`);
      return noop(`management is a bond on all ${pifs.length} hosts`);
    },
  },
  xe.haEnabled({
    id: 'ha-on-with-timeout',
    title: 'HA enabled with the heartbeat SR and the timeout',
    description: 'The HA notes: `xe pool-ha-enable heartbeat-sr-uuids=… ha-config:timeout=120`, on the master. HA already on with another timeout or SR is disabled and enabled again: the timeout cannot change while HA is on, and a disable/enable without it falls back to the default.',
    on: (ctx) => ctx.host.vars.pool_master,
    heartbeatSr: async (ctx) => (await heartbeatSr(ctx)).uuid,
    timeout: (ctx) => ctx.params.timeout,
  }),
  {
    kind: 'assert',
    id: 'timeout-on-this-host',
    title: 'this host\'s HA daemon runs with the timeout',
    description: 'What the notes verify after enabling, on each host: /etc/xensource/xhad.conf, which xapi writes for the HA daemon when it arms the host, states HeartbeatTimeout and StateFileTimeout equal to the timeout.',
    async check(ctx) {
      const text = await facts.fileContent(ctx.sh, XHAD_CONF);
      if (text === null) return change(`${XHAD_CONF} is missing: HA is not armed on ${ctx.host.name}`);
      const { heartbeat, statefile } = parseXhadTimeouts(text);
      const want = ctx.params.timeout;
      if (heartbeat === want && statefile === want) return noop(`the HA daemon on ${ctx.host.name} runs with heartbeat and statefile timeouts of ${want} s`);
      return change(`the HA daemon on ${ctx.host.name} runs with heartbeat timeout ${heartbeat ?? 'unset'} s and statefile timeout ${statefile ?? 'unset'} s, want ${want}`);
    },
  },
]);
