/**
 * Durations as users write them (`"90s"`, `"1h30m"`, `"PT15M"`, `30`) and as the API returns
 * them (seconds). Internally a duration is whole milliseconds.
 */

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const WEEK_MS = 7 * DAY_MS;
// Ten Gregorian years, leap days included; anything longer is a typo, not a schedule.
const MAX_DURATION_MS = 3653 * DAY_MS;

const NUMBER = String.raw`(\d+(?:\.\d+)?)`;
// Go/Prometheus style: units largest first, each at most once ("1h30m", not "30m1h").
const COMPACT = new RegExp(`^(?:${NUMBER}w)?(?:${NUMBER}d)?(?:${NUMBER}h)?(?:${NUMBER}m(?!s))?(?:${NUMBER}s)?(?:${NUMBER}ms)?$`);
const COMPACT_UNITS_MS = [WEEK_MS, DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS, 1];
const ISO_NUMBER = String.raw`(\d+(?:[.,]\d+)?)`;
const ISO = new RegExp(`^P(?:${ISO_NUMBER}W)?(?:${ISO_NUMBER}D)?(?:T(?:${ISO_NUMBER}H)?(?:${ISO_NUMBER}M)?(?:${ISO_NUMBER}S)?)?$`, 'i');
const ISO_UNITS_MS = [WEEK_MS, DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS];
const PLAIN_SECONDS = /^\d+(?:\.\d+)?$/;

const EXPECTED = 'expected e.g. "90s", "15m", "1h30m", "2d", "500ms", "PT15M" or a number of seconds';

/** A duration that cannot be read; the message names the input and what was expected. */
export class DurationError extends Error {
  readonly code = 'invalid_duration';
  constructor(
    readonly input: unknown,
    reason: string,
  ) {
    super(`invalid duration ${typeof input === 'string' ? JSON.stringify(input) : String(input)}: ${reason}`);
    this.name = 'DurationError';
  }
}

/**
 * Milliseconds in a duration: `"90s"`, `"1h30m"`, `"2d"`, `"1w"`, `"500ms"`, ISO 8601
 * (`"PT15M"`, `"P1DT2H"`, `"PT0.5S"`) or seconds as a number or numeric string. Throws
 * DurationError for negative, empty, malformed, non-finite or longer-than-ten-years input.
 */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') return checked(input, input * SECOND_MS);
  const text = input.trim();
  if (text === '') throw new DurationError(input, `it is empty; ${EXPECTED}`);
  if (text.startsWith('-')) throw new DurationError(input, 'durations cannot be negative');
  if (PLAIN_SECONDS.test(text)) return checked(input, Number(text) * SECOND_MS);
  if (/^p/i.test(text)) return checked(input, isoMs(input, text));
  const compact = COMPACT.exec(text);
  if (compact === null) throw new DurationError(input, EXPECTED);
  return checked(input, sumUnits(compact, COMPACT_UNITS_MS));
}

/** A duration in milliseconds as the seconds the JSON API reports (fractions kept). */
export function formatDurationSeconds(ms: number): number {
  return ms / SECOND_MS;
}

function isoMs(input: string, text: string): number {
  const match = ISO.exec(text);
  // "P", "PT" and a dangling "T" ("P1DT") fit the pattern but are not durations.
  if (match === null || /^pt?$/i.test(text) || /t$/i.test(text)) {
    const reason = /^p[^t]*\d[ym]/i.test(text)
      ? 'years and months have no fixed length; use weeks, days, hours, minutes or seconds'
      : EXPECTED;
    throw new DurationError(input, reason);
  }
  return sumUnits(match, ISO_UNITS_MS);
}

function sumUnits(match: RegExpExecArray, unitsMs: number[]): number {
  let total = 0;
  unitsMs.forEach((unitMs, i) => {
    const value = match[i + 1];
    // ISO 8601 allows a decimal comma ("PT0,5S").
    if (value !== undefined) total += Number(value.replace(',', '.')) * unitMs;
  });
  return total;
}

function checked(input: string | number, ms: number): number {
  if (!Number.isFinite(ms)) throw new DurationError(input, `not a finite duration; ${EXPECTED}`);
  if (ms < 0) throw new DurationError(input, 'durations cannot be negative');
  const rounded = Math.round(ms);
  if (rounded > MAX_DURATION_MS) throw new DurationError(input, 'longer than ten years');
  return rounded;
}
