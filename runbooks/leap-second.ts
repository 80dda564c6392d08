/**
 * The fleet-wide fix for the 2012-06-30 leap-second livelock, as seed 001 gives it:
 *
 *   if [ ! -f /tmp/leapsecond_2012_06_30 ]
 *   /etc/init.d/ntpd stop; date -s "`date`" && /bin/touch /tmp/leapsecond_2012_06_30
 *
 * The seed ran it once per machine from puppet; here it is five idempotent steps, so a dry-run
 * shows each host's commands, a rolling run (`--serial 25%`) fixes part of the fleet at a time, and
 * a run killed half-way resumes without setting any clock twice after its marker exists.
 */
import { change, cmd, defineRunbook, facts, file, noop, raw, service, z } from '../src/index.ts';
import type { ActionStep, StepContext } from '../src/index.ts';

const SEED_MARKER = '/tmp/leapsecond_2012_06_30';
/** The seed's name first; Debian and Ubuntu ship the same daemon as `ntp`. */
const NTP_NAMES = ['ntpd', 'ntp'] as const;

/** An init script or unit name (no slash, no leading dash), checked before any host is touched. */
const serviceName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9@._:+-]*$/, 'must be a service name like "ntpd"');

const params = z.object({
  marker: z.string().startsWith('/', 'must be an absolute path').default(SEED_MARKER)
    .describe('the file that says "this host was fixed"; a host that has it is skipped (seed 001)'),
  restartNtp: z.boolean().default(true)
    .describe('start ntpd again after the clock is reset; false leaves time sync off (its own outage)'),
  ntpService: serviceName.optional()
    .describe('the NTP service for every host; default: host var ntp_service, else ntpd, else ntp'),
});

const vars = z.object({
  ntp_service: serviceName.optional()
    .describe('this host\'s NTP service when it is neither ntpd (the seed\'s) nor ntp (Debian/Ubuntu)'),
});

type Params = z.output<typeof params>;
type Vars = z.output<typeof vars>;
type Ctx = StepContext<Params, Vars>;

/**
 * The first of the usual NTP service names this host has an init script or systemd unit for. How
 * the host drives each name is a fact asked once per run: the service steps below reuse it.
 */
async function detectNtpService(ctx: Ctx): Promise<string> {
  const wanted = ctx.params.ntpService ?? ctx.host.vars.ntp_service;
  if (wanted) return wanted;
  for (const name of NTP_NAMES) {
    // A FactError says the host has no way to drive this name at all: try the next one.
    const manager = await facts.serviceManager(ctx.sh, name).catch((e: unknown) => { if (e instanceof facts.FactError) return undefined; throw e; });
    if (manager === 'init.d') return name;
    if (manager === 'systemd' && await ctx.sh`systemctl cat ${`${name}.service`}`.succeeds()) return name;
  }
  throw new Error(`${ctx.host.name}: no ${NTP_NAMES.join(' or ')} service found: set host var ntp_service or --param ntpService`);
}

/**
 * Step 1 decides, once per host and per run, whether the fix is due; later steps read its outputs
 * (restored from the journal on resume), so a resumed host whose marker was touched before the
 * kill still gets ntpd started, and a host fixed in an earlier run is skipped whole.
 */
const markerLooked: ActionStep<Params, Vars> = {
  kind: 'action',
  id: 'marker-looked-up',
  title: 'look for the marker of an earlier fix',
  description: 'Seed 001 runs the fix once per machine: `if [ ! -f /tmp/leapsecond_2012_06_30 ]`. A host with the marker is skipped (every later step reports "skipped"), and so is a host the inventory marks as Windows (ansible_shell_type cmd or powershell). Also finds the NTP service: ntpd (the seed\'s), else ntp (Debian/Ubuntu), unless host var ntp_service or --param ntpService names it.',
  async check(ctx) {
    // An inventory whose Windows hosts are not in a `windows` group
    // still marks them so; they have no ntpd and no livelock (a Linux kernel bug), and no `test`.
    const shell = (ctx.host.vars as Record<string, unknown>).ansible_shell_type;
    if (shell === 'cmd' || shell === 'powershell') return noop(`a Windows host (ansible_shell_type ${shell}): the livelock is a Linux kernel bug, host skipped`, { due: false });
    const marker = ctx.params.marker;
    if (await facts.pathExists(ctx.sh, marker)) return noop(`marker ${marker} exists: fixed earlier, host skipped`, { due: false });
    const ntp = await detectNtpService(ctx);
    return noop(`no marker ${marker}: the clock will be reset (NTP service: ${ntp})`, { due: true, ntpService: ntp });
  },
  commands: () => [],
};

const due = (ctx: Ctx): boolean => ctx.outputs.get<boolean>(markerLooked.id, 'due');
const ntpName = (ctx: Ctx): string => ctx.outputs.get<string>(markerLooked.id, 'ntpService');

const ntpStopped = service<Params, Vars>({
  id: 'ntp-stopped',
  title: 'stop ntpd so it cannot re-arm the leap second',
  description: 'Seed 001: `/etc/init.d/ntpd stop` before the clock is set. The service task drives whatever the host has: systemctl under systemd, else the /etc/init.d script (the seed\'s), else `service`.',
  when: due,
  name: ntpName,
  state: 'stopped',
});

/**
 * `date -s "$(date)"` must run as ONE command on the host: the inner `date` reads the host's own
 * clock and the outer one sets it back to that same second, which clears the kernel's leap-second
 * state (the livelocked futex waiters wake up). The time must never come from the controller: it
 * would be off by the transit time and by any difference between the two clocks. So the
 * substitution is left for the host's shell to expand, which is exactly what `raw` is for: an
 * interpolated string would be quoted and `date` would get the literal text `$(date)`. It is safe
 * because the text is a constant of this file, never data. `$(…)` is POSIX for the seed's
 * backquotes.
 */
const resetClock = cmd`date -s ${raw('"$(date)"')}`;

const clockReset: ActionStep<Params, Vars> = {
  kind: 'action',
  id: 'clock-reset',
  title: 'set the clock to itself to end the livelock',
  description: 'Seed 001\'s fix: `date -s "`date`"` ("The fix is quite simple – simply set the date"; a reboot also works, restarting the busy application does not). Harmless to repeat, so a run killed here simply runs it again.',
  when: due,
  // Nothing on the host says the livelock is over (the symptom is CPU load), so it always runs;
  // the marker step after it is what makes the fix happen once.
  check: () => change('the clock is reset on every host without the marker (seed 001)'),
  commands: () => [resetClock],
  verify: false,
};

const markerTouched = file<Params, Vars>({
  id: 'marker-touched',
  title: 'touch the marker so the fix runs only once',
  description: 'Seed 001: `&& /bin/touch /tmp/leapsecond_2012_06_30` after a successful `date -s`. The next run skips this host.',
  when: due,
  path: (ctx) => ctx.params.marker,
  state: 'present',
});

/**
 * In a dry-run ntpd has not really been stopped yet, so its check would say "running" and hide
 * this step; it says what the apply will do instead.
 */
function afterStop(step: ActionStep<Params, Vars>): ActionStep<Params, Vars> {
  return {
    ...step,
    async check(ctx) {
      if (ctx.dryRun) return change(`${ntpName(ctx)} is stopped by step ${ntpStopped.id} first, then started here`);
      return step.check(ctx);
    },
  };
}

const ntpStarted = afterStop(service<Params, Vars>({
  id: 'ntp-started',
  title: 'start ntpd again so the host keeps time',
  description: 'Not in seed 001, which left ntpd stopped: a fleet without time sync drifts apart, and that is its own outage (Kerberos, TLS, log correlation, HA heartbeats). Skip it with --param restartNtp=false only when time sync is restored some other way.',
  when: (ctx) => due(ctx) && ctx.params.restartNtp,
  name: ntpName,
  state: 'started',
}));

export default defineRunbook({
  name: 'leap-second',
  summary: 'end the 2012-06-30 leap-second livelock: stop ntpd, date -s "$(date)", mark the host, start ntpd (seed 001)',
  description: [
    'Follows seed 001 (the fleet-wide puppet fix for the 2012-06-30 leap second): on every Linux host',
    'without the marker file, stop ntpd, set the clock to itself with `date -s "$(date)"`, touch the',
    'marker, and start ntpd again.',
    '',
    'Restarting ntpd is this runbook\'s addition: the seed left it stopped, and a fleet left without',
    'time sync is its own outage (clocks drift apart: Kerberos, TLS, log correlation, HA). Pass',
    '--param restartNtp=false only if something else brings time sync back.',
    '',
    'Targets every host but the `windows` group (XenServer dom0s and Linux guests). Rolling use:',
    '`--serial 25%` fixes a quarter of the fleet at a time. Assumes a POSIX shell and GNU date.',
  ].join('\n'),
  hosts: 'all:!windows',
  params,
  vars,
  steps: [markerLooked, ntpStopped, clockReset, markerTouched, ntpStarted],
});
