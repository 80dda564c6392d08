import yargs, { type Argv } from 'yargs';
import { reportError } from './errors.ts';
import { expandParamFiles, processIo, resolveLimit, stateDirOf, type Io } from './options.ts';
import { suggest } from '../suggest.ts';
import { labCommand } from './lab.ts';
import { UsageError } from '../errors.ts';

// Each command loads its modules when it runs: `runbook show` or `--help` does not load the engine
// and the SSH transport, and `apply` does not load the report or plan modules.
const applying = () => import('./apply.ts');
const describing = () => import('./describe.ts');
const listing = () => import('./list.ts');
const inventories = () => import('./inventory.ts');
const checking = () => import('./check.ts');
const runs = () => import('./runs.ts');
const habits = () => import('./habits.ts');
const stateCommands = () => import('./state.ts');
const plans = () => import('./plan.ts');

const EPILOG = `Exit codes: 0 all hosts ok · 1 usage or validation error (nothing touched) · 2 a host failed ·
3 paused at a manual step · 4 a host unreachable · 6 stale hosts (apply PLANFILE) · 7 the change window ended ·
130 interrupted. With --detailed-exitcode (dry-run, plan): 0 nothing to change · 2 changes pending · 5 a host would fail.
Docs: README.md (quick start, CLI, writing a runbook) and docs/.`;

/** Options every run-like command shares (apply, resume). */
function runOptions<T>(y: Argv<T>) {
  return y
    .option('forks', { type: 'number', default: 10, describe: 'hosts worked on at once' })
    .option('max-handshakes', { type: 'number', describe: 'SSH handshakes in flight at once (default 50; at most 8 per server address, below OpenSSH\'s MaxStartups)' })
    .option('reuse-shell', { type: 'boolean', default: true, describe: 'run commands through one shell per SSH connection; --no-reuse-shell: an exec channel each' })
    .option('max-fail-percent', { type: 'number', describe: 'stop starting steps once more than P% of a batch failed' })
    .option('json', { type: 'boolean', default: false, describe: 'one JSON event per line instead of the human view' })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'show every command and its output' })
    // yargs reads --no-prompt as prompt=false; declaring `no-prompt` itself made it an unknown flag.
    .option('prompt', { type: 'boolean', default: true, describe: 'ask at the terminal for manual steps; --no-prompt: they wait (exit 3)' })
    .option('accept-new-host-keys', { type: 'boolean', default: false, describe: 'record unknown SSH host keys (a changed key is always refused)' })
    .option('ask-become-pass', { type: 'boolean', default: false, describe: 'ask for the sudo password once (or set RUNBOOK_BECOME_PASSWORD)' })
    .option('ssh-config', { alias: 'F', type: 'string', describe: 'ssh_config file read instead of ~/.ssh/config' })
    .option('typecheck', { type: 'boolean', default: true, describe: 'type-check the runbook first (cached per edit); --no-typecheck skips it' })
    .option('diff', { type: 'boolean', default: false, describe: 'show the unified diff of each content change (file, lineInFile; none for sensitive steps)' })
    .option('window-end', { type: 'string', describe: 'no step starts after this: +4h, 06:00 or an ISO time (exit 7, resumable)' });
}

/** What apply and plan both take to pick hosts and params. */
function targetOptions<T>(y: Argv<T>) {
  return y
    .option('inventory', { alias: 'i', type: 'string', describe: 'a name in inventory/ or a path' })
    .option('limit', { alias: 'l', type: 'string', describe: 'an Ansible host pattern: pool-a, xs-0*, pool-a:!xs-03; @FILE: one pattern a line' })
    .option('param', { alias: ['p', 'e'], type: 'string', array: true, default: [] as string[], describe: 'k=v (repeatable; -e as in Ansible), or @FILE: YAML/JSON of them; secrets: RUNBOOK_PARAM_k env' })
    .option('serial', { type: 'string', describe: 'rolling batches: N hosts or N%' })
    .option('detailed-exitcode', { type: 'boolean', default: false, describe: 'dry-run/plan: exit 0 nothing to change, 2 changes pending, 5 a host would fail' });
}

/** `--inventory` is required everywhere but `apply PLANFILE`, which holds its own. */
function requireInventory(inventory: string | undefined, command: string): string {
  if (!inventory) throw new UsageError(`${command} needs --inventory INV (-i): a name in inventory/ or a path`);
  return inventory;
}

/** The CLI; returns the exit code instead of exiting so tests can drive it in-process. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  let code = 0;
  const run = (work: Promise<number>) => work.then((c) => { code = c; });
  const cli = yargs(argv)
    .scriptName('runbook')
    .usage('$0 <command> [options]')
    .option('state-dir', { type: 'string', describe: 'where runs, journals and locks live (default .runbook, or RUNBOOK_STATE_DIR)' })
    .option('state', { type: 'string', describe: 'a team\'s PostgreSQL instead of the folder: postgres://USER@HOST/DB (or RUNBOOK_STATE_URL); the password from PGPASSWORD or ~/.pgpass, never here' })
    .option('color', { type: 'boolean', describe: 'colour on or off (--no-color), over FORCE_COLOR and NO_COLOR; default: on a terminal' })
    .middleware((a) => { if (typeof a.color === 'boolean') io.color = a.color; })
    .command('list', 'the runbooks in runbooks/, one line each', {}, async () => run((await listing()).listCommand(io)))
    .command('describe <name>', 'a runbook\'s steps, params and host vars', (y) => y
      .positional('name', { type: 'string', demandOption: true })
      .option('format', { choices: ['text', 'md'] as const, default: 'text' as const, describe: 'md: a checklist for a change ticket' }),
    async (a) => run((await describing()).describeCommand({ name: a.name, format: a.format }, io)))
    .command('inventory <inventory>', 'validate an inventory and show its hosts, groups and vars', (y) => y
      .positional('inventory', { type: 'string', demandOption: true, describe: 'a name in inventory/ or a path' })
      .option('graph', { type: 'boolean', describe: 'the group tree, like ansible-inventory --graph' })
      .option('limit', { alias: 'l', type: 'string', describe: 'list the hosts an Ansible pattern selects' })
      .option('json', { type: 'boolean' })
      .option('ssh-config', { alias: 'F', type: 'string', describe: 'ssh_config file read instead of ~/.ssh/config (for the routes shown)' }),
    async (a) => run((await inventories()).inventoryCommand(a, io)))
    .command('check <name>', 'validate params and every target host\'s vars against a runbook, without connecting', (y) => y
      .positional('name', { type: 'string', demandOption: true })
      .option('inventory', { alias: 'i', type: 'string', demandOption: true, describe: 'a name in inventory/ or a path' })
      .option('limit', { alias: 'l', type: 'string', describe: 'an Ansible host pattern, intersected with the runbook\'s hosts' })
      .option('param', { alias: 'p', type: 'string', array: true, default: [] as string[], describe: 'k=v (repeatable); secrets: RUNBOOK_PARAM_k env' })
      .option('typecheck', { type: 'boolean', default: true, describe: 'type-check the runbook too (cached per edit); --no-typecheck skips it' }),
    async (a) => run((await checking()).checkCommand(a, io)))
    .command('apply <name>', 'run a runbook against an inventory, or apply a saved plan (apply PLANFILE)', (y) => runOptions(targetOptions(y
      .positional('name', { type: 'string', demandOption: true, describe: 'a runbook, or a plan file from runbook plan' }))
      .option('dry-run', { alias: ['n', 'C', 'check'], type: 'boolean', default: false, describe: 'run only the checks: show what would change (-C/--check as in Ansible)' })
      .option('list-hosts', { type: 'boolean', default: false, describe: 'print the hosts it would run on (after --limit) and exit' })
      .option('start-at-step', { type: 'string', describe: 'refused: runbook continues from its journal (runbook resume RUN)' })
      .option('refresh-stale', { type: 'boolean', default: false, describe: 'apply PLANFILE: a step planned as a change goes on with what its check finds now' })
      .option('fresh', { type: 'boolean', default: false, describe: 'start anew even though an unfinished run exists for these hosts' })),
    async (a) => {
      const limit = await resolveLimit(a.limit, io.cwd);
      const param = await expandParamFiles(a.param, io.cwd);
      if (await (await plans()).isPlanFile(a.name, io.cwd)) {
        if (a.dryRun) throw new UsageError('a plan is already a dry-run: runbook plan show PLANFILE shows it; apply it without --dry-run');
        return run((await plans()).applyPlanCommand({ ...a, file: a.name, limit, param }, io));
      }
      if (a.refreshStale) throw new UsageError('--refresh-stale goes with apply PLANFILE');
      const inventory = requireInventory(a.inventory, 'apply');
      if (a.startAtStep !== undefined) return run((await habits()).refuseStartAtStep({ ...a, inventory, limit, startAtStep: a.startAtStep }, io));
      if (a.listHosts) return run((await habits()).listHostsCommand({ ...a, inventory, limit }, io));
      return run((await applying()).applyCommand({ ...a, inventory, limit, param }, io));
    })
    .command('plan <name> [file]', 'a dry-run written to a file for review (-o FILE); plan show FILE renders one', (y) => runOptions(targetOptions(y
      .positional('name', { type: 'string', demandOption: true, describe: 'a runbook; or "show" to render the plan FILE' })
      .positional('file', { type: 'string', describe: 'with show: the plan file' }))
      .option('out', { alias: 'o', type: 'string', describe: 'where to write the plan (JSON)' })
      .option('valid-for', { type: 'string', describe: 'the plan is refused after this long: 8h, 90m, 2d' })
      .option('format', { choices: ['text', 'md'] as const, default: 'text' as const, describe: 'plan show: md = for a change ticket' })),
    async (a) => {
      if (a.name === 'show') {
        if (!a.file) throw new UsageError('runbook plan show FILE: which plan file?');
        return run((await plans()).planShowCommand({ file: a.file, format: a.format }, io));
      }
      if (!a.out) throw new UsageError('runbook plan needs -o FILE: where to write the plan');
      const inventory = requireInventory(a.inventory, 'plan');
      const limit = await resolveLimit(a.limit, io.cwd);
      return run((await plans()).planCommand({ ...a, inventory, limit, out: a.out, param: await expandParamFiles(a.param, io.cwd) }, io));
    })
    .command('resume [run]', 'continue an unfinished run where it stopped', (y) => runOptions(y
      .positional('run', { type: 'string', describe: 'run id, unique prefix or latest (default: the latest unfinished)' })
      .option('param', { alias: ['p', 'e'], type: 'string', array: true, default: [] as string[], describe: 'k=v: params the run did not store (secrets: RUNBOOK_PARAM_k env)' })
      .option('force', { type: 'boolean', default: false, describe: 'resume even though the runbook file changed' })
      .option('join', { type: 'boolean', default: false, describe: 'share the run with the controllers on it (state database): take only hosts none of them holds' })
      .option('refresh-stale', { type: 'boolean', default: false, describe: 'a run applying a plan: a step planned as a change goes on with what its check finds now' })),
    async (a) => run((await runs()).resumeCommand({ ...a, param: await expandParamFiles(a.param, io.cwd) }, io)))
    .command('runs', 'past and unfinished runs', (y) => y.option('json', { type: 'boolean' }), async (a) => run((await runs()).runsCommand(a, io)))
    .command('show <run>', 'a run\'s journal as a timeline', (y) => y
      .positional('run', { type: 'string', demandOption: true, describe: 'run id, unique prefix or latest' })
      .option('host', { type: 'string', describe: 'only this host' })
      .option('summary', { type: 'boolean', describe: 'a table per host (steps by result, duration, state), no transcripts' })
      .option('json', { type: 'boolean' })
      .option('html', { type: 'string', conflicts: 'json', describe: 'write the run as one self-contained HTML file (timeline, steps, commands, confirmations)' }),
    async (a) => run((await runs()).showCommand(a, io)))
    .command('confirm <run>', 'record that a manual step was done', (y) => y
      .positional('run', { type: 'string', demandOption: true, describe: 'run id, unique prefix or latest' })
      .option('host', { type: 'string', demandOption: true })
      .option('step', { type: 'string', demandOption: true })
      .option('note', { type: 'string' })
      .option('evidence', { type: 'string', array: true, default: [] as string[], describe: 'k=v (repeatable), checked against the step\'s evidence schema' }),
    async (a) => run((await runs()).confirmCommand(a, io)))
    .command('unlock <host>', 'remove a host lock left by a run on another machine', (y) => y
      .positional('host', { type: 'string', demandOption: true })
      .option('lock-id', { type: 'string', demandOption: true, describe: 'the id the lock error printed' })
      .option('force', { type: 'boolean', default: false, describe: 'break the lock even though its process is alive on this machine' }),
    async (a) => run((await runs()).unlockCommand(a, io)))
    .command('state', 'the team\'s state database (--state postgres://…)', (y) => y
      .command('init', 'create the schema, or migrate it to this version', {}, async (a) => run((await stateCommands()).stateInitCommand({ state: a.state as string | undefined }, io)))
      .command('copy', 'copy every run and the project known_hosts between a folder and a database', (c) => c
        .option('from', { type: 'string', demandOption: true, describe: 'a state folder, or postgres://USER@HOST/DB' })
        .option('to', { type: 'string', demandOption: true, describe: 'a state folder, or postgres://USER@HOST/DB' }),
      async (a) => run((await stateCommands()).stateCopyCommand(a, io)))
      .demandCommand(1, 'name a state command: init, copy'))
    .command(labCommand(io, (c) => { code = c; }))
    .demandCommand(1, 'name a command (runbook --help lists them)')
    .strict()
    .recommendCommands()
    .epilog(EPILOG)
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((message, error) => { throw error ?? new UsageFailure(explainUsage(message, argv, knownFlags(cli))); });
  skipHelpRendering(cli);
  try {
    await cli.parseAsync();
    return code;
  } catch (error) {
    if (error instanceof UsageFailure) { io.stderr.write(`runbook: ${error.message}\n(runbook --help lists the commands and options)\n`); return 1; }
    return reportError(error, io.stderr, stateDirOf({ stateDir: pickStateDir(argv) }, io.env, io.cwd));
  }
}

class UsageFailure extends Error {}

/**
 * yargs renders the whole --help text before it runs any command, in case the command then asks
 * for it (`cacheHelpMessage`). No command here does: --help and usage errors render it when they
 * need it. Measuring every option's width for that text was a steady part of each command's
 * start-up, for text nobody read. If a later yargs moves the hook, this does nothing.
 */
function skipHelpRendering(y: unknown): void {
  type Usage = { cacheHelpMessage?: () => void };
  const usage = (y as { getInternalMethods?(): { getUsageInstance?(): Usage } }).getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}

/** yargs' own words, plus what it leaves out: which command was unknown, and the flag a typo was close to. */
function explainUsage(message: string, argv: string[], flags: string[]): string {
  if (message.startsWith('Did you mean')) return `unknown command '${argv.find((a, i) => !a.startsWith('-') && argv[i - 1] !== '--state-dir')}': d${message.slice(1)}`;
  const unknown = /^Unknown arguments?: (.*)$/.exec(message);
  if (!unknown) return message;
  // yargs names a mistyped --dry-rn twice (dry-rn, dryRn): keep the spellings typed as a flag.
  const typed = unknown[1].split(', ').filter((name) => argv.some((a) => /^-/.test(a) && a.replace(/^-+/, '').split('=')[0] === name));
  const known = flags.filter((flag) => flag.length > 1 && !/[A-Z]/.test(flag));
  const lines = typed.map((name) => {
    const close = suggest(name, known).map((flag) => `--${flag}`);
    return `unknown option ${name.length > 1 ? '--' : '-'}${name}${close.length ? `; did you mean ${close.join(' or ')}?` : ''}`;
  });
  return lines.length ? lines.join('\n') : message;
}

/** The flags in scope where parsing failed (the command's own and the global ones); yargs has them, its types do not say so. */
function knownFlags(y: unknown): string[] {
  return Object.keys((y as { getOptions(): { key: Record<string, unknown> } }).getOptions().key);
}

function pickStateDir(argv: string[]): string | undefined {
  const i = argv.findIndex((a) => a === '--state-dir' || a.startsWith('--state-dir='));
  if (i < 0) return undefined;
  return argv[i].includes('=') ? argv[i].split('=')[1] : argv[i + 1];
}
