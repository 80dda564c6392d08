import type { Inventory, InventoryHost } from '../../src/inventory/types.ts';
import type { ExecOptions, ExecResult, Transport } from '../../src/transport/types.ts';
import type { EventSink, RunEvent } from '../../src/engine/events.ts';

/** A FAKE transport: answers commands from a per-host handler and records what ran and when. */
export class FakeTransport implements Transport {
  readonly kind = 'ssh' as const;
  readonly ran: string[] = [];
  constructor(
    readonly host: string,
    private readonly handler: (command: string, host: string) => Promise<Partial<ExecResult>> | Partial<ExecResult>,
    private readonly hooks: { onConnect?: (host: string) => Promise<void> | void } = {},
  ) {}
  async connect(): Promise<void> { await this.hooks.onConnect?.(this.host); }
  async exec(command: string, _options?: ExecOptions): Promise<ExecResult> {
    this.ran.push(command);
    const r = await this.handler(command, this.host);
    return { stdout: '', stderr: '', code: 0, signal: null, durationMs: 0, ...r };
  }
  async put(): Promise<void> {}
  async get(): Promise<Buffer> { return Buffer.alloc(0); }
  async reconnect(): Promise<void> {}
  async close(): Promise<void> {}
}

/** A FAKE inventory of `n` hosts named h01…, all in group "all" and "web". */
export function fakeInventory(n: number, vars: (i: number) => Record<string, unknown> = () => ({})): Inventory {
  const hosts = new Map<string, InventoryHost>();
  for (let i = 1; i <= n; i++) {
    const name = `h${String(i).padStart(2, '0')}`;
    hosts.set(name, { name, address: '127.0.0.1', port: 22, connection: 'ssh', become: false, groups: ['all', 'web'], vars: vars(i), varSources: Object.fromEntries(Object.keys(vars(i)).map((k) => [k, `fake.ini:${i} (host ${name})`])) });
  }
  return { source: '/fake/inventory.ini', hosts, groups: new Map() };
}

/** Collects events in memory (a sink for assertions). */
export class EventLog implements EventSink {
  readonly events: RunEvent[] = [];
  emit(event: RunEvent): void { this.events.push(event); }
  results(host?: string) {
    return this.events.filter((e): e is Extract<RunEvent, { kind: 'step-result' }> => e.kind === 'step-result' && (!host || e.host === host));
  }
}
