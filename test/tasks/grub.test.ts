/** grub legacy's menu.lst, read and edited as text: a hardy menu.lst as the Ubuntu 8.04 guests have it. */
import { describe, expect, it } from 'vitest';
import { hvmMenu, menuDefault, menuEntries, newestXenKernel, pvMenu } from '../../src/tasks/grub.ts';

const XEN = '2.6.24-19-xen';
const GENERIC = '2.6.24-16-generic';

const HARDY_MENU = `default\t\t0
timeout\t\t3
### BEGIN AUTOMAGIC KERNELS LIST
# kopt=root=UUID=abc ro

title\t\tUbuntu 8.04, kernel ${GENERIC}
root\t\t(hd0,0)
kernel\t\t/boot/vmlinuz-${GENERIC} root=UUID=abc ro quiet splash
initrd\t\t/boot/initrd.img-${GENERIC}
quiet

title\t\tUbuntu 8.04, kernel ${GENERIC} (recovery mode)
root\t\t(hd0,0)
kernel\t\t/boot/vmlinuz-${GENERIC} root=UUID=abc ro single
initrd\t\t/boot/initrd.img-${GENERIC}

title\t\tUbuntu 8.04, memtest86+
root\t\t(hd0,0)
kernel\t\t/boot/memtest86+.bin
quiet

### END DEBIAN AUTOMAGIC KERNELS LIST
`;

describe('menu.lst editing (pure)', () => {
  it('adds the Xen entry after the automagic list and points default at its index (3, the fourth entry, as done by hand on hardy)', () => {
    const out = pvMenu(HARDY_MENU, XEN);
    const entries = menuEntries(out);
    expect(entries.map((e) => e.kernel)).toEqual([GENERIC, GENERIC, undefined, XEN]);
    expect(menuDefault(out)).toBe(3);
    expect(out).toContain(`title\t\tUbuntu 8.04, kernel ${XEN}\nroot\t\t(hd0,0)\nkernel\t\t/boot/vmlinuz-${XEN} root=UUID=abc ro quiet splash\ninitrd\t\t/boot/initrd.img-${XEN}`);
    expect(out.indexOf(`kernel ${XEN}`)).toBeGreaterThan(out.indexOf('### END DEBIAN AUTOMAGIC'));
    expect(pvMenu(out, XEN)).toBe(out);
  });

  it('computes the index from the file: an extra kernel before it moves the default', () => {
    const more = HARDY_MENU.replace('title\t\tUbuntu 8.04, memtest86+', `title\t\tUbuntu 8.04, kernel 2.6.24-17-generic\nroot\t\t(hd0,0)\nkernel\t\t/boot/vmlinuz-2.6.24-17-generic ro\n\ntitle\t\tUbuntu 8.04, memtest86+`);
    expect(menuDefault(pvMenu(more, XEN))).toBe(4);
    // an update-grub that later adds an entry shifts the Xen one: a rerun puts default right again
    const shifted = pvMenu(HARDY_MENU, XEN).replace('title\t\tUbuntu 8.04, memtest86+', 'title\t\tnew\nkernel\t\t/boot/vmlinuz-9-generic\n\ntitle\t\tUbuntu 8.04, memtest86+');
    expect(menuDefault(pvMenu(shifted, XEN))).toBe(4);
  });

  it('the way back points default at the generic kernel again', () => {
    expect(menuDefault(hvmMenu(pvMenu(HARDY_MENU, XEN)))).toBe(0);
    expect(hvmMenu(HARDY_MENU)).toBe(HARDY_MENU);
  });

  it('picks the newest -xen kernel by version and refuses "default saved"', () => {
    expect(newestXenKernel(['vmlinuz-2.6.24-9-xen', 'vmlinuz-2.6.24-19-xen', `vmlinuz-${GENERIC}`, 'initrd.img-2.6.24-21-xen'])).toBe(XEN);
    expect(newestXenKernel([`vmlinuz-${GENERIC}`])).toBeUndefined();
    expect(() => menuDefault('default saved\n')).toThrow(/saved/);
  });
});


describe('menu.lst edge cases', () => {
  it('adds a default line when the file has none, and copies the first generic entry when the default is a recovery one', () => {
    const noDefault = HARDY_MENU.replace('default\t\t0\n', '');
    const out = pvMenu(noDefault, XEN);
    expect(out.startsWith('default\t\t3\n')).toBe(true);
    const recoveryDefault = HARDY_MENU.replace('default\t\t0', 'default\t\t1');
    expect(menuEntries(pvMenu(recoveryDefault, XEN)).at(-1)).toMatchObject({ title: `Ubuntu 8.04, kernel ${XEN}`, kernel: XEN });
  });

  it('refuses a menu with no kernel to copy, and the way back with no generic kernel', () => {
    const memtestOnly = 'default 0\ntitle memtest\nkernel /boot/memtest86+.bin\n';
    expect(() => pvMenu(memtestOnly, XEN)).toThrow('menu.lst has no kernel entry to copy for the Xen kernel');
    const xenOnly = `default 0\ntitle xen\nkernel /boot/vmlinuz-${XEN} ro\n`;
    expect(() => hvmMenu(xenOnly)).toThrow('menu.lst has no generic kernel entry to boot under HVM');
  });
});
