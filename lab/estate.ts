/**
 * The lab's estate: which hosts exist (read from an Ansible YAML inventory, inventory/lab.yaml by
 * default), which of them `lab up --hosts` picks or clones, the generated inventory with the real
 * ports, and each host's seeded state folder. The only lab module that parses YAML: the real
 * inventory loader lives in src/inventory.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { InventoryError, UsageError } from '../src/errors.ts';
import { labPaths, writeFileAtomic, type LabHostConfig, type LabRole } from './server/config.ts';
import { newBootId } from './server/keys.ts';
import { importSim } from './server/sim.ts';

export { importSim };
import { seedRoleFiles, SERVICES_BY_ROLE } from './server/seed-files.ts';

/** An Ansible YAML inventory group, as parsed. */
interface YamlGroup {
  hosts?: Record<string, Record<string, unknown> | null> | null;
  vars?: Record<string, unknown> | null;
  children?: Record<string, YamlGroup | null> | null;
}
type YamlInventory = Record<string, YamlGroup | null>;

/** A parsed estate: its hosts in file order and the document, kept to write the generated inventory. */
export interface Estate {
  file: string;
  hosts: LabHostConfig[];
  document: YamlInventory;
}

const ROLES: LabRole[] = ['xenserver', 'ubuntu-guest', 'windows'];

/** Reads an estate file. Example: `readEstate('inventory/lab.yaml').hosts[0].name === 'xs-01'`. */
export function readEstate(file: string): Estate {
  const document = (YAML.parse(readFileSync(file, 'utf8')) ?? {}) as YamlInventory;
  const graph = new Map<string, GroupNode>();
  const hostOrder: string[] = [];
  for (const [name, group] of Object.entries(document)) collectGroup(name, group, undefined, graph, hostOrder);
  const hosts = hostOrder.map((name) => finishHost(resolveHost(name, graph), file));
  return { file, hosts, document };
}

/** A group with every occurrence merged: `pool-a:` under `storage` is the same group as the full one. */
interface GroupNode {
  hosts: Map<string, Record<string, unknown>>;
  vars: Record<string, unknown>;
  parents: Set<string>;
}

function collectGroup(name: string, group: YamlGroup | null, parent: string | undefined, graph: Map<string, GroupNode>, hostOrder: string[]): void {
  const node = graph.get(name) ?? { hosts: new Map(), vars: {}, parents: new Set<string>() };
  graph.set(name, node);
  if (parent) node.parents.add(parent);
  Object.assign(node.vars, group?.vars ?? {});
  for (const [host, vars] of Object.entries(group?.hosts ?? {})) {
    node.hosts.set(host, { ...(node.hosts.get(host) ?? {}), ...(vars ?? {}) });
    if (!hostOrder.includes(host)) hostOrder.push(host);
  }
  for (const [child, childGroup] of Object.entries(group?.children ?? {})) collectGroup(child, childGroup, name, graph, hostOrder);
}

/** Ansible's precedence: all < shallower groups < deeper groups (ties by name) < the host's own vars. */
function resolveHost(name: string, graph: Map<string, GroupNode>): LabHostConfig {
  const ancestors = new Set<string>();
  const climb = (group: string) => {
    if (ancestors.has(group)) return;
    ancestors.add(group);
    for (const parent of graph.get(group)?.parents ?? []) climb(parent);
  };
  for (const [group, node] of graph) if (node.hosts.has(name)) climb(group);
  const depth = (group: string): number => Math.max(0, ...[...(graph.get(group)?.parents ?? [])].map((p) => depth(p) + 1));
  const ordered = [...ancestors].sort((a, b) => depth(a) - depth(b) || a.localeCompare(b));
  const vars: Record<string, unknown> = { ...(graph.get('all')?.vars ?? {}) };
  for (const group of ordered) Object.assign(vars, graph.get(group)!.vars);
  for (const group of ordered) Object.assign(vars, graph.get(group)!.hosts.get(name) ?? {});
  return { name, role: 'xenserver', port: 0, vars, groups: ordered.filter((g) => g !== 'all') };
}

function finishHost(host: LabHostConfig, file: string): LabHostConfig {
  const role = host.vars.lab_role as LabRole;
  if (!ROLES.includes(role)) throw new InventoryError(`host ${host.name}: lab_role must be one of ${ROLES.join(', ')}`, file);
  const pool = role === 'xenserver' && typeof host.vars.xen_pool === 'string' ? host.vars.xen_pool : undefined;
  return { ...host, role, pool, port: Number(host.vars.ansible_port ?? 0) };
}

/** Expands Ansible's range pattern: `xs-[01:03]` → xs-01, xs-02, xs-03 (zero padding kept). */
export function expandRange(term: string): string[] {
  const match = /^(.*)\[(\d+):(\d+)\](.*)$/.exec(term);
  if (!match) return [term];
  const [, prefix, from, to, suffix] = match as unknown as [string, string, string, string, string];
  const names: string[] = [];
  for (let i = Number(from); i <= Number(to); i++) names.push(`${prefix}${String(i).padStart(from.length, '0')}${suffix}`);
  return names;
}

/**
 * Picks the hosts `--hosts SPEC` names: host names, group names and ranges, comma-separated.
 * A name the estate lacks is cloned from the estate host with the same stem (xs-42 from xs-01),
 * which is how `xs-[01:50]` builds a 50-host pool for the benchmark. No spec: every host.
 * Ports: portBase + position (0 = the server picks free ports).
 */
export function selectHosts(estate: Estate, spec: string | undefined, portBase: number): LabHostConfig[] {
  const names = spec ? spec.split(',').flatMap((term) => expandRange(term.trim())).filter(Boolean) : estate.hosts.map((h) => h.name);
  const picked = new Map<string, LabHostConfig>();
  for (const name of names) {
    for (const host of resolveName(estate, name)) if (!picked.has(host.name)) picked.set(host.name, host);
  }
  return [...picked.values()].map((host, index) => ({ ...host, port: portBase === 0 ? 0 : portBase + index }));
}

function resolveName(estate: Estate, name: string): LabHostConfig[] {
  const known = estate.hosts.find((host) => host.name === name);
  if (known) return [structuredClone(known)];
  const members = estate.hosts.filter((host) => host.groups.includes(name));
  if (members.length > 0) return structuredClone(members);
  const stem = (s: string) => s.replace(/\d+/g, '');
  const template = estate.hosts.find((host) => stem(host.name) === stem(name));
  if (!template) throw new UsageError(`--hosts: no host, group or host like "${name}" in ${estate.file}`);
  // A clone has its template's groups and group vars, not its addresses.
  const vars = structuredClone(template.vars);
  for (const key of Object.keys(ownHostVars(estate.document, template.name))) delete vars[key];
  return [{ ...structuredClone(template), name, vars: { ...vars, lab_cloned_from: template.name } }];
}

/**
 * The inventory the lab really serves: the estate's groups and vars, only the running hosts
 * (clones added beside their templates), their bound ports and the absolute client key path.
 */
export function renderInventory(estate: Estate, hosts: LabHostConfig[], keyPath: string): string {
  const document = structuredClone(estate.document);
  const byName = new Map(hosts.map((host) => [host.name, host]));
  const visit = (group: YamlGroup | null) => {
    if (!group) return;
    if (group.hosts) group.hosts = renderGroupHosts(group.hosts, hosts, byName);
    for (const child of Object.values(group.children ?? {})) visit(child);
  };
  for (const group of Object.values(document)) visit(group);
  const all = (document.all ??= {});
  all.vars = { ...(all.vars ?? {}), ansible_host: '127.0.0.1', ansible_ssh_private_key_file: keyPath };
  const header = `# Generated by \`runbook lab up\` from ${estate.file}: the lab's hosts and their real ports.\n`;
  return header + YAML.stringify(document, { aliasDuplicateObjects: false });
}

function renderGroupHosts(
  entries: Record<string, Record<string, unknown> | null>,
  hosts: LabHostConfig[],
  byName: Map<string, LabHostConfig>,
): Record<string, Record<string, unknown> | null> {
  const rendered: Record<string, Record<string, unknown>> = {};
  // In the lab's order, so clones sit in sequence (xs-01 … xs-50) rather than after their template.
  for (const host of hosts) {
    const template = host.vars.lab_cloned_from as string | undefined;
    if (host.name in entries) rendered[host.name] = { ...(entries[host.name] ?? {}), ansible_port: byName.get(host.name)!.port };
    else if (template && template in entries) rendered[host.name] = { ansible_port: host.port, lab_cloned_from: template };
  }
  return rendered;
}

/** The vars written under a host itself (not its groups) anywhere in the document. */
function ownHostVars(document: YamlInventory, name: string): Record<string, unknown> {
  const found: Record<string, unknown> = {};
  const visit = (group: YamlGroup | null) => {
    Object.assign(found, group?.hosts?.[name] ?? {});
    for (const child of Object.values(group?.children ?? {})) visit(child);
  };
  for (const group of Object.values(document)) visit(group);
  return found;
}

/** Writes a host's fresh state folder for its role (wiping what was there). */
export function seedHost(labRoot: string, host: LabHostConfig): void {
  const dir = labPaths(labRoot).hostDir(host.name);
  rmSync(dir, { recursive: true, force: true });
  for (const sub of ['tmp', 'boot', 'root', 'etc/init.d', '.overlay/etc', '.overlay/var/lib', 'var/lib/dpkg', 'var/lib/runbook', 'var/log', 'proc', 'power', 'services', 'clock']) {
    mkdirSync(join(dir, sub), { recursive: true });
  }
  // /tmp is world-writable with the sticky bit, as on a real host.
  chmodSync(join(dir, 'tmp'), 0o1777);
  writeFileSync(join(dir, 'proc', 'boot_id'), `${newBootId()}\n`);
  writeFileSync(join(dir, 'power', 'state'), 'running\n');
  writeFileSync(join(dir, 'clock', 'offset'), '0\n');
  writeFileSync(join(dir, 'mutations.jsonl'), '');
  writeFileSync(join(dir, 'etc', 'hostname'), `${host.name}\n`);
  writeFileSync(join(dir, 'host.json'), JSON.stringify(host, null, 2) + '\n');
  for (const service of SERVICES_BY_ROLE[host.role]) writeFileSync(join(dir, 'services', service), 'running\n');
  seedRoleFiles(dir, host);
}

/** Seeds every host folder that does not exist yet, then each pool database LabB's seeder knows. */
export async function seedMissing(labRoot: string, repoRoot: string, hosts: LabHostConfig[]): Promise<void> {
  for (const host of hosts) {
    if (!existsSync(join(labPaths(labRoot).hostDir(host.name), 'host.json'))) seedHost(labRoot, host);
  }
  const pools = new Set(hosts.flatMap((host) => (host.pool ? [host.pool] : [])));
  for (const pool of pools) {
    if (existsSync(join(labPaths(labRoot).pools, `${pool}.json`))) continue;
    const seeder = await importSim(repoRoot, 'seed.mjs');
    const related = hosts.filter((host) => host.pool === pool || host.vars.xen_pool === pool);
    await seeder?.seedPool?.(labRoot, pool, related);
  }
}

/** Writes `text` to the host's folder path `rel` (helper for tests and the reinstall path). */
export function writeHostFile(labRoot: string, host: string, rel: string, text: string): void {
  writeFileAtomic(join(labPaths(labRoot).hostDir(host), rel), text);
}
