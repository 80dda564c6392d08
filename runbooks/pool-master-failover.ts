/**
 * Moving a XenServer pool's master to the host --param newMaster names, as the
 * note on a lost pool master gives it:
 *
 *   planned (the master is up):   xe host-list; xe pool-designate-new-master host-uuid=<uuid>
 *   emergency (the master died):  xe host-is-in-emergency-mode → true;
 *                                 xe pool-emergency-transition-to-master; then the other members,
 *                                 still looking for the dead master, are pointed at this one with
 *                                 xe pool-recover-slaves
 *
 * Around the note's lines, from the HA notes: before an emergency transition an operator confirms
 * the old master is really off (two masters is split brain: both write the pool database and the
 * shared SRs), and a host HA still arms is disarmed with `xe host-emergency-ha-disable force=true`,
 * which xapi requires first. HA is off after an emergency; ha-enable-timeout turns it back on with
 * its timeout.
 */
import { change, cmd, defineRunbook, facts, manual, noop, xe, z } from '../src/index.ts';
import type { StepContext } from '../src/index.ts';

const params = z.object({
  newMaster: z.string().min(1)
    .describe('the host that becomes the master (inventory name); the other targeted hosts skip every step'),
  mode: z.enum(['planned', 'emergency'])
    .describe('planned: the master is up and hands over; emergency: the master is dead and this host takes over'),
  oldMaster: z.string().min(1).optional()
    .describe('the master being replaced (inventory name); default: host var pool_master'),
});

const vars = z.object({
  pool_master: z.string().min(1).describe('the pool master\'s inventory name, as the inventory last knew it'),
  management_ip: z.string().min(1).optional().describe('the host\'s management address (the old master\'s is pinged before an emergency)'),
});

/** What the helpers below read of a step's context (every step's ctx is one). */
interface Ctx extends Pick<StepContext, 'sh' | 'inventory'> { host: { name: string; vars: z.output<typeof vars> }; params: z.output<typeof params> }

const XHAD_CONF = '/etc/xensource/xhad.conf';
const oldMaster = (ctx: Ctx): string => ctx.params.oldMaster ?? ctx.host.vars.pool_master;
const isNewMaster = (ctx: Ctx): boolean => ctx.host.name === ctx.params.newMaster;
const planned = (ctx: Ctx): boolean => isNewMaster(ctx) && ctx.params.mode === 'planned';
const emergency = (ctx: Ctx): boolean => isNewMaster(ctx) && ctx.params.mode === 'emergency';

/** Whether the pool, asked from this host, names this host its master (false while in emergency mode). */
async function isMaster(ctx: Ctx): Promise<boolean> {
  if (await xe.isEmergencyMode(ctx.sh)) return false;
  const me = await xe.host(ctx.sh, ctx.host.name);
  return (await xe.poolMaster(ctx.sh)) === me.uuid;
}

/** The old master's management address from the inventory, when it has one. */
function oldMasterAddress(ctx: Ctx): string | undefined {
  const name = oldMaster(ctx);
  if (!ctx.inventory.has(name)) return undefined;
  const address = (ctx.inventory.host(name).vars as Record<string, unknown>).management_ip;
  return typeof address === 'string' ? address : undefined;
}

export default defineRunbook({
  name: 'pool-master-failover',
  summary: 'make this host the pool master: planned hand-over, or emergency take-over of a dead master behind a confirmed power-off (the lost pool master note)',
  description: [
    'Follows the note on a XenServer pool whose master is lost. --param newMaster=HOST names the host',
    'that becomes the master (every step runs there; other targeted hosts skip them all), and',
    '--param mode=planned or mode=emergency how.',
    '',
    'planned: the master is up. `xe pool-designate-new-master host-uuid=…`, waiting until the pool',
    'names this host master. xapi refuses it while HA is on: disable HA first, re-enable it after',
    'with ha-enable-timeout (which restores its timeout).',
    '',
    'emergency: the master is dead and this host is in emergency mode (`xe host-is-in-emergency-mode`',
    'says true). The old master must not answer ping, and an operator confirms it is powered off (two',
    'masters is split brain). Then HA is disarmed here if it still is, `xe pool-emergency-transition-to-master`,',
    'and `xe pool-recover-slaves` points the other members at this host. When the old master comes',
    'back it must follow the new one (`xe pool-emergency-reset-master master-address=…` on it) before',
    'it rejoins. HA is off afterwards: run ha-enable-timeout.',
  ].join('\n'),
  hosts: 'xenservers',
  params,
  vars,
}).steps([
  {
    kind: 'assert',
    id: 'not-the-old-master',
    title: 'this host is not the master being replaced',
    description: 'The new master (--param newMaster) must not be the master being replaced.',
    when: isNewMaster,
    check: (ctx) => (ctx.host.name === oldMaster(ctx)
      ? change(`${ctx.host.name} is the master being replaced: name another host with --param newMaster, or the old master with --param oldMaster`)
      : noop(`${ctx.host.name} takes over from ${oldMaster(ctx)}`)),
  },
  {
    kind: 'assert',
    id: 'ha-off-for-hand-over',
    title: 'HA is off (planned)',
    description: 'xapi refuses pool-designate-new-master while HA is on. Disable it first; ha-enable-timeout re-enables it with its timeout afterwards (the HA notes: a re-enable loses the timeout).',
    when: planned,
    async check(ctx) {
      if (await isMaster(ctx)) return noop(`${ctx.host.name} is already the master`);
      const ha = await xe.haState(ctx.sh);
      return ha.enabled
        ? change(`HA is on (timeout ${ha.timeout ?? 'default'}): disable it (xe pool-ha-disable), then run this, then ha-enable-timeout`)
        : noop('HA is off');
    },
  },
  xe.designateMaster({
    id: 'designated-master',
    title: 'designate this host the new master (planned)',
    description: 'The note: `xe host-list` for the uuid, then `xe pool-designate-new-master host-uuid=…`; "after about 20–30 seconds (be patient) it will reappear with the new server as the master". Waits up to 5 minutes for the pool to name this host.',
    when: planned,
    host: (ctx) => ctx.host.name,
  }),
  {
    kind: 'assert',
    id: 'master-is-gone',
    title: 'this host lost its master and the old master does not answer (emergency)',
    description: 'The note: `xe host-is-in-emergency-mode` must say true ("if the server returns False … the rest of this post isn\'t going to help you"). The old master\'s management address (host var management_ip) must not answer three pings: a master that answers is not dead, and a second master would be split brain.',
    when: emergency,
    async check(ctx) {
      if (!(await xe.isEmergencyMode(ctx.sh))) {
        return (await isMaster(ctx))
          ? noop(`${ctx.host.name} is already the master`)
          : change(`${ctx.host.name} is not in emergency mode: its master answers. Use --param mode=planned`);
      }
      const address = oldMasterAddress(ctx);
      if (address && await ctx.sh`ping -c 3 -W 1 ${address}`.succeeds()) {
        return change(`${ctx.host.name} is in emergency mode but ${oldMaster(ctx)} (${address}) answers ping: it may still be running as master (split brain). Power it off, or repair its management network and use mode=planned`);
      }
      return noop(`${ctx.host.name} is in emergency mode; ${oldMaster(ctx)} ${address ? `(${address}) does not answer ping` : 'has no management_ip to ping'}`);
    },
  },
  manual({
    id: 'old-master-off',
    title: 'confirm the old master is powered off (emergency)',
    description: 'A human gate before the transition: a master that is only hung may come back and keep writing the pool database and the shared SRs while this host is master too (split brain).',
    when: emergency,
    instructions: 'Check at the old master\'s remote console (iLO, DRAC, IPMI) or at the rack that it is powered off, and keep it off (or disconnected from the management and storage networks) until it has been told to follow the new master. Record how you checked.',
    evidence: z.object({ checkedBy: z.string().min(1).describe('how the power-off was checked, e.g. "iLO: power Off"') }),
    check: async (ctx) => (await isMaster(ctx) ? noop(`${ctx.host.name} is already the master`) : change(`${oldMaster(ctx)} must be confirmed off`)),
  }),
  {
    kind: 'action',
    id: 'ha-disarmed-here',
    title: 'HA disarmed on this host (emergency)',
    description: 'The HA notes\' `xe host-emergency-ha-disable force=true`: xapi refuses the emergency transition (HA_IS_ENABLED) on a host HA still arms, which a host whose HA daemon has its configuration (/etc/xensource/xhad.conf) is.',
    when: emergency,
    async check(ctx) {
      return (await facts.pathExists(ctx.sh, XHAD_CONF))
        ? change(`HA is armed on ${ctx.host.name} (${XHAD_CONF} exists)`)
        : noop(`HA is not armed on ${ctx.host.name}`);
    },
    commands: () => [cmd`xe host-emergency-ha-disable force=true`],
  },
  xe.emergencyTransitionToMaster({
    id: 'transitioned-to-master',
    title: 'this host becomes the master (emergency)',
    description: 'The note: `xe pool-emergency-transition-to-master`; afterwards `xe host-is-in-emergency-mode` says false. Waits up to 5 minutes for the new master to answer.',
    when: emergency,
  }),
  {
    kind: 'action',
    id: 'members-recovered',
    title: 'the other members follow this master (emergency)',
    description: '`xe pool-recover-slaves` on the new master: the members still in emergency mode, looking for the dead master, are told to follow this one. Only the old master may stay not live.',
    when: emergency,
    async check(ctx) {
      const hosts = await xe.list(ctx.sh, 'host', {}, ['uuid', 'name-label', 'host-metrics-live']);
      const lost = hosts.filter((h) => !h.bool('host-metrics-live') && h.text('name-label') !== oldMaster(ctx)).map((h) => h.text('name-label'));
      return lost.length ? change(`not following this master yet: ${lost.join(', ')}`) : noop('every member but the old master is live');
    },
    commands: () => [cmd`xe pool-recover-slaves`],
  },
  {
    kind: 'assert',
    id: 'pool-verified',
    title: 'the pool names this host master and every other member is live',
    when: isNewMaster,
    description: 'The note: "your pool should now be healthy". Read from the new master: pool-list master, host-list host-metrics-live. After an emergency the old master is expected down; HA is reported (off after an emergency: run ha-enable-timeout).',
    async check(ctx) {
      if (!(await isMaster(ctx))) return change(`${ctx.host.name} is not the pool master`);
      const hosts = await xe.list(ctx.sh, 'host', {}, ['uuid', 'name-label', 'host-metrics-live']);
      const expectedDown = emergency(ctx) ? [oldMaster(ctx)] : [];
      const down = hosts.filter((h) => !h.bool('host-metrics-live') && !expectedDown.includes(h.text('name-label'))).map((h) => h.text('name-label'));
      if (down.length) return change(`members not live: ${down.join(', ')}`);
      const ha = await xe.haState(ctx.sh);
      const haText = ha.enabled ? `HA on (timeout ${ha.timeout ?? 'default'})` : 'HA off: run ha-enable-timeout to turn it back on with its timeout';
      return noop(`${ctx.host.name} is the master of ${hosts.length} hosts; ${haText}`);
    },
  },
]);
