import { z } from 'zod';
import { change, noop, type CheckResult } from '../runbook/check.ts';
import type { ActionStep, Dynamic, StepContext } from '../runbook/types.ts';
import { cmd, type Command } from '../shell/command.ts';
import { packagesInstalled } from './facts.ts';
import { CheckReading, checkOptions, commonOf, resolveOptions, type TaskCommon } from './resolve.ts';

export interface AptOptions<P = any, V = any> extends TaskCommon<P, V> {
  /** One Debian package name or several. */
  name: Dynamic<string | string[], P, V>;
  state?: Dynamic<'present' | 'absent', P, V>;
}

// Debian policy §5.6.1: lowercase letters, digits, + - . ; at least two characters, starting alphanumeric.
const packageName = z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'must be a Debian package name like "ntp"');

const aptSchema = z.object({
  name: z.union([packageName, z.array(packageName).min(1)]).transform((n) => (Array.isArray(n) ? n : [n])),
  state: z.enum(['present', 'absent']).default('present'),
});

export type AptSpec = z.output<typeof aptSchema>;

/**
 * What must move: the packages not yet in the wanted state.
 * @example packagesToChange({ name: ['ntp', 'curl'], state: 'present' }, { ntp: true, curl: false }) // ['curl']
 */
export const packagesToChange = (spec: AptSpec, installed: Record<string, boolean>): string[] =>
  spec.name.filter((name) => installed[name] !== (spec.state === 'present'));

/**
 * Pure: the check's answer from which packages are installed.
 * @example judgePackages({ name: ['ntp'], state: 'present' }, { ntp: false }) // change('ntp is not installed')
 */
export function judgePackages(spec: AptSpec, installed: Record<string, boolean>): CheckResult {
  const pending = packagesToChange(spec, installed);
  const verb = (names: string[], yes: boolean) => `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'}${yes ? '' : ' not'} installed`;
  if (pending.length === 0) return noop(verb(spec.name, spec.state === 'present'));
  return change(verb(pending, spec.state === 'absent'));
}

/**
 * The apt-get command for the pending packages: never prompts, keeps changed config files
 * (Ansible's default dpkg options force-confdef,force-confold).
 * @example aptCommand('present', ['ntp']).display
 */
export function aptCommand(state: AptSpec['state'], names: readonly string[]): Command {
  const quiet = cmd`DEBIAN_FRONTEND=noninteractive apt-get -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold`;
  return state === 'present' ? cmd`${quiet} install ${names}` : cmd`${quiet} remove ${names}`;
}

/**
 * Debian packages installed or removed, checked with dpkg-query, changed with apt-get.
 * @example apt({ id: 'ntp', title: 'install ntp', name: 'ntp', state: 'present' })
 */
export function apt<P = any, V = any>(options: AptOptions<P, V>): ActionStep<P, V> {
  checkOptions(options.id, aptSchema, options);
  // apt-get is planned from the dpkg-query the check ran, not from a second one.
  const reading = new CheckReading<Record<string, boolean>>();
  const inspect = async (ctx: StepContext<P, V>, from: 'fresh' | 'take') => {
    const spec = await resolveOptions(options.id, aptSchema, options, ctx);
    return { spec, installed: await reading[from](ctx, spec.name.join(' '), () => packagesInstalled(ctx.sh, spec.name)) };
  };
  return {
    ...commonOf(options),
    kind: 'action',
    async check(ctx) {
      const { spec, installed } = await inspect(ctx, 'fresh');
      return judgePackages(spec, installed);
    },
    async commands(ctx) {
      const { spec, installed } = await inspect(ctx, 'take');
      const pending = packagesToChange(spec, installed);
      return pending.length ? [aptCommand(spec.state, pending)] : [];
    },
  };
}
