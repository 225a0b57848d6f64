import { describe, expect, it } from 'vitest';
import { describeSchedule } from '../../src/domain/time/schedule-words.js';

describe('describeSchedule', () => {
  it('names the n-th business day, counting from the end for negative n', () => {
    const on = (businessDay: number) =>
      describeSchedule({ kind: 'businessDay', businessDay, at: '06:00', tz: 'Europe/Copenhagen', calendar: 'dk' });
    expect(on(1)).toBe('06:00 Europe/Copenhagen on the 1st business day of each month (dk)');
    expect(on(2)).toBe('06:00 Europe/Copenhagen on the 2nd business day of each month (dk)');
    expect(on(3)).toBe('06:00 Europe/Copenhagen on the 3rd business day of each month (dk)');
    expect(on(11)).toBe('06:00 Europe/Copenhagen on the 11th business day of each month (dk)');
    expect(on(22)).toBe('06:00 Europe/Copenhagen on the 22nd business day of each month (dk)');
    expect(on(-1)).toBe('06:00 Europe/Copenhagen on the last business day of each month (dk)');
    expect(on(-3)).toBe('06:00 Europe/Copenhagen on the 3rd-to-last business day of each month (dk)');
  });

  it('says what happens to dates the calendar excludes', () => {
    const billing = { kind: 'rrule', rrule: 'FREQ=MONTHLY;BYMONTHDAY=1', at: '06:00', tz: 'Europe/Copenhagen' } as const;
    expect(describeSchedule(billing)).toBe('06:00 Europe/Copenhagen, every month on the 1st');
    expect(describeSchedule({ ...billing, calendar: 'dk' })).toBe(
      '06:00 Europe/Copenhagen, every month on the 1st, on business days of dk (other dates are skipped)',
    );
    expect(describeSchedule({ ...billing, calendar: 'dk', roll: 'next' })).toBe(
      '06:00 Europe/Copenhagen, every month on the 1st, on business days of dk (other dates move to the next business day)',
    );
    expect(describeSchedule({ ...billing, calendar: 'dk', roll: 'previous' })).toContain('move to the previous business day');
  });

  it('covers every, cron and one-off deadlines', () => {
    expect(describeSchedule({ kind: 'every', everyMs: 5_400_000 })).toBe('every 1h30m after the last success');
    expect(describeSchedule({ kind: 'every', everyMs: 1000 })).toBe('every 1s after the last success');
    expect(describeSchedule({ kind: 'cron', cron: '0 2 * * *', tz: 'UTC' })).toBe('cron "0 2 * * *" in UTC');
    expect(describeSchedule({ kind: 'deadline', at: Date.parse('2026-12-01T06:00:00Z') })).toBe('once, at 2026-12-01T06:00:00.000Z');
  });
});
