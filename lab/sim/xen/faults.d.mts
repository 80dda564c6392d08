/** Types of faults.mjs, for TypeScript callers. */
export function applyFault(labRoot: string, host: string, kind: string, args?: string[], off?: boolean): string;
export function reinstallHost(labRoot: string, labHost: string): string;
