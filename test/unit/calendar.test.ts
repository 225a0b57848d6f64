import Holidays from 'date-holidays';
import { describe, expect, it, vi } from 'vitest';
import { BusinessCalendar, validateCalendarDefinition, type CalendarDefinition, type HolidayType } from '../../src/domain/time/calendar.js';
import { DomainError } from '../../src/domain/problems.js';
import { addDays, dayOfWeek, isValidDate } from '../../src/domain/time/civil-date.js';

// Real date-holidays data throughout: these tests pin what the library says, so an upgrade
// that changes a bank-relevant day shows up here.

function calendar(overrides: Partial<CalendarDefinition> = {}): BusinessCalendar {
  return new BusinessCalendar({
    id: 'test',
    tz: 'America/New_York',
    weekdays: [1, 2, 3, 4, 5],
    extraDates: [],
    excludeDates: [],
    newDayAt: '00:00',
    ...overrides,
  });
}

const usNy = (types?: HolidayType[]) => calendar({ holidays: { country: 'US', state: 'NY', ...(types ? { types } : {}) } });
const gbEngland = () => calendar({ tz: 'Europe/London', holidays: { country: 'GB', state: 'ENG' } });
const denmark = (types?: HolidayType[]) => calendar({ tz: 'Europe/Copenhagen', holidays: { country: 'DK', ...(types ? { types } : {}) } });

/** An instant given as a New York wall time in November (EST, UTC-5). */
const nyNovember = (day: number, hour: number, minute = 0) => Date.UTC(2026, 10, day, hour + 5, minute);

describe('US (NY) holidays', () => {
  it('closes on Thanksgiving and names it', () => {
    const info = usNy().dayInfo('2026-11-26');
    expect(info.business).toBe(false);
    expect(info.reason).toContain('Thanksgiving');
  });

  it('keeps the day after Thanksgiving open by default: date-holidays types it "observance"', () => {
    expect(usNy().dayInfo('2026-11-27')).toEqual({ date: '2026-11-27', business: true });
    const withObservances = usNy(['public', 'observance']).dayInfo('2026-11-27');
    expect(withObservances).toEqual({ date: '2026-11-27', business: false, reason: 'Day after Thanksgiving Day' });
  });

  it('walks Christmas and New Year across the 2026→2027 year end', () => {
    const days = usNy().days('2026-12-24', '2027-01-04');
    expect(days.map((d) => `${d.date} ${d.business ? 'open' : d.reason}`)).toEqual([
      '2026-12-24 open', // Christmas Eve is "optional" in date-holidays, not counted by default
      '2026-12-25 Christmas Day',
      '2026-12-26 Weekend',
      '2026-12-27 Weekend',
      '2026-12-28 open',
      '2026-12-29 open',
      '2026-12-30 open',
      '2026-12-31 open', // New Year's Eve is an "observance"
      "2027-01-01 New Year's Day",
      '2027-01-02 Weekend',
      '2027-01-03 Weekend',
      '2027-01-04 open',
    ]);
  });

  it('counts Christmas Eve when "optional" days are counted', () => {
    expect(usNy(['public', 'optional']).dayInfo('2026-12-24')).toMatchObject({ business: false, reason: 'Christmas Eve' });
  });

  it("closes the substitute Friday when New Year's Day 2022 falls on a Saturday", () => {
    const cal = usNy();
    expect(cal.dayInfo('2021-12-31')).toEqual({ date: '2021-12-31', business: false, reason: "New Year's Day (substitute day)" });
    // The holiday's own name beats "Weekend" as the explanation.
    expect(cal.dayInfo('2022-01-01')).toEqual({ date: '2022-01-01', business: false, reason: "New Year's Day" });
    expect(cal.nextBusinessDay('2021-12-30')).toBe('2022-01-03');
    expect(cal.previousBusinessDay('2022-01-03')).toBe('2021-12-30');
  });

  it("closes the substitute Monday when New Year's Day 2023 falls on a Sunday", () => {
    expect(usNy().dayInfo('2023-01-02')).toMatchObject({ business: false, reason: "New Year's Day (substitute day)" });
  });

  it('lists a substitute on a date that also has an uncounted holiday under the counted name only', () => {
    // 2021-12-24: Christmas Day (substitute day) is public, Christmas Eve is optional.
    expect(usNy().dayInfo('2021-12-24').reason).toBe('Christmas Day (substitute day)');
    expect(usNy(['public', 'optional']).dayInfo('2021-12-24').reason).toBe('Christmas Day (substitute day), Christmas Eve');
  });

  it('lets a Federal Reserve style calendar reopen Saturday-holiday substitutes with extraDates', () => {
    // The Fed stays open on the Friday before a Saturday holiday; date-holidays follows the
    // federal government and closes it, so a bank calendar lists those Fridays explicitly.
    const fed = calendar({ holidays: { country: 'US', state: 'NY' }, extraDates: ['2027-12-31'] });
    expect(usNy().isBusinessDay('2027-12-31')).toBe(false);
    expect(fed.dayInfo('2027-12-31')).toEqual({ date: '2027-12-31', business: true, reason: 'Extra business date' });
  });
});

describe('GB (England) holidays', () => {
  it('closes Boxing Day 2026 (a Saturday) and its Monday substitute', () => {
    const days = gbEngland().days('2026-12-24', '2026-12-29');
    expect(days).toEqual([
      { date: '2026-12-24', business: true },
      { date: '2026-12-25', business: false, reason: 'Christmas Day' },
      { date: '2026-12-26', business: false, reason: 'Boxing Day' },
      { date: '2026-12-27', business: false, reason: 'Weekend' },
      { date: '2026-12-28', business: false, reason: 'Boxing Day (substitute day)' },
      { date: '2026-12-29', business: true },
    ]);
  });

  it('closes both substitutes when Christmas and Boxing Day 2027 fall on a weekend', () => {
    const cal = gbEngland();
    expect(cal.dayInfo('2027-12-27').reason).toBe('Christmas Day (substitute day)');
    expect(cal.dayInfo('2027-12-28').reason).toBe('Boxing Day (substitute day)');
    expect(cal.nextBusinessDay('2027-12-24')).toBe('2027-12-29');
  });
});

describe('DK holidays', () => {
  it('keeps Christmas Eve open by default: date-holidays types it "observance"', () => {
    expect(denmark().dayInfo('2026-12-24')).toEqual({ date: '2026-12-24', business: true });
    expect(denmark(['public', 'observance']).dayInfo('2026-12-24')).toMatchObject({ business: false, reason: 'Christmas Eve' });
    expect(denmark().dayInfo('2026-12-25').reason).toBe('Christmas Day');
    expect(denmark().dayInfo('2026-12-26').reason).toBe('Boxing Day');
  });

  it('closes the Easter-based holidays of 2027', () => {
    const cal = denmark();
    expect(cal.dayInfo('2027-03-24')).toEqual({ date: '2027-03-24', business: true });
    expect(cal.dayInfo('2027-03-25')).toMatchObject({ business: false, reason: 'Maundy Thursday' });
    expect(cal.dayInfo('2027-03-26')).toMatchObject({ business: false, reason: 'Good Friday' });
    expect(cal.dayInfo('2027-03-28')).toMatchObject({ business: false, reason: 'Easter Sunday' });
    expect(cal.dayInfo('2027-03-29')).toMatchObject({ business: false, reason: 'Easter Monday' });
    expect(cal.nextBusinessDay('2027-03-24')).toBe('2027-03-30');
    expect(cal.previousBusinessDay('2027-03-30')).toBe('2027-03-24');
  });

  it('names Danish holidays in English where date-holidays has a translation', () => {
    expect(denmark().dayInfo('2026-05-14').reason).toBe('Ascension Day');
  });
});

describe('explicit dates and weekday masks', () => {
  it('lets extraDates open a holiday or a weekend and excludeDates close a weekday', () => {
    const cal = calendar({
      holidays: { country: 'US', state: 'NY' },
      extraDates: ['2026-11-26', '2026-11-28'],
      excludeDates: ['2026-11-25'],
    });
    expect(cal.dayInfo('2026-11-25')).toEqual({ date: '2026-11-25', business: false, reason: 'Excluded date' });
    expect(cal.dayInfo('2026-11-26')).toEqual({ date: '2026-11-26', business: true, reason: 'Extra business date' });
    expect(cal.isBusinessDay('2026-11-28')).toBe(true);
    expect(cal.isBusinessDay('2026-11-29')).toBe(false);
  });

  it('supports a Sunday–Thursday week, with ISO 7 for Sunday', () => {
    const cal = calendar({ weekdays: [7, 1, 2, 3, 4] });
    expect(cal.days('2026-11-26', '2026-11-29').map((d) => d.business)).toEqual([true, false, false, true]);
    expect(cal.dayInfo('2026-11-27').reason).toBe('Weekend');
    expect(cal.nextBusinessDay('2026-11-26')).toBe('2026-11-29');
  });

  it('answers null rather than spinning when no business day ever comes', () => {
    const onlyOnce = calendar({ weekdays: [], extraDates: ['2026-06-30'] });
    expect(onlyOnce.nextBusinessDay('2026-01-01')).toBe('2026-06-30');
    expect(onlyOnce.nextBusinessDay('2026-06-30')).toBeNull();
    expect(onlyOnce.previousBusinessDay('2026-06-30')).toBeNull();
  });
});

describe('days(from, to)', () => {
  it('lists every date inclusive across a year end', () => {
    const days = calendar().days('2026-12-30', '2027-01-02');
    expect(days.map((d) => d.date)).toEqual(['2026-12-30', '2026-12-31', '2027-01-01', '2027-01-02']);
  });

  it('accepts exactly three years and refuses more, a reversed range and a non-date', () => {
    const cal = calendar();
    expect(cal.days('2026-01-01', '2029-01-01')).toHaveLength(1097);
    expect(() => cal.days('2026-01-01', '2029-01-02')).toThrow(DomainError);
    expect(() => cal.days('2026-01-02', '2026-01-01')).toThrow(/must not be before/);
    expect(() => cal.days('2026-02-30', '2026-03-01')).toThrow(/not a date/);
  });
});

describe('businessDayIndex', () => {
  it('counts business days after `from`, skipping weekends and holidays', () => {
    const cal = usNy();
    // Fri 20 Nov → Mon 30 Nov: Mon 23, Tue 24, Wed 25, Fri 27, Mon 30 (Thanksgiving 26 skipped).
    expect(cal.businessDayIndex('2026-11-20', '2026-11-30')).toBe(5);
    expect(cal.businessDayIndex('2026-11-30', '2026-11-20')).toBe(-5);
    expect(cal.businessDayIndex('2026-11-20', '2026-11-20')).toBe(0);
    expect(cal.businessDayIndex('2026-11-25', '2026-11-27')).toBe(1);
  });
});

describe('businessDateAt', () => {
  it('follows the New York wall date around midnight, not the UTC date', () => {
    const cal = calendar();
    expect(cal.businessDateAt(Date.UTC(2026, 10, 24, 4, 59, 59))).toBe('2026-11-23'); // Mon 23:59:59 EST
    expect(cal.businessDateAt(Date.UTC(2026, 10, 24, 5, 0, 0))).toBe('2026-11-24'); // Tue 00:00 EST
    expect(cal.businessDateAt(Date.UTC(2026, 6, 1, 3, 59))).toBe('2026-06-30'); // Tue 23:59 EDT
    expect(cal.businessDateAt(Date.UTC(2026, 6, 1, 4, 0))).toBe('2026-07-01'); // Wed 00:00 EDT
  });

  it('rolls weekend and holiday instants forward to the next business date', () => {
    const cal = usNy();
    expect(cal.businessDateAt(nyNovember(28, 10))).toBe('2026-11-30'); // Saturday
    expect(cal.businessDateAt(nyNovember(26, 12))).toBe('2026-11-27'); // Thanksgiving
  });

  it('books instants from an 18:00 cut-off on the next business date', () => {
    const cal = calendar({ holidays: { country: 'US', state: 'NY' }, newDayAt: '18:00' });
    expect(cal.businessDateAt(nyNovember(24, 17, 59))).toBe('2026-11-24');
    expect(cal.businessDateAt(nyNovember(24, 18, 0))).toBe('2026-11-25');
    // Wednesday evening would be Thursday, which is Thanksgiving: Friday.
    expect(cal.businessDateAt(nyNovember(25, 18, 30))).toBe('2026-11-27');
    // Friday evening would be Saturday: Monday.
    expect(cal.businessDateAt(nyNovember(27, 23, 0))).toBe('2026-11-30');
    expect(cal.businessDateAt(nyNovember(30, 9, 0))).toBe('2026-11-30');
  });

  it('keeps the small hours with the previous date under a morning rollover', () => {
    const cal = calendar({ newDayAt: '04:00' });
    expect(cal.businessDateAt(nyNovember(25, 3, 59))).toBe('2026-11-24');
    expect(cal.businessDateAt(nyNovember(25, 4, 0))).toBe('2026-11-25');
  });
});

describe('validateCalendarDefinition', () => {
  it('accepts the documented example and fills defaults', () => {
    const result = validateCalendarDefinition({
      id: 'us-business',
      tz: 'America/New_York',
      weekdays: [1, 2, 3, 4, 5],
      holidays: { country: 'US', state: 'NY' },
      extraDates: [],
      excludeDates: [],
      newDayAt: '00:00',
    });
    expect(result).toEqual({
      ok: true,
      value: {
        id: 'us-business',
        tz: 'America/New_York',
        weekdays: [1, 2, 3, 4, 5],
        holidays: { country: 'US', state: 'NY', types: ['public'] },
        extraDates: [],
        excludeDates: [],
        newDayAt: '00:00',
      },
    });
  });

  it('normalizes ISO Sunday, codes, and date lists; defaults to Monday–Friday', () => {
    const result = validateCalendarDefinition({
      id: 'gb',
      tz: 'Europe/London',
      holidays: { country: 'gb', state: 'eng', types: ['public', 'bank', 'public'] },
      extraDates: ['2026-12-28', '2026-12-27', '2026-12-28'],
    });
    expect(result).toMatchObject({
      ok: true,
      value: {
        weekdays: [1, 2, 3, 4, 5],
        holidays: { country: 'GB', state: 'ENG', types: ['public', 'bank'] },
        extraDates: ['2026-12-27', '2026-12-28'],
        excludeDates: [],
        newDayAt: '00:00',
      },
    });
    const sundayFirst = validateCalendarDefinition({ id: 'il', tz: 'Asia/Jerusalem', weekdays: [7, 1, 2, 3, 4] });
    expect(sundayFirst).toMatchObject({ ok: true, value: { weekdays: [0, 1, 2, 3, 4] } });
  });

  it('lists every problem at once', () => {
    const result = validateCalendarDefinition({
      id: 'Bad ID',
      tz: 'Mars/Olympus_Mons',
      weekdays: [1, 8, 1, 7, 0],
      holidays: { country: 'US', state: 'XX', types: ['public', 'holy'], colour: 'red' },
      extraDates: ['2026-02-30', 'next tuesday', '2026-11-26'],
      excludeDates: ['2026-11-26'],
      newDayAt: '25:00',
      owner: 'ops',
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const paths = result.problems.map((p) => p.path).sort();
    expect(paths).toEqual(
      [
        'excludeDates.0', // also in extraDates
        'extraDates.0', // not a calendar date
        'extraDates.1', // not YYYY-MM-DD
        'holidays.colour',
        'holidays.state',
        'holidays.types.1',
        'id',
        'newDayAt',
        'owner',
        'tz',
        'weekdays.1', // 8 is out of range
        'weekdays.2', // 1 twice
        'weekdays.4', // 7 and 0 are both Sunday
      ].sort(),
    );
    const message = (path: string) => result.problems.find((p) => p.path === path)?.message;
    expect(message('tz')).toMatch(/unknown time zone/);
    expect(message('holidays.state')).toMatch(/unknown state 'XX' for US; known: .*NY/);
    expect(message('owner')).toBe('unknown field');
    expect(message('weekdays.4')).toMatch(/Sunday/);
  });

  it('checks country, state and region against date-holidays', () => {
    const problemsOf = (holidays: unknown) => {
      const result = validateCalendarDefinition({ id: 'x', tz: 'UTC', holidays });
      return result.ok ? [] : result.problems;
    };
    expect(problemsOf({ country: 'ZZ' })).toEqual([{ path: 'holidays.country', message: expect.stringMatching(/unknown country 'ZZ'/) }]);
    expect(problemsOf({ country: 'GB', state: 'ENG' })).toEqual([]);
    expect(problemsOf({ country: 'GB', state: 'England' })[0]?.message).toMatch(/known: .*ENG/);
    expect(problemsOf({ country: 'DE', state: 'BY', region: 'A' })).toEqual([]);
    expect(problemsOf({ country: 'DE', state: 'BY', region: 'ZZ' })[0]?.path).toBe('holidays.region');
    expect(problemsOf({ country: 'DE', region: 'A' })[0]?.message).toMatch(/needs a state/);
    expect(problemsOf({ state: 'NY' })[0]?.path).toBe('holidays.country');
  });

  it('refuses a calendar without any business day, and a body that is not an object', () => {
    const empty = validateCalendarDefinition({ id: 'never', tz: 'UTC', weekdays: [] });
    expect(empty).toMatchObject({ ok: false, problems: [{ path: 'weekdays', message: expect.stringMatching(/no business days/) }] });
    expect(validateCalendarDefinition({ id: 'once', tz: 'UTC', weekdays: [], extraDates: ['2026-06-30'] }).ok).toBe(true);
    expect(validateCalendarDefinition('calendar').ok).toBe(false);
    expect(validateCalendarDefinition(null).ok).toBe(false);
  });
});

describe('holiday data handling', () => {
  it('closes every day of a multi-day holiday (Eid al-Fitr in Turkey, "1 Shawwal P3D")', () => {
    const cal = calendar({ tz: 'Europe/Istanbul', holidays: { country: 'TR' } });
    const days = cal.days('2026-03-19', '2026-03-23');
    expect(days.map((d) => d.business)).toEqual([true, false, false, false, true]);
    expect(days[1]?.reason).toContain('Eid al-Fitr');
  });

  it('counts no holidays when the types list is empty (date-holidays would read it as "all")', () => {
    expect(calendar({ holidays: { country: 'US', state: 'NY', types: [] } }).isBusinessDay('2026-11-26')).toBe(true);
  });

  it('asks date-holidays once per year, however many dates are looked up', () => {
    const getHolidays = vi.spyOn(Holidays.prototype, 'getHolidays');
    try {
      const cal = usNy();
      cal.days('2026-01-01', '2026-12-31');
      cal.days('2026-01-01', '2026-12-31');
      // 2026, plus 2025 for multi-day holidays reaching into January.
      expect(getHolidays.mock.calls.map((call) => call[0]).sort()).toEqual([2025, 2026]);
    } finally {
      getHolidays.mockRestore();
    }
  });
});

describe('one civil-date module', () => {
  // Calendars once did their own date math with Date.UTC, which reads years 0-99 as 1900-1999,
  // and refused years before 1000 in their schema: they and civil-date.ts disagreed.
  const samples = ['0000-01-01', '0050-01-01', '0099-12-31', '0100-02-29', '0400-02-29', '1900-02-29', '2024-02-29', '9999-12-31'];

  it('accepts in extraDates exactly the dates civil-date accepts', () => {
    for (const date of [...samples, '2023-02-29', '2026-04-31', '0000-00-01']) {
      const result = validateCalendarDefinition({ id: 'c', tz: 'UTC', extraDates: [date] });
      expect({ date, ok: result.ok }).toEqual({ date, ok: isValidDate(date) });
    }
  });

  it('walks dates and weekdays in years 0000-0099 and up to 9999 as civil-date counts them', () => {
    const everyDay = calendar({ tz: 'UTC', weekdays: [0, 1, 2, 3, 4, 5, 6] });
    const weekdaysOnly = calendar({ tz: 'UTC' });
    for (const date of samples.filter(isValidDate)) {
      expect(everyDay.days(date, date)).toEqual([{ date, business: true }]);
      expect(weekdaysOnly.isBusinessDay(date)).toBe(dayOfWeek(date) >= 1 && dayOfWeek(date) <= 5);
    }
    expect(everyDay.nextBusinessDay('0050-12-31')).toBe(addDays('0050-12-31', 1));
    expect(everyDay.previousBusinessDay('0050-01-01')).toBe('0049-12-31');
    expect(everyDay.nextBusinessDay('9999-12-31')).toBeNull();
    expect(everyDay.previousBusinessDay('0000-01-01')).toBeNull();
    expect(everyDay.businessDayIndex('0050-01-01', '0051-01-01')).toBe(365);
  });
});
