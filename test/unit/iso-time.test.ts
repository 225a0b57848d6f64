import { describe, expect, it } from 'vitest';
import { isoTime } from '../../src/domain/time/iso-time.js';

describe('isoTime', () => {
  it('writes what toISOString writes, for instants across the whole range and both sides of it', () => {
    const samples = [
      0, 1, 999, 1000, 1_796_685_102_468, 253_402_300_799_999, 253_402_300_800_000, -1, -62_198_755_200_000, 8.64e15, 1.5,
      1_796_685_102_468.7,
    ];
    // A fixed pseudo-random walk: same instants every run, many seconds and cache slots.
    let x = 12345;
    for (let i = 0; i < 20_000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      samples.push(Math.floor((x / 2147483648) * 253_402_300_800_000), 1_796_685_102_468 + (x % 5_000_000));
    }
    for (const ms of samples) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });

  it('keeps the right text when two seconds share a cache slot', () => {
    const a = 1_796_685_102_468;
    const b = a + 1024 * 1000; // the same slot, another second
    expect([isoTime(a), isoTime(b), isoTime(a + 1), isoTime(b + 1)]).toEqual([a, b, a + 1, b + 1].map((ms) => new Date(ms).toISOString()));
  });

  it('throws on an invalid time, as toISOString does', () => {
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
    expect(() => isoTime(8.64e15 + 1)).toThrow(RangeError);
  });
});
