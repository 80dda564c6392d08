/**
 * A host's filesystem view: one long-lived mount namespace per host, held by a tiny `sh`, with the
 * host's folder bound over the paths runbooks touch. Every command of that host enters it with
 * nsenter, so all of a host's commands share one view (one /etc overlay) and start fast.
 */
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';

/**
 * Bound from the host folder over the same path; /etc and /var/lib are overlays, these replace the
 * real dirs (/etc/xensource too: the simulated xapi writes every member's xhad.conf from outside
 * that host's view, which an overlay's upper dir must not be written from). /var/lib/runbook (the
 * reboot task's markers) is the host's own, empty when it is new:
 * never the machine's folder, which the controller and every other lab host would share.
 */
export const BOUND_DIRS = ['tmp', 'boot', 'root', 'etc/init.d', 'etc/xensource', 'var/lib/dpkg', 'var/lib/runbook', 'var/log'];

/** Overlays: the machine's files show through, what a command writes lands in the host folder. */
export const OVERLAY_DIRS = ['etc', 'var/lib'];

/**
 * Inside each namespace /run is a private tmpfs; it holds the lab root (`lab`) and the repository
 * (`repo`), bound there before /tmp or /root can hide their real paths. (Not /mnt: runbooks mount
 * the tools CD there.)
 */
export const ALIAS_BASE = '/run/runbook';

const HOLDER_SCRIPT = String.raw`
set -e
base=$1; real_root=$2; repo=$3; host=$4
# /run first: a private tmpfs (no way out to the machine's systemd or D-Bus: a real systemctl
# reboot finds nobody to ask), holding the way to the lab root and repo that later binds may hide.
mount -t tmpfs -o mode=0755,size=1m runbook-lab-run /run
mkdir -p "$base/lab" "$base/repo"
mount --bind "$real_root" "$base/lab"
mount --bind "$repo" "$base/repo"
h="$base/lab/hosts/$host"
# (one mkdir: a host folder seeded before a directory joined these lists gets it here)
mkdir -p ${[...OVERLAY_DIRS.flatMap((d) => [d, `.overlay/${d}`]), ...BOUND_DIRS].map((d) => `"$h/${d}"`).join(' ')}
for d in ${OVERLAY_DIRS.join(' ')}; do
  overlay="lowerdir=/$d,upperdir=$h/$d,workdir=$h/.overlay/$d"
  mount -t overlay overlay -o "$overlay" "/$d" 2>/dev/null || mount -t overlay overlay -o "$overlay,userxattr" "/$d"
done
for d in ${BOUND_DIRS.join(' ')}; do mount --bind "$h/$d" "/$d"; done
mount --bind "$h/proc/boot_id" /proc/sys/kernel/random/boot_id
# Commands start where the holder stands (nsenter --wd takes the target's working directory).
cd /root
echo ready
read -r _ || true
`;

/**
 * The unshare flags this process can use: -m as root, a user namespace otherwise; both with a PID
 * namespace, so `pkill ntpd` on a lab host can never reach the machine's processes, and every
 * process of a host dies with its namespace's init (the holder) at a power-off.
 */
export function unshareArgs(): string[] {
  const pidNamespace = ['-p', '--fork', '--kill-child', '--mount-proc', '--propagation', 'private'];
  return process.getuid?.() === 0 ? ['-m', ...pidNamespace] : ['-Urm', ...pidNamespace];
}

/**
 * As root, commands also lose the capabilities to set the machine's clock or reboot it, so even
 * `/bin/date -s` or `/sbin/reboot` by absolute path fail as an unprivileged user's would.
 */
const DROP_CAPS = ['setpriv', '--bounding-set', '-sys_time,-sys_boot,-sys_module,-wake_alarm', '--'];

/**
 * Probes once whether a mount namespace with a bind mount can be made here; returns the reason
 * when not (no unshare, no privileges, seccomp), or undefined when it can.
 */
export function probeNamespaces(): string | undefined {
  const probe = spawnSync('unshare', [...unshareArgs(), 'sh', '-c', 'mount -t tmpfs probe /mnt && mount --bind /mnt /mnt'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (probe.error) return `unshare could not run: ${probe.error.message}`;
  if (probe.status !== 0) return (probe.stderr || `unshare exited ${probe.status}`).trim();
  return undefined;
}

/** The lab root and repository must stay reachable when /run becomes a tmpfs in each namespace. */
export function assertAliasable(labRoot: string, repoRoot: string): void {
  const under = (dir: string, path: string) => !relative(dir, path).startsWith('..') && !isAbsolute(relative(dir, path));
  for (const path of [labRoot, repoRoot]) {
    if (under('/run', path)) throw new Error(`${path} is under /run, which every lab host replaces: use a state dir elsewhere`);
  }
  // An overlay's upper layer (in the host folder) may not lie inside its lower one (the real dir).
  for (const dir of OVERLAY_DIRS) {
    if (under(`/${dir}`, labRoot)) throw new Error(`${labRoot} is under /${dir}, which every lab host overlays with its own folder: use a state dir elsewhere`);
  }
}

/** One host's namespace holder. */
export class HostNamespace {
  private holder?: ChildProcess;
  /** The namespace's init (the holder's sh) as the machine sees it: what nsenter targets. */
  private initPid?: number;

  constructor(
    readonly host: string,
    private readonly labRoot: string,
    private readonly repoRoot: string,
    /** Inside the namespace: the lab root is `${aliasBase}/lab`, the repo `${aliasBase}/repo`. */
    readonly aliasBase: string,
  ) {}

  /** Starts the holder and resolves once every mount is in place. */
  async start(): Promise<void> {
    const args = [...unshareArgs(), 'sh', '-c', HOLDER_SCRIPT, 'holder', this.aliasBase, this.labRoot, this.repoRoot, this.host];
    const holder = spawn('unshare', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.holder = holder;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('ready\n')) resolve();
      };
      holder.stdout!.on('data', onData);
      holder.stderr!.on('data', onData);
      holder.on('exit', (code) => reject(new Error(`namespace for ${this.host} failed (exit ${code}): ${output.trim()}`)));
      holder.on('error', reject);
    });
    this.initPid = childOf(holder.pid!);
  }

  /**
   * Runs `sh -c command` inside the namespace, in its own process group (so it can be killed whole).
   * `statusFd` opens fd 3 for a full 32-bit exit status (the lab's cmd.exe writes it there).
   */
  spawn(command: string, env: Record<string, string>, options: { statusFd?: boolean } = {}): ChildProcess {
    if (!this.initPid || this.holder?.exitCode !== null) throw new Error(`namespace of ${this.host} is not running`);
    const args = [...this.enterArgs().slice(1), '/bin/sh', '-c', command];
    const stdio: StdioOptions = options.statusFd ? ['pipe', 'pipe', 'pipe', 'pipe'] : 'pipe';
    return spawn('nsenter', args, { env, stdio, detached: true });
  }

  /** `nsenter … --` plus the capability drop: how any process (this server, lab/server/enter.sh) gets in. */
  enterArgs(): string[] {
    const root = process.getuid?.() === 0;
    const userns = root ? [] : ['-U', '--preserve-credentials'];
    // Bare --wd: the holder's working directory, the host's /root. (--wd=/root would be resolved
    // before entering, i.e. the machine's real /root.)
    return ['nsenter', '-t', String(this.initPid), '-m', '-p', '--wd', ...userns, '--', ...(root ? DROP_CAPS : [])];
  }

  /** Ends the holder; the kernel tears the mounts down with the namespace's last process. */
  stop(): void {
    const holder = this.holder;
    this.holder = undefined;
    this.initPid = undefined;
    if (holder && holder.exitCode === null) {
      holder.stdin?.end();
      holder.kill('SIGKILL');
    }
  }
}

/** The only child of `pid` (unshare --fork's child, the namespace's init). */
function childOf(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  if (!children[0]) throw new Error(`namespace holder ${pid} has no init process`);
  return children[0];
}
