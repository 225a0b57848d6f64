import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/http/rate-limit.js';
import { seededRandom } from '../support/seed.js';

const MINUTE = 60_000;
const DAY = 86_400_000;
const T0 = Date.parse('2026-11-20T12:00:00Z');

describe('RateLimiter', () => {
  it('without limits everything passes and nothing is counted', () => {
    const limiter = new RateLimiter();
    for (let i = 0; i < 10_000; i++) expect(limiter.take('p', T0).allowed).toBe(true);
  });

  it('a project without its own limits gets the default; per-field overrides', () => {
    const limiter = new RateLimiter({ default: { burstPerMinute: 2, perDay: 100 }, projects: { big: { burstPerMinute: 5 } } });
    expect(limiter.limitsFor('other')).toEqual({ burstPerMinute: 2, perDay: 100 });
    expect(limiter.limitsFor('big')).toEqual({ burstPerMinute: 5, perDay: 100 });
    expect([1, 2, 3].map(() => limiter.take('other', T0).allowed)).toEqual([true, true, false]);
    expect([1, 2, 3, 4, 5, 6].map(() => limiter.take('big', T0).allowed)).toEqual([true, true, true, true, true, false]);
  });

  it('never lets more than the limit through within any 60 s (fixed windows let 2× through at a boundary)', () => {
    const limiter = new RateLimiter({ default: { burstPerMinute: 10 } });
    let allowed = 0;
    // 10 at 12:00:59, then 10 more tried at 12:01:00.
    for (let i = 0; i < 10; i++) if (limiter.take('p', T0 + 59_000).allowed) allowed++;
    for (let i = 0; i < 10; i++) if (limiter.take('p', T0 + 60_000).allowed) allowed++;
    expect(allowed).toBe(10);
  });

  it('a limited project does not affect another', () => {
    const limiter = new RateLimiter({ default: { burstPerMinute: 1 } });
    expect(limiter.take('a', T0).allowed).toBe(true);
    expect(limiter.take('a', T0).allowed).toBe(false);
    expect(limiter.take('b', T0).allowed).toBe(true);
  });

  it('reports the day window when that is the one refusing, and the later of the two when both do', () => {
    const limiter = new RateLimiter({ default: { burstPerMinute: 1, perDay: 1 } });
    expect(limiter.take('p', T0).allowed).toBe(true);
    const both = limiter.take('p', T0);
    expect(both).toMatchObject({ allowed: false, window: 'day', limit: 1 });
    // limit 1 and one request today: it only fits once today's count no longer weighs at all.
    if (!both.allowed) expect(both.retryAfterSeconds).toBe((DAY - 12 * 3600_000 + DAY) / 1000);
  });

  it('a reload keeps the counts made so far', () => {
    const limiter = new RateLimiter({ default: { burstPerMinute: 2 } });
    limiter.take('p', T0);
    limiter.take('p', T0);
    limiter.configure({ default: { burstPerMinute: 3 } });
    expect(limiter.take('p', T0).allowed).toBe(true);
    expect(limiter.take('p', T0).allowed).toBe(false);
  });

  // Property: whenever a request is refused with Retry-After r, the same request r seconds
  // later (no other traffic) passes, and r − 1 seconds later it is still refused.
  it('Retry-After is exact: random traffic, random limits (seeded)', () => {
    const { random, note } = seededRandom('rate limiter Retry-After');
    let checked = 0;
    for (let round = 0; round < 300; round++) {
      const limits = { burstPerMinute: 1 + Math.floor(random() * 20), perDay: 1 + Math.floor(random() * 200) };
      const limiter = new RateLimiter({ default: limits });
      let now = T0 + Math.floor(random() * DAY);
      for (let step = 0; step < 60; step++) {
        now += Math.floor(random() * (random() < 0.1 ? DAY / 2 : 20_000));
        const decision = limiter.take('p', now);
        if (decision.allowed) continue;
        const r = decision.retryAfterSeconds;
        const probe = (at: number) => {
          const copy = new RateLimiter({ default: limits });
          // Replay this limiter's state into the copy by sharing its counters (private in TS only).
          (copy as any).counters = structuredClone((limiter as any).counters);
          return copy.take('p', at).allowed;
        };
        expect(probe(now + r * 1000), `${note} round ${round}: allowed after Retry-After ${r}`).toBe(true);
        if (r > 1) expect(probe(now + (r - 1) * 1000), `${note} round ${round}: refused before Retry-After ${r}`).toBe(false);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('keeps one fixed-size entry per project, no matter how many requests', () => {
    const limiter = new RateLimiter({ default: { burstPerMinute: 1_000_000, perDay: 50_000_000 } });
    for (let i = 0; i < 200_000; i++) limiter.take(`p${i % 100}`, T0 + i);
    const counters = (limiter as any).counters as Map<string, unknown>;
    expect(counters.size).toBe(100);
    const window = { start: expect.any(Number), cap: expect.any(Number), written: null };
    expect(counters.get('p1')).toEqual({
      burst: { ...window, current: expect.any(Number), previous: expect.any(Number) },
      day: { ...window, current: 2000, previous: 0 },
      isActive: true,
      hasShare: true,
    });
    expect(limiter.take('p1', T0 + MINUTE).allowed).toBe(true);
  });
});
