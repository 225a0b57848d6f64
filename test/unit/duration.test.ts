import { describe, expect, it } from 'vitest';
import { DurationError, formatDurationSeconds, parseDuration } from '../../src/domain/time/duration.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('parseDuration', () => {
  it('reads compact units, largest first', () => {
    expect(parseDuration('90s')).toBe(90 * SECOND);
    expect(parseDuration('15m')).toBe(15 * MINUTE);
    expect(parseDuration('1h30m')).toBe(90 * MINUTE);
    expect(parseDuration('2d')).toBe(2 * DAY);
    expect(parseDuration('1w')).toBe(7 * DAY);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1m500ms')).toBe(MINUTE + 500);
    expect(parseDuration('1d2h3m4s')).toBe(DAY + 2 * HOUR + 3 * MINUTE + 4 * SECOND);
    expect(parseDuration('1.5h')).toBe(90 * MINUTE);
    expect(parseDuration(' 15m ')).toBe(15 * MINUTE);
  });

  it('reads ISO 8601 durations of fixed length', () => {
    expect(parseDuration('PT15M')).toBe(15 * MINUTE);
    expect(parseDuration('P1DT2H')).toBe(DAY + 2 * HOUR);
    expect(parseDuration('PT0.5S')).toBe(500);
    expect(parseDuration('PT0,5S')).toBe(500);
    expect(parseDuration('P2W')).toBe(14 * DAY);
    expect(parseDuration('PT1H30M15S')).toBe(HOUR + 30 * MINUTE + 15 * SECOND);
    expect(parseDuration('P3D')).toBe(3 * DAY);
    expect(parseDuration('pt15m')).toBe(15 * MINUTE);
  });

  it('reads a number of seconds, as a number or a numeric string', () => {
    expect(parseDuration(30)).toBe(30 * SECOND);
    expect(parseDuration('30')).toBe(30 * SECOND);
    expect(parseDuration(0.25)).toBe(250);
    expect(parseDuration('1.5')).toBe(1500);
    expect(parseDuration(0)).toBe(0);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('0s')).toBe(0);
    expect(parseDuration('PT0S')).toBe(0);
  });

  it('accepts up to ten years', () => {
    expect(parseDuration('3653d')).toBe(3653 * DAY);
  });

  it.each([
    ['', 'empty'],
    ['   ', 'empty'],
    ['-5m', 'negative'],
    [-1, 'negative'],
    ['abc', 'expected'],
    ['15x', 'expected'],
    ['30m1h', 'expected'],
    ['1h1h', 'expected'],
    ['15M', 'expected'],
    ['1 h', 'expected'],
    ['P', 'expected'],
    ['PT', 'expected'],
    ['P1DT', 'expected'],
    ['P1M', 'years and months'],
    ['P1Y2D', 'years and months'],
    ['PT-5M', 'expected'],
    [Number.NaN, 'finite'],
    [Number.POSITIVE_INFINITY, 'finite'],
    ['3654d', 'ten years'],
    ['11y', 'expected'],
    [1e12, 'ten years'],
    ['99999999999999999999999d', 'ten years'],
  ] as const)('rejects %j', (input, reason) => {
    expect(() => parseDuration(input)).toThrow(DurationError);
    expect(() => parseDuration(input)).toThrow(reason);
  });

  it('names the bad input in the message and carries a code', () => {
    try {
      parseDuration('15 minutes');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(DurationError);
      expect((err as DurationError).message).toContain('"15 minutes"');
      expect((err as DurationError).code).toBe('invalid_duration');
      expect((err as DurationError).input).toBe('15 minutes');
    }
  });
});

describe('formatDurationSeconds', () => {
  it('turns milliseconds into seconds, keeping fractions', () => {
    expect(formatDurationSeconds(90_000)).toBe(90);
    expect(formatDurationSeconds(500)).toBe(0.5);
    expect(formatDurationSeconds(0)).toBe(0);
    expect(formatDurationSeconds(parseDuration('1h30m'))).toBe(5400);
  });
});
