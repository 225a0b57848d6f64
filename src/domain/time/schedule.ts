/**
 * Schedules turn into deadlines here. Fixed-time schedules (cron, rrule, n-th business day,
 * one-off deadline) are a `Timeline` of slots; `every` depends on the last success, so the
 * debt logic anchors it itself (see debt.ts).
 */
export type Schedule =
  | { kind: 'every'; everyMs: number; everyMonths?: number }
  | { kind: 'cron'; cron: string; tz: string }
  | { kind: 'rrule'; rrule: string; at: string; tz: string; calendar?: string; roll?: RollDirection }
  | { kind: 'businessDay'; businessDay: number; at: string; tz: string; calendar: string }
  | { kind: 'deadline'; at: number };

/** Where an rrule date the calendar excludes moves: to the next or the previous business day. */
export type RollDirection = 'next' | 'previous';

/** The `roll` values a schedule accepts. */
export const ROLL_DIRECTIONS: readonly RollDirection[] = ['next', 'previous'];

/** A month's length, for the nominal `everyMs` of a calendar-month interval (its steps use real months). */
export const NOMINAL_MONTH_MS = 30 * 86_400_000;

/**
 * `at` plus `months` calendar months in UTC; a day the target month lacks clamps to its last
 * day (31 January + 1 month = 28 or 29 February), as Sentry's month intervals do.
 */
export function addUtcMonths(at: number, months: number): number {
  const d = new Date(at);
  const target = d.getUTCMonth() + months;
  const lastDay = new Date(Date.UTC(d.getUTCFullYear(), target + 1, 0)).getUTCDate();
  return Date.UTC(
    d.getUTCFullYear(),
    target,
    Math.min(d.getUTCDate(), lastDay),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
    d.getUTCMilliseconds(),
  );
}

/** One scheduled instant and the business date it belongs to (`YYYY-MM-DD`, local to the zone). */
export interface Slot {
  at: number;
  businessDate: string;
}

/** A fixed-time schedule as an ordered sequence of slots. */
export interface Timeline {
  /** The first slot strictly after `ms`, or null when there is none. */
  after(ms: number): Slot | null;
  /** The last slot at or before `ms`, or null when there is none. */
  atOrBefore(ms: number): Slot | null;
}

/** Answers whether a date is a business day in a named calendar (calendars come from the engine). */
export type BusinessDayLookup = (calendarId: string, date: string) => boolean;
