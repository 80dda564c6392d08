/**
 * The per-class commands every xe class gets (cli_operations.ml make_param_funs):
 * <class>-list, -param-list, -param-get, -param-set, -param-add, -param-remove, -param-clear.
 */
import { apiError, failure, invalidUuid, missingParam } from './errors.mjs';
import { CLASS_SPECS, fieldText, fieldValue, findField, fieldLabel, matches, resolveField, selectFields, tableText } from './records.mjs';

/** @typedef {import('./context.mjs').XeContext} XeContext */

/** Parameters every command accepts that are never field selectors (cli_operations.ml stdparams). */
export const STD_PARAMS = ['server', 'password', 'port', 'username', 'minimal', 'force', 'multiple', 'all', 'message-priority', 'trace'];

/** API class names as UUID_INVALID reports them. */
const API_CLASS = { host: 'host', vm: 'VM', template: 'VM', vbd: 'VBD', vdi: 'VDI', sr: 'SR', pbd: 'PBD', pif: 'PIF', bond: 'Bond', network: 'network', pool: 'pool', patch: 'pool_patch', 'host-crashdump': 'host_crashdump' };

/** All objects of a class (the pool table is one object). */
export function objectsOf(db, spec) {
  // (a pool database written before a class joined the lab has no table for it: none of them)
  return spec.table === 'pool' ? [db.pool] : Object.values(db[spec.table] ?? {});
}

/** The object with this uuid, or UUID_INVALID as get_by_uuid raises it. */
export function byUuid(db, cls, uuid) {
  const spec = CLASS_SPECS[cls];
  const found = objectsOf(db, spec).find((o) => o.uuid === uuid);
  if (!found) throw invalidUuid(API_CLASS[cls], uuid);
  return found;
}

export function required(params, name) {
  if (params[name] === undefined) throw missingParam(name);
  return params[name];
}

/**
 * Objects passing the class's default filters and every selector on the command line.
 * @param {string[]} ignore parameters that are not selectors (params=, op arguments)
 */
export function select(db, cls, params, ignore = []) {
  const spec = CLASS_SPECS[cls];
  const selectors = { ...spec.filters };
  for (const [k, v] of Object.entries(params)) {
    if (!STD_PARAMS.includes(k) && !ignore.includes(k) && !k.startsWith('database:')) selectors[k] = v;
  }
  let objs = objectsOf(db, spec);
  for (const [k, v] of Object.entries(selectors)) {
    if (objs.length === 0) break;
    objs = objs.filter((o) => matches(spec, o, db, k, v));
  }
  return objs;
}

/** @param {XeContext} ctx */
function list(cls, ctx, db) {
  const spec = CLASS_SPECS[cls];
  const objs = select(db, cls, ctx.params, ['params']);
  const chosen = selectFields(spec, ctx.params.params);
  const records = objs.map((o) => chosen.map((f) => [fieldLabel(f), fieldText(f, o, db)]));
  ctx.out.push(tableText(/** @type {any} */ (records), ctx.minimal));
}

/** @param {XeContext} ctx */
function paramList(cls, ctx, db) {
  const spec = CLASS_SPECS[cls];
  const obj = byUuid(db, cls, required(ctx.params, 'uuid'));
  const records = [spec.fields.map((f) => [fieldLabel(f), fieldText(f, obj, db)])];
  ctx.out.push(tableText(/** @type {any} */ (records), ctx.minimal));
}

/** @param {XeContext} ctx */
function paramGet(cls, ctx, db) {
  const spec = CLASS_SPECS[cls];
  const obj = byUuid(db, cls, required(ctx.params, 'uuid'));
  const name = required(ctx.params, 'param-name');
  const field = findField(spec, name);
  if (!field) throw failure(`Unknown field '${name}'`);
  const key = ctx.params['param-key'];
  if (key !== undefined && field.mode.startsWith('M')) {
    const map = fieldValue(field, obj, db);
    if (!Object.hasOwn(map, key)) throw failure(`Key ${key} not found in map`);
    ctx.out.push(`${map[key]}\n`);
    return;
  }
  ctx.out.push(`${fieldText(field, obj, db)}\n`);
}

/**
 * Field-specific checks and side effects of a write, keyed `class.field`. A check throws the
 * error xapi gives; the value returned is what gets stored.
 * @type {Record<string, (value: string, obj: any, db: any) => string>}
 */
const WRITE_RULES = {
  'vbd.bootable': boolRule('bootable'),
  'vbd.unpluggable': boolRule('unpluggable'),
  'sr.shared': boolRule('shared'),
  'vm.is-a-template': boolRule('is-a-template'),
  'network.MTU': (value, network, db) => {
    if (!/^\d+$/.test(value)) throw failure('Parameter MTU must be an integer');
    const mtu = Number(value);
    if (mtu < 68 || mtu > 65535) throw apiError('INTERNAL_ERROR', `MTU ${value} is not in the valid range`);
    // the network's MTU now governs its PIFs: a per-PIF other-config:mtu (XenServer 6.0 style) is dropped
    for (const pif of Object.values(db.pif)) {
      if (pif['network-uuid'] !== network.uuid || !pif['other-config']?.mtu) continue;
      const { mtu: _old, ...rest } = pif['other-config'];
      pif['other-config'] = rest;
    }
    return String(mtu);
  },
};

function boolRule(name) {
  return (value) => {
    const v = value.toLowerCase();
    if (['true', 'yes', 'on', '1'].includes(v)) return 'true';
    if (['false', 'no', 'off', '0'].includes(v)) return 'false';
    throw failure(`Parameter ${name} must be a boolean (true or false)`);
  };
}

/** One `name=value` or `map:key=value` write (p_set in make_param_funs). */
export function setField(cls, obj, db, name, value) {
  const spec = CLASS_SPECS[cls];
  const { field, key } = resolveField(spec, name);
  if (key !== undefined) {
    if (field.mode.startsWith('S')) throw failure('Cannot param-set on set fields');
    if (field.mode !== 'MRW') throw failure(`Map field '${field.name}' is read-only.`);
    obj[field.name] = { ...(obj[field.name] ?? {}), [key]: value };
    return;
  }
  if (field.mode.length === 3) throw failure(`Field '${name}' is a map or set. use the 'name:key=value' syntax.`);
  if (field.mode !== 'RW') throw failure(`Field '${name}' is read-only.`);
  const rule = WRITE_RULES[`${spec.table}.${field.name}`];
  obj[field.name] = rule ? rule(value, obj, db) : value;
}

/** @param {XeContext} ctx */
function paramSet(cls, ctx, db) {
  const obj = byUuid(db, cls, required(ctx.params, 'uuid'));
  for (const [k, v] of Object.entries(ctx.params)) {
    if (k !== 'uuid' && !STD_PARAMS.includes(k)) setField(cls, obj, db, k, v);
  }
}

/** @param {XeContext} ctx */
function paramRemove(cls, ctx, db) {
  const spec = CLASS_SPECS[cls];
  const obj = byUuid(db, cls, required(ctx.params, 'uuid'));
  const name = required(ctx.params, 'param-name');
  const key = required(ctx.params, 'param-key');
  const field = findField(spec, name);
  if (!field) throw failure(`Unknown field '${name}'`);
  if (field.mode === 'MRW') {
    if (!Object.hasOwn(obj[name] ?? {}, key)) throw failure(`Key ${key} is not in map`);
    const { [key]: _gone, ...rest } = obj[name];
    obj[name] = rest;
  } else if (field.mode === 'SRW') {
    obj[name] = (obj[name] ?? []).filter((x) => x !== key);
  } else {
    throw failure(`Field ${name} is read-only.`);
  }
}

/** @param {XeContext} ctx */
function paramAdd(cls, ctx, db) {
  const spec = CLASS_SPECS[cls];
  const obj = byUuid(db, cls, required(ctx.params, 'uuid'));
  const name = required(ctx.params, 'param-name');
  const field = findField(spec, name);
  if (!field) throw failure(`Unknown field '${name}'`);
  if (field.mode === 'SRW') {
    const key = ctx.params['param-key'];
    if (key === undefined) throw failure('When adding a key to a set, use the syntax: *-param-add param-name=<name> param-key=<key>');
    if (!(obj[name] ?? []).includes(key)) obj[name] = [...(obj[name] ?? []), key];
  } else if (field.mode === 'MRW') {
    for (const [k, v] of Object.entries(ctx.params)) {
      if (!['uuid', 'param-name', 'param-key', ...STD_PARAMS].includes(k)) obj[name] = { ...(obj[name] ?? {}), [k]: v };
    }
  } else {
    throw failure('Parameter is read-only');
  }
}

/** @param {XeContext} ctx */
function paramClear(cls, ctx, db) {
  const spec = CLASS_SPECS[cls];
  const obj = byUuid(db, cls, required(ctx.params, 'uuid'));
  const name = required(ctx.params, 'param-name');
  const field = findField(spec, name);
  if (!field) throw failure(`Unknown field '${name}'`);
  if (field.mode === 'MRW') obj[name] = {};
  else if (field.mode === 'SRW') obj[name] = [];
  else if (field.mode === 'RW') setField(cls, obj, db, name, '');
  else throw failure(`Cannot clear parameter '${name}'`);
}

/**
 * The generic commands, keyed by name: { run(ctx, db), mutating }.
 * @returns {Record<string, { run: (ctx: XeContext, db: any) => void, mutating: boolean }>}
 */
export function genericCommands() {
  /** @type {Record<string, any>} */
  const table = {};
  for (const cls of Object.keys(CLASS_SPECS)) {
    table[`${cls}-list`] = { run: (ctx, db) => list(cls, ctx, db), mutating: false };
    table[`${cls}-param-list`] = { run: (ctx, db) => paramList(cls, ctx, db), mutating: false, reqd: ['uuid'] };
    table[`${cls}-param-get`] = { run: (ctx, db) => paramGet(cls, ctx, db), mutating: false, reqd: ['uuid', 'param-name'] };
    table[`${cls}-param-set`] = { run: (ctx, db) => paramSet(cls, ctx, db), mutating: true, reqd: ['uuid'] };
    table[`${cls}-param-add`] = { run: (ctx, db) => paramAdd(cls, ctx, db), mutating: true, reqd: ['uuid', 'param-name'] };
    table[`${cls}-param-remove`] = { run: (ctx, db) => paramRemove(cls, ctx, db), mutating: true, reqd: ['uuid', 'param-name', 'param-key'] };
    table[`${cls}-param-clear`] = { run: (ctx, db) => paramClear(cls, ctx, db), mutating: true, reqd: ['uuid', 'param-name'] };
  }
  return table;
}
