import { CronExpressionParser } from 'cron-parser';
import { describe, expect, it } from 'vitest';
import { cronTimeline, validateCron } from '../../src/domain/time/cron-schedule.js';
import type { Slot, Timeline } from '../../src/domain/time/schedule.js';

const at = (iso: string): number => Date.parse(iso);
const show = (slot: Slot | null): string | null => (slot === null ? null : `${new Date(slot.at).toISOString()} ${slot.businessDate}`);

/** The next `count` slots strictly after `fromIso`, as "instant businessDate". */
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

/** All slots in [fromIso, toIso), walking with after(). */
function slotsBetween(timeline: Timeline, fromIso: string, toIso: string): Slot[] {
  const slots: Slot[] = [];
  for (let slot = timeline.after(at(fromIso) - 1); slot !== null && slot.at < at(toIso); slot = timeline.after(slot.at)) {
    slots.push(slot);
  }
  return slots;
}

describe('cronTimeline across DST in America/New_York', () => {
  it('runs a 02:30 job once at 03:00 EDT on the spring-forward day', () => {
    const timeline = cronTimeline('30 2 * * *', 'America/New_York');
    expect(next(timeline, '2027-03-13T07:30:00Z', 3)).toEqual([
      '2027-03-14T07:00:00.000Z 2027-03-14',
      '2027-03-15T06:30:00.000Z 2027-03-15',
      '2027-03-16T06:30:00.000Z 2027-03-16',
    ]);
  });

  it('runs a 01:30 job once, at the first 01:30, on the fall-back day', () => {
    const timeline = cronTimeline('30 1 * * *', 'America/New_York');
    expect(next(timeline, '2027-11-06T05:30:00Z', 2)).toEqual([
      '2027-11-07T05:30:00.000Z 2027-11-07',
      '2027-11-08T06:30:00.000Z 2027-11-08',
    ]);
    // At the second 01:30 (EST) the last slot is still the first one.
    expect(show(timeline.atOrBefore(at('2027-11-07T06:30:00Z')))).toBe('2027-11-07T05:30:00.000Z 2027-11-07');
  });

  it('collapses the wall times of a gap into one slot, so slots strictly increase', () => {
    const timeline = cronTimeline('*/15 * * * *', 'America/New_York');
    expect(next(timeline, '2027-03-14T06:30:00Z', 4)).toEqual([
      '2027-03-14T06:45:00.000Z 2027-03-14',
      '2027-03-14T07:00:00.000Z 2027-03-14',
      '2027-03-14T07:15:00.000Z 2027-03-14',
      '2027-03-14T07:30:00.000Z 2027-03-14',
    ]);
    // 96 quarter hours, of which 02:00, 02:15, 02:30, 02:45 and 03:00 are one instant.
    const spring = slotsBetween(timeline, '2027-03-14T05:00:00Z', '2027-03-15T04:00:00Z');
    expect(spring).toHaveLength(92);
    for (let i = 1; i < spring.length; i++) expect(spring[i]!.at).toBeGreaterThan(spring[i - 1]!.at);
    expect(new Set(spring.map((slot) => slot.businessDate))).toEqual(new Set(['2027-03-14']));
  });

  it('gives each repeated wall time once, at its first instance, on the fall-back day', () => {
    const timeline = cronTimeline('*/15 * * * *', 'America/New_York');
    expect(next(timeline, '2027-11-07T04:50:00Z', 6)).toEqual([
      '2027-11-07T05:00:00.000Z 2027-11-07',
      '2027-11-07T05:15:00.000Z 2027-11-07',
      '2027-11-07T05:30:00.000Z 2027-11-07',
      '2027-11-07T05:45:00.000Z 2027-11-07',
      '2027-11-07T07:00:00.000Z 2027-11-07',
      '2027-11-07T07:15:00.000Z 2027-11-07',
    ]);
    expect(show(timeline.atOrBefore(at('2027-11-07T06:59:00Z')))).toBe('2027-11-07T05:45:00.000Z 2027-11-07');
    expect(slotsBetween(timeline, '2027-11-07T04:00:00Z', '2027-11-08T05:00:00Z')).toHaveLength(96);
  });
});

describe('cronTimeline in other zones', () => {
  it("moves a 02:15 job to 02:30 on Lord Howe's 30-minute spring-forward day", () => {
    const timeline = cronTimeline('15 2 * * *', 'Australia/Lord_Howe');
    expect(next(timeline, '2027-09-30T16:00:00Z', 3)).toEqual([
      '2027-10-01T15:45:00.000Z 2027-10-02',
      '2027-10-02T15:30:00.000Z 2027-10-03',
      '2027-10-03T15:15:00.000Z 2027-10-04',
    ]);
  });

  it("skips the repeated half hour on Lord Howe's fall-back day", () => {
    expect(next(cronTimeline('45 1 * * *', 'Australia/Lord_Howe'), '2027-04-02T15:00:00Z', 2)).toEqual([
      '2027-04-03T14:45:00.000Z 2027-04-04',
      '2027-04-04T15:15:00.000Z 2027-04-05',
    ]);
    // 01:40 and 01:50 happen first at +11; 02:00 comes after the repeated 01:30-02:00 at +10:30.
    expect(next(cronTimeline('*/10 1-2 * * *', 'Australia/Lord_Howe'), '2027-04-03T14:35:00Z', 4)).toEqual([
      '2027-04-03T14:40:00.000Z 2027-04-04',
      '2027-04-03T14:50:00.000Z 2027-04-04',
      '2027-04-03T15:30:00.000Z 2027-04-04',
      '2027-04-03T15:40:00.000Z 2027-04-04',
    ]);
  });

  it('uses +05:45 in Asia/Kathmandu and skips the weekend', () => {
    const timeline = cronTimeline('0 9 * * 1-5', 'Asia/Kathmandu');
    expect(show(timeline.after(at('2027-06-04T03:15:00Z')))).toBe('2027-06-07T03:15:00.000Z 2027-06-07');
    expect(show(timeline.atOrBefore(at('2027-06-06T23:59:00Z')))).toBe('2027-06-04T03:15:00.000Z 2027-06-04');
  });

  it('follows the Europe/London and Europe/Copenhagen change days', () => {
    expect(next(cronTimeline('30 1 * * *', 'Europe/London'), '2027-03-27T02:00:00Z', 2)).toEqual([
      '2027-03-28T01:00:00.000Z 2027-03-28',
      '2027-03-29T00:30:00.000Z 2027-03-29',
    ]);
    expect(next(cronTimeline('30 1 * * *', 'Europe/London'), '2027-10-30T02:00:00Z', 2)).toEqual([
      '2027-10-31T00:30:00.000Z 2027-10-31',
      '2027-11-01T01:30:00.000Z 2027-11-01',
    ]);
    expect(next(cronTimeline('30 2 * * *', 'Europe/Copenhagen'), '2027-03-27T02:00:00Z', 2)).toEqual([
      '2027-03-28T01:00:00.000Z 2027-03-28',
      '2027-03-29T00:30:00.000Z 2027-03-29',
    ]);
    expect(next(cronTimeline('30 2 * * *', 'Europe/Copenhagen'), '2027-10-30T02:00:00Z', 2)).toEqual([
      '2027-10-31T00:30:00.000Z 2027-10-31',
      '2027-11-01T01:30:00.000Z 2027-11-01',
    ]);
  });

  it('starts the day at the end of a midnight gap (America/Santiago)', () => {
    expect(next(cronTimeline('0 0 * * *', 'America/Santiago'), '2027-09-04T05:00:00Z', 2)).toEqual([
      '2027-09-05T04:00:00.000Z 2027-09-05',
      '2027-09-06T03:00:00.000Z 2027-09-06',
    ]);
  });
});

describe('cronTimeline when a repeated hour crosses midnight', () => {
  it("counts the next date's midnight, which came first (St. John's, 2010-11-07 00:01 NDT -> 23:01 NST)", () => {
    const timeline = cronTimeline('0 0 * * *', 'America/St_Johns');
    // 2010-11-07T03:00Z reads 2010-11-06 23:30 NST, after 2010-11-07 00:00 NDT had passed.
    expect(show(timeline.atOrBefore(at('2010-11-07T03:00:00Z')))).toBe('2010-11-07T02:30:00.000Z 2010-11-07');
    expect(show(timeline.after(at('2010-11-07T02:30:00Z')))).toBe('2010-11-08T03:30:00.000Z 2010-11-08');
  });
});

describe('cronTimeline with six fields (seconds first)', () => {
  it('falls due every 20 seconds', () => {
    const timeline = cronTimeline('*/20 * * * * *', 'UTC');
    expect(next(timeline, '2027-01-01T00:00:00Z', 3)).toEqual([
      '2027-01-01T00:00:20.000Z 2027-01-01',
      '2027-01-01T00:00:40.000Z 2027-01-01',
      '2027-01-01T00:01:00.000Z 2027-01-01',
    ]);
    expect(show(timeline.atOrBefore(at('2027-01-01T00:00:39.999Z')))).toBe('2027-01-01T00:00:20.000Z 2027-01-01');
  });

  it('applies the DST rules to seconds too', () => {
    expect(show(cronTimeline('10 30 2 * * *', 'America/New_York').after(at('2027-03-13T12:00:00Z')))).toBe(
      '2027-03-14T07:00:00.000Z 2027-03-14',
    );
  });

  it('answers every-second schedules quickly, across a gap', () => {
    const timeline = cronTimeline('* * * * * *', 'America/New_York');
    expect(show(timeline.after(at('2027-03-14T06:59:59Z')))).toBe('2027-03-14T07:00:00.000Z 2027-03-14');
    expect(show(timeline.after(at('2027-03-14T06:59:59.500Z')))).toBe('2027-03-14T07:00:00.000Z 2027-03-14');
    expect(show(timeline.after(at('2027-03-14T07:00:00Z')))).toBe('2027-03-14T07:00:01.000Z 2027-03-14');
    expect(show(timeline.atOrBefore(at('2027-03-14T07:00:00.500Z')))).toBe('2027-03-14T07:00:00.000Z 2027-03-14');
    expect(show(timeline.atOrBefore(at('2027-03-14T06:59:59.999Z')))).toBe('2027-03-14T06:59:59.000Z 2027-03-14');
    const started = performance.now();
    for (let i = 0; i < 2000; i++) {
      timeline.after(at('2027-03-14T00:00:00Z') + i * 97_003);
      timeline.atOrBefore(at('2027-03-14T00:00:00Z') + i * 97_003);
    }
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('cronTimeline boundaries', () => {
  it('after() is strict and atOrBefore() inclusive, exactly at a slot', () => {
    const timeline = cronTimeline('0 2 * * *', 'UTC');
    const slot = at('2027-05-10T02:00:00Z');
    expect(show(timeline.after(slot))).toBe('2027-05-11T02:00:00.000Z 2027-05-11');
    expect(show(timeline.after(slot - 1))).toBe('2027-05-10T02:00:00.000Z 2027-05-10');
    expect(show(timeline.atOrBefore(slot))).toBe('2027-05-10T02:00:00.000Z 2027-05-10');
    expect(show(timeline.atOrBefore(slot - 1))).toBe('2027-05-09T02:00:00.000Z 2027-05-09');
  });

  it('gives the local date as business date, not the UTC date', () => {
    const timeline = cronTimeline('30 23 * * *', 'America/Los_Angeles');
    expect(show(timeline.after(at('2027-07-01T00:00:00Z')))).toBe('2027-07-01T06:30:00.000Z 2027-06-30');
  });
});

describe("cronTimeline day fields are cron-parser's", () => {
  it.each([
    '0 2 * * 1-5',
    '0 6 L * *',
    '0 6 * * 5#2',
    '0 0 1,15 * 1',
    '15 10 */3 * *',
    '0 0 29 2 *',
    '0 12 * * 5L',
    '@weekly',
    '0 9 ? * MON-FRI',
    '*/7 3 1 1,7 *',
    '30 4 1-7 * 0',
  ])('%s in UTC matches cron-parser slot for slot', (expr) => {
    const reference = CronExpressionParser.parse(expr, { tz: 'UTC', currentDate: new Date('2026-12-31T23:59:59Z') });
    const expected = reference.take(40).map((date) => date.toISOString());
    const timeline = cronTimeline(expr, 'UTC');
    expect(next(timeline, '2026-12-31T23:59:59Z', 40).map((line) => line?.slice(0, 24))).toEqual(expected);
    const backwards: string[] = [];
    for (
      let slot = timeline.atOrBefore(at(expected[39]!));
      backwards.length < 40 && slot !== null;
      slot = timeline.atOrBefore(slot.at - 1)
    ) {
      backwards.push(new Date(slot.at).toISOString());
    }
    expect(backwards.reverse()).toEqual(expected);
  });

  it('ORs day of month and day of week when both are given', () => {
    expect(next(cronTimeline('0 0 1,15 * 1', 'UTC'), '2027-06-01T00:00:00Z', 6)).toEqual([
      '2027-06-07T00:00:00.000Z 2027-06-07',
      '2027-06-14T00:00:00.000Z 2027-06-14',
      '2027-06-15T00:00:00.000Z 2027-06-15',
      '2027-06-21T00:00:00.000Z 2027-06-21',
      '2027-06-28T00:00:00.000Z 2027-06-28',
      '2027-07-01T00:00:00.000Z 2027-07-01',
    ]);
  });

  it('gives up after eight years on rare expressions instead of spinning', () => {
    // The fifth Monday of February: 2016-02-29, then 2044-02-29.
    const timeline = cronTimeline('0 0 * 2 1#5', 'UTC');
    const started = performance.now();
    expect(timeline.after(at('2017-01-01T00:00:00Z'))).toBeNull();
    expect(timeline.atOrBefore(at('2030-01-01T00:00:00Z'))).toBeNull();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(show(timeline.after(at('2043-06-01T00:00:00Z')))).toBe('2044-02-29T00:00:00.000Z 2044-02-29');
    expect(show(timeline.atOrBefore(at('2020-01-01T00:00:00Z')))).toBe('2016-02-29T00:00:00.000Z 2016-02-29');
  });
});

describe('validateCron', () => {
  it('accepts 5 and 6 fields and the usual shorthands', () => {
    expect(validateCron('0 2 * * *')).toBeNull();
    expect(validateCron('0 0 2 * * *')).toBeNull();
    expect(validateCron('10,40 6-18 * * *')).toBeNull();
    expect(validateCron('0 9 * * THU')).toBeNull();
    expect(validateCron('@daily')).toBeNull();
  });

  it.each([
    ['', 'empty'],
    ['   ', 'empty'],
    ['* * * *', 'got 4'],
    ['0 0 0 * * * *', 'got 7'],
    ['H 2 * * *', '"H"'],
    ['0 H * * *', '"H"'],
    ['0 0 30 2 *', 'never occurs'],
    ['61 * * * *', '0-59'],
    ['0 2 * * 8', '0-7'],
    ['*/0 * * * *', 'every 0'],
    ['@reboot', 'shorthand'],
    ['foo bar baz qux quux', 'foo'],
  ])('rejects %j', (expr, reason) => {
    expect(validateCron(expr)).toContain(reason);
  });

  it('makes cronTimeline throw on a bad expression or zone', () => {
    expect(() => cronTimeline('0 0 30 2 *', 'UTC')).toThrow(RangeError);
    expect(() => cronTimeline('0 2 * * *', 'Mars/Olympus_Mons')).toThrow('Mars/Olympus_Mons');
  });
});
