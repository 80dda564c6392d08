import { createRequire } from 'node:module';
import type * as diffModule from 'diff';
import type { ContentChange } from '../runbook/check.ts';

const require = createRequire(import.meta.url);

/**
 * jsdiff, loaded at the first diff drawn (most commands draw none), through its CommonJS build:
 * about a sixth of the time its ES module build takes through the TypeScript loader. `require`
 * keeps it once loaded.
 */
const loadDiff = (): typeof diffModule => require('diff') as typeof diffModule;

/** Content beyond this many bytes on either side is summarised, not diffed (a diff of an image helps no reviewer). */
const DIFF_LIMIT = 256 * 1024;

/**
 * A unified diff (`diff -u`'s shape, 3 lines of context) of a content change; the only module
 * that imports the `diff` package.
 * @example unifiedDiff({ path: '/etc/motd', before: 'a\n', after: 'b\n' }) // '--- /etc/motd\n+++ /etc/motd\n@@ -1 +1 @@\n-a\n+b\n'
 */
export function unifiedDiff(change: ContentChange): string {
  const before = change.before ?? '';
  if (before.length > DIFF_LIMIT || change.after.length > DIFF_LIMIT) {
    return `--- ${change.path}\n+++ ${change.path}\n(content of ${before.length} → ${change.after.length} bytes: too large to show)\n`;
  }
  const { createTwoFilesPatch } = loadDiff();
  const patch = createTwoFilesPatch(change.before === null ? '/dev/null' : change.path, change.path, before, change.after, undefined, undefined, { context: 3 });
  // jsdiff puts an "Index:" line and an underline before the file headers, and writes a one-line
  // range as "1,1"; `diff -u` starts at "---" and writes it as "1".
  return patch.slice(patch.indexOf('--- ')).replace(/^@@ -(\d+),1 /gm, '@@ -$1 ').replace(/^(@@ -\S+ \+\d+),1 @@/gm, '$1 @@');
}
