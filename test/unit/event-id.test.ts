import { describe, expect, it } from 'vitest';
import { EventIdGenerator, eventIdFloor, eventIdTime } from '../../src/domain/event-id.js';

describe('EventIdGenerator', () => {
  it('makes 26-character ids that encode their time', () => {
    const id = new EventIdGenerator().next(Date.UTC(2026, 10, 22, 12));
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(eventIdTime(id)).toBe(Date.UTC(2026, 10, 22, 12));
  });

  it('is strictly increasing within one millisecond and when the clock steps back', () => {
    const gen = new EventIdGenerator();
    const ids = [gen.next(1000), gen.next(1000), gen.next(1000), gen.next(999), gen.next(1001)];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('stays unique and well formed past many refills of its random pool, and matches the floor of its millisecond', () => {
    const gen = new EventIdGenerator();
    const ids: string[] = [];
    // 2,000 milliseconds draw 20,000 random bytes: the 4 KiB pool refills four times.
    for (let ms = 1_700_000_000_000; ms < 1_700_000_002_000; ms++) ids.push(gen.next(ms), gen.next(ms));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(eventIdTime(ids[0]!)).toBe(1_700_000_000_000);
    expect(ids[0]! > eventIdFloor(1_700_000_000_000)).toBe(true);
    expect(ids[0]! < eventIdFloor(1_700_000_000_001)).toBe(true);
    // Two generators in one millisecond draw different random parts.
    expect(new EventIdGenerator().next(5).slice(10)).not.toBe(new EventIdGenerator().next(5).slice(10));
  });

  it('orders ids from different milliseconds by time', () => {
    const gen = new EventIdGenerator();
    const later = gen.next(2_000_000_000_000);
    const earlier = new EventIdGenerator().next(1_999_999_999_999);
    expect(earlier < later).toBe(true);
  });
});
