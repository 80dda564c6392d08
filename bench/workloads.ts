/**
 * The benchmark's work, written once as shell text so runbook, Ansible and the raw-ssh floor do
 * the same thing on each host. Every command only touches `$BENCH_HOST_DIR` (set per host by
 * sshd's SetEnv) through the simulated `service` and `date` in the bench's PATH-prefixed bin/.
 */

/** One idempotent step: `check` exits 0 when the host is already as wanted; `apply` makes it so. */
export interface BenchStep {
  id: string;
  title: string;
  check: string;
  apply: string;
  /** The leap-second steps after the first run only while the marker is missing. */
  gated?: boolean;
  /** The check is "never done" (a clock reset); the runbook does not re-check it after apply. */
  always?: boolean;
}

export interface Workload {
  name: string;
  /** The first step only reads (is the marker there?) and gates the rest, as leap-second does. */
  markerGate?: { id: string; check: string };
  steps: BenchStep[];
}

const H = '"$BENCH_HOST_DIR"';
const MARKER = `${H}/leapsecond_marker`;

/** runbooks/leap-second.ts, cut to the four steps the issue measures. */
export const leap4: Workload = {
  name: 'leap4',
  markerGate: { id: 'marker-looked-up', check: `test -f ${MARKER}` },
  steps: [
    { id: 'ntp-stopped', title: 'stop ntpd', check: '! service ntpd status >/dev/null', apply: 'service ntpd stop', gated: true },
    { id: 'clock-reset', title: 'set the clock to itself', check: 'false', apply: 'date -s "$(date)"', gated: true, always: true },
    { id: 'marker-touched', title: 'touch the marker', check: `test -f ${MARKER}`, apply: `touch ${MARKER}`, gated: true },
  ],
};

/** Twenty independent config files, each written only when its content differs. */
export const steps20: Workload = {
  name: 'steps20',
  steps: Array.from({ length: 20 }, (_, i) => {
    const n = String(i + 1).padStart(2, '0');
    const file = `${H}/conf-${n}`;
    return { id: `conf-${n}`, title: `conf-${n} holds value=${n}`, check: `grep -qx value=${n} ${file} 2>/dev/null`, apply: `echo value=${n} > ${file}` };
  }),
};

export const workloads = { leap4, steps20 } as const;

/** Ansible: one `raw` task per step, the check folded into the task's shell so it prints CHANGED. */
export function playbook(w: Workload): string {
  const tasks: object[] = [];
  if (w.markerGate) {
    tasks.push({ name: w.markerGate.id, raw: `if ${w.markerGate.check}; then echo fixed; else echo due; fi`, register: 'marker', changed_when: false });
  }
  for (const s of w.steps) {
    tasks.push({
      name: s.id,
      raw: s.always ? `${s.apply} && echo CHANGED` : `if ${s.check}; then echo OK; else ${s.apply} && echo CHANGED; fi`,
      register: 'r',
      changed_when: "'CHANGED' in r.stdout",
      ...(s.gated ? { when: "'due' in marker.stdout" } : {}),
    });
  }
  // YAML is a superset of JSON: JSON.stringify quotes the shell text safely.
  return JSON.stringify([{ name: w.name, hosts: 'all', gather_facts: false, tasks }], null, 1) + '\n';
}

/** The floor: everything in one shell script, sent over one `ssh` per host. */
export function floorScript(w: Workload): string {
  const body = w.steps.map((s) => (s.always ? `${s.apply} >/dev/null` : `if ${s.check}; then :; else ${s.apply}; fi`)).join('\n');
  if (!w.markerGate) return body;
  return `if ${w.markerGate.check}; then echo fixed; else\n${body}\nfi`;
}
