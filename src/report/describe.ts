import { z } from 'zod';
import type { Runbook, Step } from '../runbook/types.ts';

/** One field of a params or vars schema, as `describe` shows it. */
export interface FieldDoc {
  name: string;
  type: string;
  required: boolean;
  default?: unknown;
  description?: string;
}

/** Reads a zod object schema's fields through zod's JSON Schema view (types, defaults, descriptions). */
export function schemaFields(schema: z.ZodType | undefined): FieldDoc[] {
  if (!schema) return [];
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const required = new Set(json.required ?? []);
  return Object.entries(json.properties ?? {}).map(([name, prop]) => ({
    name, type: typeName(prop), required: required.has(name) && prop.default === undefined,
    default: prop.default, description: prop.description,
  }));
}

interface JsonSchema { type?: string | string[]; properties?: Record<string, JsonSchema>; required?: string[]; default?: unknown; description?: string; items?: JsonSchema; enum?: unknown[]; anyOf?: JsonSchema[]; format?: string }

function typeName(prop: JsonSchema): string {
  if (prop.enum) return prop.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (prop.anyOf) return prop.anyOf.map(typeName).join(' | ');
  if (prop.type === 'array') return `${prop.items ? typeName(prop.items) : 'any'}[]`;
  if (Array.isArray(prop.type)) return prop.type.join(' | ');
  return prop.format ? `${prop.type ?? 'any'} (${prop.format})` : prop.type ?? 'any';
}

const KIND_LABEL: Record<Step['kind'], string> = { action: 'step', assert: 'check', manual: 'MANUAL' };

/** Plain-text description for the terminal. */
export function describeText(runbook: Runbook): string {
  const lines = [`${runbook.name}: ${runbook.summary}`, ''];
  if (runbook.description) lines.push(runbook.description.trim(), '');
  lines.push(`hosts: ${runbook.hosts ?? 'all'}${runbook.oneHost ? ' (one per run: --limit HOST)' : ''}${runbook.serial !== undefined ? `   serial: ${runbook.serial}` : ''}`, '');
  lines.push(...fieldSection('params (--param k=v)', schemaFields(runbook.params)));
  lines.push(...fieldSection('host vars (from the inventory)', schemaFields(runbook.vars)));
  lines.push('steps:');
  runbook.steps.forEach((step, i) => {
    const on = typeof step.on === 'string' ? ` (on ${step.on})` : step.on ? ' (on another host)' : '';
    lines.push(`  ${String(i + 1).padStart(2)}. [${KIND_LABEL[step.kind]}] ${step.id}: ${step.title}${on}`);
    if (step.kind === 'manual') lines.push(...step.instructions.trim().split('\n').map((l) => `        ${l}`));
    else if (step.description) lines.push(...step.description.trim().split('\n').map((l) => `        ${l}`));
  });
  return `${lines.join('\n')}\n`;
}

function fieldSection(title: string, fields: FieldDoc[]): string[] {
  if (fields.length === 0) return [];
  return [`${title}:`, ...fields.map((f) => `  ${f.name}: ${f.type}${f.required ? ' (required)' : ''}${f.default !== undefined ? ` = ${JSON.stringify(f.default)}` : ''}${f.description ? ` — ${f.description}` : ''}`), ''];
}

/** The runbook as a Markdown checklist a change ticket can carry. */
export function describeMarkdown(runbook: Runbook): string {
  const out = [`# ${runbook.name}`, '', runbook.summary, ''];
  if (runbook.description) out.push(runbook.description.trim(), '');
  out.push(`- **Targets:** \`${runbook.hosts ?? 'all'}\`${runbook.oneHost ? ', one host per run (`--limit HOST`)' : ''}`);
  if (runbook.serial !== undefined) out.push(`- **Serial:** ${runbook.serial} host(s) at a time`);
  out.push('');
  out.push(...fieldTable('Params', schemaFields(runbook.params)), ...fieldTable('Host vars', schemaFields(runbook.vars)));
  out.push('## Checklist', '');
  runbook.steps.forEach((step, i) => out.push(...stepMarkdown(step, i)));
  out.push('## Sign-off', '', '- [ ] Dry-run reviewed (`runbook apply ' + runbook.name + ' --inventory … --dry-run`)', '- [ ] Run id: ____________  Operator: ____________  Date: ____________', '');
  return out.join('\n');
}

function fieldTable(title: string, fields: FieldDoc[]): string[] {
  if (fields.length === 0) return [];
  const rows = fields.map((f) => `| \`${f.name}\` | ${f.type.replace(/\|/g, '\\|')} | ${f.required ? 'yes' : 'no'} | ${f.default !== undefined ? `\`${JSON.stringify(f.default)}\`` : ''} | ${f.description ?? ''} |`);
  return [`## ${title}`, '', '| name | type | required | default | description |', '|---|---|---|---|---|', ...rows, ''];
}

function stepMarkdown(step: Step, index: number): string[] {
  const on = typeof step.on === 'string' ? ` _(on ${step.on})_` : step.on ? ' _(on another host)_' : '';
  const tag = step.kind === 'manual' ? ' **[manual]**' : step.kind === 'assert' ? ' _[check]_' : '';
  const lines = [`${index + 1}. [ ] **${step.title}**${tag}${on} — \`${step.id}\``];
  const body = step.kind === 'manual' ? step.instructions : step.description;
  if (body) lines.push(...body.trim().split('\n').map((l) => `   ${l}`));
  if (step.kind === 'manual' && step.evidence) {
    lines.push('   Evidence to record:');
    for (const f of schemaFields(step.evidence)) lines.push(`   - ${f.name} (${f.type})${f.description ? `: ${f.description}` : ''}: ____________`);
  }
  lines.push('');
  return lines;
}
