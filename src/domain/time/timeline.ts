/**
 * Fixed-time schedules as timelines: a one-off deadline, an RFC 5545 rule of dates with a wall
 * time in a zone, and (from cron-schedule.ts and business-day-timeline.ts) cron and the n-th
 * business day. The rrule package only ever sees dates, in UTC; the wall time goes through the
 * zone database, so a wall time in a DST gap resolves to the gap's end and a repeated one to
 * its first instance.
 */
import rrulePkg from 'rrule';
import type { Frequency, Options } from 'rrule';
import { dateOfEpochDay, epochDayFromParts } from './civil-date.js';
import { businessDayTimeline, MAX_ROLL_DAYS, rollDay } from './business-day-timeline.js';
import { cronTimeline, SCHEDULE_SEARCH_DAYS } from './cron-schedule.js';
import type { BusinessDayLookup, RollDirection, Schedule, Slot, Timeline } from './schedule.js';
import { isValidTimeZone, localEpochDay, parseWallTime, wallToInstant } from './zoned-time.js';

// rrule is CommonJS: Node's ESM loader exposes only its default export.
const { RRule } = rrulePkg;
type RRuleObject = InstanceType<typeof RRule>;

const DAY_MS = 86_400_000;
// Without a DTSTART the rule counts from here; it only fixes the phase of INTERVAL > 1.
const DEFAULT_START_DAY = epochDayFromParts(2000, 1, 1);
// Dates asked from rrule at a time when walking forward.
const BATCH_SIZE = 32;

/** The single slot of a one-off deadline at `atMs`; its business date is the UTC date. */
export function deadlineTimeline(atMs: number): Timeline {
  return new DeadlineTimeline(atMs, dateOfEpochDay(Math.floor(atMs / DAY_MS)));
}

// A class, not two closures: every one-off debt holds one, so its methods live on the prototype.
// The timeline of one slot is that slot: one object per one-off debt instead of two. As a slot
// it reads (and serialises) as the plain { at, businessDate }.
class DeadlineTimeline implements Timeline, Slot {
  constructor(
    readonly at: number,
    readonly businessDate: string,
  ) {}

  after(ms: number): Slot | null {
    return this.at > ms ? this : null;
  }

  atOrBefore(ms: number): Slot | null {
    return this.at <= ms ? this : null;
  }
}

/** Null when `rule` is a usable RFC 5545 rule of dates (YEARLY to DAILY, optional DTSTART), else why not. */
export function validateRrule(rule: string): string | null {
  const compiled = compileRule(rule);
  return typeof compiled === 'string' ? compiled : null;
}

/**
 * The slots of an rrule schedule: each date of the rule, at wall time `at` in `tz`. With a
 * calendar, a date `isBusinessDay` rejects is skipped, or with `roll` moved to the next
 * (previous) business day; a rolled date that already is an occurrence counts once. Throws
 * RangeError on invalid input.
 */
export function rruleTimeline(
  schedule: { rrule: string; at: string; tz: string; calendar?: string; roll?: RollDirection },
  isBusinessDay?: BusinessDayLookup,
): Timeline {
  const rule = compileRule(schedule.rrule);
  if (typeof rule === 'string') throw new RangeError(`invalid rrule "${schedule.rrule}": ${rule}`);
  const { tz, calendar } = schedule;
  if (!isValidTimeZone(tz)) throw new RangeError(`unknown time zone "${tz}"`);
  const wall = parseWallTime(schedule.at);
  const isOpen = businessDayFilter(calendar, isBusinessDay);
  const isOpenDay = (day: number): boolean => isOpen(dateOfEpochDay(day));
  const roll = calendar === undefined ? undefined : schedule.roll;
  // Rolling maps rule dates to business dates monotonically (next: the first open day at or
  // after; previous: the last at or before), so slots stay in order and a rolled date equal to
  // another's is the same slot: after() and atOrBefore() return it once.
  const businessDayOf = (day: number): number | null => (roll ? rollDay(day, roll, isOpenDay) : isOpenDay(day) ? day : null);
  const slotOn = (day: number): Slot | null => {
    const business = businessDayOf(day);
    if (business === null) return null;
    const date = dateOfEpochDay(business);
    return { at: wallToInstant(tz, date, wall.hour, wall.minute, wall.second), businessDate: date };
  };
  return {
    after(ms) {
      const from = localEpochDay(tz, ms);
      // Rolled forward, a rule date after the last business day before `from` can land on or after it.
      const start = roll === 'next' ? (rollDay(from - 1, 'previous', isOpenDay) ?? from - MAX_ROLL_DAYS - 1) + 1 : from;
      for (const day of rule.datesFrom(start, from + rule.searchDays)) {
        const slot = slotOn(day);
        if (slot !== null && slot.at > ms) return slot;
      }
      return null;
    },
    atOrBefore(ms) {
      // A slot of the next local date can precede ms when ms lies in a fall-back repeat that
      // crosses midnight, so the search starts a day late.
      const from = localEpochDay(tz, ms) + 1;
      // Rolled back, a rule date before the first business day after `from` can land on or before it.
      const start = roll === 'previous' ? (rollDay(from + 1, 'next', isOpenDay) ?? from + MAX_ROLL_DAYS + 2) - 1 : from;
      for (const day of rule.datesBackFrom(start, from - rule.searchDays)) {
        const slot = slotOn(day);
        if (slot !== null && slot.at <= ms) return slot;
      }
      return null;
    },
  };
}

/** The timeline of a fixed-time schedule, or null for `every` (it is anchored on the last success). */
export function timelineOf(schedule: Schedule, isBusinessDay?: BusinessDayLookup): Timeline | null {
  switch (schedule.kind) {
    case 'every':
      return null;
    case 'cron':
      return cronTimeline(schedule.cron, schedule.tz);
    case 'rrule':
      return rruleTimeline(schedule, isBusinessDay);
    case 'businessDay': {
      const isOpen = businessDayFilter(schedule.calendar, isBusinessDay);
      return businessDayTimeline(schedule, (day) => isOpen(dateOfEpochDay(day)));
    }
    case 'deadline':
      return deadlineTimeline(schedule.at);
  }
}

function businessDayFilter(calendar: string | undefined, isBusinessDay: BusinessDayLookup | undefined): (date: string) => boolean {
  if (calendar === undefined) return () => true;
  if (isBusinessDay === undefined) {
    throw new RangeError(`the schedule names calendar "${calendar}" but no business-day lookup was given`);
  }
  return (date) => isBusinessDay(calendar, date);
}

/**
 * The periods rrule iterates in (years, months, wkst-aligned weeks or days), numbered: the
 * rule's pattern depends only on how many periods lie between a date and DTSTART, which is
 * what lets a far-past DTSTART be moved forward without changing any date.
 */
interface Periods {
  indexOf(day: number): number;
  firstDayOf(index: number): number;
  maxDays: number;
}

/** Every date of the rule from `from` to `to` (epoch days, inclusive), ascending. */
interface Window {
  from: number;
  to: number;
  days: number[];
}

/**
 * An rrule reduced to dates. rrule iterates from DTSTART on every call and, when no date
 * comes, runs on to the year 9999 (a daily rule from 2000 costs ~40 ms per lookup in 2027). So
 * lookups run on a copy whose DTSTART is moved to the start of a period a whole number of
 * INTERVALs after the original, with UNTIL at the end of the range asked, after pinning the
 * defaults rrule derives from DTSTART (day of month, month, weekday); and the last window of
 * dates is kept, since a timeline is asked about the same days again and again.
 */
class DateRule {
  readonly searchDays: number;
  private readonly startIndex: number;
  private window: Window = { from: 1, to: 0, days: [] };

  constructor(
    private readonly options: Partial<Options>,
    private readonly startDay: number,
    private readonly timeOfDayMs: number,
    private readonly periods: Periods,
    private readonly interval: number,
    private readonly canMoveStart: boolean,
  ) {
    this.startIndex = periods.indexOf(startDay);
    this.searchDays = Math.max(SCHEDULE_SEARCH_DAYS, 2 * interval * periods.maxDays);
  }

  /** The rule's dates from `from` to `until` (epoch days, inclusive), ascending. */
  *datesFrom(from: number, until: number): Generator<number> {
    for (let day = from; day <= until; day = this.window.to + 1) {
      if (!this.inWindow(day)) this.window = this.fetch(day, this.interval, until);
      const { days } = this.window;
      for (let i = firstIndexAtOrAfter(days, day); i < days.length && days[i]! <= until; i++) yield days[i]!;
    }
  }

  /** The rule's dates from `from` back to `until` (epoch days, inclusive), descending. */
  *datesBackFrom(from: number, until: number): Generator<number> {
    // Each miss looks back over twice as many periods: sparse rules need wide windows, dense ones small.
    let periodsBack = this.interval * Math.max(1, Math.floor(BATCH_SIZE / this.periods.maxDays));
    for (let to = from; to >= until; to = this.window.from - 1) {
      if (!this.inWindow(to)) {
        this.window = this.fetch(to, periodsBack, to + this.searchDays);
        periodsBack *= 2;
      }
      const { days } = this.window;
      for (let i = firstIndexAtOrAfter(days, to + 1) - 1; i >= 0 && days[i]! >= until; i--) yield days[i]!;
      if (this.window.from <= this.startDay) return;
    }
  }

  private inWindow(day: number): boolean {
    return day >= this.window.from && day <= this.window.to;
  }

  /**
   * The dates around `day`: from `periodsBack` periods before it to BATCH_SIZE dates after it,
   * so that next() and previous-slot questions about the same days share one window.
   */
  private fetch(day: number, periodsBack: number, lastDay: number): Window {
    const start = this.moveStart(day, periodsBack);
    const dayEnd = utcDay(day + 1).getTime();
    let datesAfterDay = 0;
    const keepGoing = (date: Date): boolean => date.getTime() < dayEnd || datesAfterDay++ < BATCH_SIZE;
    const days = this.copy(start, lastDay)
      .between(utcDay(start), utcDay(lastDay + 1, -1), true, keepGoing)
      .map(dayOf);
    const cutShort = datesAfterDay > BATCH_SIZE;
    // Before the rule's own start there are no dates, so the window may begin at `day`.
    return { from: Math.min(start, day), to: cutShort ? days[days.length - 1]! : lastDay, days };
  }

  /** The latest DTSTART that still gives the rule's own dates from `periodsBack` periods before `day` on. */
  private moveStart(day: number, periodsBack: number): number {
    const periodsFromStart = this.periods.indexOf(day) - periodsBack - this.startIndex;
    const shift = Math.floor(periodsFromStart / this.interval) * this.interval;
    return this.canMoveStart && shift > 0 ? this.periods.firstDayOf(this.startIndex + shift) : this.startDay;
  }

  /** A copy of the rule starting on `startDay` that never walks past `lastDay`. */
  private copy(startDay: number, lastDay: number): RRuleObject {
    const end = utcDay(lastDay + 1, -1);
    const until = this.options.until && this.options.until < end ? this.options.until : end;
    // noCache: rrule's own cache would keep every answer it ever gave.
    const rule = new RRule({ ...this.options, dtstart: utcDay(startDay, this.timeOfDayMs), until }, true);
    // rrule checks UNTIL only against dates it finds: while no period gives a date it walks on
    // to the year 9999 (15 s for an impossible daily rule). It reads options.interval twice a
    // period and stops when it reads 0, so a counting getter caps the walk; the budget is twice
    // the periods in the range, so only walks that already passed lastDay are cut short.
    const steps = Math.floor((this.periods.indexOf(lastDay) - this.periods.indexOf(startDay)) / this.interval) + 2;
    let reads = 4 * steps + 8;
    Object.defineProperty(rule.options, 'interval', { get: () => (reads-- > 0 ? this.interval : 0) });
    return rule;
  }
}

function compileRule(text: string): DateRule | string {
  if (text.trim() === '') return 'the rule is empty';
  let parsed: Partial<Options>;
  try {
    parsed = RRule.parseString(text.trim());
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  const { freq } = parsed;
  if (freq === undefined || freq === null) return 'FREQ is missing or unknown: use YEARLY, MONTHLY, WEEKLY or DAILY';
  if (freq > RRule.DAILY) {
    return 'the rule gives dates only: use FREQ=YEARLY, MONTHLY, WEEKLY or DAILY and put the time in "at"';
  }
  if (isGiven(parsed.byhour) || isGiven(parsed.byminute) || isGiven(parsed.bysecond)) {
    return 'BYHOUR, BYMINUTE and BYSECOND are not used: put the time of day in "at"';
  }
  const interval = parsed.interval ?? 1;
  if (!Number.isInteger(interval) || interval < 1) return 'INTERVAL must be a whole number of at least 1';
  const hasStart = parsed.dtstart instanceof Date;
  if (isGiven(parsed.count) && !hasStart) return 'COUNT needs a DTSTART to count from';
  // Without BYDAY a weekly rule repeats DTSTART's weekday; the default start's is a Saturday.
  if (freq === RRule.WEEKLY && !isNarrowed(parsed) && !hasStart) return 'FREQ=WEEKLY needs BYDAY (or a DTSTART)';
  // DTSTART's own wall date and time (a TZID only says where that wall clock hangs; dates don't care).
  const startMs = parsed.dtstart?.getTime() ?? DEFAULT_START_DAY * DAY_MS;
  const startDay = Math.floor(startMs / DAY_MS);
  const options: Partial<Options> = { ...pinDefaults(parsed, startDay), tzid: null, dtstart: null };
  const periods = periodsOf(freq, parsed.wkst);
  const rule = new DateRule(options, startDay, startMs - startDay * DAY_MS, periods, interval, !isGiven(parsed.count));
  try {
    if (rule.datesFrom(startDay, startDay + rule.searchDays).next().done) return 'the rule never gives a date';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  return rule;
}

// rrule fills these from DTSTART when no BYxxx part narrows the period (its parseOptions does
// the same); pinning them keeps the dates unchanged when the copy's DTSTART moves.
function pinDefaults(options: Partial<Options>, startDay: number): Partial<Options> {
  if (isNarrowed(options)) return options;
  const date = dateOfEpochDay(startDay);
  const month = Number(date.slice(5, 7));
  const dayOfMonth = Number(date.slice(8, 10));
  switch (options.freq) {
    case RRule.YEARLY:
      return { ...options, bymonth: options.bymonth ?? month, bymonthday: dayOfMonth };
    case RRule.MONTHLY:
      return { ...options, bymonthday: dayOfMonth };
    case RRule.WEEKLY:
      return { ...options, byweekday: [rruleWeekday(startDay)] };
    default:
      return options;
  }
}

function isNarrowed(options: Partial<Options>): boolean {
  return [options.byweekno, options.byyearday, options.bymonthday, options.byweekday, options.byeaster].some(isGiven);
}

function periodsOf(freq: Frequency, wkst: Options['wkst'] | undefined): Periods {
  switch (freq) {
    case RRule.YEARLY:
      return { indexOf: (day) => yearOf(day), firstDayOf: (year) => epochDayFromParts(year, 1, 1), maxDays: 366 };
    case RRule.MONTHLY:
      return {
        indexOf: (day) => yearOf(day) * 12 + monthOf(day) - 1,
        firstDayOf: (index) => epochDayFromParts(Math.floor(index / 12), (index % 12) + 1, 1),
        maxDays: 31,
      };
    case RRule.WEEKLY: {
      // rrule's weeks start on WKST (Monday unless given): the first such epoch day >= 0.
      const weekStart = wkst === null || wkst === undefined ? 0 : typeof wkst === 'number' ? wkst : wkst.weekday;
      const firstWeekStart = (((weekStart - rruleWeekday(0)) % 7) + 7) % 7;
      return {
        indexOf: (day) => Math.floor((day - firstWeekStart) / 7),
        firstDayOf: (index) => firstWeekStart + index * 7,
        maxDays: 7,
      };
    }
    default:
      return { indexOf: (day) => day, firstDayOf: (index) => index, maxDays: 1 };
  }
}

function firstIndexAtOrAfter(days: number[], day: number): number {
  let lo = 0;
  let hi = days.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (days[mid]! < day) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function isGiven(value: unknown): boolean {
  return value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0);
}

// rrule numbers weekdays Monday = 0 ... Sunday = 6; 1970-01-01 was a Thursday (3).
function rruleWeekday(day: number): number {
  return (((day + 3) % 7) + 7) % 7;
}

function yearOf(day: number): number {
  return Number(dateOfEpochDay(day).slice(0, 4));
}

function monthOf(day: number): number {
  return Number(dateOfEpochDay(day).slice(5, 7));
}

function utcDay(day: number, plusMs = 0): Date {
  return new Date(day * DAY_MS + plusMs);
}

function dayOf(date: Date): number {
  return Math.floor(date.getTime() / DAY_MS);
}
