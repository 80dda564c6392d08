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
    const frame = parseFrame(command);
    if (frame) return this.execFrame(frame);
    this.ran.push(command);
    const r = await this.handler(command, this.host);
    return { stdout: '', stderr: '', code: 0, signal: null, durationMs: 0, ...r };
  }

  /** A frame (src/shell/frame.ts) runs part by part, as /bin/sh would run it, each part recorded in `ran`. */
  private async execFrame({ nonce, parts }: { nonce: string; parts: string[] }): Promise<ExecResult> {
    let stdout = '';
    let stderr = '';
    for (const [index, part] of parts.entries()) {
      const r = await this.exec(part);
      stdout += `${r.stdout}${nonce}:${index} ${r.code ?? 255}\n`;
      stderr += `${r.stderr}${nonce}:${index}\n`;
    }
    return { stdout, stderr, code: 0, signal: null, durationMs: 0 };
  }

  async put(): Promise<void> {}
  async get(): Promise<Buffer> { return Buffer.alloc(0); }
  async reconnect(): Promise<void> {}
  async close(): Promise<void> {}
}

/** The parts of a frame script: each `( eval 'TEXT' )` or `{ eval 'TEXT'; }` unquoted, in order; undefined for a plain command. */
function parseFrame(script: string): { nonce: string; parts: string[] } | undefined {
  const nonce = /printf '%s %s\\n' ([0-9a-f]{24}):0 "\$s"/.exec(script)?.[1];
  if (!nonce) return undefined;
  // A part runs in a subshell, `( eval TEXT )`, or, a simple command, in the frame's shell: `{ eval TEXT; }`.
  const parts = [...script.matchAll(/(?:\( eval ((?:'[^']*'|\\'|[^\s)])+) \)|\{ eval ((?:'[^']*'|\\'|[^\s;])+); \})/g)].map((m) => unquotePosix(m[1] ?? m[2]));
  return { nonce, parts };
}

/** Undoes quotePosix: 'it'\''s' → it's; a bare word stays as it is. */
const unquotePosix = (word: string): string => word.replace(/'([^']*)'|\\(.)/g, (_, quoted: string | undefined, escaped: string | undefined) => quoted ?? escaped ?? '');

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
