#!/usr/bin/env node
/**
 * The storage layer under an LVM-based SR (lvmoiscsi: "LVM over iSCSI", the notes' VG_XenStorage-*
 * volume groups) as a XenServer host sees it: one volume group `VG_XenStorage-<sr uuid>` per SR,
 * one logical volume `VHD-<vdi uuid>` per VDI, each holding a VHD. Three tools, as LVM2 2.02
 * (XenServer 6.x's CentOS 5 dom0) and blktap's vhd-util print them:
 *
 *   lvs [--noheadings] [-o lv_name,vg_name,lv_attr,lv_size] [VG | VG/LV | /dev/VG/LV …]
 *   lvchange -ay|-an /dev/VG/LV | VG/LV          (activation on this host; logged)
 *   vhd-util check -n DEV | vhd-util repair -n DEV   (repair logged)
 *
 * The LVs are the pool database's VDIs on LVM SRs; what differs from "present, active, valid" is
 * kept in $LAB_ROOT/xen/lvm.json, per VDI: { gone, corrupt, inactiveOn: [hosts] } (set by the
 * lab's `vdi-broken` fault). An LV's device exists on a host only where it is active.
 */
import { join } from 'node:path';
import { labEnv, logMutation, readJson, withFileLock, writeJsonAtomic } from '../../bin/_lib.mjs';
import { loadPool } from './store.mjs';

const LVM_SR_TYPES = ['lvm', 'lvmoiscsi', 'lvmohba'];
export const lvmStatePath = (labRoot) => join(labRoot, 'xen', 'lvm.json');
export const loadLvm = (labRoot) => readJson(lvmStatePath(labRoot), {});

/** Read-modify-write of lvm.json under its lock. */
export function updateLvm(labRoot, fn) {
  const path = lvmStatePath(labRoot);
  return withFileLock(`${path}.flock`, () => {
    const state = readJson(path, {});
    const result = fn(state);
    writeJsonAtomic(path, state);
    return result;
  });
}

/** Every LV this host can see: the VDIs of the pool's LVM SRs whose LV was not removed. */
export function logicalVolumes(labRoot, db, host) {
  const lvm = loadLvm(labRoot);
  return Object.values(db.vdi)
    .filter((vdi) => LVM_SR_TYPES.includes(db.sr[vdi['sr-uuid']]?.type) && !lvm[vdi.uuid]?.gone)
    .map((vdi) => ({
      vdi: vdi.uuid, vg: `VG_XenStorage-${vdi['sr-uuid']}`, lv: `VHD-${vdi.uuid}`,
      // a VHD LV is its virtual size plus the VHD metadata, rounded up to LVM's 4 MiB extents
      bytes: Math.ceil((Number(vdi['virtual-size']) + 8 * 2 ** 20) / 2 ** 22) * 2 ** 22,
      active: !(lvm[vdi.uuid]?.inactiveOn ?? []).includes(host), corrupt: !!lvm[vdi.uuid]?.corrupt,
    }));
}

/** `8.01g`-style sizes, as lvs prints with its default --units h in LVM2 2.02 (lowercase, 2 decimals). */
const human = (bytes) => {
  const units = ['k', 'm', 'g', 't'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return `${value.toFixed(2)}${units[unit]}`;
};

const COLUMNS = { lv_name: ['LV', (l) => l.lv], vg_name: ['VG', (l) => l.vg], lv_attr: ['Attr', (l) => `-wi-${l.active ? 'a' : '-'}-`], lv_size: ['LSize', (l) => human(l.bytes)] };

/** `/dev/VG/LV`, `VG/LV` or `VG` → { vg, lv? } */
function target(arg) {
  const parts = arg.replace(/^\/dev\//, '').split('/');
  return { vg: parts[0], lv: parts[1] };
}

function lvs(ctx, argv) {
  let headings = true;
  let fields = ['lv_name', 'vg_name', 'lv_attr', 'lv_size'];
  const names = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--noheadings') headings = false;
    else if (argv[i] === '-o' || argv[i] === '--options') fields = argv[++i].split(',');
    else if (!argv[i].startsWith('-')) names.push(target(argv[i]));
  }
  for (const f of fields) if (!COLUMNS[f]) return fail(`  Unrecognised field: ${f}`, 3);
  let rows = ctx.lvs;
  if (names.length) {
    for (const n of names) if (!ctx.lvs.some((l) => l.vg === n.vg)) return fail(`  Volume group "${n.vg}" not found`, 5);
    rows = ctx.lvs.filter((l) => names.some((n) => n.vg === l.vg && (!n.lv || n.lv === l.lv)));
    if (names.some((n) => n.lv && !rows.some((l) => l.lv === n.lv))) return fail('  One or more specified logical volume(s) not found.', 5);
  }
  const table = rows.map((l) => fields.map((f) => COLUMNS[f][1](l)));
  if (headings) table.unshift(fields.map((f) => COLUMNS[f][0]));
  const widths = fields.map((_, i) => Math.max(...table.map((r) => r[i].length)));
  return { out: table.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i])).join(' ').trimEnd()}\n`).join('') };
}

function lvchange(ctx, argv) {
  const activate = argv.find((a) => /^-a[yn]$/.test(a) || a === '--available');
  const names = argv.filter((a) => !a.startsWith('-') && a !== 'y' && a !== 'n').map(target);
  if (!activate || names.length === 0) return fail('  Need 1 or more of -a, -C, -j, -m, -M, -p, -r, --resync, --refresh, --alloc, --addtag, --deltag\n  Run `lvchange --help\' for more information.', 3);
  const found = names.map((n) => ctx.lvs.find((l) => l.vg === n.vg && l.lv === n.lv));
  if (found.some((l) => !l)) return fail('  One or more specified logical volume(s) not found.', 5);
  const on = activate === '-ay';
  updateLvm(ctx.root, (state) => {
    for (const l of found) {
      const entry = (state[l.vdi] ??= {});
      const others = (entry.inactiveOn ?? []).filter((h) => h !== ctx.host);
      entry.inactiveOn = on ? others : [...others, ctx.host];
    }
  });
  logMutation(['lvchange', ...argv]);
  return { out: '' };
}

/** blktap's vhd-util: check (read-only) and repair (rewrites the primary footer from its backup copy). */
function vhdUtil(ctx, argv) {
  const [verb] = argv;
  const nameAt = argv.indexOf('-n');
  const name = nameAt >= 0 ? argv[nameAt + 1] : undefined;
  if (!['check', 'repair'].includes(verb) || !name) return fail('usage: vhd-util COMMAND [-h help]\nCOMMAND := { create | snapshot | query | check | read | set | repair | resize | fill | coalesce | modify | scan | revert }', 22);
  const { vg, lv } = target(name);
  const volume = ctx.lvs.find((l) => l.vg === vg && l.lv === lv);
  // the device node exists only where the LV is active
  if (!volume || !volume.active) return fail(`error opening ${name}: -2`, 254);
  if (verb === 'check') {
    return volume.corrupt
      ? { out: `primary footer invalid: invalid cookie\n${name} appears invalid; dumping metadata\n`, code: 234 }
      : { out: `${name} is valid\n` };
  }
  updateLvm(ctx.root, (state) => { if (state[volume.vdi]) state[volume.vdi].corrupt = false; });
  logMutation(['vhd-util', ...argv]);
  return { out: '' };
}

const fail = (message, code) => ({ err: `${message}\n`, code });

function main() {
  const env = labEnv();
  const db = env.pool ? loadPool(env.root, env.pool) : undefined;
  const [tool, ...argv] = process.argv.slice(2);
  const ctx = { root: env.root, host: env.host, lvs: db ? logicalVolumes(env.root, db, env.host) : [] };
  const result = { lvs, lvchange, 'vhd-util': vhdUtil }[tool](ctx, argv);
  if (result.out) process.stdout.write(result.out);
  if (result.err) process.stderr.write(result.err);
  process.exitCode = result.code ?? 0;
}

// run as a tool (lab/bin/lvs …), not when xe.mjs imports it
if (process.argv[1]?.endsWith('lvm.mjs')) main();
