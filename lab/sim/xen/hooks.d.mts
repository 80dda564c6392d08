/** Types of hooks.mjs, for TypeScript callers. */
export type PowerState = 'running' | 'rebooting' | 'halted' | 'off';
export function onPowerChange(labRoot: string, host: string, state: PowerState): void;
/** A XenServer host's fresh install after the lab re-seeded it (the new host uuid); undefined for other hosts. */
export function onReinstall(labRoot: string, host: string): string | undefined;
/** A XenServer host's domain state in a few lines for `runbook lab state`; undefined for other hosts. */
export function describeHost(labRoot: string, host: string): string[] | undefined;
