/**
 * Reading the log in event-id order, the same way in every adapter: keyset pages, copies of
 * an id dropped as they come, pages cut to size. Adapters supply only the SQL of one page or
 * one sorted stream (docs/architecture.md, "Store adapters").
 *
 * Copies of an id exist because appends are not deduplicated on write (a batch re-sent from the
 * journal after a crash lands again); in id order they are adjacent, so one comparison with the
 * previous id drops them, and a keyset page that starts strictly after the last id seen also
 * skips the copies a LIMIT cut off.
 */

/** One page of a keyset read: at most `limit` rows beyond `after` (all when null), in the read's id order. */
export type FetchPage<R> = (after: string | null, limit: number) => Promise<readonly R[]>;

/** Every row of a keyset read, fetched `pageRows` at a time; ends after the first short page. */
export async function* keysetRows<R>(
  fetch: FetchPage<R>,
  idOf: (row: R) => string,
  after: string | null,
  pageRows: number,
): AsyncIterable<R> {
  let cursor = after;
  for (;;) {
    const rows = await fetch(cursor, pageRows);
    yield* rows;
    if (rows.length < pageRows) return;
    cursor = idOf(rows[rows.length - 1]!);
  }
}

/** The rows of an id-ordered stream with each id once, decoded; a copy of `after` itself is dropped too. */
export async function* distinctById<R, T>(
  rows: AsyncIterable<R>,
  idOf: (row: R) => string,
  decode: (row: R) => T,
  after: string | null = null,
): AsyncIterable<T> {
  let last = after;
  for await (const row of rows) {
    const id = idOf(row);
    if (id === last) continue;
    last = id;
    yield decode(row);
  }
}

/** Cuts a stream into pages of `pageSize` items; only the last may be shorter, and none is empty. */
export async function* inPages<T>(items: AsyncIterable<T>, pageSize: number): AsyncIterable<T[]> {
  let page: T[] = [];
  for await (const item of items) {
    page.push(item);
    if (page.length === pageSize) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}

/** The first `limit` items of a stream; the stream is closed as soon as they are read. */
export async function take<T>(items: AsyncIterable<T>, limit: number): Promise<T[]> {
  const out: T[] = [];
  if (limit <= 0) return out;
  for await (const item of items) {
    out.push(item);
    if (out.length >= limit) break;
  }
  return out;
}
