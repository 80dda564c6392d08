/**
 * What a freshly installed host of each role holds: services, init scripts, /boot, the package
 * database, config files. XenServer 5.5 dom0 (CentOS 5 based) and Ubuntu 8.04 "hardy", the
 * systems the seed texts describe.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { LabHostConfig, LabRole } from './config.ts';

/** Services a role runs at first boot (state files under services/). */
export const SERVICES_BY_ROLE: Record<LabRole, string[]> = {
  xenserver: ['ntpd', 'open-iscsi', 'multipathd', 'xapi'],
  'ubuntu-guest': ['ntp', 'ssh'],
  windows: [],
};

const XEN_KERNEL = '2.6.18-128.1.6.el5.xs5.5.0.505.1024xen';
/** The generic kernel Ubuntu 8.04 installs with (the HVM-to-PV guide). */
export const UBUNTU_KERNEL = '2.6.24-16-generic';

/** Writes the role's files into a host folder that already has its directories. */
export function seedRoleFiles(hostDir: string, host: LabHostConfig): void {
  const files = host.role === 'xenserver' ? xenserverFiles(host) : host.role === 'ubuntu-guest' ? ubuntuFiles() : windowsFiles();
  for (const service of SERVICES_BY_ROLE[host.role]) files[`etc/init.d/${service}`] = initScript(service);
  for (const [rel, text] of Object.entries(files)) {
    const path = join(hostDir, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    if (rel.startsWith('etc/init.d/')) chmodSync(path, 0o755);
  }
}

/** An init script that hands over to the lab's shared implementation (lab/bin/_initd). */
function initScript(service: string): string {
  return `#!/bin/sh
# ${service} init script, simulated by the runbook lab: state in $LAB_HOST_DIR/services/${service}
exec "\${LAB_BIN:?not on a lab host}/_initd" ${service} "$@"
`;
}

/** The C: drive (host folder C/) of a Windows Server 2008 XenApp server with XenApp Prep installed. */
function windowsFiles(): Record<string, string> {
  return {
    'C/Program Files/Citrix/XenAppPrep/XenAppPrep.exe': 'simulated XenApp Prep (lab/bin/_win.mjs)\n',
    'C/Program Files/Citrix/XenAppPrep/readme.txt': 'XenApp Prep: run XenAppPrep.exe, then sysprep /generalize /oobe /shutdown.\n',
    'C/Windows/System32/sysprep/sysprep.exe': 'simulated sysprep (lab/bin/_win.mjs)\n',
    'C/Windows/System32/drivers/etc/hosts': '127.0.0.1       localhost\n',
    'C/Users/Administrator/Desktop/desktop.ini': '\n',
  };
}

function xenserverFiles(host: LabHostConfig): Record<string, string> {
  return {
    [`boot/vmlinuz-${XEN_KERNEL}`]: 'simulated kernel image\n',
    [`boot/initrd-${XEN_KERNEL}.img`]: 'simulated initrd\n',
    'boot/xen.gz': 'simulated hypervisor\n',
    'boot/extlinux.conf': `serial 0 115200\ndefault xe\nprompt 1\ntimeout 50\n\nlabel xe\n  # XenServer\n  kernel mboot.c32\n  append /boot/xen.gz dom0_mem=752M lowmem_emergency_pool=1M crashkernel=64M@32M console=/dev/null vga=mode-0x0311 --- /boot/vmlinuz-2.6-xen root=LABEL=root-ujnbqjdi ro xencons=hvc console=hvc0 console=tty0 quiet vga=785 splash --- /boot/initrd-2.6-xen.img\n`,
    'etc/redhat-release': 'XenServer release 5.5.0-25727p (xenenterprise)\n',
    'etc/ntp.conf': 'restrict default kod nomodify notrap nopeer noquery\nrestrict 127.0.0.1\nserver 0.pool.ntp.org\nserver 1.pool.ntp.org\ndriftfile /var/lib/ntp/drift\n',
    'etc/multipath-enabled.conf': MULTIPATH_CONF,
    'etc/iscsi/initiatorname.iscsi': `InitiatorName=iqn.2009-06.com.example:${host.name}\n`,
    'etc/iscsi/iscsid.conf': 'node.startup = automatic\nnode.session.timeo.replacement_timeout = 120\nnode.conn[0].timeo.noop_out_interval = 5\nnode.conn[0].timeo.noop_out_timeout = 5\n',
  };
}

const MULTIPATH_CONF = `# This configuration file is used to overwrite the built-ins of the multipathd.
# For each device-mapper device, the multipathd uses the configuration
# in this order: device section, defaults section, built-ins.
defaults {
	user_friendly_names	no
	polling_interval	10
}
blacklist {
	devnode "^(ram|raw|loop|fd|md|dm-|sr|scd|st)[0-9]*"
	devnode "^hd[a-z][[0-9]*]"
	devnode "^cciss!c[0-9]d[0-9]*[p[0-9]*]"
}
devices {
	device {
		vendor			"OPNFILER"
		product			"VIRTUAL-DISK"
		path_grouping_policy	multibus
		getuid_callout		"/sbin/scsi_id -g -u -s /block/%n"
		path_checker		readsector0
		path_selector		"round-robin 0"
		failback		immediate
	}
}
`;

function ubuntuFiles(): Record<string, string> {
  const rootUuid = randomUUID();
  return {
    [`boot/vmlinuz-${UBUNTU_KERNEL}`]: 'simulated kernel image\n',
    [`boot/initrd.img-${UBUNTU_KERNEL}`]: 'simulated initrd\n',
    [`boot/System.map-${UBUNTU_KERNEL}`]: 'simulated System.map\n',
    [`boot/config-${UBUNTU_KERNEL}`]: 'CONFIG_X86_32=y\nCONFIG_PARAVIRT=y\n',
    'boot/memtest86+.bin': 'simulated memtest86+\n',
    'boot/grub/menu.lst': menuLst(rootUuid),
    'boot/grub/default': 'default\n',
    'boot/grub/stage1': 'simulated grub stage1\n',
    'boot/grub/stage2': 'simulated grub stage2\n',
    'etc/lsb-release': 'DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=8.04\nDISTRIB_CODENAME=hardy\nDISTRIB_DESCRIPTION="Ubuntu 8.04.1"\n',
    'etc/debian_version': 'lenny/sid\n',
    'etc/ntp.conf': 'driftfile /var/lib/ntp/ntp.drift\nserver ntp.ubuntu.com\n',
    'etc/apt/sources.list': 'deb http://archive.ubuntu.com/ubuntu hardy main restricted universe\ndeb http://archive.ubuntu.com/ubuntu hardy-updates main restricted universe\n',
    'var/lib/dpkg/status': DPKG_STATUS,
  };
}

/** Ubuntu 8.04's menu.lst after install: generic kernel, recovery entry, memtest (the HVM-to-PV guide). */
function menuLst(rootUuid: string): string {
  return `# menu.lst - See: grub(8), info grub, update-grub(8)
#            grub-install(8), grub-floppy(8),
#            grub-md5-crypt, /usr/share/doc/grub
#            and /usr/share/doc/grub-doc/.

## default num
# Set the default entry to the entry number NUM. Numbering starts from 0, and
# the entry number 0 is the default if the command is not used.
#
# You can specify 'saved' instead of a number. In this case, the default entry
# is the entry saved with the command 'savedefault'.
default		0

## timeout sec
# Set a timeout, in SEC seconds, before automatically booting the default entry
# (normally the first entry defined).
timeout		3

## hiddenmenu
# Hides the menu by default (press ESC to see the menu)
hiddenmenu

### BEGIN AUTOMAGIC KERNELS LIST
## lines between the AUTOMAGIC KERNELS LIST markers will be modified
## by the debian update-grub script except for the default options below

## DO NOT UNCOMMENT THEM, Just edit them to your needs

## ## Start Default Options ##
# kopt=root=UUID=${rootUuid} ro
# groot=(hd0,0)
# alternative=true
# lockalternative=false
# defoptions=quiet splash
# howmany=all
# memtest86=true
## ## End Default Options ##

title		Ubuntu 8.04, kernel ${UBUNTU_KERNEL}
root		(hd0,0)
kernel		/boot/vmlinuz-${UBUNTU_KERNEL} root=UUID=${rootUuid} ro quiet splash
initrd		/boot/initrd.img-${UBUNTU_KERNEL}
quiet

title		Ubuntu 8.04, kernel ${UBUNTU_KERNEL} (recovery mode)
root		(hd0,0)
kernel		/boot/vmlinuz-${UBUNTU_KERNEL} root=UUID=${rootUuid} ro single
initrd		/boot/initrd.img-${UBUNTU_KERNEL}

title		Ubuntu 8.04, memtest86+
root		(hd0,0)
kernel		/boot/memtest86+.bin
quiet

### END DEBIAN AUTOMAGIC KERNELS LIST
`;
}

/** A hardy install's dpkg status, trimmed to the packages the runbooks ask about. */
const DPKG_STATUS = [
  ['linux-image-2.6.24-16-generic', '2.6.24-16.30', 'linux', 'Linux kernel image for version 2.6.24 on x86/x86_64'],
  ['linux-image-generic', '2.6.24.16.18', 'linux-meta', 'Generic Linux kernel image'],
  ['grub', '0.97-29ubuntu21', 'grub', 'GRand Unified Bootloader'],
  ['ntp', '1:4.2.4p4+dfsg-3ubuntu2', 'ntp', 'Network Time Protocol daemon and utility programs'],
  ['openssh-server', '1:4.7p1-8ubuntu1', 'openssh', 'secure shell server, an rshd replacement'],
]
  .map(([name, version, source, description]) =>
    [
      `Package: ${name}`,
      'Status: install ok installed',
      'Priority: optional',
      'Section: base',
      'Maintainer: Ubuntu Core Developers <ubuntu-devel-discuss@lists.ubuntu.com>',
      'Architecture: i386',
      `Source: ${source}`,
      `Version: ${version}`,
      `Description: ${description}`,
      '',
    ].join('\n'),
  )
  .join('\n');

