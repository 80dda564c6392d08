/**
 * The lab's initial XenServer estate, built from the inventory: a pool of XenServer hosts (bonded
 * management network with MTU 1500, two storage NICs on separate subnets, never bonded — the iSCSI multipath notes),
 * a shared lvmoiscsi SR reached over two multipath paths, HA on with the 120 s timeout the HA and XenApp cloning notes
 * recommends, and the guest VMs (the Ubuntu guest in HVM mode, the HVM-to-PV guide; the Windows XenApp server).
 *
 * Host vars read (all optional; inventory/lab.yaml sets most): management_ip, storage_ips (one per
 * portal), pool_master (the master's host name, or true on it; else the first host),
 * iscsi_portals, iscsi_target_iqn, pool_password, ha_enabled (false to seed HA off), ha_timeout,
 * dom0_tools (xs6: the CentOS 5 dom0's multipath/iscsiadm output formats; default modern);
 * guests: vm_name_label.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { emptyPool, hostDir, hostStatePath, newUuid, poolDbPath, readJson, writeJson } from './store.mjs';
import { DEFAULT_ARRAY, addSession, loadArray, recordNodes, saveArray } from './storage.mjs';
import { addVdi, haOn } from './xe-ops.mjs';
import { syncXhadConf } from './ha-daemon.mjs';
import { bootKernLog } from './crash.mjs';

/** @typedef {{ name: string, role: string, vars?: Record<string, any> }} InventoryHost */

/**
 * XenServer 6.1.0: the release whose bonded management network breaks with MTU 9000 (the leap-second and bonding notes)
 * and whose dom0 ships multipath-tools 0.4.9 (the `multipath -ll` format simulated here).
 */
const SOFTWARE_VERSION = { product_version: '6.1.0', product_brand: 'XenServer', build_number: '59235p', xapi: '1.3', xen: '4.1.3', linux: '2.6.32.43-0.4.1.xs1.6.10.734.170748xen', xencenter_min: '1.10', xencenter_max: '1.10' };

const mac = () => Array.from({ length: 6 }, (_, i) => (i === 0 ? 0 : Math.floor(Math.random() * 256))).map((b) => b.toString(16).padStart(2, '0')).join(':');
const subnetOf = (ip) => ip.split('.').slice(0, 3).join('.');

/**
 * Creates pools/<poolName>.json and each XenServer host's local state; returns the db.
 * @param {string} labRoot @param {string} poolName @param {InventoryHost[]} hosts
 */
export function seedPool(labRoot, poolName, hosts) {
  const servers = hosts.filter((h) => h.role === 'xenserver');
  if (servers.length === 0) throw new Error(`pool ${poolName} has no xenserver hosts`);
  const vars = (h) => h.vars ?? {};
  const master = servers.find((h) => [h.name, 'true'].includes(String(vars(h).pool_master))) ?? servers[0];
  const array = arrayFrom(servers.map(vars));
  saveArray(labRoot, array);
  const db = emptyPool(poolName, '');
  db.lab.password = String(servers.map(vars).find((v) => v.pool_password)?.pool_password ?? 'xenroot');
  const networks = addPoolNetworks(db, array);
  const sharedSr = addSharedSr(db, array);
  servers.forEach((server, index) => {
    const address = String(vars(server).management_ip ?? `10.0.0.${11 + index}`);
    const uuid = addHost(db, server.name, address, networks, { bonded: true, storageIps: storageIps(array, index, vars(server)), array });
    addSharedPbd(db, sharedSr, uuid, array);
    if (server === master) db.pool.master = uuid;
    saveHostState(labRoot, server.name, poolName, uuid, { master: server === master, address, storageIps: storageIps(array, index, vars(server)), array });
  });
  const masterAddress = Object.values(db.host).find((h) => h.uuid === db.pool.master).address;
  for (const server of servers) if (server !== master) setHostState(labRoot, server.name, { masterAddress });
  db.pool['default-SR'] = sharedSr;
  addHotfixes(db, servers.map((s) => Object.values(db.host).find((h) => h.labHost === s.name).uuid));
  for (const guest of [...hosts.filter((h) => h.role !== 'xenserver'), ...orphanGuests(labRoot, poolName, hosts)]) addGuestVm(db, guest, sharedSr);
  const ha = String(vars(master).ha_enabled) !== 'false';
  if (ha) haOn(db, sharedSr, { timeout: String(vars(master).ha_timeout ?? 120) });
  for (const server of servers) setHostState(labRoot, server.name, { haArmed: ha });
  for (const server of servers) syncXhadConf(labRoot, db, server.name, ha);
  for (const server of servers) writeBootKernLog(labRoot, server.name);
  writeJson(poolDbPath(labRoot, poolName), db);
  return db;
}

/**
 * Guest machines of the lab that name no pool (inventory/lab.yaml's Windows XenApp server): they
 * become VMs of the first pool by name, so `xe vm-copy` of the gold image has a VM to copy.
 * Read from the host folders the lab seeds before the pools (`hosts/<host>/host.json`).
 */
function orphanGuests(labRoot, poolName, given) {
  let configs = [];
  try {
    configs = readdirSync(join(labRoot, 'hosts')).map((h) => readJson(join(labRoot, 'hosts', h, 'host.json'))).filter(Boolean);
  } catch {
    return [];
  }
  const pools = [...new Set(configs.map((c) => c.pool ?? c.vars?.xen_pool).filter(Boolean))].sort();
  if (pools.length > 0 && pools[0] !== poolName) return [];
  return configs.filter((c) => c.role !== 'xenserver' && !c.vars?.xen_pool && !given.some((g) => g.name === c.name));
}

/** The array the inventory describes; an EqualLogic target gets EqualLogic's SCSI identity. */
function arrayFrom(allVars) {
  const portals = allVars.map((v) => v.iscsi_portals ?? v.storage_portals).find(Boolean);
  const target = String(allVars.map((v) => v.iscsi_target_iqn ?? v.iscsi_target).find(Boolean) ?? DEFAULT_ARRAY.target);
  const equallogic = /equallogic/i.test(target);
  const luns = equallogic ? [{ lun: 0, wwid: '36090a028a0c6f1b5d8c4e5f6a7b8c9d0', size: '500G', vendor: 'EQLOGIC', product: '100E-00' }] : DEFAULT_ARRAY.luns;
  const tools = allVars.some((v) => String(v.dom0_tools) === 'xs6') ? 'xs6' : 'modern';
  return { ...DEFAULT_ARRAY, portals: portals ? [...portals].map(String) : DEFAULT_ARRAY.portals, target, luns, tools };
}

/** A storage NIC per portal: the host's storage_ips, else the portal's subnet .21, .22, … by host. */
const storageIps = (array, index, hostVars = {}) =>
  Object.fromEntries(array.portals.map((portal, j) => [`eth${2 + j}`, String(hostVars.storage_ips?.[j] ?? `${subnetOf(portal)}.${21 + index}`)]));

function addNetwork(db, name, bridge) {
  const uuid = newUuid();
  db.network[uuid] = { uuid, 'name-label': name, 'name-description': '', MTU: '1500', bridge, managed: 'true', 'other-config': {}, tags: [], 'default-locking-mode': 'unlocked', 'VIF-uuids': [] };
  return uuid;
}

/** @returns {Record<string, string>} device → network uuid, plus 'bond0' */
function addPoolNetworks(db, array) {
  const nets = {};
  for (let i = 0; i < 2 + array.portals.length; i++) nets[`eth${i}`] = addNetwork(db, `Pool-wide network associated with eth${i}`, `xenbr${i}`);
  nets.bond0 = addNetwork(db, 'Bond 0+1', 'xapi1');
  return nets;
}

function addPif(db, hostUuid, device, network, ip = {}) {
  const uuid = newUuid();
  db.pif[uuid] = {
    uuid, device, MAC: mac(), physical: String(device.startsWith('eth')), managed: 'true', 'currently-attached': 'true',
    VLAN: '-1', management: 'false', 'network-uuid': network, 'host-uuid': hostUuid, 'IP-configuration-mode': 'None',
    IP: '', netmask: '', gateway: '', 'IPv6-configuration-mode': 'None', IPv6: '', 'IPv6-gateway': '',
    'primary-address-type': 'IPv4', DNS: '', properties: {}, capabilities: [], carrier: 'true', 'vendor-name': 'Intel Corporation',
    'device-name': '82576 Gigabit Network Connection', speed: '1000 Mbit/s', duplex: 'full', 'disallow-unplug': 'false', 'other-config': {}, ...ip,
  };
  return uuid;
}

/**
 * A XenServer host record with its control domain, NICs and local SR.
 * @param {{ bonded: boolean, storageIps: Record<string, string>, array: any }} opts
 */
export function addHost(db, labHost, address, networks, opts) {
  const uuid = newUuid();
  db.host[uuid] = {
    uuid, labHost, 'name-label': labHost, 'name-description': 'Default install of XenServer', enabled: 'true',
    'API-version-major': '1', 'API-version-minor': '10', 'API-version-vendor': 'XenSource', logging: {},
    'software-version': { ...SOFTWARE_VERSION, hostname: labHost }, capabilities: ['xen-3.0-x86_64', 'hvm-3.0-x86_32', 'hvm-3.0-x86_64'],
    'other-config': opts.bonded ? { iscsi_iqn: iqnOf(labHost), multipathing: 'true', multipathhandle: 'dmp' } : { iscsi_iqn: iqnOf(labHost) },
    hostname: labHost, address, 'supported-bootloaders': ['pygrub', 'eliloader'], 'memory-total': '68708327424', 'memory-free': '60508327424',
    patches: [], 'ha-statefiles': [], 'ha-network-peers': [], 'external-auth-type': '', edition: 'free', tags: [],
  };
  addControlDomain(db, uuid, labHost);
  const mgmt = { management: 'true', 'IP-configuration-mode': 'Static', IP: address, netmask: '255.255.255.0', gateway: `${subnetOf(address)}.1` };
  const eth0 = addPif(db, uuid, 'eth0', networks.eth0, opts.bonded ? {} : mgmt);
  const eth1 = addPif(db, uuid, 'eth1', networks.eth1);
  opts.array.portals.forEach((portal, j) => addPif(db, uuid, `eth${2 + j}`, networks[`eth${2 + j}`], { 'IP-configuration-mode': 'Static', IP: opts.storageIps[`eth${2 + j}`], netmask: '255.255.255.0', 'disallow-unplug': 'true', 'other-config': { management_purpose: `Storage ${j + 1}` } }));
  if (opts.bonded) addBond(db, uuid, networks.bond0, [eth0, eth1], mgmt);
  addLocalSr(db, uuid, labHost);
  return uuid;
}

/** The initiator name the lab writes to the host's /etc/iscsi/initiatorname.iscsi. */
const iqnOf = (labHost) => `iqn.2009-06.com.example:${labHost}`;

function addBond(db, hostUuid, network, slaves, mgmt) {
  const master = addPif(db, hostUuid, 'bond0', network, mgmt);
  const uuid = newUuid();
  db.bond[uuid] = { uuid, master, slaves, mode: 'balance-slb', properties: {}, 'primary-slave': slaves[0], 'links-up': String(slaves.length) };
}

function addControlDomain(db, hostUuid, labHost) {
  const uuid = newUuid();
  db.vm[uuid] = baseVm(uuid, `Control domain on host: ${labHost}`, { 'is-control-domain': 'true', 'power-state': 'running', 'resident-on': hostUuid, 'dom-id': '0', 'HVM-boot-policy': '', 'memory-static-max': '790626304' });
}

/** The fields every VM record carries (HVM guests by default, as installed from a Windows template). */
function baseVm(uuid, name, fields) {
  return {
    uuid, 'name-label': name, 'name-description': '', 'user-version': '1', 'is-a-template': 'false', 'is-default-template': 'false',
    'is-a-snapshot': 'false', 'is-control-domain': 'false', 'power-state': 'halted', 'memory-actual': '1073741824',
    'memory-static-max': '1073741824', 'memory-dynamic-max': '1073741824', 'memory-dynamic-min': '1073741824', 'memory-static-min': '536870912',
    'VCPUs-params': {}, 'VCPUs-max': '1', 'VCPUs-at-startup': '1', 'actions-after-shutdown': 'destroy', 'actions-after-reboot': 'restart',
    'actions-after-crash': 'restart', platform: { nx: 'true', acpi: '1', apic: 'true', pae: 'true', viridian: 'true' },
    'blocked-operations': {}, 'HVM-boot-policy': 'BIOS order', 'HVM-boot-params': { order: 'dc' }, 'HVM-shadow-multiplier': '1.000',
    'PV-kernel': '', 'PV-ramdisk': '', 'PV-args': '', 'PV-legacy-args': '', 'PV-bootloader': '', 'PV-bootloader-args': '',
    'resident-on': '', affinity: '', 'other-config': {}, 'dom-id': '-1', 'xenstore-data': {}, 'ha-always-run': 'false',
    'ha-restart-priority': '', tags: [], 'start-delay': '0', 'shutdown-delay': '0', order: '0', 'has-vendor-device': 'false', ...fields,
  };
}

function addLocalSr(db, hostUuid, labHost) {
  const uuid = newUuid();
  db.sr[uuid] = { uuid, 'name-label': 'Local storage', 'name-description': '', type: 'lvm', 'content-type': 'user', shared: 'false', 'physical-size': '1990116163584', 'physical-utilisation': '4194304', 'virtual-allocation': '0', 'other-config': { 'i18n-key': 'local-storage' }, 'sm-config': { allocation: 'thick', devserial: `scsi-${labHost}` }, tags: [] };
  const pbd = newUuid();
  db.pbd[pbd] = { uuid: pbd, 'host-uuid': hostUuid, 'sr-uuid': uuid, 'device-config': { device: '/dev/sda3' }, 'currently-attached': 'true', 'other-config': {} };
}

function addSharedSr(db, array) {
  const uuid = newUuid();
  db.sr[uuid] = { uuid, 'name-label': 'iSCSI storage', 'name-description': `iSCSI SR [${array.portals[0]} (${array.target}; LUN ${array.luns[0].lun}: ${array.luns[0].wwid.slice(1, 17)}: ${array.luns[0].size} (${array.luns[0].vendor}))]`, type: 'lvmoiscsi', 'content-type': '', shared: 'true', 'physical-size': '536866717696', 'physical-utilisation': '17188257792', 'virtual-allocation': '17179869184', 'other-config': { auto_scan: 'false' }, 'sm-config': { allocation: 'thick', use_vhd: 'true', multipathable: 'true' }, tags: [] };
  return uuid;
}

function addSharedPbd(db, srUuid, hostUuid, array) {
  const uuid = newUuid();
  db.pbd[uuid] = {
    uuid, 'host-uuid': hostUuid, 'sr-uuid': srUuid, 'currently-attached': 'true', 'other-config': {},
    'device-config': { SCSIid: array.luns[0].wwid, target: array.portals[0], targetIQN: array.target, port: String(array.port), multihomelist: array.portals.map((p) => `${p}:${array.port}`).join(','), multiSession: array.portals.map((p) => `${p},${array.port},${array.target}|`).join('') },
  };
}

/** The guest VM behind an inventory host: Ubuntu in HVM mode (the HVM-to-PV guide) or the Windows XenApp server. */
function addGuestVm(db, guest, srUuid) {
  const windows = guest.role === 'windows';
  const name = String(guest.vars?.vm_name_label ?? (windows ? 'XenApp' : 'Ubuntu'));
  const uuid = newUuid();
  const pv = String(guest.vars?.virtualization ?? 'hvm') === 'pv';
  db.vm[uuid] = baseVm(uuid, name, { ...(pv ? { 'HVM-boot-policy': '', 'HVM-boot-params': {}, 'PV-bootloader': 'pygrub' } : {}), labHost: guest.name, 'power-state': 'running', 'resident-on': db.pool.master, 'dom-id': String(Object.keys(db.vm).length), 'other-config': windows ? { base_template_name: 'Windows Server 2008 R2 (64-bit)' } : { base_template_name: 'Windows Server 2003 (32-bit)' } });
  const vdi = addVdi(db, srUuid, { 'name-label': `${name} 0`, 'name-description': 'Created by template provisioner', 'virtual-size': windows ? '42949672960' : '8589934592', 'physical-utilisation': windows ? '42991616000' : '8606711808' });
  addVbd(db, uuid, vdi, { userdevice: '0', device: pv ? 'xvda' : 'hda', type: 'Disk', mode: 'RW', bootable: String(pv), empty: 'false' });
  addVbd(db, uuid, '', { userdevice: '3', device: 'hdd', type: 'CD', mode: 'RO', bootable: 'false', empty: 'true' });
}

function addVbd(db, vmUuid, vdiUuid, fields) {
  const uuid = newUuid();
  db.vbd[uuid] = { uuid, 'vm-uuid': vmUuid, 'vdi-uuid': vdiUuid, 'currently-attached': 'true', unpluggable: 'true', 'storage-lock': 'false', 'status-code': '0', 'status-detail': '', 'qos_algorithm_type': '', 'qos_algorithm_params': {}, 'qos_supported_algorithms': [], 'other-config': {}, ...fields };
}


/**
 * XenServer 6.1 hotfixes uploaded to the pool (`xe patch-list`): the first two applied everywhere,
 * the latest on all but the last host, so a host behind on hotfixes is there to find (the crash
 * notes: "host should be patched with all citrix hotfixes").
 */
const HOTFIXES = [
  { name: 'XS61E001', description: 'Public Availability: fixes to XenServer 6.1.0 toolstack', size: '39215104', guidance: ['restartXAPI'] },
  { name: 'XS61E004', description: 'Public Availability: fixes to Xen and the dom0 kernel', size: '44163072', guidance: ['restartHost'] },
  { name: 'XS61E009', description: 'Public Availability: security fixes to the dom0 kernel', size: '30412800', guidance: ['restartHost'] },
];

function addHotfixes(db, hostUuids) {
  HOTFIXES.forEach((fix, i) => {
    const uuid = newUuid();
    const hosts = i === HOTFIXES.length - 1 && hostUuids.length > 1 ? hostUuids.slice(0, -1) : hostUuids;
    db.patch[uuid] = { uuid, 'name-label': fix.name, 'name-description': fix.description, size: fix.size, hosts: [...hosts], 'after-apply-guidance': fix.guidance };
  });
}

/** A fresh boot's /var/log/kern.log (what crash triage reads; crash.mjs adds what a crash leaves). */
function writeBootKernLog(labRoot, labHost) {
  const dir = join(hostDir(labRoot, labHost), 'var', 'log');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'kern.log'), bootKernLog(labHost));
}

/** A host's local state: pool role, storage NICs, iSCSI nodes and one session per portal. */
function saveHostState(labRoot, labHost, pool, uuid, { master, address, storageIps: ips, array }) {
  const state = freshHostState(labHost, pool, uuid, ips);
  Object.assign(state, { role: master ? 'master' : 'slave', address });
  for (const portal of array.portals) {
    recordNodes(state, array, portal);
    addSession(state, array, portal);
  }
  writeJson(hostStatePath(labRoot, labHost), state);
}

/** @returns {import('./store.mjs').HostState & { labHost: string }} */
export function freshHostState(labHost, pool, uuid, ips) {
  return { labHost, pool, role: 'master', masterAddress: '', uuid, iqn: iqnOf(labHost), iscsi: { nodes: [], sessions: [], nextSid: 1, discovered: [] }, cutPaths: {}, storageIps: ips };
}

function setHostState(labRoot, labHost, fields) {
  const path = hostStatePath(labRoot, labHost);
  writeJson(path, { ...readJson(path), ...fields });
}

/**
 * Issue 7's rebuild: the host comes back from a fresh install — a new host uuid, the master of its
 * own one-host pool, no bond (management on eth0, MTU 1500), multipathing off, no iSCSI nodes or
 * sessions. It keeps its management IP and storage NIC addresses (the installer's answers).
 * Its old record stays in its former pool until someone runs `xe host-forget`.
 * @returns {string} the new host uuid
 */
export function reinstallHost(labRoot, labHost) {
  const old = readJson(hostStatePath(labRoot, labHost));
  const config = readJson(join(hostDir(labRoot, labHost), 'host.json'), {});
  const address = String(readJson(poolDbPath(labRoot, old?.pool ?? ''))?.host[old?.uuid]?.address ?? old?.address ?? config.vars?.management_ip ?? '10.0.0.99');
  const poolName = `standalone-${labHost}`;
  const db = emptyPool(poolName, '');
  const array = loadArray(labRoot);
  const networks = {};
  for (let i = 0; i < 2 + array.portals.length; i++) networks[`eth${i}`] = addNetwork(db, `Pool-wide network associated with eth${i}`, `xenbr${i}`);
  const ips = old?.storageIps ?? storageIps(array, 0, config.vars ?? {});
  const uuid = addHost(db, labHost, address, networks, { bonded: false, storageIps: ips, array });
  db.pool.master = uuid;
  writeJson(poolDbPath(labRoot, poolName), db);
  writeJson(hostStatePath(labRoot, labHost), { ...freshHostState(labHost, poolName, uuid, ips), address });
  writeBootKernLog(labRoot, labHost);
  return uuid;
}
