/**
 * The public API runbooks import: `import { defineRunbook, service, cmd } from 'runbook'`.
 * Everything here is stable surface; internals live behind it.
 */
export { defineRunbook, type RunbookDraft, type Extension } from './runbook/define.ts';
/** zod, re-exported so a runbook needs only this package: `import { z } from 'runbook'`. */
export { z } from 'zod';
export { noop, change, type CheckResult, type ContentChange, type Json, type Outputs } from './runbook/check.ts';
export { secretString } from './runbook/params.ts';
export { hostJudged, type HostCheck } from './runbook/host-check.ts';
export type { ActionStep, AssertStep, ManualStep, Step, StepContext, StepRef, HostInfo, Dynamic, Runbook, RunbookDefinition, OutputReaders, WithOutputs } from './runbook/types.ts';
export { cmd, winCmd, psCmd, raw, secret, Command, Secret } from './shell/command.ts';
export { CommandError, type Shell, type ShellResult } from './shell/shell.ts';
export { defineInventory } from './inventory/ts.ts';

export { command } from './tasks/command.ts';
export { file } from './tasks/file.ts';
export { lineInFile } from './tasks/line-in-file.ts';
export { service } from './tasks/service.ts';
export { apt } from './tasks/apt.ts';
export { assert } from './tasks/assert.ts';
export { manual } from './tasks/manual.ts';
export { runUntil, waitFor } from './tasks/wait-for.ts';
export * as facts from './tasks/facts.ts';
export * as xe from './tasks/xe/index.ts';
export * as iscsi from './tasks/iscsi.ts';
export * as multipath from './tasks/multipath.ts';
export * as net from './tasks/net.ts';
export { reboot, bootIdRecorded, bootId } from './tasks/reboot.ts';
export * as grub from './tasks/grub.ts';
export * as windows from './tasks/windows.ts';
export * as hostKey from './tasks/host-key.ts';
export * as storagePaths from './tasks/storage-paths.ts';
