/**
 * Business calendars (docs/semantics.md): which dates are business days, and which business date an
 * instant belongs to. Holidays come from date-holidays' bundled data; explicit dates override.
 * Pure: the holiday data is a package import, not I/O.
 */
import Holidays from 'date-holidays';
import { z } from 'zod';
import { DomainError, ID_PATTERN, type Problem } from '../problems.js';
import { dateOfEpochDay, dayOfWeek, epochDay, epochDayFromParts, FIRST_EPOCH_DAY, isValidDate, LAST_EPOCH_DAY } from './civil-date.js';
import { isValidTimeZone } from './zoned-time.js';

/** date-holidays' holiday types; a calendar counts only those it lists. */
export const HOLIDAY_TYPES = ['public', 'bank', 'school', 'optional', 'observance'] as const;
export type HolidayType = (typeof HOLIDAY_TYPES)[number];

/** Most significant first: orders the names in a reason when several holidays share a date. */
const TYPE_RANK: Record<HolidayType, number> = { public: 0, bank: 1, optional: 2, school: 3, observance: 4 };

interface ListedHoliday {
  name: string;
  rank: number;
}

/** A calendar as configured (after validation: weekdays 0=Sun..6=Sat, codes upper-case). */
export interface CalendarDefinition {
  id: string;
  tz: string;
  /** 0=Sun..6=Sat; ISO 7=Sun is accepted on input and normalized to 0. */
  weekdays: number[];
  holidays?: { country: string; state?: string; region?: string; types?: HolidayType[] };
  /** Business days even when a weekend or a holiday. */
  extraDates: string[];
  /** Non-business days even when a working weekday. */
  excludeDates: string[];
  /** `HH:MM` local time at which the business date rolls over; see `businessDateAt`. */
  newDayAt: string;
}

/** One date of a calendar, as `GET /v1/calendars/{id}/days` lists it. */
export interface DayInfo {
  date: string;
  business: boolean;
  reason?: string;
}

const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const TIME_OF_DAY_PATTERN = /^([01]\d|2[0-3]):[0-5]\d$/;
const DAY_MS = 86_400_000;
const DEFAULT_WEEKDAYS = [1, 2, 3, 4, 5];
const DEFAULT_HOLIDAY_TYPES: HolidayType[] = ['public'];
const MAX_LISTED_DATES = 10_000;
/** `days()` answers at most this many years at once: its output is a response body. */
const MAX_RANGE_YEARS = 3;
/** Bounds the day-by-day walks so a calendar with (almost) no business days cannot spin. */
const MAX_WALK_DAYS = 366 * 30;
/** Multi-day holidays ("P3D") are measured start→end; a DST day may be 23 h, so allow slack. */
const MULTI_DAY_SLACK_MS = 3 * 3_600_000;

/** The JSON body of `PUT /v1/calendars/{id}` (structural; `validateCalendarDefinition` does the rest). */
export const calendarDefinitionSchema = z.strictObject({
  id: z.string().regex(ID_PATTERN, 'must match ^[a-z0-9][a-z0-9._-]{0,127}$'),
  tz: z.string().min(1).max(64),
  weekdays: z.array(z.number().int().min(0).max(7)).optional(),
  holidays: z
    .strictObject({
      country: z.string().min(1).max(8),
      state: z.string().min(1).max(16).optional(),
      region: z.string().min(1).max(16).optional(),
      types: z
        .array(z.enum(HOLIDAY_TYPES, { error: `must be one of ${HOLIDAY_TYPES.join(', ')}` }))
        .min(1)
        .optional(),
    })
    .optional(),
  extraDates: z.array(z.string().regex(DATE_PATTERN, 'must be a date YYYY-MM-DD')).max(MAX_LISTED_DATES).optional(),
  excludeDates: z.array(z.string().regex(DATE_PATTERN, 'must be a date YYYY-MM-DD')).max(MAX_LISTED_DATES).optional(),
  newDayAt: z.string().regex(TIME_OF_DAY_PATTERN, 'must be a time HH:MM').optional(),
});

/** Checks a calendar body and lists every problem at once, or returns the normalized definition. */
export function validateCalendarDefinition(input: unknown): { ok: true; value: CalendarDefinition } | { ok: false; problems: Problem[] } {
  const parsed = calendarDefinitionSchema.safeParse(input);
  const problems: Problem[] = parsed.success ? [] : parsed.error.issues.flatMap(problemsOfIssue);
  // Deep checks run on the raw input too, so one answer lists structural and semantic problems.
  if (isRecord(input)) problems.push(...deepProblems(input));
  if (!parsed.success || problems.length > 0) return { ok: false, problems };
  const body = parsed.data;
  const value: CalendarDefinition = {
    id: body.id,
    tz: body.tz,
    weekdays: normalizeWeekdays(body.weekdays ?? DEFAULT_WEEKDAYS),
    extraDates: [...new Set(body.extraDates ?? [])].sort(),
    excludeDates: [...new Set(body.excludeDates ?? [])].sort(),
    newDayAt: body.newDayAt ?? '00:00',
  };
  if (body.holidays) {
    const { country, state, region, types } = body.holidays;
    value.holidays = {
      country: country.toUpperCase(),
      ...(state === undefined ? {} : { state: state.toUpperCase() }),
      ...(region === undefined ? {} : { region: region.toUpperCase() }),
      types: [...new Set(types ?? DEFAULT_HOLIDAY_TYPES)],
    };
  }
  return { ok: true, value };
}

/** Answers business-day questions for one calendar; holiday lookups are cached per year. */
export class BusinessCalendar {
  private readonly isWorkingWeekday: boolean[];
  private readonly extraDates: Set<string>;
  private readonly excludeDates: Set<string>;
  private readonly holidaySource: Holidays | null;
  /** Counted holidays listed by `getHolidays(year)`, expanded to their dates (which may spill into year+1). */
  private readonly listedByYear = new Map<number, Map<string, ListedHoliday[]>>();
  /** date -> reason for every counted holiday date in a year. */
  private readonly holidaysByYear = new Map<number, Map<string, string>>();
  private readonly wallClockFormat: Intl.DateTimeFormat;
  private readonly newDayMinutes: number;

  constructor(readonly definition: CalendarDefinition) {
    const weekdays = normalizeWeekdays(definition.weekdays);
    this.isWorkingWeekday = [0, 1, 2, 3, 4, 5, 6].map((d) => weekdays.includes(d));
    this.extraDates = new Set(definition.extraDates);
    this.excludeDates = new Set(definition.excludeDates);
    const holidays = definition.holidays;
    // date-holidays drops rules of unlisted types when it loads them. Substitute days ("Boxing
    // Day (substitute day)") carry their holiday's type: banks close on them, so they count
    // exactly when that type does.
    // An empty `types` list would mean "every type" to date-holidays; here it means none.
    const types = holidays?.types ?? DEFAULT_HOLIDAY_TYPES;
    this.holidaySource =
      holidays && types.length > 0
        ? new Holidays(
            { country: holidays.country, state: holidays.state, region: holidays.region },
            // English names where date-holidays has them (the API speaks English), else the
            // local name. Set here, not per getHolidays() call: that argument is pushed onto the
            // instance's language list on every call.
            { types, languages: ['en'] },
          )
        : null;
    this.wallClockFormat = wallClockFormatter(definition.tz);
    this.newDayMinutes = minutesOfTimeOfDay(definition.newDayAt);
  }

  /** Whether `date` is a business day, and if not (or only by override) why. */
  dayInfo(date: string): DayInfo {
    const day = dayNumberOf(date, 'date');
    if (this.extraDates.has(date)) return { date, business: true, reason: 'Extra business date' };
    if (this.excludeDates.has(date)) return { date, business: false, reason: 'Excluded date' };
    // A holiday's name explains more than "Weekend" when both apply (Boxing Day on a Saturday).
    const holiday = this.holidayOn(date);
    if (holiday !== undefined) return { date, business: false, reason: holiday };
    if (!this.isWorkingWeekday[weekdayOf(day)]) return { date, business: false, reason: 'Weekend' };
    return { date, business: true };
  }

  /** True when `date` (`YYYY-MM-DD`) is a business day of this calendar. */
  isBusinessDay(date: string): boolean {
    return this.isBusinessDayNumber(dayNumberOf(date, 'date'));
  }

  /** Every date from `from` to `to` inclusive; refuses `to < from` and spans over three years. */
  days(from: string, to: string): DayInfo[] {
    const first = dayNumberOf(from, 'from');
    const last = dayNumberOf(to, 'to');
    if (last < first) throw rangeError('to', `must not be before from (${from})`);
    if (last > addYears(first, MAX_RANGE_YEARS)) throw rangeError('to', `must be at most ${MAX_RANGE_YEARS} years after from (${from})`);
    const out: DayInfo[] = [];
    for (let day = first; day <= last; day++) out.push(this.dayInfo(dateOf(day)));
    return out;
  }

  /** The first business day strictly after `date`, or null when none comes within 30 years. */
  nextBusinessDay(date: string): string | null {
    return this.walkToBusinessDay(dayNumberOf(date, 'date'), 1);
  }

  /** The last business day strictly before `date`, or null when none came within 30 years. */
  previousBusinessDay(date: string): string | null {
    return this.walkToBusinessDay(dayNumberOf(date, 'date'), -1);
  }

  /**
   * Business days in `(from, to]` — the x axis of trend slopes: 0 for `to = from`, 1 for the next
   * business day; negative (business days in `(to, from]`) when `to` is before `from`.
   */
  businessDayIndex(from: string, to: string): number {
    const start = dayNumberOf(from, 'from');
    const end = dayNumberOf(to, 'to');
    if (Math.abs(end - start) > MAX_WALK_DAYS) throw rangeError('to', `must be within 30 years of from (${from})`);
    const [low, high, sign] = end >= start ? [start, end, 1] : [end, start, -1];
    let count = 0;
    for (let day = low + 1; day <= high; day++) if (this.isBusinessDayNumber(day)) count++;
    return sign * count;
  }

  /**
   * The business date an instant belongs to. The local date in `tz` rolls over at `newDayAt`:
   * a morning rollover (before 12:00, e.g. "04:00") keeps the small hours with the previous date,
   * as night batches expect; an afternoon cut-off (12:00 or later, e.g. "18:00") books later
   * instants on the next date, as banks do. A date that is not a business day rolls forward to
   * the next business day (Friday 19:00 after an 18:00 cut-off is Monday's). Null when no
   * business day follows within 30 years.
   */
  businessDateAt(instantMs: number): string | null {
    if (!Number.isFinite(instantMs)) throw rangeError('at', 'must be a finite instant');
    const wall = wallClockAt(this.wallClockFormat, instantMs);
    let day = wall.day;
    if (this.newDayMinutes < 12 * 60) {
      if (wall.minuteOfDay < this.newDayMinutes) day -= 1;
    } else if (wall.minuteOfDay >= this.newDayMinutes) {
      day += 1;
    }
    if (day < FIRST_EPOCH_DAY || day > LAST_EPOCH_DAY) return null;
    return this.isBusinessDayNumber(day) ? dateOf(day) : this.walkToBusinessDay(day, 1);
  }

  private isBusinessDayNumber(day: number): boolean {
    const date = dateOf(day);
    if (this.extraDates.has(date)) return true;
    if (this.excludeDates.has(date)) return false;
    // Weekday first: it is cheap and spares weekend dates the holiday lookup.
    if (!this.isWorkingWeekday[weekdayOf(day)]) return false;
    return this.holidayOn(date) === undefined;
  }

  private walkToBusinessDay(day: number, step: 1 | -1): string | null {
    for (let i = 1; i <= MAX_WALK_DAYS; i++) {
      const candidate = day + step * i;
      // Dates exist only in the years 0000-9999: past either end no business day can follow.
      if (candidate < FIRST_EPOCH_DAY || candidate > LAST_EPOCH_DAY) return null;
      if (this.isBusinessDayNumber(candidate)) return dateOf(candidate);
    }
    return null;
  }

  private holidayOn(date: string): string | undefined {
    if (!this.holidaySource) return undefined;
    const year = Number(date.slice(0, 4));
    let byDate = this.holidaysByYear.get(year);
    if (!byDate) {
      byDate = this.countedHolidaysIn(year);
      this.holidaysByYear.set(year, byDate);
    }
    return byDate.get(date);
  }

  private countedHolidaysIn(year: number): Map<string, string> {
    const prefix = `${year}-`;
    const byDate = new Map<string, ListedHoliday[]>();
    // A multi-day holiday listed under the previous year (school holidays over New Year) can reach into this one.
    for (const listedYear of [year - 1, year]) {
      for (const [date, holidays] of this.listedIn(listedYear)) {
        if (date.startsWith(prefix)) byDate.set(date, [...(byDate.get(date) ?? []), ...holidays]);
      }
    }
    const reasons = new Map<string, string>();
    for (const [date, holidays] of byDate) {
      // The weightiest type first: a public holiday explains a closed bank better than an observance.
      const names = [...holidays].sort((a, b) => a.rank - b.rank).map((h) => h.name);
      reasons.set(date, [...new Set(names)].join(', '));
    }
    return reasons;
  }

  private listedIn(year: number): Map<string, ListedHoliday[]> {
    const cached = this.listedByYear.get(year);
    if (cached) return cached;
    const byDate = new Map<string, ListedHoliday[]>();
    for (const holiday of this.holidaySource?.getHolidays(year) ?? []) {
      const listed = { name: holiday.name, rank: TYPE_RANK[holiday.type] };
      // `date` is the local wall date ("2026-11-26 00:00:00", sometimes with an offset); a
      // holiday starting in the evening (Halloween 18:00) still names that whole date.
      const first = dayNumberOf(holiday.date.slice(0, 10), 'holiday');
      const spanDays = Math.max(1, Math.floor((holiday.end.getTime() - holiday.start.getTime() + MULTI_DAY_SLACK_MS) / DAY_MS));
      for (let day = first; day < first + spanDays && day <= LAST_EPOCH_DAY; day++) {
        const date = dateOf(day);
        byDate.set(date, [...(byDate.get(date) ?? []), listed]);
      }
    }
    this.listedByYear.set(year, byDate);
    return byDate;
  }
}

let holidayDirectory: Holidays | undefined;

/** One shared instance for country/state/region queries; its constructor parses the data once. */
function directory(): Holidays {
  holidayDirectory ??= new Holidays();
  return holidayDirectory;
}

function deepProblems(input: Record<string, unknown>): Problem[] {
  const problems: Problem[] = [];
  const { tz, weekdays, holidays, extraDates, excludeDates } = input;

  if (typeof tz === 'string' && tz.length > 0 && !isValidTimeZone(tz)) {
    problems.push({ path: 'tz', message: `unknown time zone '${tz}' (use an IANA name such as America/New_York)` });
  }

  if (Array.isArray(weekdays)) {
    const seen = new Set<number>();
    (weekdays as unknown[]).forEach((d, i) => {
      if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > 7) return;
      const normalized = d === 7 ? 0 : d;
      if (seen.has(normalized)) problems.push({ path: `weekdays.${i}`, message: `duplicate weekday ${d} (0 and 7 both mean Sunday)` });
      seen.add(normalized);
    });
  }
  if (Array.isArray(weekdays) && weekdays.length === 0 && !(Array.isArray(extraDates) && extraDates.length > 0)) {
    problems.push({ path: 'weekdays', message: 'the calendar has no business days: list weekdays or extraDates' });
  }

  if (isRecord(holidays)) problems.push(...holidayRegionProblems(holidays));

  const extras = new Set<string>();
  for (const [field, list] of [
    ['extraDates', extraDates],
    ['excludeDates', excludeDates],
  ] as const) {
    if (!Array.isArray(list)) continue;
    list.forEach((value, i) => {
      if (typeof value !== 'string' || !DATE_PATTERN.test(value)) return;
      if (!isValidDate(value)) {
        problems.push({ path: `${field}.${i}`, message: `'${value}' is not a calendar date` });
      } else if (field === 'extraDates') {
        extras.add(value);
      } else if (extras.has(value)) {
        problems.push({ path: `${field}.${i}`, message: `${value} is also in extraDates; a date is either a business day or not` });
      }
    });
  }
  return problems;
}

function holidayRegionProblems(holidays: Record<string, unknown>): Problem[] {
  const { country, state, region } = holidays;
  if (typeof country !== 'string' || country.length === 0) return [];
  const countryCode = country.toUpperCase();
  const countries = directory().getCountries('en');
  if (!(countryCode in countries)) {
    return [
      { path: 'holidays.country', message: `unknown country '${country}' for the holiday data (ISO 3166-1 alpha-2, e.g. US, GB, DK)` },
    ];
  }
  if (state === undefined) {
    return region === undefined ? [] : [{ path: 'holidays.region', message: 'a region needs a state' }];
  }
  if (typeof state !== 'string' || state.length === 0) return [];
  const states = directory().getStates(countryCode, 'en') ?? {};
  const stateCode = state.toUpperCase();
  if (!(stateCode in states)) {
    return [{ path: 'holidays.state', message: `unknown state '${state}' for ${countryCode}; known: ${knownCodes(states)}` }];
  }
  if (typeof region !== 'string' || region.length === 0) return [];
  const regions = directory().getRegions(countryCode, stateCode, 'en') ?? {};
  if (!(region.toUpperCase() in regions)) {
    return [
      { path: 'holidays.region', message: `unknown region '${region}' for ${countryCode}-${stateCode}; known: ${knownCodes(regions)}` },
    ];
  }
  return [];
}

function knownCodes(codes: Record<string, string>): string {
  const keys = Object.keys(codes);
  return keys.length === 0 ? 'none' : keys.join(', ');
}

function problemsOfIssue(issue: z.core.$ZodIssue): Problem[] {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...path, key].join('.'), message: 'unknown field' }));
  }
  return [{ path: path.join('.'), message: issue.message }];
}

function normalizeWeekdays(weekdays: number[]): number[] {
  return [...new Set(weekdays.map((d) => (d === 7 ? 0 : d)))].sort((a, b) => a - b);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function rangeError(path: string, message: string): DomainError {
  return new DomainError('invalid', `${path}: ${message}`, [{ path, message }]);
}

/* Civil dates as day numbers since 1970-01-01, from civil-date.ts (no zone or DST can shift them). */

function dayNumberOf(date: string, path: string): number {
  if (!isValidDate(date)) throw rangeError(path, `'${date}' is not a date YYYY-MM-DD`);
  return epochDay(date);
}

function dateOf(day: number): string {
  return dateOfEpochDay(day);
}

function weekdayOf(day: number): number {
  return dayOfWeek(dateOfEpochDay(day));
}

function addYears(day: number, years: number): number {
  const date = dateOfEpochDay(day);
  return epochDayFromParts(Number(date.slice(0, 4)) + years, Number(date.slice(5, 7)), Number(date.slice(8, 10)));
}

function minutesOfTimeOfDay(hhmm: string): number {
  const match = TIME_OF_DAY_PATTERN.exec(hhmm);
  if (!match) throw rangeError('newDayAt', `'${hhmm}' is not a time HH:MM`);
  const [hours, minutes] = hhmm.split(':').map(Number) as [number, number];
  return hours * 60 + minutes;
}

function wallClockFormatter(tz: string): Intl.DateTimeFormat {
  // h23, not hour12:false: the latter prints midnight as "24" in some ICU versions.
  return new Intl.DateTimeFormat('en-US', {
    timeZone: tz,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  });
}

function wallClockAt(format: Intl.DateTimeFormat, instantMs: number): { day: number; minuteOfDay: number } {
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(instantMs)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  const { year = NaN, month = NaN, day = NaN, hour = NaN, minute = NaN } = parts;
  return { day: epochDayFromParts(year, month, day), minuteOfDay: hour * 60 + minute };
}
