/**
 * The reboot step over real SSH against the lab, whose `reboot` drops the host's connections,
 * refuses new ones for a while and comes back with a new boot id: the command returns before the
 * connection drops, the transport reconnects, the boot id changes — and a "crash" between issuing
 * the reboot and recording it does not make the resumed check reboot again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../lab/lab.ts';
import { createShell, type Shell } from '../../src/shell/shell.ts';
import { bootId, reboot } from '../../src/tasks/reboot.ts';
import { createSshTransport, type SshTransport } from '../../src/transport/ssh/transport.ts';
import { fakeContext } from '../fixtures/tasks/fake.ts';
import { portOf, testLab } from '../lab/infra-helpers.ts';

let lab: Lab;
let transport: SshTransport;
let work: string;
// A marker directory of our own: the lab's hosts share the machine's /var/lib (see the report).
const markerDir = () => join(work, 'markers');

beforeAll(async () => {
  lab = await testLab({ rebootDownMs: 500 });
  work = mkdtempSync(join(tmpdir(), 'reboot-lab-'));
  transport = createSshTransport(
    { name: 'xs-01', address: '127.0.0.1', port: portOf(lab, 'xs-01'), user: 'root', connection: 'ssh', become: false, privateKeyFile: lab.keyPath, groups: ['all'], vars: {}, varSources: {} },
    { home: join(work, 'home'), sshConfigFile: false, agent: false, knownHostsFiles: [lab.knownHostsPath], projectKnownHostsFile: join(work, 'known_hosts') },
  );
}, 60_000);

afterAll(async () => {
  await transport?.close();
  await lab?.stop();
  rmSync(work, { recursive: true, force: true });
});

function sshShell(): Shell {
  return createShell('xs-01', async (command) => {
    const r = await transport.exec(command.text);
    return { command, ...r, timedOut: r.timedOut ?? false, ok: r.code === 0 };
  });
}

describe('reboot on the lab', () => {
  it('reboots, reconnects and hands on the new boot id', async () => {
    const ctx = fakeContext({ sh: sshShell(), transport });
    const step = reboot({ id: 'reboot', title: 'reboot', timeoutMs: 30_000, markerDir: markerDir() });
    const before = await step.check(ctx);
    expect(before.done).toBe(false);
    const outputs = await step.apply!(ctx);
    expect(outputs).toMatchObject({ previousBootId: before.outputs?.bootId });
    expect(outputs?.bootId).not.toBe(outputs?.previousBootId);
    expect(await bootId(ctx.sh)).toBe(outputs?.bootId);
  }, 60_000);

  it('a resume after a crash between issuing the reboot and recording it does not reboot again', async () => {
    const ctx = fakeContext({ sh: sshShell(), transport });
    const step = reboot({ id: 'reboot-crash', title: 'reboot', timeoutMs: 30_000, markerDir: markerDir() });
    const first = await step.check(ctx);
    // The first run: its commands ran (marker, reboot), then the controller "died".
    for (const command of await step.commands!(ctx)) await ctx.sh.run(command);
    await transport.reconnect({ timeoutMs: 30_000 });
    // The resumed run re-checks the step that was in flight.
    const resumed = await step.check(ctx);
    expect(resumed.done).toBe(true);
    expect(resumed.reason).toContain(`boot id ${first.outputs?.bootId} →`);
  }, 60_000);
});
