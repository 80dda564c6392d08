/**
 * The real runbooks/leap-second.ts on the lab, behind the same delaying proxy as the fan-out bench:
 * per RTT, a first apply (every Linux host needs the fix: the lab's leap-second fault) and a
 * second (every host has the marker), wall seconds and round trips per host from the run's own
 * step-result events (what `runbook show RUN` prints).
 *
 *   node --import tsx bench/lab-latency.ts [--rtt 0,20,100] [--runs 1]
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { labDown, labFault, labUp, type Lab } from '../lab/lab.ts';
import type { RunEvent } from '../src/engine/events.ts';
import { startDelayProxy, type DelayProxy } from './latency-proxy.ts';

const REPO = resolve(import.meta.dirname, '..');
const LINUX = ['xs-01', 'xs-02', 'xs-03', 'ubuntu-01'];
const { values: flags } = parseArgs({ options: { rtt: { type: 'string', default: '0,20,100' }, runs: { type: 'string', default: '1' } } });

/** Proxies in front of every lab host; an inventory and known_hosts lines naming their ports. */
async function proxied(lab: Lab, rttMs: number): Promise<{ inventory: string; proxies: DelayProxy[] }> {
  const proxies: DelayProxy[] = [];
  let inventory = readFileSync(lab.inventoryPath, 'utf8');
  const known = readFileSync(lab.knownHostsPath, 'utf8').split('\n');
  for (const host of lab.hosts) {
    const proxy = await startDelayProxy({ targetPort: host.port, delayMs: rttMs / 2 });
    proxies.push(proxy);
    inventory = inventory.replace(`ansible_port: ${host.port}\n`, `ansible_port: ${proxy.port}\n`);
    const line = known.find((l) => l.startsWith(`[127.0.0.1]:${host.port} `));
    if (line) appendFileSync(lab.knownHostsPath, `${line.replace(`]:${host.port} `, `]:${proxy.port} `)}\n`);
  }
  const path = join(lab.stateDir, `inventory-rtt${rttMs}.yaml`);
  writeFileSync(path, inventory);
  return { inventory: path, proxies };
}

/** One `runbook apply leap-second --json`: wall seconds and round trips per host. */
async function apply(lab: Lab, inventory: string): Promise<{ wall: number; code: number | null; trips: Record<string, number>; steps: string }> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(REPO, 'bin', 'runbook.mjs'), 'apply', 'leap-second', '-i', inventory, '--state-dir', lab.stateDir, '--json', '--no-typecheck'], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk) => { out += chunk; });
  const code = await new Promise<number | null>((done) => child.on('close', done));
  const wall = (performance.now() - started) / 1000;
  const trips: Record<string, number> = {};
  const steps: string[] = [];
  for (const line of out.split('\n').filter((l) => l.startsWith('{'))) {
    const event = JSON.parse(line) as RunEvent;
    if (event.kind !== 'step-result') continue;
    trips[event.host] = (trips[event.host] ?? 0) + (event.roundTrips ?? 0);
    if (event.host === LINUX[0]) steps.push(`${event.step} ${event.roundTrips ?? 0}`);
  }
  return { wall, code, trips, steps: `${LINUX[0]}: ${steps.join(', ')}` };
}

const stateDir = mkdtempSync(join(tmpdir(), 'runbook-lab-latency-'));
const lab = await labUp({ stateDir, portBase: 0, hosts: undefined });
try {
  for (const rttMs of flags.rtt!.split(',').map(Number)) {
    const { inventory, proxies } = await proxied(lab, rttMs);
    for (let rep = 0; rep < Number(flags.runs); rep++) {
      for (const host of LINUX) {
        await labFault({ stateDir, host, kind: 'leap-second' });
        rmSync(join(lab.labRoot, 'hosts', host, 'tmp', 'leapsecond_2012_06_30'), { force: true });
      }
      const first = await apply(lab, inventory);
      const second = await apply(lab, inventory);
      console.log(`RTT ${String(rttMs).padStart(3)} ms  fix: ${first.wall.toFixed(2)} s (exit ${first.code}) round trips ${JSON.stringify(first.trips)}  marker: ${second.wall.toFixed(2)} s (exit ${second.code}) round trips ${JSON.stringify(second.trips)}`);
      console.log(`  fix by step, ${first.steps}`);
    }
    await Promise.all(proxies.map((p) => p.close()));
  }
} finally {
  await labDown({ stateDir });
  rmSync(stateDir, { recursive: true, force: true });
}
