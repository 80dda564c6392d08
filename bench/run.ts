/**
 * The fan-out benchmark (issue 9): runbook vs Ansible vs the raw-ssh floor on N real OpenSSH sshd
 * hosts on 127.0.0.1. See bench/README.md.
 *
 *   npm run bench [-- --quick] [--runs 5] [--hosts 10,50,100] [--kex curve25519-sha256,sntrup]
 *                 [--tools runbook,ansible,floor] [--mem-hosts 500] [--no-resume] [--rtt 100] [--postgres]
 *
 * `--postgres` adds the row `runbook[pg]`: the same runbook run with its state (runs, journal,
 * locks, known_hosts) in a private PostgreSQL started for the sitting (test/helpers/postgres.ts),
 * alternated with the folder rows; each pg run's database round trips are counted with
 * pg_stat_statements (every statement the bench database executed, BEGIN/COMMIT included;
 * psql asking pg_stat_statements is left out).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateKey, startSshd, type Sshd } from '../test/helpers/sshd.ts';
import { startPostgres, type PgServer } from '../test/helpers/postgres.ts';
import { openStateBackend } from '../src/state/index.ts';
import { copyState } from '../src/state/copy.ts';
import { initPostgresState } from '../src/state/postgres.ts';
import { startDelayProxy, type DelayProxy } from './latency-proxy.ts';
import { floorScript, playbook, workloads, type Workload } from './workloads.ts';
import { renderMarkdown, renderSvg, type Sample } from './report.ts';

const SNTRUP = 'sntrup761x25519-sha512@openssh.com';
const CURVE = 'curve25519-sha256';
const TOOLS = ['runbook', 'ansible', 'floor'] as const;
/** runbook, ansible, floor, or `runbook[NAME]`: runbook with a variant's extra flags. */
type Tool = string;

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    hosts: { type: 'string' },
    kex: { type: 'string' },
    tools: { type: 'string' },
    'mem-hosts': { type: 'string' },
    'no-resume': { type: 'boolean', default: false },
    out: { type: 'string' },
    /** Write node --cpu-prof profiles of every runbook run to this folder. */
    profile: { type: 'string' },
    /** Extra flags for `runbook apply` (e.g. --max-handshakes 100), space-separated. */
    'runbook-args': { type: 'string' },
    /** Extra runbook rows, alternated with the rest: 'NAME=ARGS;NAME=ARGS' (e.g. 'hs100=--max-handshakes 100'). */
    variants: { type: 'string' },
    /** Round-trip time in ms added in front of every host (a delaying TCP proxy, half each way). */
    rtt: { type: 'string' },
    /** Add the runbook[pg] row: the state in a private PostgreSQL, round trips counted. */
    postgres: { type: 'boolean', default: false },
    /** Copy every tool run's output (and runbook's journal folder) here, for reading afterwards. */
    'keep-logs': { type: 'string' },
  },
});
const rttMs = Number(flags.rtt ?? 0);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const runs = Number(flags.runs ?? (flags.quick ? 1 : 5));
const hostCounts = (flags.hosts ?? (flags.quick ? '10,30' : '10,50,100')).split(',').map(Number);
const kexes = (flags.kex ?? (flags.quick ? CURVE : `${CURVE},${SNTRUP}`)).split(',').map((k) => (k === 'sntrup' ? SNTRUP : k));
const memHosts = Number(flags['mem-hosts'] ?? (flags.quick ? 0 : 500));
const outDir = path.resolve(flags.out ?? path.join(repo, 'bench', 'results'));
const variants = new Map<string, string[]>((flags.variants ?? '').split(';').filter(Boolean).map((v) => {
  const [name, ...args] = v.split('=');
  return [`runbook[${name}]`, args.join("=").split(" ").filter(Boolean)];
}));
let tools: Tool[] = [...(flags.tools ?? TOOLS.join(',')).split(','), ...variants.keys()];
const PG_TOOL = 'runbook[pg]';
if (flags.postgres) tools.push(PG_TOOL);

/** What the bench started, so Ctrl-C (or a failure) stops exactly that. */
const started = { sshds: [] as Sshd[], proxies: [] as DelayProxy[], child: undefined as ReturnType<typeof spawn> | undefined, childExit: Promise.resolve(), dir: '', pg: undefined as PgServer | undefined };
let stopping = false;

async function cleanup(): Promise<void> {
  // The measuring wrapper stops the tool and its daemons, then exits: only then is the folder free to go.
  started.child?.kill('SIGTERM');
  await started.childExit;
  await Promise.allSettled([...started.sshds.map((s) => s.stop()), ...started.proxies.map((p) => p.close())]);
  started.sshds = [];
  started.proxies = [];
  started.pg?.destroy();
  started.pg = undefined;
  if (started.dir) await rm(started.dir, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.error(`\n${signal}: stopping the sshd hosts and the running tool, removing ${started.dir}`);
    void cleanup().finally(() => process.exit(130));
  });
}

const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const loadavg = () => os.loadavg()[0];

/** Ansible from Debian, installed if missing; null (and said) when it cannot be. */
function ensureAnsible(): string | null {
  const bin = '/usr/bin/ansible-playbook';
  if (existsSync(bin)) return bin;
  log('ansible-playbook missing: apt-get install -y ansible-core');
  const result = spawnSync('apt-get', ['install', '-y', 'ansible-core'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (result.status === 0 && existsSync(bin)) return bin;
  log('SKIPPING Ansible: apt-get install -y ansible-core failed (run as root with network, or install it yourself)');
  return null;
}

/** The simulated tools every host's commands find first on PATH; they only touch $BENCH_HOST_DIR. */
async function writeSimTools(dir: string): Promise<void> {
  const bin = path.join(dir, 'bin');
  await mkdir(bin, { recursive: true });
  const service = `#!/bin/sh
# simulated service NAME status|stop|start: state is a file in $BENCH_HOST_DIR
f="$BENCH_HOST_DIR/$1.running"
case "$2" in
  status) if [ -e "$f" ]; then echo "$1 is running"; exit 0; else echo "$1 is stopped"; exit 3; fi ;;
  stop) rm -f "$f"; echo "Stopping $1: ok" ;;
  start) : > "$f"; echo "Starting $1: ok" ;;
  *) echo "usage: service NAME status|stop|start" >&2; exit 2 ;;
esac
`;
  const date = `#!/bin/sh
# simulated date: -s records the setting in $BENCH_HOST_DIR instead of touching the clock
if [ "$1" = "-s" ]; then echo "$2" >> "$BENCH_HOST_DIR/clock-set"; echo "$2"; exit 0; fi
exec /bin/date "$@"
`;
  await writeFile(path.join(bin, 'service'), service);
  await writeFile(path.join(bin, 'date'), date);
  await chmod(path.join(bin, 'service'), 0o755);
  await chmod(path.join(bin, 'date'), 0o755);
}

/** The sitting's PostgreSQL: its state URL, client env, and a count of the statements the bench database ran. */
interface BenchDb { url: string; env: NodeJS.ProcessEnv; statements(): number }
let benchDb: BenchDb | undefined;

/**
 * A private PostgreSQL with pg_stat_statements loaded (a restart after ALTER SYSTEM), one database
 * `bench` holding the runbook schema; statements() sums its calls, so a run's round trips are the
 * difference around it.
 */
async function startBenchDb(): Promise<BenchDb> {
  const pg = await startPostgres();
  started.pg = pg;
  pg.sql("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
  pg.stop();
  pg.start();
  const url = pg.url(pg.createDatabase('bench'));
  pg.sql('CREATE EXTENSION pg_stat_statements', 'bench');
  const env = { ...process.env, ...pg.env };
  await initPostgresState(url, { env, from: '--postgres' });
  // (asked in the bench database, where the view is; this query itself is left out of the sum)
  const statements = () => Number(pg.sql("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'bench') AND query NOT LIKE '%pg_stat_statements%'", 'bench').trim());
  return { url, env: pg.env, statements };
}

/** The hosts' keys into the database's known_hosts, as `runbook state copy` would put them. */
async function copyKnownHosts(stateDir: string, db: BenchDb): Promise<void> {
  const [folder, target] = [await openStateBackend({ stateDir }, { ...process.env, RUNBOOK_STATE_URL: '' }), await openStateBackend({ state: db.url }, { ...process.env, ...db.env })];
  try { await copyState(folder, target); } finally { await Promise.all([folder.close(), target.close()]); }
}

const hostName = (i: number) => `h${String(i + 1).padStart(3, '0')}`;

interface Estate {
  dir: string;
  key: string;
  hostKey: string;
  sshds: Sshd[];
  /** Where the tools connect to each host: its sshd, or the delaying proxy in front of it (--rtt). */
  reach: { port: number; knownHostsLine: string }[];
}

/** Starts `count` sshd hosts (reusing one host key and one client key), 10 at a time. */
async function startHosts(dir: string, count: number, first = 0): Promise<Estate> {
  const key = path.join(dir, 'id_client');
  const hostKey = path.join(dir, 'id_host');
  if (!existsSync(key)) { await generateKey(key); await generateKey(hostKey, { comment: 'bench-host' }); }
  await mkdir(path.join(dir, 'home'), { recursive: true });
  const sshds: Sshd[] = [];
  for (let i = 0; i < count; i += 10) {
    const batch = await Promise.all(Array.from({ length: Math.min(10, count - i) }, (_, j) => startSshd({
      hostKeyFile: hostKey, clientKeyFile: key, sftp: false,
      // HOME away from /root: root's ~/.bashrc (pyenv init) costs ~1 s per command under load.
      extraConfig: [`SetEnv HOME=${dir}/home PATH=${dir}/bin:/usr/bin:/bin BENCH_HOST_DIR=${dir}/hosts/${hostName(first + i + j)}`],
    })));
    sshds.push(...batch);
    started.sshds.push(...batch);
  }
  return { dir, key, hostKey, sshds, reach: await Promise.all(sshds.map(reachOf)) };
}

/** With --rtt, a proxy holding each chunk rtt/2 ms each way; the host key is recorded for its port. */
async function reachOf(sshd: Sshd): Promise<{ port: number; knownHostsLine: string }> {
  if (rttMs <= 0) return { port: sshd.port, knownHostsLine: sshd.knownHostsLine };
  const proxy = await startDelayProxy({ targetPort: sshd.port, delayMs: rttMs / 2 });
  started.proxies.push(proxy);
  return { port: proxy.port, knownHostsLine: sshd.knownHostsLine.replace(`]:${sshd.port} `, `]:${proxy.port} `) };
}

async function resetHosts(e: Estate, n: number): Promise<void> {
  await Promise.all(e.sshds.slice(0, n).map(async (_, i) => {
    const h = path.join(e.dir, 'hosts', hostName(i));
    await rm(h, { recursive: true, force: true });
    await mkdir(h, { recursive: true });
    await writeFile(path.join(h, 'ntpd.running'), '');
  }));
}

/** Checks the hosts ended as the workload says; a tool that did not do the work is not timed as if it had. */
async function verifyHosts(e: Estate, n: number, w: Workload): Promise<string | undefined> {
  for (let i = 0; i < n; i++) {
    const h = path.join(e.dir, 'hosts', hostName(i));
    if (w.name === 'leap4') {
      const sets = (await readFile(path.join(h, 'clock-set'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
      if (!existsSync(path.join(h, 'leapsecond_marker')) || existsSync(path.join(h, 'ntpd.running')) || sets !== 1) return `${hostName(i)}: marker/ntpd/clock-set(${sets}) wrong`;
    } else if ((await readFile(path.join(h, 'conf-20'), 'utf8').catch(() => '')) !== 'value=20\n') return `${hostName(i)}: conf-20 missing`;
  }
  return undefined;
}

/** Per (kex, N): the inventory, known_hosts, playbooks, ansible.cfg and floor script. */
async function writeConfigs(e: Estate, n: number, kex: string): Promise<string> {
  const dir = path.join(e.dir, `n${n}-${kex === SNTRUP ? 'sntrup' : 'curve'}`);
  await mkdir(path.join(dir, 'state'), { recursive: true });
  await mkdir(path.join(dir, 'cp'), { recursive: true });
  const hosts = e.reach.slice(0, n);
  const knownHosts = hosts.map((s) => s.knownHostsLine).join('\n') + '\n';
  await writeFile(path.join(dir, 'known_hosts'), knownHosts);
  await writeFile(path.join(dir, 'state', 'known_hosts'), knownHosts);
  if (benchDb) await copyKnownHosts(path.join(dir, 'state'), benchDb);
  await writeFile(path.join(dir, 'inventory.yaml'), [
    'all:', '  hosts:',
    ...hosts.map((s, i) => `    ${hostName(i)}: { ansible_host: 127.0.0.1, ansible_port: ${s.port}, ansible_user: root, ansible_ssh_private_key_file: ${e.key} }`), '',
  ].join('\n'));
  await writeFile(path.join(dir, 'hosts.ini'), ['[all]', ...hosts.map((s, i) => `${hostName(i)} ansible_host=127.0.0.1 ansible_port=${s.port} ansible_user=root`), ''].join('\n'));
  const sshArgs = `-F /dev/null -o ControlMaster=auto -o ControlPersist=60s -o KexAlgorithms=${kex} -o UserKnownHostsFile=${dir}/known_hosts -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes`;
  await writeFile(path.join(dir, 'ansible.cfg'), [
    '[defaults]', `inventory = ${dir}/hosts.ini`, `forks = ${n}`, 'gathering = explicit', 'host_key_checking = True',
    `private_key_file = ${e.key}`, `local_tmp = ${dir}/ansible-tmp`, 'retry_files_enabled = False', 'interpreter_python = /usr/bin/python3',
    '[ssh_connection]', 'pipelining = True', `ssh_args = ${sshArgs}`, `control_path_dir = ${dir}/cp`, 'control_path = %(directory)s/%%C', '',
  ].join('\n'));
  for (const w of Object.values(workloads)) {
    await writeFile(path.join(dir, `${w.name}.yml`), playbook(w));
    await writeFile(path.join(dir, `${w.name}.floor.sh`), floorScript(w));
  }
  // The floor: one ssh per host, all at once, each running the whole script.
  await writeFile(path.join(dir, 'floor.sh'), [
    '#!/bin/bash', 'script=$(cat "$1")',
    `for port in ${hosts.map((s) => s.port).join(' ')}; do`,
    `  ssh -F /dev/null -o KexAlgorithms=${kex} -o UserKnownHostsFile=${dir}/known_hosts -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes -i ${e.key} -p "$port" root@127.0.0.1 "$script" >/dev/null &`,
    'done', 'fail=0', 'for job in $(jobs -p); do wait "$job" || fail=1; done', 'exit $fail', '',
  ].join('\n'));
  return dir;
}

function commandFor(tool: Tool, dir: string, n: number, w: Workload, extra: string[] = []): { argv: string[]; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = { ...process.env, RUNBOOK_TYPECHECK: '0', ANSIBLE_CONFIG: path.join(dir, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1' };
  delete env.SSH_AUTH_SOCK;
  if (tool.startsWith('runbook')) {
    extra = [...extra, ...(flags['runbook-args']?.split(' ').filter(Boolean) ?? []), ...(variants.get(tool) ?? [])];
    if (tool === PG_TOOL && benchDb) { extra.push('--state', benchDb.url); Object.assign(env, benchDb.env); }
    return {
      argv: [process.execPath, ...(flags.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(flags.profile)}`] : []), path.join(repo, 'bin', 'runbook.mjs'), 'apply', path.join(repo, 'bench', 'runbooks', `${w.name}.ts`),
        '--inventory', path.join(dir, 'inventory.yaml'), '--state-dir', path.join(dir, 'state'), '--forks', String(n), '--no-typecheck', ...extra],
      env,
    };
  }
  if (tool === 'ansible') return { argv: ['/usr/bin/ansible-playbook', path.join(dir, `${w.name}.yml`)], env };
  return { argv: ['/bin/bash', path.join(dir, 'floor.sh'), path.join(dir, `${w.name}.floor.sh`)], env };
}

interface Measured { wall: number; cpu: number; user: number; sys: number; maxRssProcessMB: number; peakTreeRssMB: number; code: number; leftovers: number }

/** Runs one command under bench/measure.py (children and daemons included in CPU and RSS). */
async function measure(argv: string[], env: NodeJS.ProcessEnv, logFile: string): Promise<Measured> {
  const out = `${logFile}.json`;
  const child = spawn('python3', [path.join(repo, 'bench', 'measure.py'), out, '--', ...argv], { env: { ...env, MEASURE_LOG: logFile }, stdio: 'inherit' });
  started.child = child;
  started.childExit = new Promise((resolve) => child.once('exit', () => resolve()));
  await started.childExit;
  started.child = undefined;
  return JSON.parse(await readFile(out, 'utf8')) as Measured;
}

const samples: Sample[] = [];
const roundTrips: { n: number; phase: string; rep: number; trips: number; perHostStep: number }[] = [];

async function runOne(e: Estate, dir: string, kex: string, n: number, tool: Tool, rep: number): Promise<void> {
  const label = kex === SNTRUP ? 'sntrup' : 'curve';
  const plan: { w: Workload; phase: string; reset: boolean }[] = [
    { w: workloads.leap4, phase: 'leap4 first (changes)', reset: true },
    { w: workloads.leap4, phase: 'leap4 second (all ok)', reset: false },
    // At sntrup only the 4-step rows (the issue's table); 20 steps is compared at curve25519.
    ...(kex === SNTRUP ? [] : [{ w: workloads.steps20, phase: 'steps20 (changes)', reset: true }]),
  ];
  for (const { w, phase, reset } of plan) {
    if (stopping) return;
    if (reset) await resetHosts(e, n);
    const { argv, env } = commandFor(tool, dir, n, w);
    const logFile = path.join(dir, `${tool}-${w.name}-${rep}-${reset ? 1 : 2}.log`);
    const load = loadavg();
    const statementsBefore = tool === PG_TOOL ? benchDb?.statements() : undefined;
    const m = await measure(argv, env, logFile);
    if (statementsBefore !== undefined) {
      const trips = benchDb!.statements() - statementsBefore;
      const steps = n * (w.steps.length + (w.markerGate ? 1 : 0));
      log(`${tool} ${phase}: ${trips} database round trips, ${(trips / steps).toFixed(3)} per host-step (${steps} host-steps)`);
      roundTrips.push({ n, phase, rep, trips, perHostStep: trips / steps });
    }
    let problem = m.code !== 0 ? `exit ${m.code} (see ${logFile})` : await verifyHosts(e, n, w);
    if (problem) problem += ` (kept in ${await keepEvidence(e, dir, logFile, `${label}-n${n}-${tool}-${w.name}-${rep}-${reset ? 1 : 2}`)})`;
    if (flags['keep-logs']) await keepLogs(dir, logFile, tool, `${label}-n${n}-${tool}-${w.name}-${rep}-${reset ? 1 : 2}`);
    samples.push({ kex, tool, n, phase, rep, ...m, load, ...(problem ? { problem } : {}) });
    log(`${label} n=${String(n).padStart(3)} ${tool.padEnd(7)} ${phase.padEnd(22)} ${m.wall.toFixed(2).padStart(6)} s wall ${m.cpu.toFixed(2).padStart(6)} s cpu ${m.peakTreeRssMB.toFixed(0).padStart(5)} MB tree  load ${load.toFixed(1)}${problem ? `  PROBLEM: ${problem}` : ''}`);
  }
}

/** `--keep-logs`: the run's output, and for runbook its journal folder (the bench dir is removed at the end). */
async function keepLogs(dir: string, logFile: string, tool: Tool, name: string): Promise<void> {
  const keep = path.join(path.resolve(flags['keep-logs']!), name);
  await mkdir(keep, { recursive: true });
  await cp(logFile, path.join(keep, 'tool.log')).catch(() => undefined);
  if (tool.startsWith('runbook')) await cp(path.join(dir, 'state'), path.join(keep, 'state'), { recursive: true }).catch(() => undefined);
}

/** Copies a failed run's log, journal folder and host folders out of the bench dir (removed at the end). */
async function keepEvidence(e: Estate, dir: string, logFile: string, name: string): Promise<string> {
  const keep = path.join(os.tmpdir(), 'runbook-bench-problems', name);
  await mkdir(keep, { recursive: true });
  await cp(logFile, path.join(keep, 'tool.log')).catch(() => undefined);
  await cp(path.join(dir, 'state'), path.join(keep, 'state'), { recursive: true }).catch(() => undefined);
  await cp(path.join(e.dir, 'hosts'), path.join(keep, 'hosts'), { recursive: true });
  return keep;
}

/** 500 hosts: runbook's controller memory only (Ansible at forks=500 is not part of the target). */
async function memoryAt(e: Estate, dir: string, n: number): Promise<void> {
  await resetHosts(e, n);
  const { argv, env } = commandFor('runbook', dir, n, workloads.leap4);
  const m = await measure(argv, env, path.join(dir, 'runbook-mem.log'));
  const problem = m.code !== 0 ? `exit ${m.code}` : await verifyHosts(e, n, workloads.leap4);
  samples.push({ kex: CURVE, tool: 'runbook', n, phase: 'memory: leap4 first (changes)', rep: 0, ...m, load: loadavg(), ...(problem ? { problem } : {}) });
  log(`memory n=${n}: runbook ${m.wall.toFixed(2)} s wall, peak RSS ${m.maxRssProcessMB.toFixed(0)} MB${problem ? `  PROBLEM: ${problem}` : ''}`);
}

function resumeBench(): string {
  log('resume: bench/resume-1000.ts (1,000 hosts × 20 steps)');
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repo, 'bench', 'resume-1000.ts')], { cwd: repo, encoding: 'utf8' });
  process.stdout.write(r.stdout);
  return r.stdout + (r.status === 0 ? '' : `\n(exit ${r.status}: ${r.stderr.slice(-500)})`);
}

async function main(): Promise<void> {
  if (!ensureAnsible()) tools = tools.filter((t) => t !== 'ansible');
  const maxN = Math.max(...hostCounts);
  started.dir = await mkdtemp(path.join(os.tmpdir(), 'rbb-'));
  const began = Date.now();
  log(`bench dir ${started.dir}; RTT ${rttMs} ms; runs ${runs}, hosts ${hostCounts.join(',')}, kex ${kexes.join(',')}, tools ${tools.join(',')}; load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  await writeSimTools(started.dir);
  if (flags.postgres) { benchDb = await startBenchDb(); log(`PostgreSQL state for ${PG_TOOL}: ${benchDb.url}`); }
  const estate = await startHosts(started.dir, maxN);
  log(`${estate.sshds.length} sshd hosts up`);
  for (const kex of kexes) {
    // ssh2 (runbook's transport) has no sntrup761: at that kex only Ansible and the floor run, at the largest N.
    const kexTools = kex === SNTRUP ? tools.filter((t) => !t.startsWith('runbook')) : tools;
    const counts = kex === SNTRUP ? [maxN] : hostCounts;
    for (const n of counts) {
      const dir = await writeConfigs(estate, n, kex);
      for (let rep = 0; rep < runs && !stopping; rep++) {
        // Rotate the order each repetition, so a burst of load from the machine's other users hits every tool alike.
        const order = kexTools.map((_, i) => kexTools[(i + rep) % kexTools.length]);
        for (const tool of order) await runOne(estate, dir, kex, n, tool, rep);
      }
    }
  }
  let resume = '';
  if (memHosts > 0 && !stopping) {
    const more = memHosts > maxN ? await startHosts(started.dir, memHosts - maxN, maxN) : undefined;
    const all: Estate = { ...estate, sshds: [...estate.sshds, ...(more?.sshds ?? [])], reach: [...estate.reach, ...(more?.reach ?? [])] };
    await memoryAt(all, await writeConfigs(all, memHosts, CURVE), memHosts);
  }
  await cleanup();
  if (!flags['no-resume'] && !stopping) resume = resumeBench();
  const meta = { date: new Date().toISOString(), rttMs, minutes: (Date.now() - began) / 60_000, runs, cpus: os.cpus().length, node: process.version, loadEnd: os.loadavg(), ansible: ansibleVersion(), openssh: opensshVersion() };
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, 'samples.json'), JSON.stringify({ meta, samples, resume, ...(roundTrips.length ? { roundTrips } : {}) }, null, 1));
  const md = renderMarkdown(samples, meta, resume);
  await writeFile(path.join(outDir, 'results.md'), md.text);
  await writeFile(path.join(outDir, 'wall-vs-hosts.svg'), renderSvg(samples, CURVE));
  console.log(`\n${md.ratios}\nwrote ${path.join(outDir, 'results.md')} and wall-vs-hosts.svg`);
}

function ansibleVersion(): string {
  return spawnSync('/usr/bin/ansible-playbook', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? 'not installed';
}
function opensshVersion(): string {
  return spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr.trim();
}

try {
  await main();
} catch (error) {
  console.error(error);
  await cleanup();
  process.exitCode = 1;
}
