import type { StepStatus } from '../engine/events.ts';
import { planOutlook, type Plan, type PlannedStep } from '../plan/file.ts';

const WORDS: Partial<Record<StepStatus, string>> = {
  ok: 'ok', 'would-change': 'would change', 'may-change': 'may change', failed: 'would fail', skipped: 'skipped', unreachable: 'unreachable',
};
const word = (status: StepStatus): string => WORDS[status] ?? status;

/**
 * A saved plan for a reader: `text` for the terminal, `md` for a change ticket (a header table,
 * then per host each step's result, reason, exact commands and content diff).
 * @example io.stdout.write(renderPlan(plan, 'md', new Date()))
 */
export function renderPlan(plan: Plan, format: 'text' | 'md', now: Date): string {
  return format === 'md' ? markdown(plan, now) : text(plan, now);
}

function validity(plan: Plan, now: Date): string {
  if (!plan.expiresAt) return 'no expiry';
  return now.getTime() >= Date.parse(plan.expiresAt) ? `EXPIRED at ${plan.expiresAt}: apply refuses it` : `valid until ${plan.expiresAt}`;
}

function headerRows(plan: Plan, now: Date): Array<[string, string]> {
  const { changes, failures } = planOutlook(plan);
  const params = Object.entries(plan.params).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ') || '(none)';
  return [
    ['runbook', `${plan.runbook.name} (${plan.runbook.file})`],
    ['runbook sha256', plan.runbook.sha256],
    ['inventory', `${plan.inventory.ref} (${plan.inventory.source})${plan.limit ? `, --limit ${plan.limit}` : ''}`],
    ['hosts', plan.hostOrder.join(', ')],
    ['params', params],
    ['planned by', `${plan.createdBy} on ${plan.machine} at ${plan.createdAt}`],
    ['validity', validity(plan, now)],
    ['outlook', `${changes} change(s) pending${failures ? `, ${failures} step(s) would fail` : ''}`],
    ['plan sha256', plan.sha256],
    ['dry-run journal', `runbook show ${plan.dryRunId}`],
  ];
}

function text(plan: Plan, now: Date): string {
  const lines = [`PLAN ${plan.runbook.name}`, ...headerRows(plan, now).map(([k, v]) => `  ${k.padEnd(16)} ${v}`), ''];
  for (const host of plan.hostOrder) {
    lines.push(`${host}: ${plan.hosts[host]?.status ?? 'not planned'}`);
    for (const step of plan.hosts[host]?.steps ?? []) {
      lines.push(`  ${step.id.padEnd(24)} ${word(step.status).padEnd(12)} ${step.reason}`);
      for (const command of step.commands ?? []) lines.push(`      $ ${command}`);
      for (const line of step.diff?.trimEnd().split('\n') ?? []) lines.push(`      ${line}`);
    }
  }
  lines.push('', 'apply exactly this plan: runbook apply PLANFILE');
  return `${lines.join('\n')}\n`;
}

/** Text in a Markdown table cell: pipes escaped, one line. */
const cell = (value: string): string => value.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function markdown(plan: Plan, now: Date): string {
  const out = [`# Plan: ${plan.runbook.name}`, '', '| | |', '|---|---|', ...headerRows(plan, now).map(([k, v]) => `| ${k} | ${cell(v)} |`), ''];
  for (const host of plan.hostOrder) {
    out.push(`## ${host} — ${plan.hosts[host]?.status ?? 'not planned'}`, '', '| step | result | reason |', '|---|---|---|');
    const steps = plan.hosts[host]?.steps ?? [];
    for (const step of steps) out.push(`| ${cell(step.id)} | ${word(step.status)} | ${cell(step.reason)} |`);
    out.push('');
    for (const step of steps.filter((s) => s.commands?.length || s.diff)) out.push(...stepDetail(step));
  }
  out.push('Apply exactly this plan with `runbook apply PLANFILE`; a host whose checks no longer match it stops as stale.', '');
  return out.join('\n');
}

function stepDetail(step: PlannedStep): string[] {
  const lines = [`### ${step.id}: ${step.title}`, ''];
  if (step.commands?.length) lines.push('```sh', ...step.commands, '```', '');
  if (step.diff) lines.push('```diff', step.diff.trimEnd(), '```', '');
  return lines;
}
