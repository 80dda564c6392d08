/**
 * The "reverse troubleshooting technique" from a XenServer operator's notes on iSCSI multipath
 * failures, for a host that sees only some paths to its storage, for when the forward technique
 * (runbooks/iscsi-reconnect.ts) did not help:
 *
 *   logoff all the targets: iscsiadm -m node -u all
 *   shut the iscsi service down: chkconfig open-iscsi stop / service open-iscsi stop
 *   Change the multipath status of the host to inactive and then reboot.
 *   Re-initialize the multipath configuration on the host.
 *
 * Done one host at a time and made safe around the notes' lines: the host is disabled and emptied
 * of VMs first, and after the reboot everything is brought back and verified (multipathing on,
 * open-iscsi started, each portal discovered, all nodes logged in, every path active, the SR's
 * PBDs plugged, the toolstack restarted, the host enabled again).
 */
import { change, cmd, defineRunbook, facts, iscsi, noop, reboot, service, storagePaths, xe, z } from '../src/index.ts';
import type { Command, Shell, StepRef } from '../src/index.ts';

const params = z.object({
  force: z.boolean().default(false)
    .describe('reset the host even when every path is up (e.g. after replacing a storage NIC)'),
  sr: z.string().min(1).optional()
    .describe('the iSCSI SR (name-label or uuid) whose PBDs are re-plugged; default: host var iscsi_sr, else the pool\'s only shared lvmoiscsi SR'),
});

const vars = storagePaths.hostVars.extend({
  iscsi_sr: z.string().min(1).optional().describe('the iSCSI SR of this host\'s pool, when the pool has more than one'),
});

/** What the helpers below read of a step's context (every step's ctx is one). */
interface Ctx { sh: Shell; host: { name: string; vars: z.output<typeof vars> }; params: z.output<typeof params> }

const master = (ctx: Ctx): string => ctx.host.vars.pool_master;

const runbook = defineRunbook({
  name: 'iscsi-reverse-reset',
  summary: 'reset a XenServer host\'s iSCSI multipath: evacuate, log off, stop open-iscsi, multipath off, reboot, and bring it all back, one host at a time (the reverse technique of the iSCSI multipath repair notes)',
  description: [
    'The reverse technique from a XenServer operator\'s notes on iSCSI multipath failures, for a host that',
    'sees only some paths to its iSCSI storage and was not fixed by the forward technique',
    '(iscsi-reconnect): log off all targets, stop open-iscsi, set the host\'s multipathing inactive,',
    'reboot, re-initialise multipathing, then start iSCSI again, discover each portal, log in, and',
    'check every LUN\'s paths with `multipath -ll`.',
    '',
    'Around the notes\' lines: the host must not be the pool master and must not be the last enabled',
    'host; it is disabled and evacuated first, and re-plugged, toolstack-restarted and enabled after.',
    'The pool\'s HA state is recorded (and left alone). One host at a time (serial 1).',
    '',
    'A host whose paths are all up is left alone (every step says why) unless --param force=true.',
    'Assumes XenServer 5.x/6.x (RHEL-based dom0: chkconfig, the open-iscsi init script, xe).',
  ].join('\n'),
  hosts: 'xenserver*',
  serial: 1,
  params,
  vars,
});

// ---- preflight ---------------------------------------------------------------------------------

/** The SR whose PBDs the end of the run re-plugs: named, or the pool's only shared iSCSI (lvmoiscsi) SR. */
async function findSr(ctx: Ctx): Promise<{ uuid: string; name: string }> {
  const sr = await xe.sharedSr(ctx.sh, { ref: ctx.params.sr ?? ctx.host.vars.iscsi_sr, type: 'lvmoiscsi', hint: 'name it with --param sr=… or host var iscsi_sr' });
  return { uuid: sr.uuid, name: sr.nameLabel };
}

/**
 * Read-only, on the master: the pool's HA state (recorded so the change ticket shows what it was;
 * the HA timeout notes: the timeout does not survive a disable/enable, so this runbook never
 * touches HA) and the SR to re-plug.
 */
const poolRecorded = runbook.step({
  kind: 'assert',
  id: 'pool-recorded',
  title: 'record the pool\'s HA state and find the iSCSI SR',
  description: 'On the pool master: `xe pool-list` (ha-enabled, ha-configuration) and the SR whose PBDs are re-plugged at the end. HA is left as it is: a disabled host that reboots is not fenced, and the HA timeout notes warn that an HA re-enable loses its timeout.',
  on: master,
  outputs: z.object({
    haEnabled: z.boolean(), haTimeout: z.number().nullable(), haHeartbeatSrs: z.array(z.string()), sr: z.string(), srName: z.string(),
  }),
  async check(ctx) {
    const ha = await xe.haState(ctx.sh);
    const sr = await findSr(ctx);
    const haText = ha.enabled ? `HA is on (timeout ${ha.timeout ?? 'default'} s, heartbeat SR ${ha.heartbeatSrUuids.join(', ') || 'unknown'})` : 'HA is off';
    return noop(`${haText}; iSCSI SR ${sr.name} (${sr.uuid})`, {
      haEnabled: ha.enabled, haTimeout: ha.timeout ?? null, haHeartbeatSrs: ha.heartbeatSrUuids, sr: sr.uuid, srName: sr.name,
    });
  },
});

const notMaster = storagePaths.onlyIfNeeded({
  kind: 'assert',
  id: 'not-the-master',
  title: 'the host is not the pool master',
  description: 'Every `xe` step runs on the master; rebooting it would leave the pool without one (the notes on a lost pool master: emergency mode). Move the master first: `xe pool-designate-new-master host-uuid=…`.',
  check: (ctx: Ctx) => (ctx.host.name === master(ctx)
    ? change(`${ctx.host.name} is the pool master: designate another master first (a pool that loses its master falls into emergency mode), then run this on ${ctx.host.name}`)
    : noop(`the pool master is ${master(ctx)}`)),
});

const othersRunVms = storagePaths.onlyIfNeeded({
  kind: 'assert',
  id: 'others-can-run-the-vms',
  title: 'the host is not the only one able to run the pool\'s VMs',
  description: 'Evacuation needs another enabled, live host (xapi\'s host-metrics-live): if this one is the last, its VMs would have nowhere to go and the reset would be an outage.',
  on: master,
  async check(ctx: Ctx) {
    const hosts = await xe.list(ctx.sh, 'host', {}, ['uuid', 'name-label', 'enabled', 'host-metrics-live']);
    const me = hosts.find((h) => h.text('name-label') === ctx.host.name);
    if (!me) return change(`the pool has no host named ${ctx.host.name} (hosts: ${hosts.map((h) => h.text('name-label')).join(', ')})`);
    const others = hosts.filter((h) => h.uuid !== me.uuid && h.bool('enabled') && h.bool('host-metrics-live')).map((h) => h.text('name-label'));
    const vms = (await xe.residentVms(ctx.sh, me.uuid)).map((v) => v.nameLabel);
    const running = vms.length ? `its VMs (${vms.join(', ')})` : 'no VM runs on it now';
    if (others.length === 0) return change(`${ctx.host.name} is the only enabled, live host of the pool: ${running}, nowhere to evacuate to`);
    return noop(`${others.join(', ')} enabled and live: ${running}${vms.length ? ' can move there' : ''}`);
  },
});

// ---- taking the host down ----------------------------------------------------------------------

/** Boot-time start of a service: `chkconfig NAME on|off` (the notes' RHEL-based dom0), systemctl elsewhere. */
function bootEnabled(options: { id: string; title: string; description: string; name: string; enabled: boolean; after?: readonly StepRef[] }) {
  const { name, enabled, ...common } = options;
  const viaSystemd = async (ctx: Ctx) => (await facts.initSystem(ctx.sh)) === 'systemd';
  const command = async (ctx: Ctx): Promise<Command> => (await viaSystemd(ctx))
    ? cmd`systemctl ${enabled ? 'enable' : 'disable'} ${name}`
    : cmd`chkconfig ${name} ${enabled ? 'on' : 'off'}`;
  return runbook.step({
    kind: 'action',
    ...common,
    async check(ctx) {
      // `chkconfig NAME` and `systemctl is-enabled NAME` both exit 0 when it starts at boot.
      const now = await (await viaSystemd(ctx) ? ctx.sh`systemctl is-enabled ${name}` : ctx.sh`chkconfig ${name}`).succeeds();
      const word = (on: boolean) => (on ? 'starts at boot' : 'does not start at boot');
      return now === enabled ? noop(`${name} ${word(now)}`) : change(`${name} ${word(now)}`);
    },
    commands: async (ctx) => [await command(ctx)],
  });
}

/**
 * The steps that bring the host back act after this one: in a dry-run that resets the host, the
 * engine reports them "may change (after rebooted)" with their commands, without asking their
 * checks (the host is still up, so they would find nothing to do yet).
 */
const rebooted = runbook.step(storagePaths.onlyIfNeeded(reboot({
  id: 'rebooted',
  title: 'reboot the host and wait for it',
  description: 'The repair notes: "and then reboot". Waits up to 15 minutes (server firmware POSTs slowly) for the new boot id; a run resumed after the reboot sees that the boot id changed since step 1 and does not reboot again.',
  since: storagePaths.LOOKED,
  timeoutMs: 900_000,
})));

// ---- bringing it back --------------------------------------------------------------------------

// After the reboot no session is open and no PBD of the SR is attached: a dry-run, which cannot
// ask these two checks before the reboot happens, shows a login to every portal and a plug of
// every PBD (the tasks' commandsAfterChange).
const loggedIn = runbook.extend(iscsi.loggedIn({
  id: 'iscsi-logged-in',
  title: 'log in to all the nodes',
  description: 'The repair notes: "log on to all the nodes of the storage" (iscsiadm -m node … -l, one portal at a time: after the reboot no session is open).',
  all: true,
  portals: (ctx) => ctx.host.vars.iscsi_portals,
}), { after: [rebooted] });

const pbdsPlugged = runbook.extend(xe.pbdsPlugged({
  id: 'pbds-plugged',
  title: 're-plug the SR\'s PBDs on the host',
  description: '`xe pbd-plug` for each unplugged PBD of the iSCSI SR on this host, on the master: the SR is usable from this host again.',
  on: master,
  host: (ctx) => ctx.host.name,
  sr: poolRecorded.out.sr,
}), { after: [rebooted] });

export default runbook.steps([
  storagePaths.lookedAt({
    description: 'The repair notes: "Next check for the multipath status. multipath -ll". Every LUN must show multipath_paths working paths and every portal an iSCSI session; otherwise the host needs the repair. Read-only.',
    force: (ctx: Ctx) => ctx.params.force,
  }),
  poolRecorded,
  notMaster,
  othersRunVms,
  // taking the host down
  storagePaths.onlyIfNeeded(xe.hostEnabled({
    id: 'host-disabled',
    title: 'disable the host so the pool places no VM on it',
    description: 'XenServer maintenance mode, first half: `xe host-disable`, on the pool master.',
    on: master,
    host: (ctx) => ctx.host.name,
    enabled: false,
  })),
  storagePaths.onlyIfNeeded(xe.hostEvacuated({
    id: 'host-evacuated',
    title: 'migrate the host\'s VMs to the other hosts',
    description: 'Maintenance mode, second half: `xe host-evacuate`. The storage is about to go away under this host; no VM may be running on it.',
    on: master,
    host: (ctx) => ctx.host.name,
  })),
  storagePaths.onlyIfNeeded(iscsi.loggedOut({
    id: 'iscsi-logged-out',
    title: 'log off all the targets',
    description: 'The repair notes: "logoff all the targets: iscsiadm -m node -u all". Run as `-U all` (iscsiadm(8) --logoutall=all), the documented form of the same thing.',
    all: true,
  })),
  storagePaths.onlyIfNeeded(service({
    id: 'open-iscsi-stopped',
    title: 'shut the iSCSI service down',
    description: 'The repair notes: "service open-iscsi stop".',
    name: 'open-iscsi',
    state: 'stopped',
  })),
  storagePaths.onlyIfNeeded(bootEnabled({
    id: 'open-iscsi-boot-off',
    title: 'keep open-iscsi from starting at the reboot',
    description: 'The repair notes: "chkconfig open-iscsi stop" (chkconfig\'s word is off): the host must come up without iSCSI so multipath starts from nothing. Undone after the reboot.',
    name: 'open-iscsi',
    enabled: false,
  })),
  storagePaths.onlyIfNeeded(xe.hostMultipathing({
    id: 'multipath-inactive',
    title: 'set the host\'s multipathing inactive',
    description: 'The repair notes: "Change the multipath status of the host to inactive". XenServer keeps it in the host record (other-config:multipathing, or the multipathing field on 8.x), set on the master while the host is disabled.',
    on: master,
    host: (ctx) => ctx.host.name,
    enabled: false,
  })),
  rebooted,
  // bringing it back
  xe.hostMultipathing({
    id: 'multipath-active',
    title: 'set the host\'s multipathing active again',
    description: 'The repair notes: "Re-initialize the multipath configuration on the host": multipathing back on (with multipathhandle=dmp on 5.x/6.x), before any iSCSI session exists.',
    on: master,
    host: (ctx) => ctx.host.name,
    enabled: true,
    after: [rebooted],
  }),
  bootEnabled({
    id: 'open-iscsi-boot-on',
    title: 'let open-iscsi start at boot again',
    description: 'Undoes open-iscsi-boot-off, so the next ordinary reboot brings the storage up.',
    name: 'open-iscsi',
    enabled: true,
    after: [rebooted],
  }),
  service({
    id: 'open-iscsi-started',
    title: 'start the iSCSI service',
    description: 'open-iscsi started again (the notes\' forward technique restarts it the same way).',
    name: 'open-iscsi',
    state: 'started',
    after: [rebooted],
  }),
  iscsi.portalsDiscovered({
    id: 'portals-discovered',
    title: 'discover the targets of each storage portal',
    description: 'The repair notes: "manually discover each of the node" (iscsiadm -m discovery -t sendtargets -p PORTAL), for each portal of host var iscsi_portals that has no node record. The records survive the reboot, so usually there is nothing to do.',
    portals: (ctx) => ctx.host.vars.iscsi_portals,
  }),
  loggedIn,
  storagePaths.restored({
    id: 'paths-active',
    title: 'every LUN shows all its paths in multipath -ll',
    description: 'The repair notes: every LUN shows multipath_paths active paths in `multipath -ll` (waits up to 2 min for multipathd). Still short: the problem is not on this host (cabling, switch, array); the host stays disabled.',
  }),
  pbdsPlugged,
  storagePaths.toolstackRestarted('The repair notes: xe-toolstack-restart, so xapi sees the storage as it now is. Only in a run that reset the host.'),
  xe.hostEnabled({
    id: 'host-enabled',
    title: 'enable the host again',
    description: '`xe host-enable`, on the master: the host takes VMs again. VMs are not moved back; XenServer\'s placement (or an operator) decides.',
    on: master,
    host: (ctx) => ctx.host.name,
    enabled: true,
    after: [rebooted],
  }),
]);
