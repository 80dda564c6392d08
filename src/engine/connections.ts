import type { InventoryHost } from '../inventory/types.ts';
import { createHostFacts, type HostFacts } from '../shell/shell.ts';
import type { Transport } from '../transport/types.ts';
import { ReadAhead } from './read-ahead.ts';

export type TransportFactory = (host: InventoryHost) => Transport;

/**
 * One connection per host for the whole run, opened on first use and shared by every step that
 * runs there (a pool master serves many members' `on` steps). Failed connects are not cached, so
 * a later step (or a reboot's reconnect) can try again.
 */
export class Connections {
  readonly #open = new Map<string, Promise<Transport>>();
  readonly #facts = new Map<string, HostFacts>();
  readonly #readAhead = new Map<string, ReadAhead>();

  constructor(private readonly hosts: ReadonlyMap<string, InventoryHost>, private readonly factory: TransportFactory) {}

  get(name: string): Promise<Transport> {
    const existing = this.#open.get(name);
    if (existing) return existing;
    const host = this.hosts.get(name);
    if (!host) return Promise.reject(new Error(`host ${name} is not in the inventory`));
    const opening = (async () => {
      const transport = this.factory(host);
      await transport.connect();
      return transport;
    })();
    this.#open.set(name, opening);
    opening.catch(() => this.#open.delete(name));
    return opening;
  }

  /**
   * The host's transport, connecting on first use: for contexts that may never touch the host.
   * @example const t = connections.lazy('xs-03'); await t.exec('uptime') // connects now
   */
  lazy(name: string): Transport {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`host ${name} is not in the inventory`);
    const open = () => this.get(name);
    return {
      kind: host.connection,
      host: name,
      connect: async () => { await open(); },
      exec: async (command, options) => (await open()).exec(command, options),
      put: async (path, data, mode) => (await open()).put(path, data, mode),
      get: async (path) => (await open()).get(path),
      reconnect: async (options) => (await open()).reconnect(options),
      close: () => this.forget(name),
    };
  }

  /**
   * What is known about a host for the rest of the run (init system, service managers), kept
   * across its reconnects: not journaled, since a resume asks again, once, of the host as it is then.
   */
  factsOf(name: string): HostFacts {
    let facts = this.#facts.get(name);
    if (!facts) this.#facts.set(name, facts = createHostFacts());
    return facts;
  }

  /** The answers of reads sent ahead to this host, waiting for the check that asks them. */
  readAheadOf(name: string): ReadAhead {
    let waiting = this.#readAhead.get(name);
    if (!waiting) this.#readAhead.set(name, waiting = new ReadAhead());
    return waiting;
  }

  /** Drops a host's connection (after it became unreachable) so the next use reconnects. */
  async forget(name: string): Promise<void> {
    this.#readAhead.get(name)?.clear();
    const opening = this.#open.get(name);
    this.#open.delete(name);
    if (opening) await opening.then((t) => t.close()).catch(() => {});
  }

  async closeAll(): Promise<void> {
    const all = [...this.#open.values()];
    this.#open.clear();
    await Promise.all(all.map((p) => p.then((t) => t.close()).catch(() => {})));
  }
}
