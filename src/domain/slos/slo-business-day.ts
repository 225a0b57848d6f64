/**
 * SLOs due on one business day of each month ("the books close by 18:00 on the 3rd business
 * day"): `"businessDay": n` in the definition narrows the SLO's calendar to the n-th business day
 * of each month (docs/semantics.md, "SLOs on the n-th business day"). Every other date reads as
 * a non-business date, so the SLO's rows, history, walks and predictions need no special case.
 */
import { MAX_BUSINESS_DAY, nthBusinessDayOfMonth } from '../time/business-day-timeline.js';
import { BusinessCalendar, type DayInfo } from '../time/calendar.js';
import { dateOfEpochDay, isValidDate } from '../time/civil-date.js';
import { DomainError, type Problem } from '../problems.js';

export { MAX_BUSINESS_DAY };

/** How far `nextBusinessDay` / `previousBusinessDay` look, as the base calendar's walks do (30 years). */
const MAX_WALK_MONTHS = 30 * 12;
/** Months whose n-th business day is remembered; a calendar redefinition builds a new calendar anyway. */
const MAX_MEMO_MONTHS = 1200;

/** A problem when `businessDay` is not a whole number in ±1..23 (path `businessDay`). */
export function sloBusinessDayProblem(businessDay: number | undefined): Problem | null {
  if (businessDay === undefined) return null;
  if (Number.isInteger(businessDay) && businessDay !== 0 && Math.abs(businessDay) <= MAX_BUSINESS_DAY) return null;
  return {
    path: 'businessDay',
    message: `must be a whole number from 1 to ${MAX_BUSINESS_DAY}, or -1 (the last business day) to -${MAX_BUSINESS_DAY}`,
  };
}

/**
 * A business calendar whose only business days are the `businessDay`-th business day of each
 * month of `base` (negative: from the end; a month with fewer has its last, or first, one).
 * `businessDateAt` stays the base calendar's: a job's report belongs to the date it ran on.
 */
export class NthBusinessDayCalendar extends BusinessCalendar {
  private readonly memo = new Map<number, string | null>();

  constructor(
    private readonly base: BusinessCalendar,
    readonly businessDay: number,
  ) {
    super(base.definition);
  }

  override isBusinessDay(date: string): boolean {
    return this.dayOfMonth(date) === date;
  }

  override dayInfo(date: string): DayInfo {
    const info = this.base.dayInfo(date);
    if (!info.business || this.isBusinessDay(date)) return info;
    return { date, business: false, reason: `Not business day ${this.businessDay} of the month` };
  }

  override days(from: string, to: string): DayInfo[] {
    return this.base.days(from, to).map((info) => (info.business ? this.dayInfo(info.date) : info));
  }

  override nextBusinessDay(date: string): string | null {
    const month = monthIndexOf(checkedDate(date));
    for (let m = month; m <= month + MAX_WALK_MONTHS; m++) {
      const found = this.inMonth(m);
      if (found !== null && found > date) return found;
    }
    return null;
  }

  override previousBusinessDay(date: string): string | null {
    const month = monthIndexOf(checkedDate(date));
    for (let m = month; m >= month - MAX_WALK_MONTHS; m--) {
      const found = this.inMonth(m);
      if (found !== null && found < date) return found;
    }
    return null;
  }

  override businessDayIndex(from: string, to: string): number {
    const [low, high, sign] = to >= from ? [from, to, 1] : [to, from, -1];
    let count = 0;
    for (let m = monthIndexOf(checkedDate(low)); m <= monthIndexOf(checkedDate(high)); m++) {
      const found = this.inMonth(m);
      if (found !== null && found > low && found <= high) count++;
    }
    return sign * count;
  }

  private dayOfMonth(date: string): string | null {
    return this.inMonth(monthIndexOf(checkedDate(date)));
  }

  private inMonth(monthIndex: number): string | null {
    if (monthIndex < 0 || monthIndex > 9999 * 12 + 11) return null;
    if (this.memo.has(monthIndex)) return this.memo.get(monthIndex)!;
    const isOpen = (day: number): boolean => this.base.isBusinessDay(dateOfEpochDay(day));
    const day = nthBusinessDayOfMonth(Math.floor(monthIndex / 12), (monthIndex % 12) + 1, this.businessDay, isOpen);
    const found = day === null ? null : dateOfEpochDay(day);
    if (this.memo.size >= MAX_MEMO_MONTHS) this.memo.clear();
    this.memo.set(monthIndex, found);
    return found;
  }
}

const narrowed = new WeakMap<object, Map<number, object>>();

/**
 * The calendar entry an SLO's rows follow: `entry` itself without `businessDay`, else a copy
 * whose calendar is narrowed to that business day. The same copy for the same entry and n, so
 * whatever is cached per entry stays cached.
 */
export function sloCalendarEntry<T extends { calendar: BusinessCalendar }>(entry: T, businessDay: number | undefined): T {
  if (businessDay === undefined) return entry;
  let byN = narrowed.get(entry);
  if (!byN) {
    byN = new Map();
    narrowed.set(entry, byN);
  }
  let copy = byN.get(businessDay) as T | undefined;
  if (!copy) {
    copy = { ...entry, calendar: new NthBusinessDayCalendar(entry.calendar, businessDay) };
    byN.set(businessDay, copy);
  }
  return copy;
}

function checkedDate(date: string): string {
  if (!isValidDate(date)) throw new DomainError('invalid', `'${date}' is not a date YYYY-MM-DD`, [{ path: 'date', message: 'not a date' }]);
  return date;
}

function monthIndexOf(date: string): number {
  return Number(date.slice(0, 4)) * 12 + Number(date.slice(5, 7)) - 1;
}
