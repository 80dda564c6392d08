import type { InventoryHost } from '../inventory/types.ts';
import { connectionVars } from './ansible-vars.ts';
import { LocalTransport } from './local.ts';
import { createSshTransport, type SshOptions } from './ssh.ts';
import type { Transport } from './types.ts';

export type { Transport, ExecOptions, ExecResult } from './types.ts';
export type { SshOptions } from './ssh.ts';

/** Picks the transport an inventory host asks for (`ansible_connection`). */
export function transportFor(host: InventoryHost, ssh: SshOptions): Transport {
  return host.connection === 'local' ? new LocalTransport(host.name, { becomeUser: connectionVars(host).becomeUser }) : createSshTransport(host, ssh);
}
