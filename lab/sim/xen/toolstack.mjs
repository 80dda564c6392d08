#!/usr/bin/env node
/**
 * The lab's `xe-toolstack-restart`: restarts xapi and its daemons (XenServer 6.x prints each init
 * script's line). xapi comes back running; a member whose master answers leaves emergency mode on
 * its own, which the lab computes on every xe call.
 */
import { logMutation, setServiceState } from '../../bin/_lib.mjs';
import { loadHost } from './store.mjs';

const DAEMONS = ['xapi', 'the v6 licensing daemon', 'the memory ballooning daemon', 'perfmon', 'xenopsd', 'the XCP RRDD daemon'];
const line = (text) => `${text.padEnd(59)}[  OK  ]`;

if (!loadHost(process.env.LAB_ROOT ?? '', process.env.LAB_HOST ?? '')) {
  process.stderr.write('xe-toolstack-restart: command not found\n');
  process.exit(127);
}
logMutation(['xe-toolstack-restart', ...process.argv.slice(2)]);
const out = ['Executing xe-toolstack-restart'];
for (const d of DAEMONS) out.push(line(`Stopping ${d}: `));
for (const d of [...DAEMONS].reverse()) out.push(line(`Starting ${d}: `));
out.push('done.');
setServiceState('xapi', 'running');
process.stdout.write(out.join('\n') + '\n');
