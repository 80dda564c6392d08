/**
 * The XenServer CLI as facts and steps, imported as a namespace: `import { xe } from 'runbook'`.
 *
 * Facts (facts.ts: `list`, `findOne`, `host`, `haState`, …) run one `xe` command and parse it with
 * the pure parsers of parse.ts. Steps (host.ts, pool.ts, vm.ts: `hostEnabled`, `haEnabled`,
 * `vmPowerState`, …) read state through facts in check and give the exact commands in `commands`,
 * every value quoted by `cmd`. Most `xe` steps belong on the pool master: `on: xe.poolMasterOf`.
 */
export * from './facts.ts';
export * from './host.ts';
export * from './pool.ts';
export * from './vm.ts';
export type { HostOptions, WaitOptions, XeStepOptions } from './options.ts';
export { isUuid, type Selectors } from './command.ts';
export { XeRecord } from './parse.ts';
