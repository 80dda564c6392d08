/**
 * `runbook lab up | status | down | reset | fault | state | reinstall`: the simulated XenServer
 * estate (lab/README.md). Thin: parsing and printing here, the work in lab/lab.ts.
 */
import type { Argv, CommandModule } from 'yargs';
import type { Lab, LabUpOptions, labStatus } from '../../lab/lab.ts';
import { UsageError } from '../errors.ts';
import { stateDirOf, type Io } from './options.ts';

interface LabArgs {
  stateDir?: string;
}

/**
 * The `lab` command group; `setCode` receives the exit code (0 unless a subcommand says otherwise).
 * Example: `yargs(argv).command(labCommand(io, (c) => (code = c)))`.
 */
export function labCommand(io: Io, setCode: (code: number) => void): CommandModule<LabArgs, LabArgs> {
  const out = (text: string) => io.stdout.write(`${text}\n`);
  // --state-dir is the parent's option: every subcommand's argv carries it.
  const stateDir = (argv: object) => stateDirOf(argv as LabArgs, io.env, io.cwd);
  const done = () => setCode(0);
  // Loaded when a lab command runs: `apply` and `resume` should not pay for the lab's modules.
  const lab = () => import('../../lab/lab.ts');
  return {
    command: 'lab <command>',
    describe: 'the built-in simulated XenServer estate over real SSH (up, status, down, reset, fault, state, reinstall)',
    builder: (yargs: Argv<LabArgs>) =>
      yargs
        .command('up', 'start the lab in the background and write its inventory and known_hosts', upOptions, async (argv) => {
          out(formatUp(await (await lab()).labUp({ ...upArgs(argv), stateDir: stateDir(argv), cwd: io.cwd }), io.cwd));
          done();
        })
        .command('status', 'hosts, ports, power and boot ids', (y) => y.option('json', { type: 'boolean', default: false }), async (argv) => {
          const status = (await lab()).labStatus({ stateDir: stateDir(argv) });
          out(argv.json ? JSON.stringify(status, null, 2) : formatStatus(status));
          done();
        })
        .command('down', 'stop exactly the server `lab up` started', {}, async (argv) => {
          const result = await (await lab()).labDown({ stateDir: stateDir(argv) });
          out(result.stopped ? `lab stopped (pid ${result.pid})` : 'lab was not running');
          done();
        })
        .command('reset', 'down, wipe every host\'s state and keys, up again', upOptions, async (argv) => {
          out(formatUp(await (await lab()).labReset({ ...upArgs(argv), stateDir: stateDir(argv), cwd: io.cwd }), io.cwd));
          done();
        })
        .command(
          'fault <host> <kind> [args..]',
          'inject a fault: power-off, leap-second, slow CMD SECONDS, hang CMD, hang-after CMD [HOST], drop-connection, cut-path, jumbo-mtu',
          (y) =>
            y
              .positional('host', { type: 'string', demandOption: true })
              .positional('kind', { type: 'string', demandOption: true })
              .positional('args', { type: 'string', array: true, default: [] as string[] })
              .option('off', { type: 'boolean', default: false, describe: 'remove the fault (power-off --off powers on)' }),
          async (argv) => {
            const args = (argv.args ?? []).map(String);
            out(await (await lab()).labFault({ stateDir: stateDir(argv), host: argv.host, kind: argv.kind, args, off: argv.off }));
            done();
          },
        )
        .command('state <host>', 'one host\'s state for humans', (y) => y.positional('host', { type: 'string', demandOption: true }), async (argv) => {
          out((await lab()).labHostState({ stateDir: stateDir(argv), host: argv.host }));
          done();
        })
        .command(
          'reinstall <host>',
          'fresh host state and a new host key (prints its SHA256 fingerprint)',
          (y) => y.positional('host', { type: 'string', demandOption: true }),
          async (argv) => {
            const { fingerprint } = await (await lab()).labReinstall({ stateDir: stateDir(argv), host: argv.host });
            out(`${argv.host} reinstalled; new host key ${fingerprint}`);
            done();
          },
        )
        .demandCommand(1, 'name a lab command: up, status, down, reset, fault, state, reinstall'),
    handler: () => {},
  };
}

function upOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('hosts', { type: 'string', describe: 'hosts, groups or ranges to run: xs-01,guests or xs-[01:50] (clones)' })
    // A string, checked by portBaseOf: yargs would turn "abc" into NaN and a repeated flag into an array.
    .option('port-base', { type: 'string', default: '2201', describe: 'first port (1-65535); 0 picks free ports' })
    .option('estate', { type: 'string', describe: 'an Ansible YAML inventory describing the estate (default inventory/lab.yaml)' })
    .option('reboot-down-ms', { type: 'number', default: 2000, describe: 'how long a rebooting host refuses connections' });
}

function upArgs(argv: { hosts?: string; portBase?: unknown; estate?: string; rebootDownMs?: number }): LabUpOptions {
  return { hosts: argv.hosts, portBase: portBaseOf(argv.portBase), estate: argv.estate, rebootDownMs: argv.rebootDownMs };
}

/** `--port-base` as given once: 0 (free ports) or a port 1-65535; anything else is a usage error. */
export function portBaseOf(raw: unknown): number {
  if (Array.isArray(raw)) throw new UsageError(`--port-base given ${raw.length} times (${raw.join(', ')}): give it once`);
  const text = String(raw).trim();
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new UsageError(`--port-base must be 0 (free ports) or a port 1-65535, got "${text}"`);
  return port;
}

function formatUp(lab: Lab, cwd: string): string {
  const rows = lab.hosts.map((h) => `  ${h.name.padEnd(12)} ${h.role.padEnd(13)} ${(h.pool ?? '-').padEnd(8)} 127.0.0.1:${h.port}  ${h.hostKeyFingerprint}`);
  const inventory = lab.inventoryPath.startsWith(`${cwd}/`) ? lab.inventoryPath.slice(cwd.length + 1) : lab.inventoryPath;
  return [
    `lab up: ${lab.hosts.length} host${lab.hosts.length === 1 ? '' : 's'} (pid ${lab.pid}), state in ${lab.labRoot}`,
    ...rows,
    `inventory:   ${inventory}`,
    `known_hosts: ${lab.knownHostsPath}`,
    `try:         runbook inventory ${inventory} --graph`,
  ].join('\n');
}

function formatStatus(status: ReturnType<typeof labStatus>): string {
  if (status.hosts.length === 0) return `no lab in ${status.stateDir} (runbook lab up)`;
  const head = status.up ? `lab up (pid ${status.pid}), state in ${status.stateDir}` : `lab down, state in ${status.stateDir}`;
  const rows = status.hosts.map((h) => {
    const services = Object.entries(h.services).map(([name, state]) => `${name}${state === 'running' ? '' : `(${state})`}`).join(' ');
    return `  ${h.name.padEnd(12)} ${h.role.padEnd(13)} ${String(h.port).padEnd(6)} ${h.power.padEnd(9)} ${h.bootId.slice(0, 8)}  ${services}`;
  });
  return [head, `  ${'HOST'.padEnd(12)} ${'ROLE'.padEnd(13)} ${'PORT'.padEnd(6)} ${'POWER'.padEnd(9)} BOOT ID   SERVICES`, ...rows].join('\n');
}
