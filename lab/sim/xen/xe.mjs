#!/usr/bin/env node
/**
 * The lab's `xe`: the XenServer CLI over the pool database of the host it runs on.
 * Output and errors follow xapi's CLI (xen-api ocaml/xe-cli/newcli.ml for the client,
 * ocaml/xapi-cli-server/* for the commands); every error exits 1.
 */
import { readFileSync } from 'node:fs';
import { logMutation } from '../../bin/_lib.mjs';
import { emergencyReason } from './context.mjs';
import { XeError, apiError, authenticationFailed, missingParam, unknownCommand, usageError, xapiDown } from './errors.mjs';
import { decorateGuestMetrics } from './guest-metrics.mjs';
import { genericCommands } from './xe-generic.mjs';
import { hostIsLive, operationCommands } from './xe-ops.mjs';
import { poolJoin } from './xe-join.mjs';
import { loadHost, loadPool, poolNames, powerOf, serviceOf, updatePool } from './store.mjs';

/** @typedef {import('./context.mjs').XeContext} XeContext */

const COMMANDS = {
  ...genericCommands(),
  ...operationCommands(),
  'pool-join': { run: poolJoin, mutating: true, custom: true, reqd: ['master-address', 'master-username', 'master-password'] },
};

/** Client options that take a value and are not sent to the server (newcli.ml). */
const CLIENT_OPTIONS = ['-s', '-p', '-u', '-pw', '-pwf', '--traceparent'];

/**
 * Splits argv as the xe client does: the command, `key=value` parameters, `--flag` → flag=true.
 * @returns {{ name?: string, params: Record<string, string>, client: Record<string, string> }}
 */
export function parseArgs(argv) {
  /** @type {Record<string, string>} */
  const params = {};
  /** @type {Record<string, string>} */
  const client = {};
  let name;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (CLIENT_OPTIONS.includes(arg)) client[arg.replace(/^-+/, '')] = argv[++i] ?? '';
    else if (arg.startsWith('--')) params[arg.slice(2)] = 'true';
    else if (arg.includes('=')) params[arg.slice(0, arg.indexOf('='))] = arg.slice(arg.indexOf('=') + 1);
    else if (name === undefined) name = arg;
    else throw usageError('Syntax error', arg);
  }
  return { name, params, client };
}

/** Runs one xe invocation; returns stdout text or throws XeError. @param {string[]} argv */
export function runXe(argv, env = process.env) {
  const labRoot = env.LAB_ROOT ?? '';
  const { name, params, client } = parseArgs(argv);
  const host = client.s ? remoteHost(labRoot, client) : env.LAB_HOST ?? '';
  const state = loadHost(labRoot, host);
  if (!state) return { notInstalled: true };
  if (!name) return { stdout: 'Usage: xe <cmd> [-s server] [-p port] ([-u username] [-pw password] or [-pwf <password file>]) <other arguments>\n' };
  const cmd = COMMANDS[name];
  if (!cmd) throw unknownCommand(name);
  for (const p of cmd.reqd ?? []) if (params[p] === undefined) throw missingParam(p);
  if (serviceOf(labRoot, host, 'xapi') !== 'running') throw xapiDown();
  if (!cmd.neverForward) {
    const reason = emergencyReason(labRoot, state);
    if (reason) throw reason === 'HOST_UNKNOWN_TO_MASTER' ? apiError(reason, state.uuid) : apiError(reason);
  }
  /** @type {XeContext & Record<string, any>} */
  const ctx = { labRoot, host, state, params, minimal: params.minimal === 'true', out: [], after: [], readStdin };
  execute(cmd, ctx);
  // Logged once the change is made (a refused, failed or killed call changed nothing: no line),
  // before any wait for the lab, which a kill may cut short after the change.
  if (cmd.mutating) logMutation(['xe', ...argv]);
  // waits on the lab (a guest going down or up) run once the pool database is unlocked
  for (const wait of ctx.after) wait();
  return { stdout: ctx.out.join('') };
}

/**
 * `xe -s ADDRESS -u root -pw PASSWORD …`: the command runs against that host's xapi. A member
 * answers a login with HOST_IS_SLAVE and its master's address (xapi only serves remote clients on
 * the master); a wrong password is refused; an address nothing answers on cannot be contacted.
 */
function remoteHost(labRoot, client) {
  for (const pool of poolNames(labRoot)) {
    const db = loadPool(labRoot, pool);
    const target = Object.values(db?.host ?? {}).find((h) => h.address === client.s || h.hostname === client.s);
    const state = target && loadHost(labRoot, target.labHost);
    if (!state || state.uuid !== target.uuid || powerOf(labRoot, target.labHost) !== 'running') continue;
    if (serviceOf(labRoot, target.labHost, 'xapi') !== 'running') throw xapiDown();
    if ((client.u ?? 'root') !== 'root' || client.pw !== db.lab.password) throw authenticationFailed();
    if (state.role === 'slave') throw apiError('HOST_IS_SLAVE', state.masterAddress);
    return target.labHost;
  }
  throw new XeError('Unable to contact server. Please check server and port settings.');
}

function execute(cmd, ctx) {
  if (cmd.custom || cmd.noDb) return cmd.run(ctx, undefined);
  if (cmd.mutating) return updatePool(ctx.labRoot, ctx.state.pool, (db) => cmd.run(ctx, db));
  const db = loadPool(ctx.labRoot, ctx.state.pool);
  for (const h of Object.values(db.host)) h['host-metrics-live'] = String(hostIsLive(ctx.labRoot, db, h));
  decorateGuestMetrics(ctx.labRoot, db);
  return cmd.run(ctx, db);
}

function readStdin() {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
}

function main() {
  try {
    const result = runXe(process.argv.slice(2));
    if (result.notInstalled) {
      process.stderr.write('xe: command not found\n');
      process.exit(127);
    }
    process.stdout.write(result.stdout);
  } catch (error) {
    if (!(error instanceof XeError)) throw error;
    process.stdout.write(error.stdout);
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
  }
}

main();
