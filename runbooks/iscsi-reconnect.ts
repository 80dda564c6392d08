/**
 * The "forward troubleshooting technique" from a XenServer operator's notes on iSCSI multipath
 * failures, for a host that sees only some paths to its storage: the repair operators try first
 * (it does not reboot or evacuate anything):
 *
 *   ping all the IPs of the storage · multipath -ll · service open-iscsi restart ·
 *   iscsiadm -m discovery --sendtargets --portal <ip> · iscsiadm -m node -L all ·
 *   xe-toolstack-restart · (reboot, if this doesn't resolve the issue)
 *
 * When it does not bring every path back, the reverse technique is next: runbooks/iscsi-reverse-reset.ts,
 * which shares this runbook's host vars and building blocks (the library's storagePaths).
 */
import { CommandError, cmd, defineRunbook, iscsi, service, storagePaths } from '../src/index.ts';

/** The notes log in "at one shot"; exit 15 (ISCSI_ERR_SESS_EXISTS) is the paths that were never lost. */
const LOGIN_ALL = cmd`iscsiadm -m node -L all`;
const SESSION_EXISTS = 15;

const runbook = defineRunbook({
  name: 'iscsi-reconnect',
  summary: 'reconnect a XenServer host\'s lost iSCSI paths without a reboot: ping, multipath -ll, open-iscsi restart, discovery, login, toolstack restart (the forward technique of the iSCSI multipath repair notes)',
  description: [
    'The forward technique from a XenServer operator\'s notes on iSCSI multipath failures ("some paths',
    'not available" on a host): check that every storage IP answers, read `multipath -ll`, restart',
    'open-iscsi, discover each portal, log in to all nodes, restart the toolstack, and verify that',
    'every LUN shows multipath_paths active paths.',
    '',
    'A host whose paths are all up is left alone (every step says so), so it is safe to run on a',
    'whole pool. No VM is moved and nothing is rebooted. If the paths are still short at the end, the',
    'notes say reboot; the gentler next step here is `runbook apply iscsi-reverse-reset` on that host.',
    'Assumes XenServer 5.x/6.x dom0 tools (open-iscsi init script, iscsiadm, multipath-tools, xe).',
  ].join('\n'),
  hosts: 'xenserver*',
  vars: storagePaths.hostVars,
});

const loggedInAll = runbook.extend(
  iscsi.loggedIn({ id: 'iscsi-logged-in', title: 'log on to all the nodes', all: true, portals: (ctx) => ctx.host.vars.iscsi_portals }),
  {
    description: 'The notes: "log on to all the nodes of the storage at one shot by: iscsiadm -m node -L all". On a host that still has some sessions (the notes\' case) it exits 15, "session exists", after logging in to the rest; that exit is accepted and the re-check of the sessions decides.',
    commands: () => [LOGIN_ALL],
    async apply(ctx) {
      const result = await ctx.sh.run(LOGIN_ALL).nothrow();
      if (!result.ok && result.code !== SESSION_EXISTS) throw new CommandError(result, ctx.sh.host);
    },
  },
);

export default runbook.steps([
  storagePaths.lookedAt({ description: 'The notes: "Next check for the multipath status. multipath -ll". Every LUN must show multipath_paths working paths and every portal an iSCSI session; otherwise the host needs the repair. Read-only.' }),
  storagePaths.pingable({
    id: 'storage-pingable',
    title: 'ping every storage IP',
    description: 'The notes\' first check. A portal that does not answer is a network problem (NIC, switch, a storage NIC on the wrong subnet): no iSCSI command can fix it, so the run stops here and says which.',
  }),
  storagePaths.onlyIfNeeded(service({
    id: 'open-iscsi-restarted',
    title: 'restart open-iscsi',
    description: 'The notes: "service open-iscsi restart". Only on a host with missing paths.',
    name: 'open-iscsi',
    state: 'restarted',
  })),
  iscsi.portalsDiscovered({
    id: 'portals-discovered',
    title: 'discover the targets of each storage portal',
    description: 'The notes: "manually discover each of the node: iscsiadm -m discovery --sendtargets --portal <ip_addr_of_storage>". Only portals without node records are discovered.',
    portals: (ctx) => ctx.host.vars.iscsi_portals,
  }),
  loggedInAll,
  storagePaths.toolstackRestarted('The notes: "and then xe-toolstack-restart", so xapi picks up the sessions. Only in a run that repaired something.'),
  storagePaths.restored({
    id: 'paths-active',
    title: 'every LUN shows all its paths in multipath -ll',
    description: 'The notes: the point of the repair, checked with multipath -ll. Still short after two minutes: the forward technique did not help; reboot or run iscsi-reverse-reset on this host.',
  }),
]);
