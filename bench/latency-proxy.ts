/**
 * A TCP proxy in front of one sshd that holds every chunk for `delayMs` in each direction, so a
 * round trip costs 2 × delayMs as over a VPN or a jump host. The same proxy stands in front of a
 * host for every tool (runbook, Ansible, the floor), so they pay the same latency.
 * Order is kept: each direction is a queue released in arrival order once its chunk's time is up.
 *
 *   const proxy = await startDelayProxy({ targetPort: sshd.port, delayMs: 50 }); // 100 ms RTT
 *   … connect to 127.0.0.1:proxy.port …
 *   await proxy.close();
 */
import net from 'node:net';

export interface DelayProxy {
  readonly port: number;
  close(): Promise<void>;
}

/** Forwards `from` → `to`, each chunk `delayMs` after it arrived, in order; ends `to` after the last one. */
function delayedPipe(from: net.Socket, to: net.Socket, delayMs: number): void {
  const queue: { due: number; chunk: Buffer | null }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const release = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length && queue[0].due <= now) {
      const { chunk } = queue.shift()!;
      if (chunk === null) to.end(); else if (!to.destroyed) to.write(chunk);
    }
    if (queue.length) timer = setTimeout(release, Math.max(0, queue[0].due - now));
  };
  const push = (chunk: Buffer | null) => {
    queue.push({ due: performance.now() + delayMs, chunk });
    timer ??= setTimeout(release, delayMs);
  };
  from.on('data', (chunk: Buffer) => push(chunk));
  from.on('end', () => push(null));
}

export async function startDelayProxy(options: { targetPort: number; delayMs: number; host?: string }): Promise<DelayProxy> {
  const host = options.host ?? '127.0.0.1';
  const sockets = new Set<net.Socket>();
  // Half-open allowed: a side's end is passed on after the delay too, behind the data before it.
  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ host, port: options.targetPort, noDelay: true, allowHalfOpen: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    delayedPipe(client, upstream, options.delayMs);
    delayedPipe(upstream, client, options.delayMs);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
