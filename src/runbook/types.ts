import type { z } from 'zod';
import type { Command } from '../shell/command.ts';
import type { Shell } from '../shell/shell.ts';
import type { Transport } from '../transport/types.ts';
import type { CheckResult, Json, Outputs } from './check.ts';
import type { HostCheck } from './host-check.ts';

/** What a step knows about a host: its inventory entry with vars merged and validated. */
export interface HostInfo<V = Record<string, unknown>> {
  name: string;
  address: string;
  port: number;
  user?: string;
  connection: 'ssh' | 'local';
  become: boolean;
  groups: readonly string[];
  vars: V;
}

/** Read access to the inventory from inside a step (to find the pool master, a group's members). */
export interface InventoryView {
  host(name: string): HostInfo;
  group(name: string): HostInfo[];
  has(name: string): boolean;
}

/** Everything check, apply, when and the plan receive. */
export interface StepContext<P = unknown, V = unknown> {
  /** The host this step is for (even when it runs `on` another host). */
  host: HostInfo<V>;
  params: P;
  /** Runs commands on the host the step runs on: its `on` host if it has one, else `host`. */
  sh: Shell;
  /** A shell on any inventory host (resolved by name). */
  on(hostName: string): Shell;
  /** The transport of the host the step runs on (reboot and reconnect need it). */
  transport: Transport;
  inventory: InventoryView;
  /** Values earlier steps on this host handed on, by step id; restored from the journal on resume. */
  outputs: OutputsView;
  log(message: string): void;
  dryRun: boolean;
  /** Aborted when the run is interrupted or the step times out. */
  signal: AbortSignal;
  /** This step's id. */
  stepId: string;
  /**
   * `<run id>/<attempt>`: unique to this attempt of this step on this host. A resume of the attempt
   * in flight keeps it; a retry (after a failure) or another run gets a new one. Tag anything the
   * step leaves on a host to prove something to a later check with it (the reboot marker does).
   */
  attemptId: string;
}

export interface OutputsView {
  /** All values a step handed on; undefined if that step has not run (or, in a dry-run, would change). */
  of(stepId: string): Outputs | undefined;
  /** One value; throws MissingOutputError if it is not there. */
  get<T extends Json = Json>(stepId: string, key: string): T;
}

/** A value that may depend on the host and params: `path: (ctx) => ctx.params.marker`. */
export type Dynamic<T, P = any, V = any> = T | ((ctx: StepContext<P, V>) => T | Promise<T>);

interface StepCommon<P, V> {
  /** Stable id: the journal and resume key on it, so never reuse or rename it lightly. */
  id: string;
  title: string;
  /** Longer text for `describe` and the change-ticket checklist. */
  description?: string;
  /** Skip the step (status "skipped") when this says false. */
  // NoInfer: a shared helper here (`on: xe.poolMasterOf`) must not decide the runbook's params type.
  when?: (ctx: StepContext<NoInfer<P>, NoInfer<V>>) => boolean | Promise<boolean>;
  /** Run on another inventory host, e.g. the pool master for `xe` (Ansible's delegate_to). */
  on?: string | ((ctx: StepContext<NoInfer<P>, NoInfer<V>>) => string | Promise<string>);
  /** Whole-step limit for check + apply + re-check, in ms. */
  timeoutMs?: number;
  /** How many more times apply is tried after it fails; waits `retryDelayMs` between tries. */
  retries?: number;
  retryDelayMs?: number;
  /** Output of this step is redacted in logs, reports and the journal. */
  sensitive?: boolean;
  /**
   * Steps whose change this one acts after: in a dry-run, when one of them would change on this
   * host, the engine reports this step "may change" without asking its check (which could not know
   * yet). `after: [ntpStopped]`.
   */
  after?: readonly StepRef[];
}

/**
 * What a check or apply may hand on: any part of the declared outputs (a check that finds nothing
 * to do may know less than one that plans a change). Undeclared: any JSON values.
 */
export type Handed<O> = string extends keyof O ? O : Partial<O>;

/** Anything with a step id: a step object, for `after`. */
export interface StepRef {
  readonly id: string;
}

/** A step that can change the host: check, then apply, then check again (a lying apply fails). */
export interface ActionStep<P = any, V = any, O = Outputs> extends StepCommon<P, V> {
  kind: 'action';
  check(ctx: StepContext<P, V>): Promise<CheckResult<Handed<O>>> | CheckResult<Handed<O>>;
  /** The exact commands apply runs, in order; shown by dry-run. Runs them if there is no `apply`. */
  commands?(ctx: StepContext<P, V>): Command[] | Promise<Command[]>;
  /**
   * What a dry-run shows when the check cannot be asked yet, because a step this one acts `after`
   * would change the host first: the commands the host will need then (after a reboot, a login to
   * every portal; `commands` would read the host as it is before). Default: `commands`.
   */
  commandsAfterChange?(ctx: StepContext<P, V>): Command[] | Promise<Command[]>;
  apply?(ctx: StepContext<P, V>): Promise<Handed<O> | void> | Handed<O> | void;
  /**
   * The check as one command the host judges (exit 0: done), declared with `hostJudged()` so it is
   * the very command `check` sends. A step with it and `commands` (no `apply`) may go to the host in
   * one script with its neighbours: probe, then the commands and the probe again only if it failed.
   */
  hostCheck?(ctx: StepContext<P, V>): HostCheck | Promise<HostCheck>;
  /** Skip the re-check after apply (for steps whose effect cannot be read back, e.g. a reboot). */
  verify?: boolean;
  /**
   * Runs once the step has ended in a real run (never a dry-run), however it ended: ok, changed or
   * failed. For what the step leaves on a host only while it runs (the reboot marker). A failure
   * is logged and does not change the outcome; a killed run does not get here.
   */
  cleanup?(ctx: StepContext<P, V>): Promise<void> | void;
}

/** A precondition: passes when its check is done, fails with the check's reason otherwise. */
export interface AssertStep<P = any, V = any, O = Outputs> extends StepCommon<P, V> {
  kind: 'assert';
  check(ctx: StepContext<P, V>): Promise<CheckResult<Handed<O>>> | CheckResult<Handed<O>>;
}

/** A human action: confirmed at a prompt or with `runbook confirm`; evidence fields are zod-checked. */
export interface ManualStep<P = any, V = any, O = Outputs> extends StepCommon<P, V> {
  kind: 'manual';
  instructions: string;
  evidence?: z.ZodObject<any>;
  /** Optional: an automated check that the manual work is already done (then no confirmation is asked). */
  check?(ctx: StepContext<P, V>): Promise<CheckResult<Handed<O>>> | CheckResult<Handed<O>>;
}

export type Step<P = any, V = any, O = Outputs> = ActionStep<P, V, O> | AssertStep<P, V, O> | ManualStep<P, V, O>;

/** What reading a handed-on value needs: any step context. */
export interface OutputSource {
  outputs: OutputsView;
}

/** A step's handed-on values as functions of the reading step's context: `markerLooked.out.due(ctx)`. */
export type OutputReaders<O> = { readonly [K in keyof O]-?: (ctx: OutputSource) => O[K] };

/**
 * A step that declared what it hands on (`outputs: z.object({...})`, a zod object), plus the typed
 * readers later steps use: `looked.out.due`.
 */
export type WithOutputs<S, O> = S & { readonly outputs: z.ZodObject; readonly out: OutputReaders<O> };

export interface RunbookDefinition<P = any, V = any> {
  name: string;
  /** One line for `runbook list`; name the seed text the runbook follows. */
  summary: string;
  description?: string;
  params?: z.ZodType<P>;
  vars?: z.ZodType<V>;
  /** Inventory pattern of the hosts it targets by default (Ansible pattern, default "all"). */
  hosts?: string;
  /** Batch size: a number or a percentage like "25%"; `--serial` overrides. */
  serial?: number | string;
  /** One host per run: targets after `--limit` must be exactly one host, or the run is refused. */
  oneHost?: boolean;
  /**
   * The change window's end when `--window-end` is not given: a length from the run's start
   * (`'4h'`), a time of day (`'06:00'`, local) or an ISO time. No step starts after it.
   */
  windowEnd?: string;
  steps: Step<P, V>[];
}

/** A loaded runbook: its definition plus where it came from. */
export interface Runbook<P = any, V = any> extends RunbookDefinition<P, V> {
  readonly file?: string;
}
