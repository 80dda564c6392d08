#!/usr/bin/env node
/**
 * Where a runbook run's main thread spends its time, from a node --cpu-prof profile:
 *   node bench/profile-summary.mjs PROFILE.cpuprofile
 * Each sample goes to the first category its stack matches, leaf first (so socket writes made by
 * ssh2 count as socket writes, and the journal's fs calls as journal).
 */
import { readFileSync } from 'node:fs';

const rules = [
  ['idle (waiting on hosts, disk, the tsx loader thread)', (f) => f.functionName === '(idle)'],
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  ['socket writes (kernel loopback send)', (f) => f.functionName === 'writeBuffer' || f.functionName === 'writev'],
  ['journal and locks (src/state)', (f) => f.url.includes('/src/state/')],
  ['known_hosts reading/matching', (f) => /known-hosts|host-keys/.test(f.url)],
  ['key exchange, signatures (node crypto)', (f) => f.url.includes('internal/crypto')],
  ['module loading (tsx, ESM/CJS loaders)', (f) => /modules\/(esm|cjs)|tsx|cjs-module-lexer|source_map|bootstrap\/realm/.test(f.url) || f.functionName === 'compileSourceTextModule'],
  ['ssh2 protocol (JS)', (f) => f.url.includes('node_modules/ssh2') || f.url.includes('node_modules/asn1')],
  ['ssh transport (src/transport)', (f) => f.url.includes('/src/transport/')],
  ['engine, steps, reporters (src)', (f) => /\/src\/|\/bench\//.test(f.url)],
  ['yargs, zod, yaml, zx', (f) => /node_modules\/(yargs|cliui|zod|yaml|zx|y18n)/.test(f.url)],
  ['node internals (streams, net, timers, fs)', (f) => f.url.startsWith('node:')],
];

const profile = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const totals = new Map();
let all = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i];
  all += dt;
  let category = 'other (native, program)';
  outer: for (let c = id; c !== undefined; c = parent.get(c)) {
    for (const [name, test] of rules) if (test(byId.get(c).callFrame)) { category = name; break outer; }
  }
  totals.set(category, (totals.get(category) ?? 0) + dt);
});
console.log(`${(all / 1000).toFixed(0)} ms sampled on the main thread`);
for (const [name, us] of [...totals].sort((a, b) => b[1] - a[1])) console.log(`${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / all).toFixed(0).padStart(3)}%  ${name}`);
