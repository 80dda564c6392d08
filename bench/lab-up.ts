/**
 * How long `lab up` takes until every host answers (the target: under 2 s on an idle machine).
 * A timing, so it lives here and not in test/: the lab lifecycle test asserts only that up
 * returns with every host answering.
 *
 *   npx tsx bench/lab-up.ts [--runs 5] [--hosts xs-01,xs-02]
 *
 * Prints each run's time and the median, with the load average (a shared machine's load decides
 * the figure far more than the lab does).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { labDown, labUp } from '../lab/lab.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, hosts: { type: 'string' } } });

async function once(): Promise<number> {
  const stateDir = mkdtempSync(join(tmpdir(), 'bench-lab-up-'));
  try {
    const started = performance.now();
    await labUp({ stateDir, portBase: 0, hosts: values.hosts });
    const ms = performance.now() - started;
    await labDown({ stateDir });
    return ms;
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

const times: number[] = [];
for (let i = 0; i < Number(values.runs); i++) {
  times.push(await once());
  console.log(`run ${i + 1}: ${times.at(-1)!.toFixed(0)} ms (load ${loadavg()[0]!.toFixed(1)})`);
}
const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
console.log(`lab up, median of ${times.length}: ${median.toFixed(0)} ms (target < 2000 ms on an idle machine)`);
