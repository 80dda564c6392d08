/**
 * "Did you mean": the known names closest to a mistyped one, by Damerau-Levenshtein distance
 * (a swapped pair of letters counts as one edit, the commonest typo). Only close names are offered:
 * a suggestion far from what was typed is noise.
 * @example suggest('mtod', ['motd', 'leap-second']) // ['motd']
 */
export function suggest(typed: string, known: Iterable<string>, max = 3): string[] {
  const limit = Math.max(1, Math.min(3, Math.floor(typed.length / 3)));
  const scored = [...new Set(known)]
    .map((name) => ({ name, distance: editDistance(typed.toLowerCase(), name.toLowerCase()) }))
    .filter(({ name, distance }) => distance <= limit || isPrefixOf(typed, name))
    .sort((a, b) => a.distance - b.distance || a.name.localeCompare(b.name));
  return scored.slice(0, max).map((s) => s.name);
}

/** `; did you mean host-a?` (after `lead`), or '' when nothing is close: ready to append to a message. */
export function didYouMean(typed: string, known: Iterable<string>, lead = '; '): string {
  const close = suggest(typed, known);
  return close.length ? `${lead}did you mean ${close.join(' or ')}?` : '';
}

const isPrefixOf = (typed: string, name: string): boolean => typed.length >= 3 && name.toLowerCase().startsWith(typed.toLowerCase());

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
