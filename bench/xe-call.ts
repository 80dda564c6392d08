/**
 * What one simulated `xe` call costs against starting node itself (the lab's xe is a node
 * script): the target is under twice node's start-up plus 150 ms. A timing, so it lives here;
 * it was a test (test/lab/xen-storage.test.ts) that a loaded machine failed.
 *
 *   npx tsx bench/xe-call.ts [--calls 5]
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { XenLab } from '../test/lab/xen-lab.ts';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '5' } } });
const calls = Number(values.calls);

const perCall = (fn: () => void): number => {
  const started = performance.now();
  for (let i = 0; i < calls; i++) fn();
  return (performance.now() - started) / calls;
};

const lab = new XenLab();
try {
  const bare = perCall(() => spawnSync(process.execPath, ['-e', '0']));
  const xe = perCall(() => lab.xe('xs-01', 'vm-list'));
  const target = bare * 2 + 150;
  console.log(`xe vm-list: ${xe.toFixed(0)} ms per call; node -e 0: ${bare.toFixed(0)} ms; target < ${target.toFixed(0)} ms: ${xe < target ? 'met' : 'NOT met'} (load ${loadavg()[0]!.toFixed(1)})`);
} finally {
  lab.dispose();
}
