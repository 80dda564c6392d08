/**
 * What a running guest's XenServer tools report (VM_guest_metrics in xapi: `networks`,
 * `os-version`, `PV-drivers-version`, `PV-drivers-detected`): nothing until the guest has the
 * tools installed (the HVM-to-PV guide: "install the guest utilities from the tools ISO"), read from the
 * guest machine's own package database in the lab.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostDir, readJson } from './store.mjs';

const TOOLS_PACKAGE = 'xe-guest-utilities';

/** Whether the guest's dpkg status lists the tools package as installed. */
function hasTools(labRoot, guest) {
  let status = '';
  try {
    status = readFileSync(join(hostDir(labRoot, guest), 'var', 'lib', 'dpkg', 'status'), 'utf8');
  } catch {
    return false;
  }
  return status.split(/\n\n+/).some((stanza) => new RegExp(`^Package: ${TOOLS_PACKAGE}$`, 'm').test(stanza) && /^Status: install ok installed$/m.test(stanza));
}

/** Sets the guest-metrics fields of every VM behind a lab guest (read paths only; never stored). */
export function decorateGuestMetrics(labRoot, db) {
  for (const vm of Object.values(db.vm)) {
    if (!vm.labHost || vm['power-state'] !== 'running' || !hasTools(labRoot, vm.labHost)) continue;
    const vars = readJson(join(hostDir(labRoot, vm.labHost), 'host.json'), {}).vars ?? {};
    Object.assign(vm, {
      'PV-drivers-detected': 'true',
      'PV-drivers-version': { major: '6', minor: '1', micro: '0', build: '59235' },
      'os-version': { name: 'Ubuntu 8.04.1', uname: '2.6.24-19-xen', distro: 'ubuntu', major: '8', minor: '04' },
      networks: { '0/ip': String(vars.guest_ip ?? vars.vm_ip ?? '10.10.0.101') },
    });
  }
}
