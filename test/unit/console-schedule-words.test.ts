import { describe, expect, it } from 'vitest';
import { cronInWords, durationInWords, scheduleInWords } from '../../src/console/schedule-in-words.js';

describe('scheduleInWords', () => {
  it('reads a daily cron with its zone and grace', () => {
    expect(scheduleInWords({ cron: '0 2 * * *', tz: 'Europe/Copenhagen' }, 900)).toBe('02:00 Europe/Copenhagen daily, 15 min grace');
  });

  it('reads weekday, monthly, stepped and hourly crons, and falls back to the expression', () => {
    expect(cronInWords('30 6 * * 1-5', 'UTC')).toBe('06:30 UTC Mon–Fri');
    expect(cronInWords('0 6 1 * *', 'UTC')).toBe('06:00 UTC monthly on day 1');
    expect(cronInWords('*/5 * * * *', 'UTC')).toBe('every 5 min');
    expect(cronInWords('15 * * * *', 'UTC')).toBe('hourly at :15');
    expect(scheduleInWords({ cron: '0 2 1-7 * 1', tz: 'UTC' }, 0)).toBe('cron "0 2 1-7 * 1" UTC, 0 s grace');
  });

  it('reads intervals, rrules with calendars, business days and one-off deadlines', () => {
    expect(scheduleInWords({ every: 3600 }, 300)).toBe('every 1 h after the last success, 5 min grace');
    expect(scheduleInWords({ rrule: 'FREQ=MONTHLY;BYMONTHDAY=1', at: '06:00', tz: 'UTC', calendar: 'dk', roll: 'next' }, 0)).toBe(
      '06:00 UTC monthly on day 1, calendar dk, holidays roll to the next business day, 0 s grace',
    );
    expect(scheduleInWords({ businessDay: 3, at: '06:00', tz: 'Europe/Copenhagen', calendar: 'dk' }, 60)).toBe(
      '06:00 Europe/Copenhagen on the 3rd business day of each month, calendar dk, 1 min grace',
    );
    expect(scheduleInWords({ deadline: '2026-12-01T06:00:00.000Z' }, 0)).toBe('once, at 2026-12-01 06:00 UTC, 0 s grace');
    expect(scheduleInWords(null, 0)).toBe('no schedule (counts payments only)');
  });

  it('writes durations with at most two units', () => {
    expect(durationInWords(90)).toBe('1 min 30 s');
    expect(durationInWords(5400)).toBe('1 h 30 min');
    expect(durationInWords(172_800)).toBe('2 d');
    expect(durationInWords(2.5)).toBe('2.5 s');
    expect(durationInWords(0.25)).toBe('250 ms');
  });
});
