import { describe, expect, it } from 'vitest';
import { insertBlocks, isPermanentInsertError } from '../../src/store/clickhouse/insert-blocks.js';

const month = (y: number, m: number, day = 1) => ({ ts: Date.UTC(y, m - 1, day, 12), id: `${y}-${m}-${day}` });

describe('insertBlocks', () => {
  it('keeps a batch within the limit as one block in its own order', () => {
    const batch = [month(2026, 12, 3), month(2026, 11, 30), month(2026, 12, 1)];
    expect(insertBlocks(batch, 2)).toEqual([batch]);
  });

  it('cuts a batch over the limit into blocks of at most that many months, losing nothing', () => {
    const batch = Array.from({ length: 250 }, (_, i) => month(2000 + Math.floor(i / 12), (i % 12) + 1));
    batch.push(month(2000, 1, 20));
    const blocks = insertBlocks(batch, 90);
    expect(blocks.map((b) => new Set(b.map((e) => new Date(e.ts).toISOString().slice(0, 7))).size)).toEqual([90, 90, 70]);
    expect(
      blocks
        .flat()
        .map((e) => e.id)
        .sort(),
    ).toEqual(batch.map((e) => e.id).sort());
    expect(blocks[0]!.slice(0, 2).map((e) => e.id)).toEqual(['2000-1-1', '2000-1-20']);
  });

  it('names months in UTC, as the partition key does', () => {
    const lastMsOfJanuary = { ts: Date.UTC(2026, 1, 1) - 1, id: 'jan' };
    const firstMsOfFebruary = { ts: Date.UTC(2026, 1, 1), id: 'feb' };
    expect(insertBlocks([lastMsOfJanuary, firstMsOfFebruary], 1)).toEqual([[lastMsOfJanuary], [firstMsOfFebruary]]);
  });

  it('gives no block for an empty batch', () => {
    expect(insertBlocks([], 90)).toEqual([]);
  });
});

describe('isPermanentInsertError', () => {
  const chError = (code: string, message: string) => Object.assign(new Error(message), { code });

  it('names errors about the rows themselves permanent', () => {
    expect(isPermanentInsertError(chError('27', 'Cannot parse input: expected , before: ...'))).toBe(true);
    expect(isPermanentInsertError(chError('252', 'Too many partitions for single INSERT block (more than 100).'))).toBe(true);
  });

  it('leaves server trouble to the retry loop', () => {
    expect(isPermanentInsertError(chError('252', 'Too many parts (300). Merges are processing significantly slower than inserts'))).toBe(
      false,
    );
    expect(isPermanentInsertError(chError('241', 'Memory limit (total) exceeded'))).toBe(false);
    expect(isPermanentInsertError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isPermanentInsertError('not an error')).toBe(false);
  });
});
