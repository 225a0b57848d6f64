/**
 * Cron schedules as timelines. cron-parser only reads the expression and says which calendar
 * days match (all its day-of-month/day-of-week OR rules, `L`, `#` stay its own); the times of
 * day come from its parsed second/minute/hour values and become instants through the zone
 * database, so DST follows the time rules (docs/semantics.md): a time in a spring-forward gap falls due once, when the gap
 * ends; a time that happens twice falls due once, the first time.
 */
import { CronExpression, CronExpressionParser, CronFieldCollection } from 'cron-parser';
import { dateOfEpochDay, epochDayFromParts } from './civil-date.js';
import type { Slot, Timeline } from './schedule.js';
import { isValidTimeZone, localEpochDay, wallToInstant } from './zoned-time.js';

const DAY_MS = 86_400_000;

/**
 * How many days from the asked instant a timeline looks for its next or previous slot before
 * answering null: rare rules (a fifth Monday in February) must not make a lookup spin for decades.
 */
export const SCHEDULE_SEARCH_DAYS = 8 * 366;
// Months of day matches kept per timeline before the memo starts over (20 years).
const MAX_CACHED_MONTHS = 240;
const MAX_SHARED_TIMELINES = 10_000;
const sharedTimelines = new Map<string, Timeline>();

/** Null when `expr` is a usable 5-field (minute first) or 6-field (second first) cron, else why not. */
export function validateCron(expr: string): string | null {
  const text = expr.trim();
  // cron-parser reads "" as "* * * * *".
  if (text === '') return 'the cron expression is empty';
  if (!text.startsWith('@')) {
    const fieldCount = text.split(/\s+/).length;
    if (fieldCount !== 5 && fieldCount !== 6) {
      return `expected 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got ${fieldCount}`;
    }
  }
  // Without a seed cron-parser picks a random value for H on every parse, so the schedule
  // would move at each restart.
  if (/(^|[\s,])H(?![a-z])/i.test(text)) return 'hashed "H" values are not supported; write the minute or hour';
  try {
    CronExpressionParser.parse(text);
    return null;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    if (text.startsWith('@')) return `unknown shorthand; use @yearly, @monthly, @weekly, @daily or @hourly (${reason})`;
    if (reason === 'Invalid explicit day of month definition') {
      return 'the day of month never occurs in the given months';
    }
    return reason;
  }
}

/** The slots of cron `expr` read as wall-clock times in zone `tz`; throws RangeError when either is invalid. */
export function cronTimeline(expr: string, tz: string): Timeline {
  // Many debts share a schedule; sharing the timeline shares its memo of matching days too.
  const key = `${tz} ${expr}`;
  let timeline = sharedTimelines.get(key);
  if (timeline === undefined) {
    timeline = buildTimeline(expr, tz);
    if (sharedTimelines.size >= MAX_SHARED_TIMELINES) sharedTimelines.clear();
    sharedTimelines.set(key, timeline);
  }
  return timeline;
}

function buildTimeline(expr: string, tz: string): Timeline {
  const problem = validateCron(expr);
  if (problem !== null) throw new RangeError(`invalid cron "${expr}": ${problem}`);
  if (!isValidTimeZone(tz)) throw new RangeError(`unknown time zone "${tz}"`);
  const fields = CronExpressionParser.parse(expr.trim()).fields;
  const days = new MatchingDays(fields);
  const times = new TimesOfDay(fields);
  return {
    after(ms) {
      const from = localEpochDay(tz, ms);
      const lastDay = from + SCHEDULE_SEARCH_DAYS;
      for (let day = days.firstOnOrAfter(from, lastDay); day !== null; day = days.firstOnOrAfter(day + 1, lastDay)) {
        const date = dateOfEpochDay(day);
        const index = times.countAtOrBefore(tz, date, ms);
        if (index < times.count) return times.slot(tz, date, index);
      }
      return null;
    },
    atOrBefore(ms) {
      // A slot of the next local date can precede ms when ms lies in a fall-back repeat that
      // crosses midnight, so the search starts a day late.
      const from = localEpochDay(tz, ms) + 1;
      const firstDay = from - SCHEDULE_SEARCH_DAYS;
      for (let day = days.lastOnOrBefore(from, firstDay); day !== null; day = days.lastOnOrBefore(day - 1, firstDay)) {
        const date = dateOfEpochDay(day);
        const index = times.countAtOrBefore(tz, date, ms) - 1;
        if (index >= 0) return times.slot(tz, date, index);
      }
      return null;
    },
  };
}

/**
 * The wall times of one day, in order, as a virtual list of hours x minutes x seconds: a
 * `* * * * * *` day is 86,400 entries and is never built, only binary-searched.
 */
class TimesOfDay {
  private readonly hours: number[];
  private readonly minutes: number[];
  private readonly seconds: number[];
  readonly count: number;

  constructor(fields: CronFieldCollection) {
    this.hours = sortedNumbers(fields.hour.values);
    this.minutes = sortedNumbers(fields.minute.values);
    this.seconds = sortedNumbers(fields.second.values);
    this.count = this.hours.length * this.minutes.length * this.seconds.length;
  }

  /** How many of the day's times fall due at or before `ms` (the index of the first one after it). */
  countAtOrBefore(tz: string, date: string, ms: number): number {
    // Wall time to instant never goes backwards, so instants are sorted like the times.
    // Most days lie wholly before or after ms: settle those with one look at either end.
    if (this.instant(tz, date, 0) > ms) return 0;
    if (this.instant(tz, date, this.count - 1) <= ms) return this.count;
    let lo = 1;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.instant(tz, date, mid) > ms) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  slot(tz: string, date: string, index: number): Slot {
    return { at: this.instant(tz, date, index), businessDate: date };
  }

  private instant(tz: string, date: string, index: number): number {
    const perHour = this.minutes.length * this.seconds.length;
    const hour = this.hours[Math.floor(index / perHour)]!;
    const minute = this.minutes[Math.floor(index / this.seconds.length) % this.minutes.length]!;
    const second = this.seconds[index % this.seconds.length]!;
    return wallToInstant(tz, date, hour, minute, second);
  }
}

/**
 * The calendar days the expression's day fields match. cron-parser decides each day, on a copy
 * of the expression pinned to midnight UTC (days are zone-free dates here); the answers are
 * kept as one bit per day of a month, because a timeline is asked about the same days again
 * and again and cron-parser takes microseconds per day.
 */
class MatchingDays {
  private readonly midnights: CronExpression;
  private readonly months: ReadonlySet<number>;
  private readonly masks = new Map<number, number>();

  constructor(fields: CronFieldCollection) {
    const dayFields = CronFieldCollection.from(fields, { second: [0], minute: [0], hour: [0] });
    this.midnights = CronExpression.fieldsToExpression(dayFields, { tz: 'UTC' });
    this.months = new Set(fields.month.values.map(Number));
  }

  /** The first matching epoch day in [day, lastDay], or null. */
  firstOnOrAfter(day: number, lastDay: number): number | null {
    let [year, month, dayOfMonth] = partsOf(day);
    for (let first = day - dayOfMonth + 1; first <= lastDay; first = epochDayFromParts(year, month, 1)) {
      // Drop the bits of the days before `dayOfMonth`.
      const bits = this.maskOf(year, month, first) & ~lowBits(dayOfMonth - 1);
      if (bits !== 0) {
        const found = first + 31 - Math.clz32(bits & -bits);
        return found <= lastDay ? found : null;
      }
      [year, month, dayOfMonth] = month === 12 ? [year + 1, 1, 1] : [year, month + 1, 1];
    }
    return null;
  }

  /** The last matching epoch day in [firstDay, day], or null. */
  lastOnOrBefore(day: number, firstDay: number): number | null {
    let [year, month, daysToSearch] = partsOf(day);
    let first = day - daysToSearch + 1;
    while (first + daysToSearch > firstDay) {
      // Keep the bits of the month's first `daysToSearch` days.
      const bits = this.maskOf(year, month, first) & lowBits(daysToSearch);
      if (bits !== 0) {
        const found = first + 31 - Math.clz32(bits);
        return found >= firstDay ? found : null;
      }
      [year, month] = month === 1 ? [year - 1, 12] : [year, month - 1];
      const firstOfLaterMonth = first;
      first = epochDayFromParts(year, month, 1);
      daysToSearch = firstOfLaterMonth - first;
    }
    return null;
  }

  /** Bit i set when day i + 1 of the month starting on epoch day `first` matches. */
  private maskOf(year: number, month: number, first: number): number {
    const key = year * 12 + month - 1;
    let mask = this.masks.get(key);
    if (mask === undefined) {
      mask = 0;
      if (this.months.has(month)) {
        const nextFirst = month === 12 ? epochDayFromParts(year + 1, 1, 1) : epochDayFromParts(year, month + 1, 1);
        const length = nextFirst - first;
        for (let i = 0; i < length; i++) {
          if (this.midnights.includesDate(new Date((first + i) * DAY_MS))) mask |= 1 << i;
        }
      }
      if (this.masks.size >= MAX_CACHED_MONTHS) this.masks.clear();
      this.masks.set(key, mask);
    }
    return mask;
  }
}

function partsOf(day: number): [number, number, number] {
  const date = dateOfEpochDay(day);
  return [Number(date.slice(0, 4)), Number(date.slice(5, 7)), Number(date.slice(8, 10))];
}

/** The lowest `n` bits set (n from 0 to 31). */
function lowBits(n: number): number {
  return n >= 31 ? 0x7fffffff : (1 << n) - 1;
}

function sortedNumbers(values: readonly (number | string)[]): number[] {
  return values.map(Number).sort((a, b) => a - b);
}
