import { describe, expect, it } from 'vitest';
import { nthBusinessDayOfMonth, rollDay } from '../../src/domain/time/business-day-timeline.js';
import { NthBusinessDayCalendar } from '../../src/domain/slos/slo-business-day.js';
import { BusinessCalendar, type CalendarDefinition } from '../../src/domain/time/calendar.js';
import { addDays, dayOfWeek, epochDay } from '../../src/domain/time/civil-date.js';
import type { BusinessDayLookup, RollDirection, Schedule, Timeline } from '../../src/domain/time/schedule.js';
import { timelineOf } from '../../src/domain/time/timeline.js';
import { parseWallTime, wallToInstant } from '../../src/domain/time/zoned-time.js';

// Real date-holidays data and the real zone database; the expected slots come from walking
// every day of 2026-2030 one by one, never from the code under test.

function calendarOf(definition: Omit<CalendarDefinition, 'extraDates' | 'excludeDates' | 'newDayAt'>): BusinessCalendar {
  return new BusinessCalendar({ extraDates: [], excludeDates: [], newDayAt: '00:00', ...definition });
}

const calendars: Record<string, BusinessCalendar> = {
  dk: calendarOf({ id: 'dk', tz: 'Europe/Copenhagen', weekdays: [1, 2, 3, 4, 5], holidays: { country: 'DK' } }),
  'us-ny': calendarOf({ id: 'us-ny', tz: 'America/New_York', weekdays: [1, 2, 3, 4, 5], holidays: { country: 'US', state: 'NY' } }),
  // Weekends included, so business days fall on the Sundays when clocks change.
  'every-day': calendarOf({ id: 'every-day', tz: 'Europe/Copenhagen', weekdays: [0, 1, 2, 3, 4, 5, 6], holidays: { country: 'DK' } }),
};
const lookup: BusinessDayLookup = (id, date) => calendars[id]!.isBusinessDay(date);

// 02:30 does not exist on spring-forward days in both zones and happens twice in Copenhagen in
// the autumn; 01:30 happens twice in New York in November.
const wallClocks = [
  { tz: 'Europe/Copenhagen', at: '02:30' },
  { tz: 'America/New_York', at: '02:30' },
  { tz: 'America/New_York', at: '01:30' },
];

const FIRST = '2026-01-01';
const LAST = '2030-12-31';

function* datesFrom(first: string, last: string): Generator<string> {
  for (let date = first; date <= last; date = addDays(date, 1)) yield date;
}

/** `HH:MM` on `date` in `tz` as the slot the schedule must produce. */
function slotText(tz: string, date: string, at: string): string {
  const wall = parseWallTime(at);
  return `${new Date(wallToInstant(tz, date, wall.hour, wall.minute)).toISOString()} ${date}`;
}

/** Every slot of a timeline with a business date in FIRST..LAST, walking forward with after(). */
function walkForward(timeline: Timeline, tz: string): string[] {
  const out: string[] = [];
  let ms = wallToInstant(tz, addDays(FIRST, -1), 0, 0);
  for (;;) {
    const slot = timeline.after(ms);
    if (slot === null || slot.businessDate > LAST) return out;
    if (slot.businessDate >= FIRST) out.push(`${new Date(slot.at).toISOString()} ${slot.businessDate}`);
    ms = slot.at;
  }
}

/** The same, walking back from the end with atOrBefore(), returned in ascending order. */
function walkBackward(timeline: Timeline, tz: string): string[] {
  const out: string[] = [];
  let ms = wallToInstant(tz, addDays(LAST, 1), 23, 59);
  for (;;) {
    const slot = timeline.atOrBefore(ms);
    if (slot === null || slot.businessDate < FIRST) return out.reverse();
    if (slot.businessDate <= LAST) out.push(`${new Date(slot.at).toISOString()} ${slot.businessDate}`);
    ms = slot.at - 1;
  }
}

function oracleRoll(calendar: BusinessCalendar, date: string, roll: RollDirection | undefined): string | null {
  if (roll === undefined) return calendar.isBusinessDay(date) ? date : null;
  let day = date;
  while (!calendar.isBusinessDay(day)) day = addDays(day, roll === 'next' ? 1 : -1);
  return day;
}

const rules = [
  { rrule: 'FREQ=MONTHLY;BYMONTHDAY=1', isRuleDate: (date: string) => date.endsWith('-01') },
  { rrule: 'FREQ=MONTHLY;BYMONTHDAY=-1', isRuleDate: (date: string) => addDays(date, 1).endsWith('-01') },
  { rrule: 'FREQ=WEEKLY;BYDAY=SA,MO', isRuleDate: (date: string) => dayOfWeek(date) === 6 || dayOfWeek(date) === 1 },
  { rrule: 'FREQ=DAILY', isRuleDate: () => true },
];

describe('rrule with roll, against a day-by-day walk of 2026-2030', () => {
  for (const calendarId of Object.keys(calendars)) {
    for (const roll of ['next', 'previous', undefined] as const) {
      for (const { rrule, isRuleDate } of rules) {
        it(`${rrule} on ${calendarId}, roll ${roll ?? 'none'}`, () => {
          const calendar = calendars[calendarId]!;
          // A month either side: a rule date in December 2025 can roll into 2026.
          const expectedDates = new Set<string>();
          for (const date of datesFrom('2025-12-01', '2031-01-31')) {
            if (!isRuleDate(date)) continue;
            const rolled = oracleRoll(calendar, date, roll);
            if (rolled !== null && rolled >= FIRST && rolled <= LAST) expectedDates.add(rolled);
          }
          for (const { tz, at } of wallClocks) {
            const schedule: Schedule = { kind: 'rrule', rrule, at, tz, calendar: calendarId, ...(roll ? { roll } : {}) };
            const timeline = timelineOf(schedule, lookup)!;
            const expected = [...expectedDates].sort().map((date) => slotText(tz, date, at));
            expect(walkForward(timeline, tz)).toEqual(expected);
            expect(walkBackward(timeline, tz)).toEqual(expected);
          }
        });
      }
    }
  }
});

describe('businessDay ±1..5, against a day-by-day walk of 2026-2030', () => {
  for (const calendarId of Object.keys(calendars)) {
    for (const n of [1, 2, 3, 4, 5, -1, -2, -3, -4, -5]) {
      it(`businessDay ${n} on ${calendarId}`, () => {
        const calendar = calendars[calendarId]!;
        const expectedDates: string[] = [];
        for (let year = 2026; year <= 2030; year++) {
          for (let month = 1; month <= 12; month++) {
            const prefix = `${year}-${String(month).padStart(2, '0')}-`;
            const open = [...datesFrom(`${prefix}01`, `${prefix}31`)].filter((d) => d.startsWith(prefix) && calendar.isBusinessDay(d));
            expectedDates.push(n > 0 ? open[n - 1]! : open[open.length + n]!);
          }
        }
        for (const { tz, at } of wallClocks) {
          const timeline = timelineOf({ kind: 'businessDay', businessDay: n, at, tz, calendar: calendarId }, lookup)!;
          const expected = expectedDates.map((date) => slotText(tz, date, at));
          expect(walkForward(timeline, tz)).toEqual(expected);
          expect(walkBackward(timeline, tz)).toEqual(expected);
        }
      });
    }
  }
});

describe('wall times on clock-change days', () => {
  const everyDay = (schedule: Omit<Extract<Schedule, { kind: 'businessDay' }>, 'kind' | 'calendar'>) =>
    timelineOf({ kind: 'businessDay', calendar: 'every-day', ...schedule }, lookup)!;

  it('moves a 02:30 that does not exist to the end of the gap (03:00 local)', () => {
    // 2026-03-29 is the 3rd-to-last day of March and the day Copenhagen springs forward.
    const copenhagen = everyDay({ businessDay: -3, at: '02:30', tz: 'Europe/Copenhagen' });
    expect(copenhagen.after(Date.parse('2026-03-01T00:00:00Z'))).toEqual({
      at: Date.parse('2026-03-29T01:00:00Z'),
      businessDate: '2026-03-29',
    });
    const daily = timelineOf(
      { kind: 'rrule', rrule: 'FREQ=DAILY', at: '02:30', tz: 'America/New_York', calendar: 'every-day', roll: 'next' },
      lookup,
    )!;
    expect(daily.after(Date.parse('2026-03-08T05:00:00Z'))).toEqual({ at: Date.parse('2026-03-08T07:00:00Z'), businessDate: '2026-03-08' });
  });

  it('takes the first of two 02:30s in Copenhagen and of two 01:30s in New York', () => {
    const copenhagen = everyDay({ businessDay: -1, at: '02:30', tz: 'Europe/Copenhagen' });
    expect(copenhagen.after(Date.parse('2027-10-01T00:00:00Z'))).toEqual({
      at: Date.parse('2027-10-31T00:30:00Z'),
      businessDate: '2027-10-31',
    });
    const newYork = everyDay({ businessDay: 1, at: '01:30', tz: 'America/New_York' });
    expect(newYork.after(Date.parse('2026-10-15T00:00:00Z'))).toEqual({
      at: Date.parse('2026-11-01T05:30:00Z'),
      businessDate: '2026-11-01',
    });
  });
});

describe('the Danish billing examples of 2027', () => {
  const billing = (roll?: RollDirection) =>
    timelineOf(
      {
        kind: 'rrule',
        rrule: 'FREQ=MONTHLY;BYMONTHDAY=1',
        at: '06:00',
        tz: 'Europe/Copenhagen',
        calendar: 'dk',
        ...(roll ? { roll } : {}),
      },
      lookup,
    )!;
  const datesOf = (timeline: Timeline, from: string, count: number): string[] => {
    const out: string[] = [];
    let ms = Date.parse(from);
    for (let i = 0; i < count; i++) {
      const slot = timeline.after(ms)!;
      out.push(slot.businessDate);
      ms = slot.at;
    }
    return out;
  };

  it('bills on Monday 4 January and Monday 3 May with roll next (1 January is a holiday, 1 May a Saturday)', () => {
    expect(datesOf(billing('next'), '2026-12-15T00:00:00Z', 6)).toEqual([
      '2027-01-04',
      '2027-02-01',
      '2027-03-01',
      '2027-04-01',
      '2027-05-03',
      '2027-06-01',
    ]);
    expect(billing('next').after(Date.parse('2027-01-01T00:00:00Z'))).toEqual({
      at: Date.parse('2027-01-04T05:00:00Z'),
      businessDate: '2027-01-04',
    });
  });

  it('bills on the last business day before with roll previous, and skips both months without roll', () => {
    expect(datesOf(billing('previous'), '2026-12-15T00:00:00Z', 6)).toEqual([
      '2026-12-31',
      '2027-02-01',
      '2027-03-01',
      '2027-04-01',
      '2027-04-30',
      '2027-06-01',
    ]);
    expect(datesOf(billing(), '2026-12-15T00:00:00Z', 4)).toEqual(['2027-02-01', '2027-03-01', '2027-04-01', '2027-06-01']);
  });

  it('counts a daily job once on the Monday a Saturday and a Sunday roll to', () => {
    const daily = timelineOf(
      { kind: 'rrule', rrule: 'FREQ=DAILY', at: '06:00', tz: 'Europe/Copenhagen', calendar: 'dk', roll: 'next' },
      lookup,
    )!;
    expect(datesOf(daily, '2026-12-31T12:00:00Z', 3)).toEqual(['2027-01-04', '2027-01-05', '2027-01-06']);
  });

  it('names the 1st, 3rd and last business days of January and May 2027', () => {
    const isOpen = (day: number) => calendars.dk!.isBusinessDay(new Date(day * 86_400_000).toISOString().slice(0, 10));
    const nth = (month: number, n: number) =>
      new Date(nthBusinessDayOfMonth(2027, month, n, isOpen)! * 86_400_000).toISOString().slice(0, 10);
    expect([nth(1, 1), nth(1, 3), nth(1, -1)]).toEqual(['2027-01-04', '2027-01-06', '2027-01-29']);
    // 6 May is Ascension Day.
    expect([nth(5, 1), nth(5, 3), nth(5, -1)]).toEqual(['2027-05-03', '2027-05-05', '2027-05-31']);
  });
});

describe('month edges', () => {
  const weekdaysOnly = (day: number) => {
    const weekday = (((day + 4) % 7) + 7) % 7;
    return weekday >= 1 && weekday <= 5;
  };

  it('gives a month with fewer business days than n its last one (first one for negative n)', () => {
    // February 2027 has 20 weekdays: 1 Feb (Mon) to 26 Feb (Fri).
    expect(nthBusinessDayOfMonth(2027, 2, 23, weekdaysOnly)).toBe(epochDay('2027-02-26'));
    expect(nthBusinessDayOfMonth(2027, 2, 20, weekdaysOnly)).toBe(epochDay('2027-02-26'));
    expect(nthBusinessDayOfMonth(2027, 2, 19, weekdaysOnly)).toBe(epochDay('2027-02-25'));
    expect(nthBusinessDayOfMonth(2027, 2, -23, weekdaysOnly)).toBe(epochDay('2027-02-01'));
    expect(nthBusinessDayOfMonth(2027, 2, 1, () => false)).toBeNull();
  });

  it('gives up a roll after a year without a business day, and at the end of the years 0000-9999', () => {
    expect(rollDay(epochDay('2027-01-01'), 'next', () => false)).toBeNull();
    expect(rollDay(epochDay('9999-12-31'), 'next', (day) => day > epochDay('9999-12-31'))).toBeNull();
    expect(rollDay(epochDay('2027-01-01'), 'previous', weekdaysOnly)).toBe(epochDay('2027-01-01'));
    expect(rollDay(epochDay('2027-01-02'), 'previous', weekdaysOnly)).toBe(epochDay('2027-01-01'));
  });

  it('refuses a businessDay out of ±1..23 and a zone the database does not know', () => {
    for (const businessDay of [0, 24, -24, 1.5]) {
      expect(() => timelineOf({ kind: 'businessDay', businessDay, at: '06:00', tz: 'UTC', calendar: 'dk' }, lookup)).toThrow(RangeError);
    }
    expect(() => timelineOf({ kind: 'businessDay', businessDay: 1, at: '06:00', tz: 'Mars/Base', calendar: 'dk' }, lookup)).toThrow(
      'Mars/Base',
    );
  });
});

describe('NthBusinessDayCalendar (SLOs due on one business day a month)', () => {
  const third = new NthBusinessDayCalendar(calendars.dk!, 3);

  it('opens only the 3rd business day of each month and walks between them', () => {
    const open = [...datesFrom('2027-01-01', '2027-06-30')].filter((d) => third.isBusinessDay(d));
    expect(open).toEqual(['2027-01-06', '2027-02-03', '2027-03-03', '2027-04-05', '2027-05-05', '2027-06-03']);
    expect(third.nextBusinessDay('2027-01-06')).toBe('2027-02-03');
    expect(third.nextBusinessDay('2027-01-05')).toBe('2027-01-06');
    expect(third.previousBusinessDay('2027-01-06')).toBe('2026-12-03');
    expect(third.businessDayIndex('2027-01-01', '2027-06-30')).toBe(6);
    expect(third.businessDayIndex('2027-06-30', '2027-01-06')).toBe(-5);
    expect(third.dayInfo('2027-01-05')).toEqual({ date: '2027-01-05', business: false, reason: 'Not business day 3 of the month' });
    expect(third.dayInfo('2027-01-01')).toEqual(calendars.dk!.dayInfo('2027-01-01'));
  });
});
