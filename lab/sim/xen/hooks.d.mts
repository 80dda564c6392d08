/** Types of hooks.mjs, for TypeScript callers. */
export type PowerState = 'running' | 'rebooting' | 'halted' | 'off';
export function onPowerChange(labRoot: string, host: string, state: PowerState): void;
export function onReinstall(labRoot: string, host: string): string;
