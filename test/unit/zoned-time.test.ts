import { describe, expect, it } from 'vitest';
import {
  isValidTimeZone,
  localEpochDay,
  offsetAt,
  parseDayOffsetTime,
  parseWallTime,
  wallToInstant,
  WallTimeError,
  zonedParts,
} from '../../src/domain/time/zoned-time.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number): string => new Date(ms).toISOString();
const wall = (tz: string, date: string, hour: number, minute: number, second = 0): string =>
  iso(wallToInstant(tz, date, hour, minute, second));

describe('isValidTimeZone', () => {
  it('knows IANA zones and UTC', () => {
    expect(isValidTimeZone('Europe/Copenhagen')).toBe(true);
    expect(isValidTimeZone('Australia/Lord_Howe')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
  });

  it('rejects unknown names', () => {
    expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
  });
});

describe('offsetAt and zonedParts', () => {
  it('reads +05:45 in Kathmandu and 0 in UTC', () => {
    expect(offsetAt('Asia/Kathmandu', at('2027-06-01T00:00:00Z'))).toBe(5 * HOUR + 45 * MINUTE);
    expect(offsetAt('UTC', at('2027-06-01T00:00:00Z'))).toBe(0);
  });

  it('switches offset at the exact instant of a change', () => {
    const tz = 'America/New_York';
    expect(zonedParts(tz, at('2027-03-14T06:59:59Z'))).toEqual({
      date: '2027-03-14',
      hour: 1,
      minute: 59,
      second: 59,
      offsetMs: -5 * HOUR,
    });
    expect(zonedParts(tz, at('2027-03-14T07:00:00Z'))).toEqual({
      date: '2027-03-14',
      hour: 3,
      minute: 0,
      second: 0,
      offsetMs: -4 * HOUR,
    });
  });

  it("follows Lord Howe's half-hour shifts, one of which happens at half past a UTC hour", () => {
    const tz = 'Australia/Lord_Howe';
    // Fall back: 02:00 +11 -> 01:30 +10:30 at 2027-04-03T15:00Z.
    expect(offsetAt(tz, at('2027-04-03T14:59:59Z'))).toBe(11 * HOUR);
    expect(offsetAt(tz, at('2027-04-03T15:00:00Z'))).toBe(10.5 * HOUR);
    // Spring forward: 02:00 +10:30 -> 02:30 +11 at 2027-10-02T15:30Z, inside a UTC hour.
    expect(offsetAt(tz, at('2027-10-02T15:29:59.999Z'))).toBe(10.5 * HOUR);
    expect(offsetAt(tz, at('2027-10-02T15:30:00Z'))).toBe(11 * HOUR);
    expect(offsetAt(tz, at('2027-10-02T15:00:00Z'))).toBe(10.5 * HOUR);
    expect(offsetAt(tz, at('2027-10-02T15:59:00Z'))).toBe(11 * HOUR);
  });

  it('gives the local date, which can differ from the UTC date', () => {
    expect(zonedParts('Pacific/Auckland', at('2027-06-30T13:00:00Z')).date).toBe('2027-07-01');
    expect(zonedParts('America/Los_Angeles', at('2027-07-01T03:00:00Z')).date).toBe('2027-06-30');
    expect(localEpochDay('Asia/Kathmandu', at('2027-06-30T18:15:00Z'))).toBe(Date.UTC(2027, 6, 1) / 86_400_000);
    expect(localEpochDay('Asia/Kathmandu', at('2027-06-30T18:14:59Z'))).toBe(Date.UTC(2027, 5, 30) / 86_400_000);
  });
});

describe('wallToInstant', () => {
  it('converts ordinary wall times, with and without DST', () => {
    expect(wall('UTC', '2027-03-14', 2, 30)).toBe('2027-03-14T02:30:00.000Z');
    expect(wall('Asia/Tokyo', '2027-03-14', 2, 30)).toBe('2027-03-13T17:30:00.000Z');
    expect(wall('Asia/Kathmandu', '2027-06-01', 6, 0)).toBe('2027-06-01T00:15:00.000Z');
    expect(wall('Europe/Copenhagen', '2027-07-01', 6, 0, 30)).toBe('2027-07-01T04:00:30.000Z');
  });

  it('resolves a spring-forward gap to the instant the gap ends (New York)', () => {
    const tz = 'America/New_York';
    expect(wall(tz, '2027-03-14', 1, 59, 59)).toBe('2027-03-14T06:59:59.000Z');
    expect(wall(tz, '2027-03-14', 2, 0)).toBe('2027-03-14T07:00:00.000Z');
    expect(wall(tz, '2027-03-14', 2, 30)).toBe('2027-03-14T07:00:00.000Z');
    expect(wall(tz, '2027-03-14', 2, 59, 59)).toBe('2027-03-14T07:00:00.000Z');
    expect(wall(tz, '2027-03-14', 3, 0)).toBe('2027-03-14T07:00:00.000Z');
    expect(wall(tz, '2027-03-14', 3, 30)).toBe('2027-03-14T07:30:00.000Z');
  });

  it('resolves a fall-back repeat to the first instance (New York)', () => {
    const tz = 'America/New_York';
    expect(wall(tz, '2027-11-07', 0, 59)).toBe('2027-11-07T04:59:00.000Z');
    expect(wall(tz, '2027-11-07', 1, 0)).toBe('2027-11-07T05:00:00.000Z');
    expect(wall(tz, '2027-11-07', 1, 30)).toBe('2027-11-07T05:30:00.000Z');
    expect(wall(tz, '2027-11-07', 1, 59, 59)).toBe('2027-11-07T05:59:59.000Z');
    expect(wall(tz, '2027-11-07', 2, 0)).toBe('2027-11-07T07:00:00.000Z');
  });

  it('handles Europe/London and Europe/Copenhagen change days', () => {
    expect(wall('Europe/London', '2027-03-28', 1, 30)).toBe('2027-03-28T01:00:00.000Z');
    expect(wall('Europe/London', '2027-03-28', 2, 30)).toBe('2027-03-28T01:30:00.000Z');
    expect(wall('Europe/London', '2027-10-31', 1, 30)).toBe('2027-10-31T00:30:00.000Z');
    expect(wall('Europe/London', '2027-10-31', 2, 0)).toBe('2027-10-31T02:00:00.000Z');
    expect(wall('Europe/Copenhagen', '2027-03-28', 2, 30)).toBe('2027-03-28T01:00:00.000Z');
    expect(wall('Europe/Copenhagen', '2027-10-31', 2, 30)).toBe('2027-10-31T00:30:00.000Z');
    expect(wall('Europe/Copenhagen', '2027-10-31', 3, 0)).toBe('2027-10-31T02:00:00.000Z');
  });

  it("handles Lord Howe's 30-minute gap and repeat", () => {
    const tz = 'Australia/Lord_Howe';
    expect(wall(tz, '2027-10-03', 1, 59)).toBe('2027-10-02T15:29:00.000Z');
    expect(wall(tz, '2027-10-03', 2, 15)).toBe('2027-10-02T15:30:00.000Z');
    expect(wall(tz, '2027-10-03', 2, 30)).toBe('2027-10-02T15:30:00.000Z');
    expect(wall(tz, '2027-04-04', 1, 29)).toBe('2027-04-03T14:29:00.000Z');
    expect(wall(tz, '2027-04-04', 1, 45)).toBe('2027-04-03T14:45:00.000Z');
    expect(wall(tz, '2027-04-04', 2, 0)).toBe('2027-04-03T15:30:00.000Z');
  });

  it("handles Kathmandu's 1986 move from +05:30 to +05:45 (a 15-minute gap)", () => {
    expect(wall('Asia/Kathmandu', '1985-12-31', 23, 59)).toBe('1985-12-31T18:29:00.000Z');
    expect(wall('Asia/Kathmandu', '1986-01-01', 0, 10)).toBe('1985-12-31T18:30:00.000Z');
    expect(wall('Asia/Kathmandu', '1986-01-01', 0, 15)).toBe('1985-12-31T18:30:00.000Z');
  });

  it('handles a gap at midnight and a repeat across midnight (Santiago)', () => {
    // 2027-09-05 00:00 -04 jumps to 01:00 -03: the day starts at 01:00.
    expect(wall('America/Santiago', '2027-09-05', 0, 0)).toBe('2027-09-05T04:00:00.000Z');
    expect(wall('America/Santiago', '2027-09-05', 0, 30)).toBe('2027-09-05T04:00:00.000Z');
    // 2027-04-04 00:00 -03 goes back to 2027-04-03 23:00 -04.
    expect(wall('America/Santiago', '2027-04-03', 23, 30)).toBe('2027-04-04T02:30:00.000Z');
    expect(wall('America/Santiago', '2027-04-04', 0, 0)).toBe('2027-04-04T04:00:00.000Z');
  });

  it("handles a repeat that crosses midnight (St. John's 2010-11-07 00:01 NDT -> 2010-11-06 23:01 NST)", () => {
    expect(wall('America/St_Johns', '2010-11-07', 0, 0)).toBe('2010-11-07T02:30:00.000Z');
    expect(wall('America/St_Johns', '2010-11-06', 23, 30)).toBe('2010-11-07T02:00:00.000Z');
    expect(zonedParts('America/St_Johns', at('2010-11-07T03:00:00Z')).date).toBe('2010-11-06');
  });

  it('round-trips every reading: a wall time read from an instant maps back to it or to its first instance', () => {
    const zones = ['America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'America/Santiago', 'UTC'];
    const year = at('2027-01-01T00:00:00Z');
    let repeats = 0;
    const check = (tz: string, ms: number): void => {
      const parts = zonedParts(tz, ms);
      const back = wallToInstant(tz, parts.date, parts.hour, parts.minute, parts.second);
      if (back === ms) return;
      repeats += 1;
      // Only the second instance of a repeated wall time may map elsewhere: to the first one.
      if (back > ms || ms - back > HOUR || offsetAt(tz, back) <= parts.offsetMs) {
        throw new Error(`${tz} ${iso(ms)} -> ${JSON.stringify(parts)} -> ${iso(back)}`);
      }
    };
    for (const tz of zones) {
      const step = 67 * MINUTE + 13_000;
      for (let ms = year; ms < year + 365 * 24 * HOUR; ms += step) {
        check(tz, ms);
        // Around each change, every 61 seconds for two hours either side.
        if (offsetAt(tz, ms) !== offsetAt(tz, ms + step)) {
          for (let near = ms - 2 * HOUR; near < ms + step + 2 * HOUR; near += 61_000) check(tz, near);
        }
      }
    }
    expect(repeats).toBeGreaterThan(150);
  });

  it('rejects impossible times and unknown zones', () => {
    expect(() => wallToInstant('UTC', '2027-01-01', 24, 0)).toThrow(RangeError);
    expect(() => wallToInstant('UTC', '2027-01-01', 1, 60)).toThrow(RangeError);
    expect(() => wallToInstant('UTC', '2027-02-30', 1, 0)).toThrow(RangeError);
    expect(() => wallToInstant('Mars/Olympus_Mons', '2027-01-01', 1, 0)).toThrow('Mars/Olympus_Mons');
  });

  it('is fast once a zone is warm (a few microseconds a call)', () => {
    const started = performance.now();
    for (let i = 0; i < 20_000; i++) wallToInstant('Europe/Copenhagen', '2027-03-28', i % 24, i % 60);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe('parseWallTime', () => {
  it('reads HH:MM and HH:MM:SS', () => {
    expect(parseWallTime('06:00')).toEqual({ hour: 6, minute: 0, second: 0 });
    expect(parseWallTime('23:59:59')).toEqual({ hour: 23, minute: 59, second: 59 });
    expect(parseWallTime('0:30')).toEqual({ hour: 0, minute: 30, second: 0 });
  });

  it('rejects anything else with a message naming the input', () => {
    for (const bad of ['24:00', '12:60', '12:00:60', '6', '06:0', '', '06:00Z', '-1:00']) {
      expect(() => parseWallTime(bad)).toThrow(WallTimeError);
    }
    expect(() => parseWallTime('24:00')).toThrow('"24:00"');
  });
});

describe('parseDayOffsetTime', () => {
  it('reads HH:MM with an optional +Nd', () => {
    expect(parseDayOffsetTime('03:00+1d')).toEqual({ hour: 3, minute: 0, dayOffset: 1 });
    expect(parseDayOffsetTime('00:30')).toEqual({ hour: 0, minute: 30, dayOffset: 0 });
    expect(parseDayOffsetTime('23:15+31d')).toEqual({ hour: 23, minute: 15, dayOffset: 31 });
  });

  it('rejects offsets over 31 days and malformed input', () => {
    for (const bad of ['03:00+32d', '03:00+1', '03:00-1d', '03:00:00+1d', '25:00+1d', '+1d']) {
      expect(() => parseDayOffsetTime(bad)).toThrow(WallTimeError);
    }
    expect(() => parseDayOffsetTime('03:00+32d')).toThrow('"03:00+32d"');
  });
});
