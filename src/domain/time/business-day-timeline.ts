/**
 * Business-day schedules: the n-th business day of each month, and the roll of a date a
 * calendar excludes to the nearest business day (docs/semantics.md, "Business-day schedules").
 * Which dates are open comes from a calendar lookup; the wall time goes through the zone
 * database, as for every schedule.
 */
import { dateOfEpochDay, epochDayFromParts, FIRST_EPOCH_DAY, LAST_EPOCH_DAY } from './civil-date.js';
import { SCHEDULE_SEARCH_DAYS } from './cron-schedule.js';
import type { RollDirection, Slot, Timeline } from './schedule.js';
import { isValidTimeZone, localEpochDay, parseWallTime, wallToInstant } from './zoned-time.js';

/** Largest |n| of a businessDay schedule: no month has more than 23 weekdays. */
export const MAX_BUSINESS_DAY = 23;

/** How far a roll looks for a business day before the date is given up: a year without one is no business calendar. */
export const MAX_ROLL_DAYS = 366;

/** Whether an epoch day is a business day. */
export type OpenDay = (day: number) => boolean;

// Months a lookup walks before answering "none": as far as the other schedules search.
const SEARCH_MONTHS = Math.ceil(SCHEDULE_SEARCH_DAYS / 28);
const FIRST_MONTH = 0; // January of the year 0000
const LAST_MONTH = 9999 * 12 + 11; // December 9999

/** `day` when it is open, else the nearest open day in `direction`; null when none lies within MAX_ROLL_DAYS. */
export function rollDay(day: number, direction: RollDirection, isOpen: OpenDay): number | null {
  const step = direction === 'next' ? 1 : -1;
  for (let i = 0; i <= MAX_ROLL_DAYS; i++) {
    const candidate = day + step * i;
    if (candidate < FIRST_EPOCH_DAY || candidate > LAST_EPOCH_DAY) return null;
    if (isOpen(candidate)) return candidate;
  }
  return null;
}

/**
 * The `n`-th open day of a month (1 = first, -1 = last), as an epoch day. A month with fewer
 * open days than |n| has its last one for n > 0 and its first one for n < 0, so a billing run
 * never vanishes; null only for a month without any.
 */
export function nthBusinessDayOfMonth(year: number, month: number, n: number, isOpen: OpenDay): number | null {
  const first = epochDayFromParts(year, month, 1);
  const last = (month === 12 ? epochDayFromParts(year + 1, 1, 1) : epochDayFromParts(year, month + 1, 1)) - 1;
  const [start, end, step] = n > 0 ? [first, last, 1] : [last, first, -1];
  let found: number | null = null;
  let count = 0;
  for (let day = start; step > 0 ? day <= end : day >= end; day += step) {
    if (!isOpen(day)) continue;
    found = day;
    if (++count === Math.abs(n)) break;
  }
  return found;
}

/**
 * The slots of `{ businessDay: n, at, tz, calendar }`: each month's n-th business day at wall
 * time `at` in `tz`. `isOpen` answers for the schedule's calendar; throws RangeError on a bad
 * zone or n.
 */
export function businessDayTimeline(schedule: { businessDay: number; at: string; tz: string }, isOpen: OpenDay): Timeline {
  const { businessDay: n, tz } = schedule;
  if (!Number.isInteger(n) || n === 0 || Math.abs(n) > MAX_BUSINESS_DAY) {
    throw new RangeError(`businessDay ${n} is not a whole number from 1 to ${MAX_BUSINESS_DAY} or -1 to -${MAX_BUSINESS_DAY}`);
  }
  if (!isValidTimeZone(tz)) throw new RangeError(`unknown time zone "${tz}"`);
  const wall = parseWallTime(schedule.at);
  const slotIn = (monthIndex: number): Slot | null => {
    const day = nthBusinessDayOfMonth(Math.floor(monthIndex / 12), (monthIndex % 12) + 1, n, isOpen);
    if (day === null) return null;
    const date = dateOfEpochDay(day);
    return { at: wallToInstant(tz, date, wall.hour, wall.minute, wall.second), businessDate: date };
  };
  return {
    after(ms) {
      const from = monthIndexOf(localEpochDay(tz, ms));
      for (let m = Math.max(from, FIRST_MONTH); m <= Math.min(from + SEARCH_MONTHS, LAST_MONTH); m++) {
        const slot = slotIn(m);
        if (slot !== null && slot.at > ms) return slot;
      }
      return null;
    },
    atOrBefore(ms) {
      // As for rrule: a fall-back repeat across midnight can put the next local date's slot before ms.
      const from = monthIndexOf(localEpochDay(tz, ms) + 1);
      for (let m = Math.min(from, LAST_MONTH); m >= Math.max(from - SEARCH_MONTHS, FIRST_MONTH); m--) {
        const slot = slotIn(m);
        if (slot !== null && slot.at <= ms) return slot;
      }
      return null;
    },
  };
}

function monthIndexOf(day: number): number {
  const clamped = Math.min(Math.max(day, FIRST_EPOCH_DAY), LAST_EPOCH_DAY);
  const date = dateOfEpochDay(clamped);
  return Number(date.slice(0, 4)) * 12 + Number(date.slice(5, 7)) - 1;
}
