/**
 * grub legacy's /boot/grub/menu.lst, read and edited as text (pure): its title entries, its
 * `default`, and the two edits a Xen guest's boot mode needs. Converting an HVM guest to PV adds an
 * entry for the -xen kernel and makes it the default (hardy's update-grub skips that kernel); going
 * back points `default` at a generic kernel again, since grub under HVM cannot boot a -xen one.
 */

/** Where grub legacy keeps its menu. */
export const MENU_LST = '/boot/grub/menu.lst';

export interface MenuEntry {
  title: string;
  /** The entry's first line (its `title`), 0-based. */
  start: number;
  /** One past its last non-blank, non-comment line. */
  end: number;
  /** The version of its `vmlinuz-<version>` kernel, when it boots one. */
  kernel?: string;
}

/**
 * The title entries of a menu.lst with their line ranges and kernel versions (`vmlinuz-<version>`).
 * @example grub.menuEntries(text).map((e) => e.kernel) // ['2.6.24-16-generic', '2.6.24-19-xen']
 */
export function menuEntries(text: string): MenuEntry[] {
  const entries: MenuEntry[] = [];
  text.split('\n').forEach((line, i) => {
    const title = /^\s*title\s+(.*)$/.exec(line);
    if (title) { entries.push({ title: title[1].trim(), start: i, end: i + 1 }); return; }
    const last = entries[entries.length - 1];
    if (!last || /^\s*#/.test(line) || line.trim() === '') return;
    last.end = i + 1;
    const kernel = /^\s*kernel\s+\S*\/vmlinuz-(\S+)/.exec(line);
    if (kernel && last.kernel === undefined) last.kernel = kernel[1];
  });
  return entries;
}

/**
 * The `default N` index (grub's default is 0). `default saved` names no entry a caller can reason
 * about, so it is refused rather than guessed.
 * @example grub.menuDefault('default\t\t3\n') // 3
 */
export function menuDefault(text: string): number {
  const line = /^\s*default\s+(\S+)/m.exec(text);
  if (!line) return 0;
  if (!/^\d+$/.test(line[1])) throw new Error(`menu.lst says "default ${line[1]}": set a number first`);
  return Number(line[1]);
}

/** A generic kernel's entry: not a -xen kernel, not a recovery entry. */
const isGeneric = (e: MenuEntry): boolean => Boolean(e.kernel) && !e.kernel!.endsWith('-xen') && !/recovery/i.test(e.title);

/** A copy of a generic kernel's entry with every reference to its version changed to `version`. */
function entryFor(text: string, version: string): string[] {
  const entries = menuEntries(text);
  const current = entries[menuDefault(text)];
  const base = current && isGeneric(current) ? current : entries.find(isGeneric);
  if (!base?.kernel) throw new Error('menu.lst has no kernel entry to copy for the Xen kernel');
  return text.split('\n').slice(base.start, base.end).map((l) => l.split(base.kernel!).join(version));
}

/** `text` with `default` set to `index` (a `default` line added at the top when there is none). */
function withDefault(text: string, index: number): string {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => /^\s*default\s+\S+/.test(l));
  if (at >= 0) lines[at] = lines[at].replace(/^(\s*default\s+)\S+/, `$1${index}`);
  else lines.unshift(`default\t\t${index}`);
  return lines.join('\n');
}

/**
 * menu.lst with an entry for the Xen kernel `version` (a copy of the generic kernel's entry with
 * its version changed, as done by hand on hardy) and `default` on that entry's index, counted from
 * the file. The entry goes after the automagic kernels list, where update-grub never rewrites it.
 * Unchanged text when both already hold.
 * @example grub.pvMenu(text, '2.6.24-19-xen')
 */
export function pvMenu(text: string, version: string): string {
  let out = text;
  if (!menuEntries(text).some((e) => e.kernel === version)) {
    const lines = text.split('\n');
    const endMarker = lines.findIndex((l) => /^###\s*END DEBIAN AUTOMAGIC KERNELS LIST/.test(l));
    const entries = menuEntries(text);
    const at = endMarker >= 0 ? endMarker + 1 : entries[entries.length - 1].end;
    out = [...lines.slice(0, at), '', ...entryFor(text, version), ...lines.slice(at)].join('\n');
  }
  return withDefault(out, menuEntries(out).findIndex((e) => e.kernel === version));
}

/**
 * menu.lst with `default` on the first generic (non -xen, non-recovery) kernel entry; unchanged
 * when the default already boots a non-Xen kernel. The Xen entry stays for another attempt.
 * @example grub.hvmMenu(grub.pvMenu(text, '2.6.24-19-xen')) // default back to 0
 */
export function hvmMenu(text: string): string {
  const entries = menuEntries(text);
  const current = entries[menuDefault(text)];
  if (current?.kernel && !current.kernel.endsWith('-xen')) return text;
  const index = entries.findIndex(isGeneric);
  if (index < 0) throw new Error('menu.lst has no generic kernel entry to boot under HVM');
  return text.replace(/^(\s*default\s+)\S+/m, `$1${index}`);
}

const versionKey = (v: string): number[] => v.split(/[^0-9]+/).filter(Boolean).map(Number);

function compareVersions(a: string, b: string): number {
  const [x, y] = [versionKey(a), versionKey(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/**
 * The newest `vmlinuz-*-xen` in a /boot listing, by version (hardy's sort has no -V).
 * @example grub.newestXenKernel(['vmlinuz-2.6.24-9-xen', 'vmlinuz-2.6.24-19-xen']) // '2.6.24-19-xen'
 */
export function newestXenKernel(files: readonly string[]): string | undefined {
  const versions = files.map((f) => /(?:^|\/)vmlinuz-(.+-xen)$/.exec(f)?.[1]).filter((v): v is string => v !== undefined);
  return versions.sort(compareVersions).at(-1);
}
