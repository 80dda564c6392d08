/**
 * The ssh2 package, for this folder only. It is CommonJS, so it is loaded with `require`: imported
 * as an ES module, Node would first scan its source for export names and pass each of its files
 * through the TypeScript loader's hooks, which about doubled its share of every command's start-up.
 * @example const client = new ssh2.Client()
 */
import { createRequire } from 'node:module';
import type ssh2Module from 'ssh2';

export const ssh2 = createRequire(import.meta.url)('ssh2') as typeof ssh2Module;
