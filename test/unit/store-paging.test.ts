import { describe, expect, it } from 'vitest';
import { distinctById, inPages, keysetRows, take, type FetchPage } from '../../src/store/paging.js';
import { checkEventQuery, entityFilters } from '../../src/store/query-rules.js';
import { latestCompleteSnapshot, orderedChunks, snapshotsToDrop } from '../../src/store/snapshot-chunks.js';

/** A keyset source over stored ids (copies allowed), recording each fetch. */
function source(stored: string[]): { fetch: FetchPage<string>; calls: Array<[string | null, number]> } {
  const sorted = [...stored].sort();
  const calls: Array<[string | null, number]> = [];
  return {
    calls,
    fetch: async (after, limit) => {
      calls.push([after, limit]);
      return sorted.filter((id) => after === null || id > after).slice(0, limit);
    },
  };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const id = (row: string): string => row;

describe('store paging', () => {
  it('reads every id once, in order, whatever the copies and the page size', async () => {
    const stored = ['a', 'a', 'a', 'b', 'c', 'c', 'd', 'd', 'd', 'd', 'd', 'e'];
    for (const pageRows of [1, 2, 3, 5, 100]) {
      const { fetch } = source(stored);
      const ids = await collect(distinctById(keysetRows(fetch, id, null, pageRows), id, id));
      expect(ids, `pageRows ${pageRows}`).toEqual(['a', 'b', 'c', 'd', 'e']);
      const after = await collect(distinctById(keysetRows(source(stored).fetch, id, 'b', pageRows), id, id, 'b'));
      expect(after, `pageRows ${pageRows}, after b`).toEqual(['c', 'd', 'e']);
    }
  });

  it('continues after a full page from its last id and stops after the first short page', async () => {
    const { fetch, calls } = source(['a', 'b', 'c', 'd', 'e']);
    await collect(keysetRows(fetch, id, null, 2));
    expect(calls).toEqual([
      [null, 2],
      ['b', 2],
      ['d', 2],
    ]);
  });

  it('cuts pages to size, only the last shorter, never an empty one', async () => {
    async function* items(n: number): AsyncIterable<number> {
      for (let i = 0; i < n; i++) yield i;
    }
    expect(await collect(inPages(items(5), 2))).toEqual([[0, 1], [2, 3], [4]]);
    expect(await collect(inPages(items(4), 2))).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(await collect(inPages(items(0), 2))).toEqual([]);
  });

  it('take stops fetching once it has the limit', async () => {
    const { fetch, calls } = source(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(await take(distinctById(keysetRows(fetch, id, null, 2), id, id), 3)).toEqual(['a', 'b', 'c']);
    expect(calls).toHaveLength(2);
    expect(await take(keysetRows(source(['a']).fetch, id, null, 2), 0)).toEqual([]);
  });
});

describe('store query rules', () => {
  const q = { project: 'p', limit: 10, order: 'asc' as const };

  it('refuses a malformed query with RangeError', () => {
    expect(() => checkEventQuery({ ...q, limit: -1 })).toThrow(RangeError);
    expect(() => checkEventQuery({ ...q, limit: 1.5 })).toThrow(RangeError);
    expect(() => checkEventQuery({ ...q, order: 'up' as 'asc' })).toThrow(/order/);
    expect(() => checkEventQuery({ ...q, fromTs: Number.NaN })).toThrow(/fromTs/);
    expect(() => checkEventQuery({ ...q, toTs: Infinity })).toThrow(/toTs/);
  });

  it('knows a query that matches nothing, and lists its equality filters', () => {
    expect(checkEventQuery(q).matchesNothing).toBe(false);
    expect(checkEventQuery({ ...q, limit: 0 }).matchesNothing).toBe(true);
    expect(checkEventQuery({ ...q, types: [] }).matchesNothing).toBe(true);
    expect(entityFilters({ ...q, job: 'j', debt: 'd' })).toEqual([
      ['project', 'p'],
      ['debt', 'd'],
      ['job', 'j'],
    ]);
  });
});

describe('snapshot chunks', () => {
  it('takes the first copy of each index and refuses a snapshot with a chunk missing', () => {
    const rows = [
      { index: 0, chunk: 'a' },
      { index: 0, chunk: 'a again' },
      { index: 1, chunk: 'b' },
    ];
    expect(orderedChunks(rows, 2)).toEqual(['a', 'b']);
    expect(orderedChunks(rows, 3)).toBeNull();
    expect(orderedChunks([{ index: 1, chunk: 'b' }], 2)).toBeNull();
  });

  it('loads the newest snapshot whose chunks are all there', async () => {
    const chunks = new Map([
      [3, [{ index: 0, chunk: 'only one of two' }]],
      [
        2,
        [
          { index: 0, chunk: 'x' },
          { index: 1, chunk: 'y' },
        ],
      ],
    ]);
    const marker = (id: number, chunkCount: number) => ({ id, upToEventId: `id-${id}`, takenAt: id, chunkCount });
    const load = async (snapshotId: number) => chunks.get(snapshotId) ?? [];
    expect(await latestCompleteSnapshot([marker(3, 2), marker(2, 2)], load)).toEqual({
      upToEventId: 'id-2',
      takenAt: 2,
      chunks: ['x', 'y'],
    });
    expect(await latestCompleteSnapshot([marker(4, 0), marker(3, 2)], load)).toEqual({ upToEventId: 'id-4', takenAt: 4, chunks: [] });
    expect(await latestCompleteSnapshot([marker(3, 2)], load)).toBeNull();
  });

  it('drops what is older than the newest two complete saves, keeping a newer save in progress', () => {
    const saved = (...s: Array<[number, boolean]>) => s.map(([id, complete]) => ({ id, complete }));
    expect(snapshotsToDrop(saved([6, false], [5, true], [4, false], [3, true], [2, true], [1, false]))).toEqual([2, 1]);
    expect(snapshotsToDrop(saved([2, true], [1, false]))).toEqual([]);
    expect(snapshotsToDrop(saved([2, true], [1, true]))).toEqual([]);
    expect(snapshotsToDrop(saved([3, true], [2, true], [1, true]), 1)).toEqual([2, 1]);
  });
});
