/**
 * Cycles in `after` (debts that run after debts, SLOs after SLOs): a definition that would
 * close one is refused with 422, naming the cycle.
 */

/**
 * The first cycle through `id`, as the path `id → … → id`, when following `afterOf` from it
 * leads back to it; else null. `afterOf` answers each id's upstreams (for `id` itself, those
 * of the definition being checked). Each id is walked once, so a long chain costs its length.
 */
export function cycleThrough(id: string, afterOf: (id: string) => readonly string[]): string[] | null {
  const seen = new Set<string>();
  const walk = (from: string, path: string[]): string[] | null => {
    for (const next of afterOf(from)) {
      if (next === id) return [...path, next];
      if (seen.has(next)) continue;
      seen.add(next);
      const found = walk(next, [...path, next]);
      if (found) return found;
    }
    return null;
  };
  return walk(id, [id]);
}

/** The problem at `after` naming the cycle through `id`, or undefined when there is none. */
export function cycleProblem(id: string, afterOf: (id: string) => readonly string[]): { path: string; message: string } | undefined {
  const cycle = cycleThrough(id, afterOf);
  return cycle ? { path: 'after', message: `dependencies may not form a cycle: ${cycle.join(' → ')}` } : undefined;
}
