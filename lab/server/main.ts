/**
 * The lab server process (`runbook lab up` spawns it detached): one LabHost per host, a poll for
 * power requests, and a clean stop on SIGTERM. Usage: node --import tsx lab/server/main.ts LABROOT
 */
import { appendFileSync } from 'node:fs';
import { processEnded } from '../../src/state/locks.ts';
import { labPaths, readConfig, writeConfig } from './config.ts';
import { LabHost, type HostContext } from './host.ts';
import { parseKeyFile } from './keys.ts';
import { ALIAS_BASE, assertAliasable } from './namespace.ts';
import { importSim } from './sim.ts';

const POLL_MS = 150;

/** Messages to the parent over IPC while it waits for us. */
export type ServerMessage = { kind: 'ready'; ports: Record<string, number> } | { kind: 'failed'; error: string };

async function main(labRoot: string): Promise<void> {
  const config = readConfig(labRoot);
  const log = (message: string) => appendFileSync(labPaths(labRoot).log, `${new Date().toISOString()} ${message}\n`);
  const hooks = await importSim(config.repoRoot, 'hooks.mjs');
  assertAliasable(labRoot, config.repoRoot);
  const hosts: LabHost[] = [];
  const ctx: HostContext = {
    labRoot,
    repoRoot: config.repoRoot,
    aliasBase: ALIAS_BASE,
    rebootDownMs: config.rebootDownMs,
    clientKey: parseKeyFile(labPaths(labRoot).clientKey),
    log,
    powerChanged: async (host, state) => {
      try {
        await hooks?.onPowerChange?.(labRoot, host, state);
      } catch (error) {
        log(`${host}: onPowerChange(${state}) failed: ${(error as Error).stack}`);
      }
    },
    reseed: async (host) => {
      // Loaded only here: the estate module brings the YAML parser, which start-up does not need.
      const { seedHost } = await import('../estate.ts');
      seedHost(labRoot, host);
      await hooks?.onReinstall?.(labRoot, host.name);
    },
    commandEnded: () => setImmediate(() => hosts.forEach((host) => host.checkRequest())),
  };
  hosts.push(...config.hosts.map((host) => new LabHost(host, ctx)));
  await Promise.all(hosts.map((host) => host.start()));
  config.pid = process.pid;
  writeConfig(config);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.allSettled(hosts.map((host) => host.stop()));
    log('stopped');
    process.exit(0);
  };
  const { owner } = config;
  setInterval(() => {
    hosts.forEach((host) => host.checkRequest());
    // A lab bound to a process (a test worker) lives no longer than it, even if it was killed.
    if (owner && !stopping && processEnded(owner.pid, owner.startTicks)) {
      log(`owner pid ${owner.pid} is gone: stopping`);
      void stop();
    }
  }, POLL_MS);
  // One host's bad moment (a client's protocol error, a hook that throws) must not end every host.
  process.on('uncaughtException', (error) => log(`uncaught: ${error.stack ?? error}`));
  process.on('unhandledRejection', (error) => log(`unhandled rejection: ${(error as Error)?.stack ?? error}`));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  log(`up: ${hosts.map((h) => `${h.name}:${h.config.port}`).join(' ')}`);
  send({ kind: 'ready', ports: Object.fromEntries(hosts.map((h) => [h.name, h.config.port])) });
}

function send(message: ServerMessage): void {
  if (!process.send) return;
  process.send(message, () => process.disconnect?.());
}

main(process.argv[2]!).catch((error: Error) => {
  send({ kind: 'failed', error: error.message });
  process.stderr.write(`${error.stack}\n`);
  setTimeout(() => process.exit(1), 100);
});
