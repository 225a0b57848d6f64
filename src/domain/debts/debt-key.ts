/**
 * The one string that names a debt across projects, `project` NUL `id` (NUL never occurs in
 * either), as the engine's maps, the wake queue and the exported series key it.
 */

// `${project}\u0000${id}` would build a fresh copy of the project's prefix inside every key (a
// short concatenation is copied, a long one is a rope over its parts): with the prefix shared,
// a key is a rope over two strings the debt already holds, 32 bytes instead of 56.
const prefixes = new Map<string, string>();
const MAX_CACHED_PREFIXES = 4096;

/** The key of debt `id` in `project`. */
export function debtKey(project: string, id: string): string {
  let prefix = prefixes.get(project);
  if (prefix === undefined) {
    if (prefixes.size >= MAX_CACHED_PREFIXES) prefixes.clear();
    prefix = `${project}\u0000`;
    prefixes.set(project, prefix);
  }
  return prefix + id;
}
