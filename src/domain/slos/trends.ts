/**
 * The trend math that is not SQL (docs/semantics.md, "Trends"): the window of business dates a trend is
 * computed over, the projection of a job's p90 end onto its deadline, the routinely early or
 * late verdict for an SLO and the expected end it suggests instead. Pure: values in, values
 * out; the aggregates themselves come from the event store (store/trend-queries.ts).
 */
import type { BusinessCalendar } from '../time/calendar.js';
import { parseDuration } from '../time/duration.js';
import { parseDayOffsetTime, type DayOffsetTime } from '../time/zoned-time.js';

/**
 * Fewer business dates with data than this in the window is too little history: no slope,
 * no projection and no bias are reported (null / 'none'), rather than a confident wrong one.
 */
export const MIN_HISTORY_DATES = 10;
/** |median lateness| at or above this, with BIAS_MIN_SAME_SIDE_SHARE, makes an SLO early or late. */
export const BIAS_MIN_MEDIAN_SECONDS = 60;
/** Share of occurrences on the median's side of the deadline needed for a bias. */
export const BIAS_MIN_SAME_SIDE_SHARE = 0.8;
/** A projected breach further out than this many business days is not reported. */
export const MAX_PROJECTION_BUSINESS_DAYS = 260;
/** Suggested expected ends move in steps of this many seconds, rounded towards later. */
export const SUGGESTION_STEP_SECONDS = 300;
/** Projected lateness must exceed this to count as a breach: a run ending at its deadline is on time. */
const BREACH_EPSILON_SECONDS = 0.0005;

/** A business date and its position on the trend's x axis. */
export interface IndexedDate {
  date: string;
  index: number;
}

export type Bias = 'early' | 'late' | 'none';

/**
 * The `size` business dates of `calendar` ending at `lastDate` (itself when a business day,
 * else the business day before it), oldest first, indexed 0 .. size-1. Consecutive business
 * dates get consecutive indexes, so weekends and holidays take no room on the x axis.
 */
export function businessDateWindow(calendar: BusinessCalendar, lastDate: string, size: number): IndexedDate[] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`window size must be a positive integer, got ${size}`);
  const newestFirst: string[] = [];
  let date: string | null = calendar.isBusinessDay(lastDate) ? lastDate : calendar.previousBusinessDay(lastDate);
  while (date !== null && newestFirst.length < size) {
    newestFirst.push(date);
    date = calendar.previousBusinessDay(date);
  }
  return newestFirst.reverse().map((d, index) => ({ date: d, index }));
}

/**
 * The business date at `index` on the axis of `window` (built by businessDateWindow): a date
 * of the window, or, past its end, the business day that many steps after its last date.
 * Null before the window or when the calendar runs out of business days.
 */
export function dateAtIndex(calendar: BusinessCalendar, window: readonly IndexedDate[], index: number): string | null {
  const last = window[window.length - 1];
  if (last === undefined || !Number.isInteger(index) || index < 0) return null;
  if (index <= last.index) return window.find((d) => d.index === index)?.date ?? null;
  let date: string | null = last.date;
  for (let i = last.index; i < index && date !== null; i++) date = calendar.nextBusinessDay(date);
  return date;
}

/** Linear-interpolation quantile (DuckDB quantile_cont, ClickHouse quantile); null when empty. */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.min(low + 1, sorted.length - 1);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (at - low);
}

/** One business date's end lateness against a deadline: end − deadline, seconds. */
export interface LatenessPoint {
  index: number;
  latenessSeconds: number;
}

/** A least-squares line through a job's end lateness, and how far above it its p90 lies. */
export interface EndLatenessFit {
  points: number;
  slopeSecondsPerDay: number;
  interceptSeconds: number;
  /** 90th percentile of (lateness − line): the p90 end is the line shifted up by this. */
  p90ResidualSeconds: number;
  /** The highest index with data. */
  lastIndex: number;
}

/**
 * Fits lateness = intercept + slope·index (covarPop/varPop, as the SQL does) and measures the
 * spread above the line. Null with too little history (fewer than MIN_HISTORY_DATES points)
 * or when every point is on one date.
 */
export function fitEndLateness(points: readonly LatenessPoint[]): EndLatenessFit | null {
  const n = points.length;
  if (n < MIN_HISTORY_DATES) return null;
  const meanX = points.reduce((s, p) => s + p.index, 0) / n;
  const meanY = points.reduce((s, p) => s + p.latenessSeconds, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const p of points) {
    covariance += (p.index - meanX) * (p.latenessSeconds - meanY);
    variance += (p.index - meanX) ** 2;
  }
  if (variance === 0) return null;
  const slope = covariance / variance;
  const intercept = meanY - slope * meanX;
  const residuals = points.map((p) => p.latenessSeconds - (intercept + slope * p.index));
  return {
    points: n,
    slopeSecondsPerDay: slope,
    interceptSeconds: intercept,
    p90ResidualSeconds: quantile(residuals, 0.9)!,
    lastIndex: Math.max(...points.map((p) => p.index)),
  };
}

/**
 * The first index at which the projected p90 end (line + p90 residual) is after the deadline,
 * or null when the end is not getting later (slope ≤ 0) or the crossing lies more than
 * MAX_PROJECTION_BUSINESS_DAYS past the last data. An index at or before the last data means
 * the p90 end has already crossed (0 when it was past the deadline all through the window).
 */
export function projectedBreachIndex(fit: EndLatenessFit): number | null {
  if (!(fit.slopeSecondsPerDay > 0)) return null;
  const crossing = (BREACH_EPSILON_SECONDS - fit.interceptSeconds - fit.p90ResidualSeconds) / fit.slopeSecondsPerDay;
  const index = Math.max(0, Math.floor(crossing) + 1);
  return index - fit.lastIndex > MAX_PROJECTION_BUSINESS_DAYS ? null : index;
}

/** Whether `dates` business dates with data are enough for slopes, projections and bias. */
export function hasEnoughHistory(dates: number): boolean {
  return dates >= MIN_HISTORY_DATES;
}

/**
 * Routinely early or late: enough history, a median lateness of at least a minute either
 * way, and at least 80% of occurrences on that side of the deadline. An SLO that was never
 * met in the window has no median and no timing bias (it is failing, not late).
 */
export function sloBias(stats: { days: number; medianLatenessSeconds: number | null; sameSideShare: number }): Bias {
  const { days, medianLatenessSeconds: median, sameSideShare } = stats;
  if (!hasEnoughHistory(days) || median === null || sameSideShare < BIAS_MIN_SAME_SIDE_SHARE) return 'none';
  if (median >= BIAS_MIN_MEDIAN_SECONDS) return 'late';
  if (median <= -BIAS_MIN_MEDIAN_SECONDS) return 'early';
  return 'none';
}

const OFFSET = /^([+-])(.+)$/;
const MINUTE_MS = 60_000;
const DAY_MINUTES = 1440;

/**
 * The expected end that would have been met on 90% of the window's occurrences: `expectedEnd`
 * (as an SLO writes it: `03:00+1d`, or `+10m` from the slot) moved by the p90 lateness,
 * rounded up to SUGGESTION_STEP_SECONDS, in the same notation. A wall time is not moved before
 * the business date's midnight. Null when `expectedEnd` is in neither notation.
 */
export function suggestExpectedEnd(expectedEnd: string, p90LatenessSeconds: number): string | null {
  if (!Number.isFinite(p90LatenessSeconds)) return null;
  const shiftMinutes = (Math.ceil(p90LatenessSeconds / SUGGESTION_STEP_SECONDS) * SUGGESTION_STEP_SECONDS) / 60;
  const wall = readDayOffsetTime(expectedEnd);
  if (wall) {
    const minutes = Math.max(0, wall.dayOffset * DAY_MINUTES + wall.hour * 60 + wall.minute + shiftMinutes);
    const days = Math.floor(minutes / DAY_MINUTES);
    const ofDay = minutes % DAY_MINUTES;
    const hhmm = `${String(Math.floor(ofDay / 60)).padStart(2, '0')}:${String(ofDay % 60).padStart(2, '0')}`;
    return days === 0 ? hhmm : `${hhmm}+${days}d`;
  }
  const offset = OFFSET.exec(expectedEnd);
  if (offset) {
    let ms: number;
    try {
      ms = parseDuration(offset[2]!);
    } catch {
      return null;
    }
    const minutes = Math.round((offset[1] === '-' ? -ms : ms) / MINUTE_MS + shiftMinutes);
    return `${minutes < 0 ? '-' : '+'}${Math.abs(minutes)}m`;
  }
  return null;
}

function readDayOffsetTime(text: string): DayOffsetTime | null {
  try {
    return parseDayOffsetTime(text);
  } catch {
    return null;
  }
}
