/*
 * "Did you mean …?" for a misspelt configuration key: a config file is
 * written by hand, and a list of fifty known keys hides the one meant.
 */

/** Edit distance with adjacent transpositions (optimal string alignment), capped: above `max` returns max + 1. */
function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let before = Array.from({ length: b.length + 1 }, (_, j) => j);
  let previous = before.slice();
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      row.push(d);
      best = Math.min(best, d);
    }
    if (best > max) return max + 1;
    before = previous;
    previous = row;
  }
  return previous[b.length]!;
}

/** Compared without case, dashes or underscores: `dedup-windw`, `dedupWindw` and `DEDUP_WINDW` are one spelling. */
const canonical = (key: string): string => key.toLowerCase().replace(/[-_]/g, '');

/**
 * The known key closest to `key`, when one is close enough to be what was
 * meant (a typo or two, a plural, another case), else undefined; a tie is no
 * suggestion.
 */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const wanted = canonical(key);
  const max = Math.max(1, Math.floor(wanted.length / 4));
  let best: string | undefined;
  let bestDistance = max + 1;
  let tie = false;
  for (const candidate of known) {
    const d = distance(wanted, canonical(candidate), max);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
      tie = false;
    } else if (d === bestDistance) {
      tie = true;
    }
  }
  return best !== undefined && !tie ? best : undefined;
}

/**
 * "; did you mean 'x'?" or "", for an unknown key's message; in the key's own
 * spelling (`dedup-window` for a YAML file's `dedup-windw`, known keys being camelCase).
 */
export function didYouMean(key: string, known: readonly string[]): string {
  const close = closestKey(key, known);
  if (close === undefined) return '';
  const spelt = key.includes('-') ? close.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`) : close;
  return `; did you mean '${spelt}'?`;
}
