import rrulePkg from 'rrule';
import { describe, expect, it } from 'vitest';
import type { BusinessDayLookup, Slot, Timeline } from '../../src/domain/time/schedule.js';
import { deadlineTimeline, rruleTimeline, timelineOf, validateRrule } from '../../src/domain/time/timeline.js';
import { WallTimeError } from '../../src/domain/time/zoned-time.js';

const { RRule } = rrulePkg;

const at = (iso: string): number => Date.parse(iso);
const show = (slot: Slot | null): string | null => (slot === null ? null : `${new Date(slot.at).toISOString()} ${slot.businessDate}`);

function next(timeline: Timeline, fromIso: string, count: number): (string | null)[] {
  const out: (string | null)[] = [];
  let ms = at(fromIso);
  for (let i = 0; i < count; i++) {
    const slot = timeline.after(ms);
    out.push(show(slot));
    if (slot === null) break;
    ms = slot.at;
  }
  return out;
}

/** A fake calendar: weekdays, minus the listed holidays, recording what it was asked. */
function fakeCalendar(holidays: string[]): { lookup: BusinessDayLookup; asked: string[] } {
  const asked: string[] = [];
  const lookup: BusinessDayLookup = (calendarId, date) => {
    asked.push(`${calendarId} ${date}`);
    const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
    return weekday !== 0 && weekday !== 6 && !holidays.includes(date);
  };
  return { lookup, asked };
}

describe('deadlineTimeline', () => {
  const deadline = at('2026-12-01T06:00:00Z');
  const timeline = deadlineTimeline(deadline);

  it('has one slot, strictly after and inclusively at-or-before', () => {
    expect(show(timeline.after(deadline - 1))).toBe('2026-12-01T06:00:00.000Z 2026-12-01');
    expect(timeline.after(deadline)).toBeNull();
    expect(show(timeline.atOrBefore(deadline))).toBe('2026-12-01T06:00:00.000Z 2026-12-01');
    expect(timeline.atOrBefore(deadline - 1)).toBeNull();
  });

  it('takes the UTC date as business date', () => {
    expect(deadlineTimeline(at('2026-12-01T23:30:00Z')).after(0)?.businessDate).toBe('2026-12-01');
  });
});

describe('rruleTimeline', () => {
  it('puts 06:00 Europe/Copenhagen on the 1st of each month, following DST', () => {
    const timeline = rruleTimeline({ rrule: 'FREQ=MONTHLY;BYMONTHDAY=1', at: '06:00', tz: 'Europe/Copenhagen' });
    expect(next(timeline, '2027-01-15T00:00:00Z', 11)).toEqual([
      '2027-02-01T05:00:00.000Z 2027-02-01',
      '2027-03-01T05:00:00.000Z 2027-03-01',
      '2027-04-01T04:00:00.000Z 2027-04-01',
      '2027-05-01T04:00:00.000Z 2027-05-01',
      '2027-06-01T04:00:00.000Z 2027-06-01',
      '2027-07-01T04:00:00.000Z 2027-07-01',
      '2027-08-01T04:00:00.000Z 2027-08-01',
      '2027-09-01T04:00:00.000Z 2027-09-01',
      '2027-10-01T04:00:00.000Z 2027-10-01',
      '2027-11-01T05:00:00.000Z 2027-11-01',
      '2027-12-01T05:00:00.000Z 2027-12-01',
    ]);
  });

  it('after() is strict and atOrBefore() inclusive, exactly at a slot', () => {
    const timeline = rruleTimeline({ rrule: 'FREQ=MONTHLY;BYMONTHDAY=1', at: '06:00', tz: 'Europe/Copenhagen' });
    const slot = at('2027-04-01T04:00:00Z');
    expect(show(timeline.after(slot))).toBe('2027-05-01T04:00:00.000Z 2027-05-01');
    expect(show(timeline.after(slot - 1))).toBe('2027-04-01T04:00:00.000Z 2027-04-01');
    expect(show(timeline.atOrBefore(slot))).toBe('2027-04-01T04:00:00.000Z 2027-04-01');
    expect(show(timeline.atOrBefore(slot - 1))).toBe('2027-03-01T05:00:00.000Z 2027-03-01');
  });

  it('skips the dates the named calendar rejects', () => {
    const { lookup, asked } = fakeCalendar(['2027-07-05']);
    const timeline = rruleTimeline({ rrule: 'FREQ=DAILY', at: '09:00', tz: 'America/New_York', calendar: 'us' }, lookup);
    expect(next(timeline, '2027-07-02T13:00:00Z', 2)).toEqual([
      '2027-07-06T13:00:00.000Z 2027-07-06',
      '2027-07-07T13:00:00.000Z 2027-07-07',
    ]);
    expect(asked).toEqual(expect.arrayContaining(['us 2027-07-03', 'us 2027-07-04', 'us 2027-07-05', 'us 2027-07-06']));
    expect(show(timeline.atOrBefore(at('2027-07-06T12:59:59Z')))).toBe('2027-07-02T13:00:00.000Z 2027-07-02');
  });

  it('moves a weekly date that falls on a holiday to nothing: the occurrence is skipped', () => {
    const { lookup } = fakeCalendar(['2027-05-31']);
    const timeline = rruleTimeline({ rrule: 'FREQ=WEEKLY;BYDAY=MO', at: '08:00', tz: 'UTC', calendar: 'us' }, lookup);
    expect(next(timeline, '2027-05-25T00:00:00Z', 2)).toEqual([
      '2027-06-07T08:00:00.000Z 2027-06-07',
      '2027-06-14T08:00:00.000Z 2027-06-14',
    ]);
  });

  it('applies the DST rules to the wall time', () => {
    const gap = rruleTimeline({ rrule: 'FREQ=DAILY', at: '02:30', tz: 'America/New_York' });
    expect(next(gap, '2027-03-13T08:00:00Z', 2)).toEqual(['2027-03-14T07:00:00.000Z 2027-03-14', '2027-03-15T06:30:00.000Z 2027-03-15']);
    const repeat = rruleTimeline({ rrule: 'FREQ=DAILY', at: '01:30', tz: 'America/New_York' });
    expect(show(repeat.after(at('2027-11-06T12:00:00Z')))).toBe('2027-11-07T05:30:00.000Z 2027-11-07');
    const lordHowe = rruleTimeline({ rrule: 'FREQ=DAILY', at: '02:15', tz: 'Australia/Lord_Howe' });
    expect(show(lordHowe.after(at('2027-10-02T00:00:00Z')))).toBe('2027-10-02T15:30:00.000Z 2027-10-03');
  });

  it("finds a slot of the next date that precedes a repeated hour crossing midnight (St. John's, 2010)", () => {
    // 2010-11-07 00:01 NDT fell back to 2010-11-06 23:01 NST: midnight came before the repeat.
    const timeline = rruleTimeline({ rrule: 'FREQ=DAILY', at: '00:00', tz: 'America/St_Johns' });
    expect(show(timeline.atOrBefore(at('2010-11-07T03:00:00Z')))).toBe('2010-11-07T02:30:00.000Z 2010-11-07');
  });

  it('honours DTSTART, COUNT and UNTIL', () => {
    const counted = rruleTimeline({ rrule: 'DTSTART:20270101\nRRULE:FREQ=DAILY;COUNT=3', at: '12:00', tz: 'UTC' });
    expect(next(counted, '2026-06-01T00:00:00Z', 4)).toEqual([
      '2027-01-01T12:00:00.000Z 2027-01-01',
      '2027-01-02T12:00:00.000Z 2027-01-02',
      '2027-01-03T12:00:00.000Z 2027-01-03',
      null,
    ]);
    expect(show(counted.atOrBefore(at('2030-01-01T00:00:00Z')))).toBe('2027-01-03T12:00:00.000Z 2027-01-03');
    const ended = rruleTimeline({ rrule: 'FREQ=WEEKLY;BYDAY=FR;UNTIL=20270301T000000Z', at: '12:00', tz: 'UTC' });
    expect(next(ended, '2027-02-20T00:00:00Z', 3)).toEqual(['2027-02-26T12:00:00.000Z 2027-02-26', null]);
    const fortnightly = rruleTimeline({ rrule: 'DTSTART:20260105\nRRULE:FREQ=WEEKLY;INTERVAL=2', at: '07:00', tz: 'UTC' });
    expect(next(fortnightly, '2031-01-01T00:00:00Z', 2)).toEqual([
      '2031-01-13T07:00:00.000Z 2031-01-13',
      '2031-01-27T07:00:00.000Z 2031-01-27',
    ]);
  });

  it('answers lookups quickly for a daily rule counted from 2000', () => {
    const timeline = rruleTimeline({ rrule: 'FREQ=DAILY', at: '09:00', tz: 'America/New_York' });
    const started = performance.now();
    for (let i = 0; i < 2000; i++) {
      timeline.after(at('2027-01-01T00:00:00Z') + i * 3_600_000);
      timeline.atOrBefore(at('2027-01-01T00:00:00Z') + i * 3_600_000);
    }
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it('rejects bad input', () => {
    expect(() => rruleTimeline({ rrule: 'FREQ=HOURLY', at: '06:00', tz: 'UTC' })).toThrow(RangeError);
    expect(() => rruleTimeline({ rrule: 'FREQ=DAILY', at: '6am', tz: 'UTC' })).toThrow(WallTimeError);
    expect(() => rruleTimeline({ rrule: 'FREQ=DAILY', at: '06:00', tz: 'Mars/Olympus_Mons' })).toThrow('Mars/Olympus_Mons');
    expect(() => rruleTimeline({ rrule: 'FREQ=DAILY', at: '06:00', tz: 'UTC', calendar: 'dk' })).toThrow('"dk"');
  });
});

describe("rruleTimeline dates are rrule's own", () => {
  // The timeline moves DTSTART forward for speed; rrule evaluated from the original DTSTART
  // is the reference, forwards and backwards.
  it.each([
    'FREQ=DAILY;INTERVAL=3',
    'FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH',
    'FREQ=WEEKLY;INTERVAL=3;BYDAY=SU,WE;WKST=SU',
    'FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1',
    'FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=31',
    'FREQ=MONTHLY;BYDAY=2FR',
    'FREQ=MONTHLY',
    'FREQ=YEARLY',
    'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29',
    'FREQ=YEARLY;INTERVAL=3;BYWEEKNO=1;BYDAY=MO',
    'FREQ=YEARLY;BYYEARDAY=100,-1',
    'FREQ=YEARLY;BYEASTER=-2',
    'DTSTART:20260131\nRRULE:FREQ=MONTHLY',
    'DTSTART:20261231\nRRULE:FREQ=DAILY;INTERVAL=10;BYDAY=SA,SU',
    'DTSTART;TZID=Europe/Copenhagen:20270104T060000\nRRULE:FREQ=WEEKLY;INTERVAL=2',
    'DTSTART:20260104\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,TU;WKST=SU',
    'DTSTART:20260104\nRRULE:FREQ=WEEKLY;INTERVAL=3;WKST=TH',
  ])('%s', (rule) => {
    const parsed = RRule.parseString(rule);
    const reference = new RRule({ ...parsed, tzid: null, dtstart: parsed.dtstart ?? new Date(Date.UTC(2000, 0, 1)) }, true);
    // Years after any DTSTART below, so the timeline's moved copies do the work.
    const from = new Date(Date.UTC(2031, 5, 1));
    const to = new Date(Date.UTC(2034, 5, 1) - 1);
    const expected = reference.between(from, to, true).map((date) => date.toISOString().slice(0, 10));
    expect(expected.length).toBeGreaterThan(0);

    const timeline = rruleTimeline({ rrule: rule, at: '00:00', tz: 'UTC' });
    const forwards: string[] = [];
    for (let slot = timeline.after(from.getTime() - 1); slot !== null && slot.at <= to.getTime(); slot = timeline.after(slot.at)) {
      forwards.push(slot.businessDate);
    }
    expect(forwards).toEqual(expected);

    const backwards: string[] = [];
    for (
      let slot = timeline.atOrBefore(to.getTime());
      slot !== null && slot.at >= from.getTime();
      slot = timeline.atOrBefore(slot.at - 1)
    ) {
      backwards.push(slot.businessDate);
    }
    expect(backwards.reverse()).toEqual(expected);
  });
});

describe('validateRrule', () => {
  it('accepts rules of dates, with or without DTSTART', () => {
    expect(validateRrule('FREQ=MONTHLY;BYMONTHDAY=1')).toBeNull();
    expect(validateRrule('RRULE:FREQ=MONTHLY;BYMONTHDAY=1')).toBeNull();
    expect(validateRrule('FREQ=WEEKLY;BYDAY=MO,WE,FR')).toBeNull();
    expect(validateRrule('DTSTART:20270101\nRRULE:FREQ=DAILY;COUNT=3')).toBeNull();
  });

  it.each([
    ['', 'empty'],
    ['FREQ=HOURLY', 'dates only'],
    ['FREQ=MINUTELY', 'dates only'],
    ['FREQ=DAILY;BYHOUR=6', 'BYHOUR'],
    ['FREQ=DAILY;COUNT=3', 'DTSTART'],
    ['FREQ=WEEKLY', 'BYDAY'],
    ['FREQ=FOO', 'FREQ'],
    ['BYMONTHDAY=1', 'FREQ'],
    ['hello', 'hello'],
    ['FREQ=DAILY;INTERVAL=0', 'INTERVAL'],
    ['RRULE:FREQ=DAILY\nEXDATE:20260101', 'EXDATE'],
    ['FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30', 'never'],
  ])('rejects %j', (rule, reason) => {
    expect(validateRrule(rule)).toContain(reason);
  });

  it('rejects a daily rule that never gives a date without walking to the year 9999', () => {
    const started = performance.now();
    expect(validateRrule('FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30')).toContain('never');
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('timelineOf', () => {
  it('has no timeline for an interval schedule', () => {
    expect(timelineOf({ kind: 'every', everyMs: 3_600_000 })).toBeNull();
  });

  it('builds cron, rrule and deadline timelines', () => {
    const cron = timelineOf({ kind: 'cron', cron: '30 2 * * *', tz: 'America/New_York' });
    expect(show(cron!.after(at('2027-03-13T12:00:00Z')))).toBe('2027-03-14T07:00:00.000Z 2027-03-14');

    const { lookup } = fakeCalendar(['2027-06-01']);
    const rrule = timelineOf(
      { kind: 'rrule', rrule: 'FREQ=MONTHLY;BYMONTHDAY=1', at: '06:00', tz: 'Europe/Copenhagen', calendar: 'dk' },
      lookup,
    );
    expect(show(rrule!.after(at('2027-05-15T00:00:00Z')))).toBe('2027-07-01T04:00:00.000Z 2027-07-01');

    const deadline = timelineOf({ kind: 'deadline', at: at('2026-12-01T06:00:00Z') });
    expect(show(deadline!.atOrBefore(at('2027-01-01T00:00:00Z')))).toBe('2026-12-01T06:00:00.000Z 2026-12-01');
  });

  it('refuses an rrule naming a calendar when no lookup is given', () => {
    expect(() => timelineOf({ kind: 'rrule', rrule: 'FREQ=DAILY', at: '06:00', tz: 'UTC', calendar: 'dk' })).toThrow(RangeError);
  });
});
