#!/usr/bin/env node
// Runbooks and inventories are TypeScript files loaded at run time: tsx compiles them on import,
// so there is no build step between editing a runbook and running it.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
