/**
 * The HA daemon's configuration file each host's xapi writes when HA is armed on it:
 * /etc/xensource/xhad.conf (xen-api ocaml/xapi/xha_interface.ml DaemonConfiguration, its XML
 * layout and element names; the timeouts derived from ha-config:timeout as xapi_ha.ml
 * Timeouts.derive derives them). A host's own copy is how an operator sees, on that host, which
 * timeout the HA daemon really runs with (the HA and XenApp cloning notes: the timeout does not survive a disable/enable).
 * Written when a host is armed, removed when it is disarmed.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostDir, loadHost } from './store.mjs';

/** XenServer 5.x/6.x's built-in default when ha-config:timeout is not given (the HA and XenApp cloning notes: 30 s). */
export const DEFAULT_HA_TIMEOUT = 30;

export const xhadConfPath = (labRoot, host) => join(hostDir(labRoot, host), 'etc', 'xensource', 'xhad.conf');

/** xapi_ha.ml Timeouts.derive: every daemon timeout from the one ha-config:timeout. */
export function deriveTimeouts(t) {
  const interval = Math.floor((t + 10) / 10);
  return [
    ['HeartbeatInterval', interval], ['HeartbeatTimeout', t], ['StateFileInterval', interval], ['StateFileTimeout', t],
    ['HeartbeatWatchdogTimeout', t], ['StateFileWatchdogTimeout', t + 15], ['BootJoinTimeout', t + 60],
    ['EnableJoinTimeout', t + 60], ['XapiHealthCheckInterval', 60], ['XapiHealthCheckTimeout', 120],
    ['XapiRestartAttempts', 1], ['XapiRestartTimeout', 300],
  ];
}

const leaf = (indent, name, value) => `${' '.repeat(indent)}<${name}>${value}</${name}>`;

/** The file's text for one host of the pool (Xml.to_string_fmt's two-space indentation). */
export function xhadConfText(db, hostUuid) {
  const timeout = Number(db.pool['ha-configuration']?.timeout ?? DEFAULT_HA_TIMEOUT);
  const mgmt = Object.values(db.pif).find((p) => p['host-uuid'] === hostUuid && p.management === 'true');
  const bridge = db.network[mgmt?.['network-uuid']]?.bridge ?? 'xenbr0';
  const statefile = db.pool['ha-statefiles']?.[0] ?? '';
  const sr = db.vdi[statefile]?.['sr-uuid'] ?? '';
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<xhad-config version="1.0">',
    '  <common-config>',
    leaf(4, 'GenerationUUID', statefile),
    leaf(4, 'UDPport', 694),
    ...Object.values(db.host).flatMap((h) => ['    <host>', leaf(6, 'HostID', h.uuid), leaf(6, 'IPaddress', h.address), '    </host>']),
    '    <parameters>',
    ...deriveTimeouts(timeout).map(([name, value]) => leaf(6, name, value)),
    '    </parameters>',
    '  </common-config>',
    '  <local-config>',
    '    <localhost>',
    leaf(6, 'HostID', hostUuid),
    leaf(6, 'HeartbeatInterface', bridge),
    leaf(6, 'HeartbeatPhysicalInterface', mgmt?.device ?? 'eth0'),
    leaf(6, 'StateFile', `/dev/VG_XenStorage-${sr}/${statefile}`),
    '    </localhost>',
    '  </local-config>',
    '</xhad-config>',
    '',
  ].join('\n');
}

/** Each member's xhad.conf follows its arming: written when armed, removed when not. */
export function syncXhadConf(labRoot, db, host, armed) {
  const path = xhadConfPath(labRoot, host);
  const state = loadHost(labRoot, host);
  if (!armed || !state) {
    rmSync(path, { force: true });
    return;
  }
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, xhadConfText(db, state.uuid));
}
