/**
 * The lab's Windows Server 2008 XenApp host (the HA and XenApp cloning notes): its state in $LAB_HOST_DIR/windows.json,
 * its C: drive in $LAB_HOST_DIR/C, and the programs cmd.exe (_wincmd.mjs) can run: hostname,
 * whoami, ipconfig, netsh, ping, netdom, wmic, XenAppPrep.exe, sysprep.exe, qfarm, change logon,
 * shutdown, and `lab-console` (lab only: what the human does at the console — finish the OOBE,
 * publish applications).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { labEnv, logMutation, readJson, readText, requestPower, writeJsonAtomic } from './_lib.mjs';

const DOMAIN = { name: 'corp.example.com', netbios: 'CORP', dc: '10.10.0.5' };
const SUBNET = '10.10.0.';

/** Windows-style paths on the host's C: drive: `C:\Program Files\x` → $LAB_HOST_DIR/C/Program Files/x. */
export function resolveWinPath(path, cwd = 'C:\\') {
  const absolute = /^[a-z]:/i.test(path) ? path : `${cwd}\\${path}`;
  const [drive, ...parts] = absolute.split(/[\\/]+/).filter(Boolean);
  let real = join(labEnv().hostDir, drive[0].toUpperCase());
  for (const part of parts) {
    if (part === '.') continue;
    // NTFS is case-insensitive: match an existing entry whatever its case.
    const entries = existsSync(real) ? readdirSync(real) : [];
    real = join(real, entries.find((e) => e.toLowerCase() === part.toLowerCase()) ?? part);
  }
  return real;
}

function statePath() {
  return join(labEnv().hostDir, 'windows.json');
}

/**
 * The host's Windows state; applies what a reboot completes (domain join, farm rejoin) lazily, in
 * memory only: a read writes nothing (a dry-run leaves the host byte-identical). The next change
 * saves it; until then every read applies the same boot again (applyBoot is idempotent).
 */
export function loadState() {
  const state = readJson(statePath()) ?? freshState();
  const bootId = readText(join(labEnv().hostDir, 'proc', 'boot_id'), '').trim();
  if (state.bootId !== bootId) {
    applyBoot(state);
    state.bootId = bootId;
  }
  return state;
}

export function saveState(state) {
  writeJsonAtomic(statePath(), state);
}

/** The gold-image build server as the HA and XenApp cloning notes finds it: in the domain and the farm, logons on. */
function freshState() {
  const vars = readJson(join(labEnv().hostDir, 'host.json'), {})?.vars ?? {};
  const name = String(vars.windows_hostname ?? labEnv().host).toUpperCase();
  return {
    computerName: name,
    domain: DOMAIN.name,
    pending: {},
    adapter: 'Local Area Connection',
    ip: { dhcp: false, address: `${SUBNET}50`, mask: '255.255.255.0', gateway: `${SUBNET}1` },
    xenAppPrep: { installed: true, ran: false },
    sysprep: 'none',
    farm: { name: 'XAFARM', member: true, apps: ['Notepad', 'Microsoft Office Word 2007'] },
    logons: 'ENABLED',
  };
}

/** What happens at boot: a pending join or rename completes; a prepped server rejoins its farm. */
function applyBoot(state) {
  if (state.pending?.domain) state.domain = state.pending.domain;
  if (state.pending?.name) state.computerName = state.pending.name;
  state.pending = {};
  if (state.xenAppPrep.ran && state.sysprep === 'none' && state.domain && !state.farm.member) {
    state.farm = { ...state.farm, member: true, apps: [] };
  }
}

/** cmd's environment for this host. */
export function winEnv(state) {
  return {
    COMPUTERNAME: state.computerName,
    USERNAME: 'Administrator',
    USERDOMAIN: state.domain ? DOMAIN.netbios : state.computerName,
    USERPROFILE: 'C:\\Users\\Administrator',
    SystemRoot: 'C:\\Windows',
    windir: 'C:\\Windows',
    ProgramFiles: 'C:\\Program Files',
    PATH: 'C:\\Windows\\system32;C:\\Windows;C:\\Windows\\System32\\Wbem',
    PATHEXT: '.COM;.EXE;.BAT;.CMD',
    OS: 'Windows_NT',
  };
}

/** The program a command word names, or undefined ("is not recognized"). */
export function programFor(word, cwd) {
  const base = word.split('\\').pop().toLowerCase().replace(/\.exe$/, '');
  if (/[\\:]/.test(word)) {
    const path = resolveWinPath(/\.exe$/i.test(word) ? word : `${word}.exe`, cwd);
    return existsSync(path) ? PROGRAMS[base] : undefined;
  }
  if (SYSTEM32.includes(base)) return PROGRAMS[base];
  // Not on PATH (XenAppPrep, sysprep): found only in the current directory, as cmd does.
  return existsSync(resolveWinPath(`${base}.exe`, cwd)) ? PROGRAMS[base] : undefined;
}

const SYSTEM32 = ['hostname', 'whoami', 'ipconfig', 'netsh', 'ping', 'netdom', 'wmic', 'qfarm', 'change', 'shutdown', 'findstr', 'lab-console'];

const mutate = (name, args) => logMutation([name, ...args]);
const ok = (io, text) => (io.write(text), 0);
const fail = (io, text, code = 1) => (io.writeErr(text), code);

const PROGRAMS = {
  hostname: (args, io) => ok(io, `${io.session.state.computerName}\r\n`),
  whoami: (args, io) => ok(io, `${io.session.state.computerName.toLowerCase()}\\administrator\r\n`),
  ipconfig: (args, io) => ok(io, ipconfig(io.session.state)),
  netsh: (args, io) => netsh(args, io),
  ping: (args, io) => ping(args, io),
  netdom: (args, io) => netdom(args, io),
  wmic: (args, io) => wmic(args, io),
  xenappprep: (args, io) => xenAppPrep(args, io),
  sysprep: (args, io) => sysprep(args, io),
  qfarm: (args, io) => qfarm(args, io),
  change: (args, io) => changeLogon(args, io),
  shutdown: (args, io) => shutdown(args, io),
  findstr: (args, io) => findstr(args, io),
  'lab-console': (args, io) => labConsole(args, io),
};

function ipconfig(state) {
  const ip = currentIp(state);
  return [
    '', 'Windows IP Configuration', '', '',
    `Ethernet adapter ${state.adapter}:`, '',
    '   Connection-specific DNS Suffix  . : ',
    `   ${ip.dhcp ? 'Autoconfiguration IPv4 Address. .' : 'IPv4 Address. . . . . . . . . . .'} : ${ip.address}`,
    `   Subnet Mask . . . . . . . . . . . : ${ip.mask}`,
    `   Default Gateway . . . . . . . . . : ${ip.gateway ?? ''}`,
    '',
  ].join('\r\n');
}

/** No DHCP server on the lab network: a DHCP adapter falls back to APIPA and reaches nothing. */
function currentIp(state) {
  return state.ip.dhcp ? { dhcp: true, address: '169.254.12.34', mask: '255.255.0.0', gateway: '' } : state.ip;
}

function reaches(state, target) {
  const ip = currentIp(state);
  const address = target.toLowerCase() === DOMAIN.name || target.toUpperCase() === DOMAIN.netbios ? DOMAIN.dc : target;
  return !ip.dhcp && ip.address.startsWith(SUBNET) && address.startsWith(SUBNET) ? address : undefined;
}

/** netsh interface ip|ipv4 set address … / show config|address. */
function netsh(args, io) {
  const words = args.map((a) => a.toLowerCase());
  const state = io.session.state;
  if (words[0] !== 'interface' || !['ip', 'ipv4'].includes(words[1])) return fail(io, `The following command was not found: ${args.join(' ')}.\r\n`);
  const named = Object.fromEntries(args.filter((a) => a.includes('=')).map((a) => [a.split('=')[0].toLowerCase(), a.slice(a.indexOf('=') + 1)]));
  const positional = args.slice(4).filter((a) => !a.includes('='));
  const name = named.name ?? positional.shift();
  if (words[2] === 'show' && ['config', 'address', 'addresses'].includes(words[3])) return ok(io, showConfig(state));
  if (words[2] !== 'set' || !['address', 'addresses'].includes(words[3])) return fail(io, `The following command was not found: ${args.join(' ')}.\r\n`);
  if (name?.toLowerCase() !== state.adapter.toLowerCase()) return fail(io, 'The filename, directory name, or volume label syntax is incorrect.\r\n\r\n');
  const source = (named.source ?? positional.shift() ?? '').toLowerCase();
  if (source === 'dhcp') state.ip = { ...state.ip, dhcp: true };
  else if (source === 'static') {
    const [address, mask, gateway] = [named.address ?? positional[0], named.mask ?? positional[1], named.gateway ?? positional[2]];
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(address ?? '') || !/^\d+\.\d+\.\d+\.\d+$/.test(mask ?? '')) return fail(io, 'The parameter is incorrect.\r\n\r\n');
    state.ip = { dhcp: false, address, mask, gateway: gateway ?? '' };
  } else return fail(io, 'One or more essential parameters were not entered.\r\nVerify the required parameters, and reenter them.\r\n');
  mutate('netsh', args);
  saveState(state);
  return 0;
}

function showConfig(state) {
  const ip = currentIp(state);
  return [
    '', `Configuration for interface "${state.adapter}"`,
    `    DHCP enabled:                         ${ip.dhcp ? 'Yes' : 'No'}`,
    `    IP Address:                           ${ip.address}`,
    `    Subnet Prefix:                        ${ip.address.split('.').slice(0, 3).join('.')}.0/${ip.mask === '255.255.255.0' ? 24 : 16} (mask ${ip.mask})`,
    ...(ip.gateway ? [`    Default Gateway:                      ${ip.gateway}`, '    Gateway Metric:                       1'] : []),
    '    InterfaceMetric:                      10', '', '',
  ].join('\r\n');
}

function ping(args, io) {
  const target = args.filter((a, i) => !a.startsWith('-') && !/^-[nwl]$/i.test(args[i - 1] ?? '')).pop();
  if (!target) return fail(io, 'IP address must be specified.\r\n');
  const count = Number(args[args.findIndex((a) => a.toLowerCase() === '-n') + 1]) || 4;
  const address = reaches(io.session.state, target);
  const shown = target.toLowerCase() === DOMAIN.name ? `${target} [${DOMAIN.dc}]` : target;
  const lines = ['', `Pinging ${shown} with 32 bytes of data:`];
  for (let i = 0; i < count; i++) lines.push(address ? `Reply from ${address}: bytes=32 time<1ms TTL=128` : 'Request timed out.');
  const received = address ? count : 0;
  lines.push('', `Ping statistics for ${address ?? target}:`, `    Packets: Sent = ${count}, Received = ${received}, Lost = ${count - received} (${(100 * (count - received)) / count}% loss),`, '');
  io.write(lines.join('\r\n'));
  return address ? 0 : 1;
}

/** netdom join NAME /domain:D …: completes at the next reboot, as the real one does. */
function netdom(args, io) {
  const state = io.session.state;
  const option = (key) => args.find((a) => a.toLowerCase().startsWith(`/${key}:`))?.split(':').slice(1).join(':');
  if (args[0]?.toLowerCase() !== 'join') return fail(io, 'The syntax of this command is:\r\n\r\nNETDOM [ ADD | COMPUTERNAME | JOIN | MOVE | QUERY | REMOVE | RENAMECOMPUTER ]\r\n');
  const domain = option('domain') ?? option('d');
  if (!domain) return fail(io, 'The parameter /Domain is required for this operation.\r\n\r\nThe command failed to complete successfully.\r\n', 87);
  if (!reaches(state, domain)) return fail(io, 'The specified domain either does not exist or could not be contacted.\r\n\r\nThe command failed to complete successfully.\r\n', 1355);
  mutate('netdom', args.map((a) => (/^\/passwordd:/i.test(a) ? '/passwordd:***' : a)));
  state.pending = { ...state.pending, domain: DOMAIN.name };
  saveState(state);
  if (args.some((a) => a.toLowerCase() === '/reboot')) requestPower('reboot');
  return ok(io, 'The computer needs to be restarted in order to complete the operation.\r\n\r\nThe command completed successfully.\r\n\r\n');
}

/** wmic computersystem get domain,name,partofdomain (a column per property, padded as wmic pads). */
function wmic(args, io) {
  const state = io.session.state;
  if (args[0]?.toLowerCase() !== 'computersystem' || args[1]?.toLowerCase() !== 'get') return fail(io, `${args[0] ?? ''} - Alias not found.\r\n`, 44135);
  const values = { domain: state.domain ?? 'WORKGROUP', name: state.computerName, partofdomain: state.domain ? 'TRUE' : 'FALSE', workgroup: state.domain ? '' : 'WORKGROUP' };
  const props = args.slice(2).join(',').split(',').filter(Boolean).map((p) => p.toLowerCase());
  const header = { domain: 'Domain', name: 'Name', partofdomain: 'PartOfDomain', workgroup: 'Workgroup' };
  for (const p of props) if (!(p in values)) return fail(io, 'Invalid query\r\n', 44125);
  const widths = props.map((p) => Math.max(header[p].length, String(values[p]).length) + 2);
  const row = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('');
  return ok(io, `${row(props.map((p) => header[p]))}\r\n${row(props.map((p) => values[p]))}\r\n\r\n`);
}

function xenAppPrep(args, io) {
  const state = io.session.state;
  mutate('XenAppPrep.exe', args);
  state.xenAppPrep.ran = true;
  // Prep removes the server's identity from the farm; it re-registers after the clone's domain join.
  state.farm = { ...state.farm, member: false };
  saveState(state);
  return ok(io, 'Citrix XenApp Prep\r\nPreparing this server for imaging...\r\nRemoving server-specific farm information... done\r\nXenApp Prep completed successfully.\r\n');
}

/** sysprep /generalize /oobe /shutdown|/reboot|/quit [/quiet]: a generic name, out of the domain. */
function sysprep(args, io) {
  const flags = args.map((a) => a.toLowerCase());
  if (!flags.includes('/oobe') && !flags.includes('/audit')) return fail(io, 'Sysprep: /oobe or /audit must be specified.\r\n', 1);
  const state = io.session.state;
  mutate('sysprep.exe', args);
  Object.assign(state, {
    sysprep: 'oobe',
    computerName: `WIN-${Math.random().toString(36).slice(2, 13).toUpperCase()}`,
    domain: null,
    pending: {},
  });
  saveState(state);
  if (flags.includes('/shutdown')) requestPower('halt');
  else if (flags.includes('/reboot')) requestPower('reboot');
  return 0;
}

function qfarm(args, io) {
  const state = io.session.state;
  if (!state.farm.member) return fail(io, 'Error: This server is not a member of a XenApp farm.\r\n', 1);
  if (args.some((a) => a.toLowerCase() === '/app')) {
    const rows = state.farm.apps.map((app) => `${app.padEnd(32)}${state.computerName}`);
    return ok(io, ['Application Name                Server Name', '------------------------------  ----------------', ...rows, ''].join('\r\n'));
  }
  const ip = currentIp(state).address;
  return ok(io, ['Server Name        Server IP         Data Collector', '-----------------  ----------------  --------------', `${`${state.computerName} *`.padEnd(19)}${ip.padEnd(18)}D`, ''].join('\r\n'));
}

/** change logon /query|/enable|/disable|/drain. */
function changeLogon(args, io) {
  const state = io.session.state;
  if (args[0]?.toLowerCase() !== 'logon') return fail(io, 'Invalid parameter(s)\r\nCHANGE { LOGON | PORT | USER }\r\n');
  const verb = args[1]?.toLowerCase() ?? '/query';
  if (verb === '/query') return ok(io, `Session logins are currently ${state.logons}\r\n`);
  const next = { '/enable': 'ENABLED', '/disable': 'DISABLED', '/drain': 'DRAIN' }[verb];
  if (!next) return fail(io, 'Invalid parameter(s)\r\nCHANGE LOGON {/QUERY | /ENABLE | /DISABLE | /DRAIN | /DRAINUNTILRESTART}\r\n');
  mutate('change', args);
  state.logons = next;
  saveState(state);
  return 0;
}

function shutdown(args, io) {
  const flags = args.map((a) => a.toLowerCase().replace(/^-/, '/'));
  const request = flags.includes('/r') ? 'reboot' : flags.includes('/s') || flags.includes('/p') ? 'halt' : undefined;
  if (flags.includes('/a')) return fail(io, 'Unable to abort the system shutdown because no shutdown was in progress.(1116)\r\n', 1116);
  if (!request) return fail(io, 'Usage: shutdown [/i | /l | /s | /r | /g | /a | /p | /h | /e] [/f]\r\n    [/m \\\\computer][/t xxx][/d [p|u:]xx:yy [/c "comment"]]\r\n');
  mutate('shutdown', args);
  requestPower(request);
  return 0;
}

/** findstr [/i] [/c:"text"|text…]: lines matching any string, for `qfarm | findstr NAME`. */
function findstr(args, io) {
  const insensitive = args.some((a) => a.toLowerCase() === '/i');
  const needles = args.filter((a) => !/^\/[a-z]$/i.test(a)).map((a) => a.replace(/^\/c:/i, ''));
  const norm = (s) => (insensitive ? s.toLowerCase() : s);
  const lines = String(io.stdin ?? '').split(/\r?\n/).filter((l) => l && needles.some((n) => norm(l).includes(norm(n))));
  io.write(lines.map((l) => `${l}\r\n`).join(''));
  return lines.length ? 0 : 1;
}

/** Lab only: what the human does at the console — `oobe NAME` finishes the OOBE, `publish APP…`. */
function labConsole(args, io) {
  const state = io.session.state;
  const [verb, ...rest] = args;
  mutate('lab-console', args);
  if (verb === 'oobe' && rest[0]) Object.assign(state, { sysprep: 'none', computerName: rest[0].toUpperCase() });
  else if (verb === 'publish' && rest.length) state.farm.apps = [...new Set([...state.farm.apps, ...rest])];
  else return fail(io, 'usage: lab-console oobe NAME | publish APP…\r\n', 2);
  saveState(state);
  return 0;
}
