/**
 * The fleet-wide fix for the 2012-06-30 leap-second livelock, as a XenServer operator's notes on
 * that night give it (run once per machine from puppet):
 *
 *   if [ ! -f /tmp/leapsecond_2012_06_30 ]
 *   /etc/init.d/ntpd stop; date -s "`date`" && /bin/touch /tmp/leapsecond_2012_06_30
 *
 * Here it is five idempotent steps, so a dry-run shows each host's commands, a rolling run
 * (`--serial 25%`) fixes part of the fleet at a time, and a run killed half-way resumes without
 * setting any clock twice after its marker exists.
 */
import { change, cmd, defineRunbook, facts, file, noop, raw, service, z, type StepContext } from '../src/index.ts';

const MARKER = '/tmp/leapsecond_2012_06_30';
/** The notes' name first; Debian and Ubuntu ship the same daemon as `ntp`. */
const NTP_NAMES = ['ntpd', 'ntp'];
const WINDOWS_SHELLS = ['cmd', 'powershell'];

/** An init script or unit name (no slash, no leading dash), checked before any host is touched. */
const serviceName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9@._:+-]*$/, 'must be a service name like "ntpd"');

/**
 * `date -s "$(date)"` must run as ONE command on the host: the inner `date` reads the host's own
 * clock and the outer one sets it back to that same second, which clears the kernel's leap-second
 * state (the livelocked futex waiters wake up). The time must never come from the controller: it
 * would be off by the transit time and by any difference between the two clocks. So the
 * substitution is left for the host's shell to expand, which is exactly what `raw` is for: an
 * interpolated string would be quoted and `date` would get the literal text `$(date)`. It is safe
 * because the text is a constant of this file, never data. `$(…)` is POSIX for the backquotes.
 */
const resetClock = cmd`date -s ${raw('"$(date)"')}`;

/**
 * The first of the usual NTP service names this host has an init script or systemd unit for. How
 * the host drives each name is a fact asked once per run: the service steps below reuse it. Every
 * name is asked at once, so the whole search is one round trip.
 */
async function ntpServiceOf(ctx: StepContext): Promise<string | undefined> {
  const usable = await Promise.all(NTP_NAMES.map(async (name) => {
    const [manager, hasUnit] = await Promise.all([
      // A FactError says the host has no way to drive this name at all.
      facts.serviceManager(ctx.sh, name).catch((e: unknown) => { if (e instanceof facts.FactError) return undefined; throw e; }),
      ctx.sh`systemctl cat ${`${name}.service`}`.reads().succeeds(),
    ]);
    return manager === 'init.d' || (manager === 'systemd' && hasUnit);
  }));
  return NTP_NAMES.find((_, i) => usable[i]);
}

const runbook = defineRunbook({
  name: 'leap-second',
  summary: 'end the 2012-06-30 leap-second livelock: stop ntpd, date -s "$(date)", mark the host, start ntpd (the fleet-wide fix from that night)',
  description: [
    'Follows the fleet-wide puppet fix a XenServer operator ran on the night of the 2012-06-30 leap',
    'second, when hosts livelocked at 100% CPU: on every Linux host without the marker file, stop',
    'ntpd, set the clock to itself with `date -s "$(date)"`, touch the marker, and start ntpd again.',
    '',
    'Restarting ntpd is this runbook\'s addition: the original fix left it stopped, and a fleet left without',
    'time sync is its own outage (clocks drift apart: Kerberos, TLS, log correlation, HA). Pass',
    '--param restartNtp=false only if something else brings time sync back.',
    '',
    'Targets every host but the `windows` group (XenServer dom0s and Linux guests). Rolling use:',
    '`--serial 25%` fixes a quarter of the fleet at a time. Assumes a POSIX shell and GNU date.',
  ].join('\n'),
  hosts: 'all:!windows',
  params: z.object({
    marker: z.string().startsWith('/', 'must be an absolute path').default(MARKER)
      .describe('the file that says "this host was fixed"; a host that has it is skipped (the original fix\'s guard)'),
    restartNtp: z.boolean().default(true)
      .describe('start ntpd again after the clock is reset; false leaves time sync off (its own outage)'),
    ntpService: serviceName.optional()
      .describe('the NTP service for every host; default: host var ntp_service, else ntpd, else ntp'),
  }),
  vars: z.object({
    ntp_service: serviceName.optional()
      .describe('this host\'s NTP service when it is neither ntpd (the original fix\'s) nor ntp (Debian/Ubuntu)'),
  }),
});

/**
 * Decides, once per host and per run, whether the fix is due; later steps read what it hands on
 * (restored from the journal on resume), so a resumed host whose marker was touched before the
 * kill still gets ntpd started, and a host fixed in an earlier run is skipped whole.
 */
const markerLooked = runbook.step({
  kind: 'assert',
  id: 'marker-looked-up',
  title: 'look for the marker of an earlier fix',
  description: 'The original fix runs once per machine: `if [ ! -f /tmp/leapsecond_2012_06_30 ]`. A host with the marker is skipped (every later step reports "skipped"), and so is a host the inventory marks as Windows (ansible_shell_type cmd or powershell). Also finds the NTP service: ntpd (the original fix\'s), else ntp (Debian/Ubuntu), unless host var ntp_service or --param ntpService names it.',
  outputs: z.object({ due: z.boolean(), ntpService: z.string() }),
  async check(ctx) {
    // Windows hosts outside a `windows` group are still marked so; the livelock is a Linux kernel bug.
    const shell = String((ctx.host.vars as Record<string, unknown>).ansible_shell_type);
    if (WINDOWS_SHELLS.includes(shell)) return noop(`a Windows host (ansible_shell_type ${shell}): the livelock is a Linux kernel bug, host skipped`, { due: false });
    // Asked side by side, the marker and the NTP service go to the host in one round trip.
    const [marked, ntp] = await Promise.all([
      facts.pathExists(ctx.sh, ctx.params.marker),
      ctx.params.ntpService ?? ctx.host.vars.ntp_service ?? ntpServiceOf(ctx),
    ]);
    if (marked) return noop(`marker ${ctx.params.marker} exists: fixed earlier, host skipped`, { due: false });
    if (!ntp) return change(`no ${NTP_NAMES.join(' or ')} service found: set host var ntp_service or --param ntpService`);
    return noop(`no marker ${ctx.params.marker}: the clock will be reset (NTP service: ${ntp})`, { due: true, ntpService: ntp });
  },
});

const { due, ntpService } = markerLooked.out;

const ntpStopped = runbook.step(service({
  id: 'ntp-stopped',
  title: 'stop ntpd so it cannot re-arm the leap second',
  description: 'The original fix: `/etc/init.d/ntpd stop` before the clock is set. The service task drives whatever the host has: systemctl under systemd, else the /etc/init.d script (the original\'s), else `service`.',
  when: due,
  name: ntpService,
  state: 'stopped',
}));

export default runbook.steps([
  markerLooked,
  ntpStopped,
  {
    kind: 'action',
    id: 'clock-reset',
    title: 'set the clock to itself to end the livelock',
    description: 'The fix itself: `date -s "`date`"` ("The fix is quite simple – simply set the date"; a reboot also works, restarting the busy application does not). Harmless to repeat, so a run killed here simply runs it again.',
    when: due,
    // Nothing on the host says the livelock is over (the symptom is CPU load), so it always runs;
    // the marker step after it is what makes the fix happen once.
    check: () => change('the clock is reset on every host without the marker'),
    commands: () => [resetClock],
    verify: false,
  },
  file({
    id: 'marker-touched',
    title: 'touch the marker so the fix runs only once',
    description: 'The original fix: `&& /bin/touch /tmp/leapsecond_2012_06_30` after a successful `date -s`. The next run skips this host.',
    when: due,
    path: (ctx) => ctx.params.marker,
    state: 'present',
  }),
  service({
    id: 'ntp-started',
    title: 'start ntpd again so the host keeps time',
    description: 'Not in the original fix, which left ntpd stopped: a fleet without time sync drifts apart, and that is its own outage (Kerberos, TLS, log correlation, HA heartbeats). Skip it with --param restartNtp=false only when time sync is restored some other way.',
    when: (ctx) => due(ctx) && ctx.params.restartNtp,
    after: [ntpStopped],
    name: ntpService,
    state: 'started',
  }),
]);
