import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RunEvent, RunEventInput } from '../../src/engine/events.ts';
import type { Step } from '../../src/runbook/types.ts';
import { HumanReporter } from '../../src/report/human.ts';

/**
 * A fake terminal (or pipe): keeps what was written and replays the live area's own erase
 * sequence (cursor up n lines, clear to end) to show what is on screen now.
 */
class FakeOut {
  written = '';
  readonly columns = 160;
  readonly rows = 40;
  constructor(readonly isTTY: boolean) {}
  write(s: string): void { this.written += s; }
  screen(): string[] {
    const lines: string[] = [];
    for (const part of this.written.split(/(\u001b\[\d+A\u001b\[0J)/)) {
      const erase = /^\u001b\[(\d+)A/.exec(part);
      if (erase) lines.splice(lines.length - Number(erase[1]));
      else lines.push(...part.split('\n').slice(0, -1));
    }
    return lines.map((l) => l.replace(/\u001b\[\d+m/g, '')); // colours off: the text is what is asserted
  }
}

const STEPS = ['prepare', 'reboot', 'verify'].map((id) => ({ id, kind: 'action', title: id })) as unknown as Step[];
const event = (e: RunEventInput): RunEvent => ({ ...e, time: new Date().toISOString() }) as RunEvent;
const runStart = (hosts: string[]) => event({ kind: 'run-start', runId: 'R1', runbook: 'rb', hosts, dryRun: false });
const stepStart = (host: string, step: string) => event({ kind: 'step-start', host, step, title: step, attempt: 1 });
const stepResult = (host: string, step: string, durationMs: number) => event({ kind: 'step-result', host, step, title: step, status: 'changed', reason: 'done', durationMs });
const hostEnd = (host: string) => event({ kind: 'host-end', host, status: 'changed', durationMs: 1 });

describe('HumanReporter progress', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('on a terminal: each running host shows its step n/m and time in it; a footer shows hosts done/total and elapsed', () => {
    const out = new FakeOut(true);
    const view = new HumanReporter(out, { steps: STEPS });
    view.emit(runStart(['xs-01', 'xs-02']));
    view.emit(stepStart('xs-01', 'prepare'));
    view.emit(stepStart('xs-02', 'prepare'));
    vi.advanceTimersByTime(1000);
    view.emit(stepResult('xs-01', 'prepare', 1000));
    view.emit(stepStart('xs-01', 'reboot'));
    vi.advanceTimersByTime(2000);
    const screen = out.screen();
    expect(screen).toContainEqual(expect.stringMatching(/^xs-01\s+… reboot step 2\/3 · 2\.0s$/));
    expect(screen).toContainEqual(expect.stringMatching(/^xs-02\s+… prepare step 1\/3 · 3\.0s$/));
    expect(screen.at(-1)).toBe('── hosts done 0/2 · running 2 · elapsed 3.0s');

    view.emit(hostEnd('xs-02'));
    vi.advanceTimersByTime(500);
    expect(out.screen().at(-1)).toBe('── hosts done 1/2 · running 1 · elapsed 3.5s');
    view.close();
  });

  it('while a prompt holds the terminal nothing redraws and lines wait; on release they print and the live area returns', () => {
    const out = new FakeOut(true);
    const view = new HumanReporter(out, { steps: STEPS });
    view.emit(runStart(['xs-01', 'xs-02']));
    view.emit(stepStart('xs-02', 'reboot'));
    vi.advanceTimersByTime(600);
    expect(out.screen().some((l) => l.includes('… reboot'))).toBe(true);

    const release = view.hold();
    out.write('Done? [y = confirm / n = leave waiting] '); // what the prompt writes
    const held = out.written;
    view.emit(stepResult('xs-02', 'reboot', 5000));
    vi.advanceTimersByTime(5000);
    expect(out.written).toBe(held); // not one byte over the prompt: no redraw, no line
    expect(out.screen().some((l) => l.includes('… reboot'))).toBe(false);

    out.written += 'y\n'; // the operator's answer ends the prompt, then it lets go
    release();
    expect(out.screen()).toContainEqual(expect.stringMatching(/^xs-02\s+reboot\s+changed\s+done 5\.0s$/));
    vi.advanceTimersByTime(600);
    expect(out.screen().at(-1)).toMatch(/^── hosts done 0\/2/);
    view.close();
  });

  it('in a pipe: a line per finished step, and a "still running" line at most once per host per 30 s', () => {
    const out = new FakeOut(false);
    const view = new HumanReporter(out, { steps: STEPS });
    view.emit(runStart(['xs-01']));
    view.emit(stepStart('xs-01', 'reboot'));
    vi.advanceTimersByTime(29_999);
    expect(out.written).not.toContain('still running');
    vi.advanceTimersByTime(1);
    expect(out.screen().at(-1)).toMatch(/^xs-01\s+… reboot still running \(step 2\/3 · 30\.0s\)$/);
    vi.advanceTimersByTime(60_000);
    expect(out.written.match(/still running/g)).toHaveLength(3);
    view.emit(stepResult('xs-01', 'reboot', 90_000));
    expect(out.screen().at(-1)).toMatch(/^xs-01\s+reboot\s+changed\s+done 1m30s$/);
    vi.advanceTimersByTime(120_000);
    expect(out.written.match(/still running/g)).toHaveLength(3);
    expect(out.written).not.toContain('\u001b['); // no cursor movement in a pipe
    view.close();
  });

  it('in a pipe at fleet scale: one summary line per period, not a line per host', () => {
    const out = new FakeOut(false);
    const view = new HumanReporter(out, { steps: STEPS });
    const hosts = Array.from({ length: 1000 }, (_, i) => `xs-${String(i).padStart(4, '0')}`);
    view.emit(runStart(hosts));
    for (const host of hosts) view.emit(stepStart(host, host < 'xs-0100' ? 'prepare' : 'reboot'));
    for (const host of hosts.slice(0, 10)) view.emit(hostEnd(host));
    const before = out.screen().length;
    vi.advanceTimersByTime(30_000);
    const added = out.screen().slice(before);
    expect(added).toEqual(['… 990 hosts still running a step for over 30.0s (reboot ×900, prepare ×90) · hosts done 10/1000 · running 990 · elapsed 30.0s']);
    view.close();
  });
});

describe('HumanReporter on a dry-run (issue 17)', () => {
  it('a failed check "would fail", the RECAP says "would change", never "changed", and exit is non-zero', () => {
    const out = new FakeOut(false);
    const view = new HumanReporter(out, { steps: STEPS, diff: true });
    view.emit(event({ kind: 'run-start', runId: 'R2', runbook: 'rb', hosts: ['xs-01', 'xs-02'], dryRun: true }));
    view.emit(event({ kind: 'step-result', host: 'xs-01', step: 'prepare', title: 'prepare', status: 'would-change', reason: 'content differs', durationMs: 1, diff: '--- /etc/motd\n+++ /etc/motd\n@@ -1 +1 @@\n-old\n+new\n' }));
    view.emit(event({ kind: 'step-result', host: 'xs-02', step: 'prepare', title: 'prepare', status: 'failed', reason: 'assertion failed: pool has no quorum', durationMs: 1 }));
    view.emit(event({ kind: 'host-end', host: 'xs-01', status: 'changed', durationMs: 1 }));
    view.emit(event({ kind: 'host-end', host: 'xs-02', status: 'failed', durationMs: 1 }));
    view.emit(event({ kind: 'run-end', runId: 'R2', status: 'failed', exitCode: 2, durationMs: 1, hosts: { 'xs-01': 'changed', 'xs-02': 'failed' } }));
    view.close();
    const screen = out.screen();
    expect(screen).toContainEqual(expect.stringMatching(/^xs-02\s+prepare\s+WOULD FAIL\s+assertion failed: pool has no quorum/));
    expect(screen).toContainEqual(expect.stringMatching(/^\s+-old$/));
    expect(screen).toContainEqual(expect.stringMatching(/^\s+\+new$/));
    expect(screen).toContainEqual(expect.stringMatching(/^xs-01\s+: ok=0\s+would change=1 .* would change$/));
    expect(screen).toContainEqual(expect.stringMatching(/^xs-02\s+: .*would fail=1 .* would fail$/));
    expect(screen.join('\n')).not.toMatch(/changed=|\bchanged$/m);
    expect(screen).toContainEqual('dry-run finished: some hosts would fail (nothing was changed) in 1ms (exit 2)');
  });
});
