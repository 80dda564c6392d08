import { LocalTransport } from '../../src/transport/local.ts';
import type { ExecOptions } from '../../src/transport/types.ts';

/**
 * The real local transport (not a fake), counting the command lines and frame scripts it is
 * given: each one is a round trip over SSH.
 */
export class CountedLocal extends LocalTransport {
  readonly sent: string[] = [];
  override async exec(command: string, options?: ExecOptions) {
    this.sent.push(command);
    return super.exec(command, options);
  }
}
