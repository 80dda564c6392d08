import type { InventoryHost } from '../inventory/types.ts';
import type { HostInfo, InventoryView, StepContext } from '../runbook/types.ts';
import { createShell, type Shell } from '../shell/shell.ts';
import type { Transport } from '../transport/types.ts';
import type { Connections } from './connections.ts';
import type { RunEventInput } from './events.ts';
import { createExecutor, type RoundTrips } from './executor.ts';
import type { CommandLedger } from './ledger.ts';
import type { HostOutputs } from './outputs.ts';
import type { FrameAnswers } from './frame.ts';
import type { AheadRead, ReadAhead } from './read-ahead.ts';

/** What the engine knows while running one step on one host. */
export interface StepScope {
  host: HostInfo;
  params: unknown;
  inventory: InventoryView;
  inventoryHosts: ReadonlyMap<string, InventoryHost>;
  connections: Connections;
  outputs: HostOutputs;
  dryRun: boolean;
  runSecrets: readonly string[];
  emit(event: RunEventInput): void;
  /** `<run id>/<attempt>`: what a step tags things it leaves on a host with (see StepContext.attemptId). */
  attemptId: string;
  /** This step's count of commands sent (absent: not counted). */
  roundTrips?: RoundTrips;
  /** The reads this step sent or took, in order: what its re-check is expected to ask again. */
  reads?: AheadRead[];
  /** The reads expected after this step's apply (its re-check's, the next step's first), for its last command's frame. */
  expectedReads?: () => Promise<AheadRead[]>;
  /** What the frame that carried this step got for it (src/engine/frame.ts). */
  frame?: FrameAnswers;
}

/** Hosts whose shell is cmd or PowerShell get no frames (src/shell/frame.ts is a POSIX script). */
const WINDOWS_SHELLS = new Set(['cmd', 'powershell']);

/** The host's reads sent ahead, when its shell is POSIX (the inventory says so ahead of time). */
export function readAheadFor(scope: StepScope, name: string): ReadAhead | undefined {
  const shell = scope.inventoryHosts.get(name)?.vars.ansible_shell_type;
  return typeof shell === 'string' && WINDOWS_SHELLS.has(shell) ? undefined : scope.connections.readAheadOf(name);
}

/** The transport a step's code sees: a transfer or a reconnect makes every read sent ahead stale. */
function watched(transport: Transport, readAhead: ReadAhead | undefined): Transport {
  if (!readAhead) return transport;
  return {
    kind: transport.kind,
    host: transport.host,
    connect: () => transport.connect(),
    exec: (command, options) => { readAhead.clear(); return transport.exec(command, options); },
    put: (path, data, mode) => { readAhead.clear(); return transport.put(path, data, mode); },
    get: (path) => transport.get(path),
    reconnect: (options) => { readAhead.clear(); return transport.reconnect(options); },
    close: () => { readAhead.clear(); return transport.close(); },
  };
}

/** Builds the context a step's callbacks see, with `sh` bound to the host the step runs on. */
export function buildContext(scope: StepScope, stepId: string, sensitive: boolean, runsOn: Transport, signal: AbortSignal, ledger?: CommandLedger): StepContext {
  const shellFor = (transport: Transport): Shell => {
    const target = scope.inventoryHosts.get(transport.host);
    const executor = createExecutor({
      transport, host: scope.host.name, stepId, sensitive, signal,
      become: target?.become ?? false, runSecrets: scope.runSecrets,
      emit: scope.emit, ledger, roundTrips: scope.roundTrips,
      readAhead: readAheadFor(scope, transport.host), expectedReads: scope.expectedReads, reads: scope.reads, frame: scope.frame,
    });
    return createShell(transport.host, executor, 'posix', scope.connections.factsOf(transport.host));
  };
  return {
    host: scope.host,
    params: scope.params,
    sh: shellFor(runsOn),
    on: (name: string) => lazyShell(name, scope, shellFor),
    transport: watched(runsOn, readAheadFor(scope, runsOn.host)),
    inventory: scope.inventory,
    outputs: scope.outputs,
    log: (message: string) => scope.emit({ kind: 'log', host: scope.host.name, step: stepId, message }),
    dryRun: scope.dryRun,
    signal,
    stepId,
    attemptId: scope.attemptId,
  };
}

/** A shell on another host whose connection opens on its first command. */
function lazyShell(name: string, scope: StepScope, shellFor: (t: Transport) => Shell): Shell {
  if (!scope.inventoryHosts.has(name)) throw new Error(`ctx.on(${JSON.stringify(name)}): no such host in the inventory`);
  const executor = async (...args: Parameters<Shell['run']>) => {
    const transport = await scope.connections.get(name);
    return shellFor(transport).run(...args).nothrow();
  };
  return createShell(name, (command, options) => executor(command, options), 'posix', scope.connections.factsOf(name));
}

/** The inventory as steps see it: hosts by name, groups' members. */
export function inventoryView(hosts: ReadonlyMap<string, InventoryHost>, toInfo: (h: InventoryHost) => HostInfo): InventoryView {
  const find = (name: string): InventoryHost => {
    const host = hosts.get(name);
    if (!host) throw new Error(`no host named ${JSON.stringify(name)} in the inventory`);
    return host;
  };
  return {
    host: (name) => toInfo(find(name)),
    group: (name) => [...hosts.values()].filter((h) => h.groups.includes(name)).map(toInfo),
    has: (name) => hosts.has(name),
  };
}

export function hostInfo(host: InventoryHost, vars: unknown = host.vars): HostInfo {
  return {
    name: host.name, address: host.address, port: host.port, user: host.user,
    connection: host.connection, become: host.become, groups: host.groups, vars: vars as Record<string, unknown>,
  };
}
