#!/usr/bin/env node
// Runbooks and inventories are TypeScript files loaded at run time: tsx compiles them on import,
// so there is no build step between editing a runbook and running it.
import { register } from 'tsx/esm/api';

// `runbook show … | head`: once the reader goes, further output is dropped. The command carries on
// (an apply must never stop half-way because a pager closed); other stream errors still surface.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => { if (error.code !== 'EPIPE') throw error; });
}

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
