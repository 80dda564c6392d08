/**
 * The package database of a simulated Debian/Ubuntu host: dpkg's own status file format in
 * /var/lib/dpkg/status (the host's, via the namespace), and the archive apt-get can install from.
 */
import { readText, writeTextAtomic, hostPath } from './_lib.mjs';

/** Packages apt-get knows beyond what is installed: Ubuntu 8.04 hardy-updates (the HVM-to-PV guide). */
export const ARCHIVE = {
  'linux-image-xen': {
    Version: '2.6.24.19.21', Source: 'linux-meta', Section: 'base', Size: 2520,
    Depends: 'linux-image-2.6.24-19-xen',
    Description: 'Linux kernel image on Xen\n This package will always depend on the latest kernel image available for Xen.',
  },
  'linux-image-2.6.24-19-xen': {
    Version: '2.6.24-19.41', Source: 'linux', Section: 'base', Size: 20300000,
    Description: 'Linux kernel image for version 2.6.24 on This kernel is only for running under Xen\n This package contains the Linux kernel image for version 2.6.24 on Xen.',
    files: ['vmlinuz-2.6.24-19-xen', 'initrd.img-2.6.24-19-xen', 'System.map-2.6.24-19-xen', 'config-2.6.24-19-xen', 'abi-2.6.24-19-xen'],
  },
  'xen-tools': { Version: '3.8-4ubuntu4', Source: 'xen-tools', Section: 'misc', Size: 120000, Description: 'Tools to manage Debian XEN virtual servers' },
};

/** The status file where the namespace shows it (/var/lib/dpkg is the host's). */
export function statusFile() {
  return process.env.LAB_DPKG_STATUS ?? '/var/lib/dpkg/status';
}

/** Parsed stanzas, in file order: [{ Package, Status, Version, … }]. */
export function readStatus() {
  const text = readText(statusFile(), '');
  return text.split(/\n\n+/).filter((s) => s.trim()).map(parseStanza);
}

function parseStanza(stanza) {
  const fields = {};
  let last;
  for (const line of stanza.split('\n')) {
    if (/^\s/.test(line) && last) fields[last] += `\n${line}`;
    else {
      const i = line.indexOf(':');
      last = line.slice(0, i);
      fields[last] = line.slice(i + 1).trim();
    }
  }
  return fields;
}

export function writeStatus(stanzas) {
  const order = ['Package', 'Status', 'Priority', 'Section', 'Installed-Size', 'Maintainer', 'Architecture', 'Source', 'Version', 'Depends', 'Description'];
  const render = (s) => [...order.filter((k) => k in s), ...Object.keys(s).filter((k) => !order.includes(k))].map((k) => `${k}: ${s[k]}`).join('\n');
  writeTextAtomic(statusFile(), stanzas.map(render).join('\n\n') + '\n');
}

export function isInstalled(stanza) {
  return stanza?.Status === 'install ok installed';
}

/** The stanza for `name` (installed or not), or undefined. */
export function findPackage(name) {
  return readStatus().find((s) => s.Package === name);
}

export { hostPath };
