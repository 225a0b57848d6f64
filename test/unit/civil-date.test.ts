import { describe, expect, it } from 'vitest';
import {
  addDays,
  compareDates,
  dateOfEpochDay,
  dayOfWeek,
  daysBetween,
  epochDay,
  epochDayFromParts,
  isValidDate,
} from '../../src/domain/time/civil-date.js';

describe('isValidDate', () => {
  it('accepts real dates, leap days included', () => {
    expect(isValidDate('2026-11-26')).toBe(true);
    expect(isValidDate('2024-02-29')).toBe(true);
    expect(isValidDate('2000-02-29')).toBe(true);
    expect(isValidDate('2026-04-30')).toBe(true);
  });

  it('rejects impossible and malformed dates', () => {
    expect(isValidDate('2023-02-29')).toBe(false);
    expect(isValidDate('1900-02-29')).toBe(false);
    expect(isValidDate('2026-04-31')).toBe(false);
    expect(isValidDate('2026-13-01')).toBe(false);
    expect(isValidDate('2026-00-10')).toBe(false);
    expect(isValidDate('2026-01-00')).toBe(false);
    expect(isValidDate('2026-1-01')).toBe(false);
    expect(isValidDate('2026-01-01T00:00:00Z')).toBe(false);
    expect(isValidDate('')).toBe(false);
  });
});

describe('addDays', () => {
  it('crosses month, year and leap-day boundaries', () => {
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2023-02-28', 1)).toBe('2023-03-01');
    expect(addDays('2024-03-01', -1)).toBe('2024-02-29');
    expect(addDays('2026-01-01', 365)).toBe('2027-01-01');
    expect(addDays('1970-01-01', -1)).toBe('1969-12-31');
  });

  it('moves by calendar days across DST change days (no zone involved)', () => {
    expect(addDays('2027-03-13', 1)).toBe('2027-03-14');
    expect(addDays('2027-03-14', 1)).toBe('2027-03-15');
    expect(addDays('2027-11-07', 1)).toBe('2027-11-08');
  });

  it('throws on an invalid date', () => {
    expect(() => addDays('2026-02-30', 1)).toThrow(RangeError);
    expect(() => addDays('2026-02-30', 1)).toThrow('2026-02-30');
  });
});

describe('dayOfWeek', () => {
  it('numbers Sunday 0 to Saturday 6', () => {
    expect(dayOfWeek('1970-01-01')).toBe(4);
    expect(dayOfWeek('2000-01-01')).toBe(6);
    expect(dayOfWeek('2027-03-14')).toBe(0);
    expect(dayOfWeek('2026-11-26')).toBe(4);
    expect(dayOfWeek('2027-07-05')).toBe(1);
    expect(dayOfWeek('1969-12-31')).toBe(3);
  });
});

describe('daysBetween and compareDates', () => {
  it('counts calendar days, negative backwards', () => {
    expect(daysBetween('2027-01-01', '2027-03-01')).toBe(59);
    expect(daysBetween('2028-01-01', '2028-03-01')).toBe(60);
    expect(daysBetween('2027-03-01', '2027-01-01')).toBe(-59);
    expect(daysBetween('2026-11-26', '2026-11-26')).toBe(0);
  });

  it('orders dates', () => {
    expect(compareDates('2026-11-25', '2026-11-26')).toBeLessThan(0);
    expect(compareDates('2026-11-26', '2026-11-26')).toBe(0);
    expect(compareDates('2027-01-01', '2026-12-31')).toBeGreaterThan(0);
  });
});

describe('epoch days', () => {
  it('counts from 1970-01-01', () => {
    expect(epochDay('1970-01-01')).toBe(0);
    expect(epochDay('2000-01-01')).toBe(10_957);
    expect(epochDay('1969-12-31')).toBe(-1);
    expect(epochDayFromParts(2000, 1, 1)).toBe(10_957);
    expect(dateOfEpochDay(10_957)).toBe('2000-01-01');
    expect(dateOfEpochDay(-719_528)).toBe('0000-01-01');
    expect(dateOfEpochDay(2_932_896)).toBe('9999-12-31');
  });

  it('agrees with the proleptic Gregorian calendar of Date.UTC from 1600 to 2400', () => {
    const from = epochDay('1600-01-01');
    const to = epochDay('2400-12-31');
    for (let day = from; day <= to; day += 1) {
      const expected = new Date(day * 86_400_000).toISOString().slice(0, 10);
      if (dateOfEpochDay(day) !== expected) throw new Error(`day ${day}: ${dateOfEpochDay(day)} != ${expected}`);
      if (epochDay(expected) !== day) throw new Error(`${expected}: ${epochDay(expected)} != ${day}`);
    }
  });

  it('refuses days outside the years 0000-9999', () => {
    expect(() => dateOfEpochDay(2_932_897)).toThrow(RangeError);
    expect(() => dateOfEpochDay(1.5)).toThrow(RangeError);
  });
});
