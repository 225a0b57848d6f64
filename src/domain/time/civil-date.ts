/**
 * Calendar dates (`YYYY-MM-DD`, proleptic Gregorian, years 0000-9999) as plain values with no
 * time zone. "The next day" is date arithmetic here, never 86,400,000 ms added to an instant:
 * a local day is 23 or 25 hours long on a DST change day.
 */

const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
/** The epoch day of 0000-01-01, the first date this module represents. */
export const FIRST_EPOCH_DAY = -719_528;
/** The epoch day of 9999-12-31, the last date this module represents. */
export const LAST_EPOCH_DAY = 2_932_896;

/** True when `date` is a real calendar date written `YYYY-MM-DD`. */
export function isValidDate(date: string): boolean {
  return partsOf(date) !== null;
}

/** Days since 1970-01-01 of a `YYYY-MM-DD` date; throws RangeError for anything else. */
export function epochDay(date: string): number {
  const parts = partsOf(date);
  if (parts === null) throw new RangeError(`invalid date "${date}": expected a real date as YYYY-MM-DD`);
  return daysFromCivil(parts[0], parts[1], parts[2]);
}

/** Days since 1970-01-01 of a year, month (1-12) and day of that month (not checked: callers pass real dates). */
export function epochDayFromParts(year: number, month: number, day: number): number {
  return daysFromCivil(year, month, day);
}

/** The `YYYY-MM-DD` date that is `day` days after 1970-01-01; throws RangeError outside 0000-9999. */
export function dateOfEpochDay(day: number): string {
  const cached = dateStrings.get(day);
  if (cached !== undefined) return cached;
  if (!Number.isInteger(day) || day < FIRST_EPOCH_DAY || day > LAST_EPOCH_DAY) {
    throw new RangeError(`epoch day ${day} is outside the years 0000-9999`);
  }
  const [y, m, d] = civilFromDays(day);
  const date = `${String(y).padStart(4, '0')}-${m < 10 ? '0' : ''}${m}-${d < 10 ? '0' : ''}${d}`;
  if (dateStrings.size >= MAX_CACHED_DATES) dateStrings.clear();
  dateStrings.set(day, date);
  return date;
}

// Every slot of every debt carries its business date, and most debts share the same few days:
// one string per day, shared by all slots, rather than a 32-byte copy in each.
const dateStrings = new Map<number, string>();
const MAX_CACHED_DATES = 4096;

/** The date `n` calendar days after `date` (before it when `n` is negative). */
export function addDays(date: string, n: number): string {
  return dateOfEpochDay(epochDay(date) + n);
}

/** Day of the week of `date`: 0 = Sunday ... 6 = Saturday. */
export function dayOfWeek(date: string): number {
  // 1970-01-01 was a Thursday (4).
  return (((epochDay(date) + 4) % 7) + 7) % 7;
}

/** Calendar days from `a` to `b` (negative when `b` is before `a`). */
export function daysBetween(a: string, b: string): number {
  return epochDay(b) - epochDay(a);
}

/** Orders two dates: negative when `a` is earlier, 0 when equal, positive when later. */
export function compareDates(a: string, b: string): number {
  return epochDay(a) - epochDay(b);
}

function partsOf(date: string): [number, number, number] | null {
  const match = DATE_PATTERN.exec(date);
  if (match === null) return null;
  const y = Number(match[1]);
  const m = Number(match[2]);
  const d = Number(match[3]);
  if (m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) return null;
  return [y, m, d];
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

// Howard Hinnant's days_from_civil / civil_from_days: exact integer math over 400-year eras.
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function civilFromDays(days: number): [number, number, number] {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}
