import { describe, expect, it } from 'vitest';
import { EventIdGenerator, eventIdTime } from '../../src/domain/event-id.js';

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

  it('orders ids from different milliseconds by time', () => {
    const gen = new EventIdGenerator();
    const later = gen.next(2_000_000_000_000);
    const earlier = new EventIdGenerator().next(1_999_999_999_999);
    expect(earlier < later).toBe(true);
  });
});
