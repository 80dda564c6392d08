/**
 * The xe classes the lab simulates: their fields in xapi's order (xen-api
 * ocaml/xapi-cli-server/records.ml, a subset), each field's access marker as `xe` prints it
 * (`( RO)`, `( RW)`, `(MRW)` map, `(SRO)` set …), the default columns of `<class>-list`
 * (cli_operations.ml gen_cmds), and the printer (cli_printer.ml multi_line_record).
 */
import { failure } from './errors.mjs';

/** @typedef {import('./store.mjs').PoolDb} PoolDb */
/** @typedef {{ name: string, mode: string, get?: (o: any, db: PoolDb) => any }} Field */

const NOT_IN_DB = '<not in database>';

/** name of an object by uuid, for the *-name-label columns */
const nameOf = (table, uuid) => table[uuid]?.['name-label'] ?? NOT_IN_DB;
const refOr = (table, uuid) => (uuid && table[uuid] ? uuid : NOT_IN_DB);
const values = (table) => Object.values(table);

/** @param {[string, string, ((o: any, db: PoolDb) => any)?][]} rows @returns {Field[]} */
const fields = (rows) => rows.map(([name, mode, get]) => ({ name, mode, get }));

const HOST = fields([
  ['uuid', 'RO'], ['name-label', 'RW'], ['name-description', 'RW'],
  ['allowed-operations', 'SRO'], ['current-operations', 'SRO'],
  ['enabled', 'RO'], ['API-version-major', 'RO'], ['API-version-minor', 'RO'],
  ['API-version-vendor', 'RO'], ['logging', 'MRW'], ['suspend-image-sr-uuid', 'RW'],
  ['crash-dump-sr-uuid', 'RW'], ['software-version', 'MRO'], ['capabilities', 'SRO'],
  ['other-config', 'MRW'], ['hostname', 'RO'], ['address', 'RO'],
  ['supported-bootloaders', 'SRO'], ['memory-total', 'RO'], ['memory-free', 'RO'],
  ['host-metrics-live', 'RO', (h, db) => String(h['host-metrics-live'] ?? 'true')],
  ['patches', 'SRO'], ['ha-statefiles', 'RO', (h) => (h['ha-statefiles'] ?? []).join('; ')],
  ['ha-network-peers', 'RO', (h) => (h['ha-network-peers'] ?? []).join('; ')],
  ['external-auth-type', 'RO'], ['edition', 'RO'], ['tags', 'SRW'],
  ['control-domain-uuid', 'RO', (h, db) => values(db.vm).find((v) => v['is-control-domain'] === 'true' && v['resident-on'] === h.uuid)?.uuid ?? NOT_IN_DB],
  ['resident-vms', 'SRO', (h, db) => values(db.vm).filter((v) => v['resident-on'] === h.uuid).map((v) => v.uuid)],
  // no `iscsi_iqn`/`multipathing` fields: XenServer 6.x keeps both in other-config (they came in 7.x)
]);

const VM = fields([
  ['uuid', 'RO'], ['name-label', 'RW'], ['name-description', 'RW'], ['user-version', 'RW'],
  ['is-a-template', 'RW'], ['is-default-template', 'RW'], ['is-a-snapshot', 'RO'], ['snapshot-of', 'RO'],
  ['snapshots', 'RO'], ['snapshot-time', 'RO'], ['parent', 'RO'], ['children', 'RO'],
  ['is-control-domain', 'RO'], ['power-state', 'RO'], ['memory-actual', 'RO'],
  ['memory-static-max', 'RW'], ['memory-dynamic-max', 'RW'], ['memory-dynamic-min', 'RW'],
  ['memory-static-min', 'RW'], ['VCPUs-params', 'MRW'], ['VCPUs-max', 'RW'], ['VCPUs-at-startup', 'RW'],
  ['actions-after-shutdown', 'RW'], ['actions-after-reboot', 'RW'], ['actions-after-crash', 'RW'],
  ['console-uuids', 'SRO'], ['platform', 'MRW'], ['allowed-operations', 'SRO'],
  ['current-operations', 'SRO'], ['blocked-operations', 'MRW'],
  ['HVM-boot-policy', 'RW'], ['HVM-boot-params', 'MRW'], ['HVM-shadow-multiplier', 'RW'],
  ['PV-kernel', 'RW'], ['PV-ramdisk', 'RW'], ['PV-args', 'RW'], ['PV-legacy-args', 'RW'],
  ['PV-bootloader', 'RW'], ['PV-bootloader-args', 'RW'], ['last-boot-CPU-flags', 'RO'],
  ['resident-on', 'RO', (v, db) => refOr(db.host, v['resident-on'])],
  ['affinity', 'RW', (v, db) => refOr(db.host, v.affinity)],
  ['other-config', 'MRW'], ['dom-id', 'RO'], ['recommendations', 'RO'], ['xenstore-data', 'MRW'],
  ['ha-always-run', 'RW'], ['ha-restart-priority', 'RW'], ['blobs', 'RO'], ['start-time', 'RO'],
  ['install-time', 'RO'], ['VCPUs-number', 'RO'], ['os-version', 'MRO'], ['PV-drivers-version', 'MRO'],
  ['memory', 'MRO'], ['disks', 'MRO'],
  ['VBDs', 'SRO', (v, db) => values(db.vbd).filter((b) => b['vm-uuid'] === v.uuid).map((b) => b.uuid)],
  ['networks', 'MRO'], ['PV-drivers-detected', 'RO'], ['other', 'MRO'], ['live', 'RO'],
  ['guest-metrics-last-updated', 'RO'], ['tags', 'SRW'], ['appliance', 'RW'],
  ['start-delay', 'RW'], ['shutdown-delay', 'RW'], ['order', 'RW'], ['version', 'RO'],
  ['generation-id', 'RO'], ['hardware-platform-version', 'RO'], ['has-vendor-device', 'RW'],
]);

const VBD = fields([
  ['uuid', 'RO'], ['vm-uuid', 'RO'], ['vm-name-label', 'RO', (b, db) => nameOf(db.vm, b['vm-uuid'])],
  ['vdi-uuid', 'RO', (b, db) => refOr(db.vdi, b['vdi-uuid'])],
  ['vdi-name-label', 'RO', (b, db) => (b.empty === 'true' ? '<EMPTY>' : nameOf(db.vdi, b['vdi-uuid']))],
  ['allowed-operations', 'SRO'], ['current-operations', 'SRO'], ['empty', 'RO'], ['device', 'RO'],
  ['userdevice', 'RW'], ['bootable', 'RW'], ['mode', 'RW'], ['type', 'RW'], ['unpluggable', 'RW'],
  ['currently-attached', 'RO'], ['storage-lock', 'RO'], ['status-code', 'RO'], ['status-detail', 'RO'],
  ['qos_algorithm_type', 'RW'], ['qos_algorithm_params', 'MRW'], ['qos_supported_algorithms', 'SRO'],
  ['other-config', 'MRW'],
]);

const VDI = fields([
  ['uuid', 'RO'], ['name-label', 'RW'], ['name-description', 'RW'], ['is-a-snapshot', 'RO'],
  ['snapshot-of', 'RO'], ['snapshots', 'RO'], ['snapshot-time', 'RO'], ['allowed-operations', 'SRO'],
  ['current-operations', 'SRO'], ['sr-uuid', 'RO'], ['sr-name-label', 'RO', (d, db) => nameOf(db.sr, d['sr-uuid'])],
  ['vbd-uuids', 'SRO', (d, db) => values(db.vbd).filter((b) => b['vdi-uuid'] === d.uuid).map((b) => b.uuid)],
  ['crashdump-uuids', 'SRO'], ['virtual-size', 'RO'], ['physical-utilisation', 'RO'], ['location', 'RO'],
  ['type', 'RO'], ['sharable', 'RO'], ['read-only', 'RO'], ['storage-lock', 'RO'], ['managed', 'RO'],
  ['parent', 'RO'], ['missing', 'RO'], ['is-tools-iso', 'RO'], ['other-config', 'MRW'], ['xenstore-data', 'MRO'],
  ['sm-config', 'MRO'], ['on-boot', 'RW'], ['allow-caching', 'RW'], ['metadata-latest', 'RO'],
  ['metadata-of-pool', 'RO'], ['tags', 'SRW'], ['cbt-enabled', 'RO'],
]);

const SR = fields([
  ['uuid', 'RO'], ['name-label', 'RW'], ['name-description', 'RW'],
  ['host', 'RO', (s, db) => (s.shared === 'true' ? '<shared>' : nameOf(db.host, values(db.pbd).find((p) => p['sr-uuid'] === s.uuid)?.['host-uuid']))],
  ['allowed-operations', 'SRO'], ['current-operations', 'SRO'],
  ['VDIs', 'SRO', (s, db) => values(db.vdi).filter((d) => d['sr-uuid'] === s.uuid).map((d) => d.uuid)],
  ['PBDs', 'SRO', (s, db) => values(db.pbd).filter((p) => p['sr-uuid'] === s.uuid).map((p) => p.uuid)],
  ['virtual-allocation', 'RO'], ['physical-utilisation', 'RO'], ['physical-size', 'RO'], ['type', 'RO'],
  ['content-type', 'RO'], ['shared', 'RW'], ['introduced-by', 'RO'], ['is-tools-sr', 'RO'],
  ['other-config', 'MRW'], ['sm-config', 'MRO'], ['blobs', 'RO'], ['local-cache-enabled', 'RO'], ['tags', 'SRW'],
]);

const PBD = fields([
  ['uuid', 'RO'], ['host', 'RO', (p) => p['host-uuid']], ['host-uuid', 'RO'],
  ['host-name-label', 'RO', (p, db) => nameOf(db.host, p['host-uuid'])], ['sr-uuid', 'RO'],
  ['sr-name-label', 'RO', (p, db) => nameOf(db.sr, p['sr-uuid'])], ['device-config', 'MRO'],
  ['currently-attached', 'RO'], ['other-config', 'MRW'],
]);

/** A PIF's MTU: its own other-config:mtu when set (XenServer 6.0's per-PIF override), else its network's. */
const pifMtu = (p, db) => p['other-config']?.mtu ?? db.network[p['network-uuid']]?.MTU ?? '1500';

PBD[1].deprecated = true; // records.ml marks PBD.host ~deprecated:true

const PIF = fields([
  ['uuid', 'RO'], ['device', 'RO'], ['MAC', 'RO'], ['physical', 'RO'], ['managed', 'RO'],
  ['currently-attached', 'RO'], ['MTU', 'RO', pifMtu], ['VLAN', 'RO'],
  ['bond-master-of', 'RO', (p, db) => values(db.bond).filter((b) => b.master === p.uuid).map((b) => b.uuid).join('; ')],
  ['bond-slave-of', 'RO', (p, db) => values(db.bond).find((b) => b.slaves.includes(p.uuid))?.uuid ?? NOT_IN_DB],
  ['management', 'RO'], ['network-uuid', 'RO'],
  ['network-name-label', 'RO', (p, db) => nameOf(db.network, p['network-uuid'])], ['host-uuid', 'RO'],
  ['host-name-label', 'RO', (p, db) => nameOf(db.host, p['host-uuid'])],
  ['IP-configuration-mode', 'RO'], ['IP', 'RO'], ['netmask', 'RO'], ['gateway', 'RO'],
  ['IPv6-configuration-mode', 'RO'], ['IPv6', 'RO'], ['IPv6-gateway', 'RO'], ['primary-address-type', 'RO'],
  ['DNS', 'RO'], ['properties', 'MRW'], ['capabilities', 'SRO'], ['carrier', 'RO'],
  ['vendor-id', 'RO'], ['vendor-name', 'RO'], ['device-id', 'RO'], ['device-name', 'RO'], ['speed', 'RO'],
  ['duplex', 'RO'], ['disallow-unplug', 'RW'], ['pci-bus-path', 'RO'], ['other-config', 'MRW'],
]);

const BOND = fields([
  ['uuid', 'RO'], ['master', 'RO'], ['slaves', 'RO', (b) => b.slaves.join('; ')], ['mode', 'RO'],
  ['properties', 'MRW'], ['primary-slave', 'RO'], ['links-up', 'RO'],
]);

const NETWORK = fields([
  ['uuid', 'RO'], ['name-label', 'RW'], ['name-description', 'RW'], ['VIF-uuids', 'SRO'],
  ['PIF-uuids', 'SRO', (n, db) => values(db.pif).filter((p) => p['network-uuid'] === n.uuid).map((p) => p.uuid)],
  ['MTU', 'RW'], ['bridge', 'RO'], ['managed', 'RO'], ['other-config', 'MRW'], ['blobs', 'RO'], ['tags', 'SRW'],
  ['default-locking-mode', 'RW'],
]);

const POOL = fields([
  ['uuid', 'RO'], ['name-label', 'RW'], ['name-description', 'RW'], ['master', 'RO'], ['default-SR', 'RW'],
  ['crash-dump-SR', 'RW'], ['suspend-image-SR', 'RW'], ['other-config', 'MRW'], ['allowed-operations', 'SRO'],
  ['current-operations', 'SRO'], ['ha-enabled', 'RO'],
  // ha-configuration and ha-statefiles are plain RO strings in records.ml (map/set printed inline)
  ['ha-configuration', 'RO', (p) => mapText(p['ha-configuration'] ?? {})],
  ['ha-statefiles', 'RO', (p) => (p['ha-statefiles'] ?? []).join('; ')],
  ['ha-host-failures-to-tolerate', 'RW'], ['ha-plan-exists-for', 'RO'], ['ha-allow-overcommit', 'RW'],
  ['ha-overcommitted', 'RO'], ['blobs', 'RO'], ['gui-config', 'MRW'], ['restrictions', 'RO'], ['tags', 'SRW'],
  ['license-state', 'RO'],
]);

/** pool_patch_record (records.ml): a hotfix uploaded to the pool and the hosts it is applied on. */
const PATCH = fields([
  ['uuid', 'RO'], ['name-label', 'RO'], ['name-description', 'RO'], ['size', 'RO'],
  // records.ml joins this set with ", " (not "; ")
  ['hosts', 'SRO', (p) => (p.hosts ?? []).join(', ')], ['after-apply-guidance', 'SRO', (p) => (p['after-apply-guidance'] ?? []).join(', ')],
]);

/** host_crashdump_record (records.ml): a crash dump xapi found in the host's /var/crash. */
const HOST_CRASHDUMP = fields([
  ['uuid', 'RO'], ['host-uuid', 'RO'], ['timestamp', 'RO'], ['size', 'RO'],
]);

/**
 * class name → table in the db, fields, default filters and default list columns
 * (cli_operations.ml gen_cmds).
 */
export const CLASS_SPECS = {
  host: { table: 'host', fields: HOST, filters: {}, columns: ['uuid', 'name-label', 'name-description'] },
  vm: { table: 'vm', fields: VM, filters: { 'is-a-template': 'false' }, columns: ['name-label', 'uuid', 'power-state'] },
  template: { table: 'vm', fields: VM, filters: { 'is-a-template': 'true', 'is-a-snapshot': 'false' }, columns: ['name-label', 'name-description', 'uuid'] },
  vbd: { table: 'vbd', fields: VBD, filters: {}, columns: ['uuid', 'vm-uuid', 'vm-name-label', 'vdi-uuid', 'device', 'empty'] },
  vdi: { table: 'vdi', fields: VDI, filters: {}, columns: ['uuid', 'name-label', 'name-description', 'virtual-size', 'read-only', 'sharable', 'sr-uuid'] },
  sr: { table: 'sr', fields: SR, filters: {}, columns: ['uuid', 'name-label', 'name-description', 'host', 'type', 'content-type'] },
  pbd: { table: 'pbd', fields: PBD, filters: {}, columns: ['uuid', 'host-uuid', 'sr-uuid', 'device-config', 'currently-attached'] },
  pif: { table: 'pif', fields: PIF, filters: {}, columns: ['uuid', 'device', 'VLAN', 'MAC', 'network-uuid', 'currently-attached', 'host-uuid'] },
  bond: { table: 'bond', fields: BOND, filters: {}, columns: ['uuid', 'master', 'slaves'] },
  network: { table: 'network', fields: NETWORK, filters: {}, columns: ['uuid', 'name-label', 'name-description', 'bridge'] },
  patch: { table: 'patch', fields: PATCH, filters: {}, columns: ['uuid', 'name-label', 'name-description', 'size', 'hosts', 'after-apply-guidance'] },
  'host-crashdump': { table: 'host_crashdump', fields: HOST_CRASHDUMP, filters: {}, columns: ['uuid', 'host-uuid', 'timestamp', 'size'] },
  pool: { table: 'pool', fields: POOL, filters: {}, columns: ['uuid', 'name-label', 'name-description', 'master', 'default-SR'] },
};

/** `k1: v1; k2: v2` — how records.ml prints a map (Record_util / String.concat "; "). */
export function mapText(map) {
  return Object.entries(map).map(([k, v]) => `${k}: ${v}`).join('; ');
}

/** The value of a field as xe prints it. */
export function fieldText(field, obj, db) {
  const raw = field.get ? field.get(obj, db) : obj[field.name];
  if (Array.isArray(raw)) return raw.join('; ');
  if (raw && typeof raw === 'object') return mapText(raw);
  return raw === undefined || raw === null ? '' : String(raw);
}

/** The raw value (map/set kept structured), for filters and param-get param-key=. */
export function fieldValue(field, obj, db) {
  const raw = field.get ? field.get(obj, db) : obj[field.name];
  if (field.mode.startsWith('M')) return raw ?? {};
  if (field.mode.startsWith('S')) return raw ?? [];
  return raw;
}

/** `name ( RO)`, `name (MRW)`, `name ( RO) [DEPRECATED]` … as print_field builds it. */
export function fieldLabel(field) {
  const mode = field.mode.length === 2 ? ` ${field.mode}` : field.mode;
  return `${field.name} (${mode})${field.deprecated ? ' [DEPRECATED]' : ''}`;
}

export function findField(spec, name) {
  return spec.fields.find((f) => f.name === name);
}

/**
 * The field a `key=value` selector or setter names: a plain field, or `map:key` (`other-config:x`),
 * or the old `map-key` form (get_field_type in cli_operations.ml).
 * @returns {{ field: Field, key?: string }}
 */
export function resolveField(spec, name) {
  const plain = findField(spec, name);
  if (plain) return { field: plain };
  const colon = name.indexOf(':');
  if (colon > 0) {
    const field = findField(spec, name.slice(0, colon));
    if (!field) throw failure(`Unknown field '${name}'`);
    if (!/^[MS]/.test(field.mode)) throw failure(`Field '${field.name}' is not a set or map`);
    return { field, key: name.slice(colon + 1) };
  }
  const mapField = spec.fields
    .filter((f) => /^[MS]/.test(f.mode))
    .sort((a, b) => b.name.length - a.name.length)
    .find((f) => name.startsWith(`${f.name}-`));
  if (mapField) return { field: mapField, key: name.slice(mapField.name.length + 1) };
  throw failure(`Unknown field '${name}'`);
}

/** Whether `obj` passes one `name=value` selector (filter_records_on_fields). */
export function matches(spec, obj, db, name, value) {
  const { field, key } = resolveField(spec, name);
  if (key === undefined) return fieldText(field, obj, db) === value;
  const raw = fieldValue(field, obj, db);
  if (field.mode.startsWith('S')) {
    if (key !== 'contains') throw failure('Invalid syntax for set filtering (should be set-param:contains=key)');
    return raw.includes(value);
  }
  return Object.hasOwn(raw, key) && raw[key] === value;
}

/**
 * One record as multi_line_record prints it: labels padded to (longest + 4), the first on the
 * right and the rest on the left, then ": value".
 * @param {[string, string][]} pairs
 */
export function recordText(pairs) {
  if (pairs.length === 0) return '';
  const width = 4 + Math.max(...pairs.map(([label]) => label.length));
  return pairs
    .map(([label, value], i) => `${i === 0 ? label.padEnd(width) : label.padStart(width)}: ${value}`)
    .join('\n') + '\n';
}

/**
 * The fields of `obj` to print: every field for params=all, the named ones (in record order) for
 * params=a,b, else the class's default columns (select_fields keeps record order).
 */
export function selectFields(spec, paramsArg, defaults = spec.columns) {
  const wanted = paramsArg === undefined ? defaults : paramsArg === 'all' ? null : paramsArg.split(',');
  return wanted === null ? spec.fields : spec.fields.filter((f) => wanted.includes(f.name));
}

/**
 * The output of a PTable: every record followed by a blank line, and xe's print_endline adds one
 * more (so two blank lines separate records); --minimal prints the first column, comma-joined.
 * @param {[string, string][][]} records
 */
export function tableText(records, minimal) {
  if (minimal) {
    const first = records.filter((r) => r.length > 0).map((r) => r[0][1].replace(/\\/g, '\\\\').replace(/,/g, '\\,'));
    return first.join(',') + '\n';
  }
  return records.map((r) => recordText(r) + '\n\n').join('');
}
