import { z } from 'zod';
import { change, noop, type CheckResult } from '../runbook/check.ts';
import type { ActionStep, Dynamic, StepContext } from '../runbook/types.ts';
import { cmd, type Command } from '../shell/command.ts';
import { serviceManager, serviceState, type ServiceManager, type ServiceState } from './facts.ts';
import { appliedPlan, applyPlan, checkOptions, commonOf, resolveOptions, TaskError, type TaskCommon } from './resolve.ts';

export type ServiceWanted = 'started' | 'stopped' | 'restarted';

export interface ServiceOptions<P = any, V = any> extends TaskCommon<P, V> {
  /** The service (systemd unit or init script) name: `ntpd`, `open-iscsi`, `getty@tty1`. */
  name: Dynamic<string, P, V>;
  state: Dynamic<ServiceWanted, P, V>;
}

const serviceSchema = z.object({
  // No slash (it names a file under /etc/init.d), no leading dash (it would read as an option).
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9@._:+-]*$/, 'must be a service name like "ntpd" (letters, digits, @ . _ : + -)'),
  state: z.enum(['started', 'stopped', 'restarted']),
});

type ServiceSpec = z.output<typeof serviceSchema>;

const VERBS: Record<ServiceWanted, 'start' | 'stop' | 'restart'> = { started: 'start', stopped: 'stop', restarted: 'restart' };

/**
 * The command that moves the service, for the manager that drives it.
 * @example serviceCommand('init.d', 'ntpd', 'stopped').display // '/etc/init.d/ntpd stop'
 */
export function serviceCommand(manager: ServiceManager, name: string, wanted: ServiceWanted): Command {
  const verb = VERBS[wanted];
  if (manager === 'systemd') return cmd`systemctl ${verb} ${name}`;
  if (manager === 'init.d') return cmd`/etc/init.d/${name} ${verb}`;
  return cmd`service ${name} ${verb}`;
}

/**
 * Pure: is the service where it should be, and why. A restart is always wanted: it is the point of
 * asking for one, and nothing on the host can say it already happened.
 * @example judgeService({ name: 'ntpd', state: 'stopped' }, 'running') // change('ntpd is running')
 */
export function judgeService(spec: ServiceSpec, state: ServiceState): CheckResult {
  const now = state === 'changing' ? 'starting or stopping' : state;
  if (spec.state === 'restarted') return change(`restart requested: ${spec.name} is ${now}`);
  const goal = spec.state === 'started' ? 'running' : 'stopped';
  return state === goal ? noop(`${spec.name} is ${goal}`) : change(`${spec.name} is ${now}`);
}

/** Where apply must leave the service: a restart is judged by the service running afterwards. */
const settledState = (wanted: ServiceWanted): ServiceState => (wanted === 'stopped' ? 'stopped' : 'running');

/**
 * A service started, stopped or restarted, through systemd when it is PID 1, else the service's
 * /etc/init.d script or `service` (LSB status codes: 0 running, 3 stopped, anything else an error).
 * @example service({ id: 'stop-ntpd', title: 'stop ntpd', name: 'ntpd', state: 'stopped' })
 */
export function service<P = any, V = any>(options: ServiceOptions<P, V>): ActionStep<P, V> {
  checkOptions(options.id, serviceSchema, options);
  const verifiedByEngine = typeof options.state !== 'function' && options.state !== 'restarted';
  const locate = async (ctx: StepContext<P, V>) => {
    const spec = await resolveOptions(options.id, serviceSchema, options, ctx);
    return { spec, manager: await serviceManager(ctx.sh, spec.name) };
  };
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      const { spec, manager } = await locate(ctx);
      return judgeService(spec, await serviceState(ctx.sh, manager, spec.name));
    },
    async commands(ctx) {
      const ran = appliedPlan(ctx);
      if (ran) return ran;
      const { spec, manager } = await locate(ctx);
      return [serviceCommand(manager, spec.name, spec.state)];
    },
    // When the engine does not re-check (a restart, whose check always says change, or a dynamic
    // state), apply verifies on its own; otherwise the re-check's one status read is enough.
    async apply(ctx) {
      const { spec, manager } = await locate(ctx);
      await applyPlan(ctx, [{ command: serviceCommand(manager, spec.name, spec.state) }]);
      if (verifiedByEngine) return;
      const after = await serviceState(ctx.sh, manager, spec.name);
      const want = settledState(spec.state);
      if (after !== want) throw new TaskError(options.id, `${spec.name} is ${after} after ${VERBS[spec.state]}, want ${want}`);
    },
    verify: verifiedByEngine,
  };
}
