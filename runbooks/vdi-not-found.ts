/**
 * A VM that will not start with "This operation can't be performed because the specified virtual
 * disk could not be found" (xapi's VDI_MISSING), diagnosed down the storage stack in the order the
 * note on that error checks it, repairing only the layer a check shows broken:
 *
 *   "The VM was having its disk intact"            the VM's disks are VDIs xapi knows
 *   "The Storage was showing VM connected"         their SR is plugged on this host
 *   "On the LVM level, the VHD was active"         LV VHD-<vdi> in VG_XenStorage-<sr>: present, active
 *   "Even the VHD scan was coming all true"        vhd-util check on the LV
 *   "A rescan of shared storage was successful"    xe sr-scan, so xapi stops marking the VDI missing
 *   "try ejecting the iso file … and fire it up"   the CD's ISO, when its SR is gone; then vm-start
 *
 * The layout (VG_XenStorage-*, LVs holding VHDs, `lvs`) is the note on LVM over iSCSI's. Rewriting a
 * VHD footer (`vhd-util repair`) is the one destructive repair: an operator confirms a copy of the
 * LV exists first. A missing LV is not repaired at all: the run stops and says to restore it.
 */
import { change, cmd, defineRunbook, manual, noop, xe, z } from '../src/index.ts';
import type { Shell } from '../src/index.ts';

const params = z.object({
  vm: z.string().min(1).describe('the VM that does not start (name-label or uuid)'),
});

/** What the helpers below read of a step's context (every step's ctx is one). */
interface Ctx { sh: Shell; host: { name: string }; params: z.output<typeof params> }

const LVM_SRS = ['lvm', 'lvmoiscsi', 'lvmohba'];
const NOT_IN_DB = '<not in database>';

interface Disk { vbd: string; userdevice: string; vdi: string; sr: string; srType: string; name: string; missing: boolean }

/** The device of a VDI's LV on an LVM SR (the note on LVM over iSCSI: VG_XenStorage-<sr>). */
const lvDevice = (d: Disk): string => `/dev/VG_XenStorage-${d.sr}/VHD-${d.vdi}`;

async function vmUuid(ctx: Ctx): Promise<string> {
  return (await xe.vm(ctx.sh, ctx.params.vm)).uuid;
}

/** The VM's disks (not its CD) with their VDI and SR as xapi has them; vdi is NOT_IN_DB when xapi lost it. */
async function disks(ctx: Ctx): Promise<Disk[]> {
  const vbds = await xe.list(ctx.sh, 'vbd', { 'vm-uuid': await vmUuid(ctx), type: 'Disk' }, ['uuid', 'userdevice', 'vdi-uuid']);
  return Promise.all(vbds.map(async (b) => {
    const vdi = b.text('vdi-uuid');
    const base = { vbd: b.uuid, userdevice: b.text('userdevice'), vdi, sr: '', srType: '', name: '', missing: true };
    if (vdi === NOT_IN_DB) return base;
    const [record] = await xe.list(ctx.sh, 'vdi', { uuid: vdi }, ['uuid', 'name-label', 'sr-uuid', 'missing']);
    const sr = record.text('sr-uuid');
    return { ...base, sr, srType: (await xe.sr(ctx.sh, sr)).type, name: record.text('name-label'), missing: record.bool('missing') };
  }));
}

const lvmDisks = async (ctx: Ctx): Promise<Disk[]> => (await disks(ctx)).filter((d) => LVM_SRS.includes(d.srType));

/** `lvs --noheadings -o lv_name,lv_attr VG`: LV name → active (the attr's fifth letter is `a`). */
async function volumes(sh: Shell, sr: string): Promise<Map<string, boolean>> {
  const out = await sh`lvs --noheadings -o lv_name,lv_attr ${`VG_XenStorage-${sr}`}`.text();
  return new Map(out.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 2).map(([lv, attr]) => [lv, attr[4] === 'a']));
}

/** `vhd-util check -n DEV`: valid, or the tool's own words. Throws when the device cannot be opened. */
async function vhdCheck(sh: Shell, device: string): Promise<{ valid: boolean; detail: string }> {
  const result = await sh`vhd-util check -n ${device}`.nothrow();
  if (/error opening/.test(result.stdout + result.stderr)) throw new Error(`vhd-util cannot open ${device}: is its LV active?`);
  return { valid: result.code === 0, detail: result.stdout.trim().split('\n')[0] ?? '' };
}

async function invalidVhds(ctx: Ctx): Promise<{ disk: Disk; detail: string }[]> {
  const found: { disk: Disk; detail: string }[] = [];
  for (const disk of await lvmDisks(ctx)) {
    const { valid, detail } = await vhdCheck(ctx.sh, lvDevice(disk));
    if (!valid) found.push({ disk, detail });
  }
  return found;
}

/** This host's PBDs of the SRs the VM's disks are on, with whether each is attached. */
async function diskPbds(ctx: Ctx) {
  const me = await xe.host(ctx.sh, ctx.host.name);
  const srs = [...new Set((await disks(ctx)).map((d) => d.sr).filter(Boolean))];
  return (await Promise.all(srs.map((sr) => xe.pbds(ctx.sh, { host: me.uuid, sr })))).flat();
}

/** The ISO in the VM's CD drive, and whether this host can read it (not missing, its SR plugged here). */
async function cdIso(ctx: Ctx): Promise<{ name: string; available: boolean; sr: string } | null> {
  const [cd] = await xe.list(ctx.sh, 'vbd', { 'vm-uuid': await vmUuid(ctx), type: 'CD' }, ['uuid', 'empty', 'vdi-uuid']);
  if (!cd || cd.bool('empty')) return null;
  const vdi = cd.text('vdi-uuid');
  if (vdi === NOT_IN_DB) return { name: 'an ISO xapi no longer knows', available: false, sr: '' };
  const [record] = await xe.list(ctx.sh, 'vdi', { uuid: vdi }, ['name-label', 'sr-uuid', 'missing']);
  const me = await xe.host(ctx.sh, ctx.host.name);
  const plugged = (await xe.pbds(ctx.sh, { host: me.uuid, sr: record.text('sr-uuid') })).some((p) => p.currentlyAttached);
  const sr = (await xe.sr(ctx.sh, record.text('sr-uuid'))).nameLabel;
  return { name: record.text('name-label'), available: plugged && !record.bool('missing'), sr };
}

export default defineRunbook({
  name: 'vdi-not-found',
  summary: 'a VM that fails to start with "the specified virtual disk could not be found": check each storage layer, repair only what is broken, eject a stale ISO, start it (the VDI-not-found and LVM over iSCSI notes)',
  description: [
    'Follows the note on the XenServer error "This operation can\'t be performed because the specified',
    'virtual disk could not be found" (VDI_MISSING), and the note on LVM over iSCSI for the storage',
    'layout. --param vm=NAME --limit HOST: the storage is checked, and the VM started, on HOST (one',
    'host per run). In the order the note checks them: the VM\'s disks are VDIs xapi knows; their SR is',
    'plugged on the host (`xe pbd-plug` if not); each disk\'s LV VHD-<vdi> is in VG_XenStorage-<sr>',
    '(`lvs`) and active (`lvchange -ay` if not); its VHD is valid (`vhd-util check`; a repair rewrites',
    'the VHD footer and waits for an operator to confirm a copy of the LV exists); xapi does not mark',
    'it missing (`xe sr-scan` if it does). Then the note\'s own fix: an ISO in the VM\'s CD drive whose',
    'SR this host cannot read is ejected (`xe vm-cd-eject`), and the VM is started here (`xe',
    'vm-start`). Only a layer a check shows broken is touched. A disk whose VDI xapi lost, or whose LV',
    'is gone, stops the run: restore it from a backup or SAN snapshot.',
  ].join('\n'),
  hosts: 'xenservers',
  oneHost: true,
  params,
}).steps([
  {
    kind: 'assert',
    id: 'disks-known',
    title: 'the VM\'s disks are VDIs xapi knows',
    description: 'The note: "The VM was having its disk intact as shown in the VM tab". `xe vbd-list vm-uuid=… type=Disk` and `xe vdi-list` for each: a VBD whose VDI is not in the database has nothing left to repair here.',
    async check(ctx) {
      const all = await disks(ctx);
      const lost = all.filter((d) => d.vdi === NOT_IN_DB).map((d) => `disk ${d.userdevice} (VBD ${d.vbd})`);
      if (lost.length) return change(`xapi no longer knows the VDI of ${lost.join(', ')}: restore the disk from a backup`);
      if (all.length === 0) return change(`${ctx.params.vm} has no disks`);
      return noop(`${all.length} disk(s): ${all.map((d) => `${d.userdevice}: ${d.name} on a ${d.srType} SR`).join(', ')}`);
    },
  },
  {
    kind: 'action',
    id: 'srs-plugged',
    title: 'the disks\' SR is plugged on this host',
    description: 'The note: "The Storage was showing VM connected to its Vdisk". This host\'s PBD of each SR the VM\'s disks are on is attached; `xe pbd-plug` for one that is not.',
    async check(ctx) {
      const unplugged = (await diskPbds(ctx)).filter((p) => !p.currentlyAttached);
      return unplugged.length ? change(`${unplugged.length} PBD(s) not attached on ${ctx.host.name}`) : noop(`the SR is plugged on ${ctx.host.name}`);
    },
    commands: async (ctx) => (await diskPbds(ctx)).filter((p) => !p.currentlyAttached).map((p) => cmd`xe pbd-plug ${`uuid=${p.uuid}`}`),
  },
  {
    kind: 'assert',
    id: 'lvs-present',
    title: 'each disk\'s LV is in the SR\'s volume group',
    description: 'The note on LVM over iSCSI: `lvs` shows the VHDs as LVs of VG_XenStorage-<sr>. An LV that is gone cannot be repaired here: restore it.',
    async check(ctx) {
      const gone: string[] = [];
      for (const d of await lvmDisks(ctx)) if (!(await volumes(ctx.sh, d.sr)).has(`VHD-${d.vdi}`)) gone.push(`VHD-${d.vdi} (${d.name})`);
      return gone.length
        ? change(`LV ${gone.join(', ')} is gone from its volume group: restore the disk from a backup or SAN snapshot`)
        : noop('every disk\'s LV is in its volume group');
    },
  },
  {
    kind: 'action',
    id: 'lvs-active',
    title: 'each disk\'s LV is active on this host',
    description: 'The note: "On the LVM level, the VHD was active". `lvs` attr `-wi-a-`; `lvchange -ay /dev/VG_XenStorage-<sr>/VHD-<vdi>` for an inactive one (activation only: nothing on the disk changes).',
    async check(ctx) {
      const inactive: string[] = [];
      for (const d of await lvmDisks(ctx)) if ((await volumes(ctx.sh, d.sr)).get(`VHD-${d.vdi}`) === false) inactive.push(`VHD-${d.vdi}`);
      return inactive.length ? change(`inactive on ${ctx.host.name}: ${inactive.join(', ')}`) : noop(`every disk's LV is active on ${ctx.host.name}`);
    },
    async commands(ctx) {
      const out = [];
      for (const d of await lvmDisks(ctx)) if ((await volumes(ctx.sh, d.sr)).get(`VHD-${d.vdi}`) === false) out.push(cmd`lvchange -ay ${lvDevice(d)}`);
      return out;
    },
  },
  manual({
    id: 'vhd-repair-approved',
    title: 'approve rewriting a damaged VHD footer',
    description: 'Asked only when `vhd-util check` finds a VHD invalid: `vhd-util repair` rewrites the VHD\'s footer on the shared LUN from its backup copy. That is the one destructive repair here, so an operator first makes sure a copy of the LV exists.',
    instructions: 'With the VM halted, take a copy of the damaged LV (a SAN snapshot of the LUN, or `dd if=/dev/VG_XenStorage-<sr>/VHD-<vdi> of=<file on another SR>`), then confirm with where the copy is.',
    evidence: z.object({ copy: z.string().min(1).describe('where the copy of the LV is') }),
    async check(ctx) {
      const invalid = await invalidVhds(ctx);
      return invalid.length ? change(`invalid: ${invalid.map((i) => `${lvDevice(i.disk)} (${i.detail})`).join(', ')}`) : noop('every VHD is valid: nothing to repair');
    },
  }),
  {
    kind: 'action',
    id: 'vhds-valid',
    title: 'each disk\'s VHD is valid',
    description: 'The note: "Even the VHD scan was coming all true". `vhd-util check -n DEV`; `vhd-util repair -n DEV` for an invalid one, once the step before was confirmed.',
    async check(ctx) {
      const invalid = await invalidVhds(ctx);
      return invalid.length ? change(`invalid VHD: ${invalid.map((i) => i.disk.name).join(', ')}`) : noop('every VHD is valid');
    },
    commands: async (ctx) => (await invalidVhds(ctx)).map((i) => cmd`vhd-util repair -n ${lvDevice(i.disk)}`),
  },
  {
    kind: 'action',
    id: 'vdis-not-missing',
    title: 'xapi does not mark the disks missing',
    description: 'The note: "A rescan of shared storage was successful". A VDI xapi marks missing (its `missing` field) is found again by `xe sr-scan uuid=<sr>` once its LV and VHD are sound.',
    async check(ctx) {
      const missing = (await disks(ctx)).filter((d) => d.missing).map((d) => d.name);
      return missing.length ? change(`xapi marks ${missing.join(', ')} missing`) : noop('no disk is marked missing');
    },
    commands: async (ctx) => [...new Set((await disks(ctx)).filter((d) => d.missing).map((d) => d.sr))].map((sr) => cmd`xe sr-scan ${`uuid=${sr}`}`),
  },
  {
    kind: 'action',
    id: 'stale-iso-ejected',
    title: 'no ISO this host cannot read in the VM\'s CD drive',
    description: 'The note\'s fix, once everything above is sound: "try ejecting the iso file from your CD/DVD drive of VM and fire it up". Ejected only when the ISO\'s SR is not plugged on this host or xapi marks it missing (e.g. the tools ISO SR of an older release after an upgrade); a readable ISO stays.',
    async check(ctx) {
      const iso = await cdIso(ctx);
      if (!iso) return noop('the CD drive is empty');
      return iso.available ? noop(`${iso.name} is inserted and readable`) : change(`the CD drive holds ${iso.name}${iso.sr ? ` from SR ${iso.sr}` : ''}, which ${ctx.host.name} cannot read`);
    },
    commands: async (ctx) => [cmd`xe vm-cd-eject ${`uuid=${await vmUuid(ctx)}`}`],
  },
  {
    kind: 'action',
    id: 'vm-started',
    title: 'the VM is running',
    description: 'The note: "fire it up": `xe vm-start uuid=… on=<this host>`, the start that failed before.',
    async check(ctx) {
      const vm = await xe.vm(ctx.sh, ctx.params.vm);
      return vm.powerState === 'running' ? noop(`${vm.nameLabel} is running`) : change(`${vm.nameLabel} is ${vm.powerState}`);
    },
    commands: async (ctx) => [cmd`xe vm-start ${`uuid=${await vmUuid(ctx)}`} ${`on=${ctx.host.name}`}`],
  },
]);
