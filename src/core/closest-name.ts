/** Edits (a letter added, dropped, changed, or two side by side swapped) a mistyped name may be from. */
const MOST_EDITS = 2;

/**
 * The name a mistyped one most likely meant among `known`: the one spelled the same but for case, else
 * the one fewest edits away (at most MOST_EDITS, and fewer than its length), when no other is as close.
 */
export function closestName(given: string, known: readonly string[]): string | undefined {
  const lower = given.toLowerCase();
  const sameLetters = known.filter((name) => name.toLowerCase() === lower);
  if (sameLetters.length === 1) return sameLetters[0];
  let best: string | undefined;
  let bestEdits = MOST_EDITS + 1;
  let tied = false;
  for (const name of known) {
    const edits = editsBetween(lower, name.toLowerCase());
    if (edits >= name.length) continue;
    if (edits < bestEdits) [best, bestEdits, tied] = [name, edits, false];
    else if (edits === bestEdits) tied = true;
  }
  return tied ? undefined : best;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editsBetween(a: string, b: string): number {
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const changed = a[i - 1] === b[j - 1] ? 0 : 1;
      let edits = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + changed,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        edits = Math.min(edits, (before[j - 2] as number) + 1);
      }
      current[j] = edits;
    }
    [before, previous] = [previous, current];
  }
  return previous[b.length] as number;
}
