/**
 * "Did you mean": the option a mistyped config key most likely meant.
 */

/**
 * Edits that turn `a` into `b`, counting an insertion, a deletion, a substitution
 * or a swap of two neighbouring characters as one (optimal string alignment).
 */
export function editDistance(a: string, b: string): number {
  // rows[i][j]: edits from a's first i characters to b's first j.
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[i].push(j);
        continue;
      }
      let d = Math.min(
        rows[i - 1][j] + 1,
        rows[i][j - 1] + 1,
        rows[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, rows[i - 2][j - 2] + 1);
      }
      rows[i].push(d);
    }
  }
  return rows[a.length][b.length];
}

/** Case, `-` for `_` and camelCase aside: `pageSize`, `Page-Size` and `page_size` are one name. */
function normal(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/-/g, '_');
}

/**
 * The candidate `word` most likely meant: the nearest within 2 edits, else one
 * that contains it or is contained in it (4 characters at least: `token` for
 * `api_token`); the first listed wins a tie. Undefined when none is close.
 */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const w = normal(word);
  let best: { candidate: string; score: number } | undefined;
  for (const candidate of candidates) {
    const c = normal(candidate);
    const distance = editDistance(w, c);
    const contained = Math.min(w.length, c.length) >= 4 && (c.includes(w) || w.includes(c));
    const score = distance <= 2 ? distance : contained ? 3 : Infinity;
    if (score < (best?.score ?? Infinity)) best = { candidate, score };
  }
  return best?.candidate;
}
