/**
 * The trend queries (docs/semantics.md, "Trends") as a port: what each one is asked and what it answers. Each
 * adapter implements them as SQL aggregations in its own dialect (clickhouse/trend-sql.ts,
 * duckdb/trend-sql.ts); both validate their arguments with the schemas below on the way in
 * and their rows on the way out, so the engine sees the same shapes from either store.
 *
 * Shared rules, so both dialects answer the same numbers:
 * - The x axis is a business-day index chosen by the caller from a calendar and passed in as
 *   data (`dates`): wall days never reach the SQL, so weekends and holidays cost no x step.
 * - One value per (job, business date): the latest `job.status` succeed of that date, by
 *   event_id (time-ordered), so a rerun replaces the run before it. Likewise the latest
 *   `slo.closed` per (SLO, business date, slot). "Latest by event_id" also makes unmerged
 *   copies of an event (ClickHouse keeps them until a merge) harmless: copies share their id
 *   and values, and every count is a count of dates, never of rows.
 * - A value the latest row does not carry (a success whose start was unknown has no
 *   duration) leaves that date out of that statistic; it is not taken from an older row.
 * - Percentiles interpolate linearly between order statistics (DuckDB `quantile_cont`,
 *   ClickHouse `quantile`, which is exact below its 8192-value reservoir; a window holds at
 *   most MAX_TREND_DATES values per job).
 */
import { z } from 'zod';
import { ID_PATTERN } from '../domain/problems.js';

/** Most business dates one trend query covers (a year and a day). */
export const MAX_TREND_DATES = 366;
/** Most entities one query may be restricted to; callers with more leave the filter off. */
export const MAX_TREND_FILTER = 1000;

const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const name = z.string().min(1).max(256);
const count = z.number().int().min(0);
const finite = z.number().finite();

/** A business date and its position on the x axis. */
export const trendDateSchema = z.object({
  date: z.string().regex(DATE_PATTERN, 'must be a date YYYY-MM-DD'),
  index: z.number().int().min(0).max(100_000),
});
export type TrendDate = z.infer<typeof trendDateSchema>;

export const jobKeySchema = z.object({ application: name, job: name });
export type JobKey = z.infer<typeof jobKeySchema>;

const datesSchema = z
  .array(trendDateSchema)
  .min(1)
  .max(MAX_TREND_DATES)
  .refine((dates) => new Set(dates.map((d) => d.date)).size === dates.length, 'dates must not repeat');

const projectSchema = z.string().regex(ID_PATTERN, 'must match ^[a-z0-9][a-z0-9._-]{0,127}$');

export const jobTrendArgsSchema = z.object({
  project: projectSchema,
  /** Only these jobs; every job of the project when absent. */
  jobs: z.array(jobKeySchema).min(1).max(MAX_TREND_FILTER).optional(),
  dates: datesSchema,
});
export type JobTrendArgs = z.infer<typeof jobTrendArgsSchema>;

export const sloTrendArgsSchema = z.object({
  project: projectSchema,
  /** Only these SLOs; every SLO of the project when absent. */
  slos: z.array(z.string().regex(ID_PATTERN)).min(1).max(MAX_TREND_FILTER).optional(),
  dates: datesSchema,
});
export type SloTrendArgs = z.infer<typeof sloTrendArgsSchema>;

/** Per job over the window: slopes against the business-day index and duration percentiles. */
export const jobTrendRowSchema = z.object({
  application: z.string(),
  job: z.string(),
  /** Business dates in the window with a successful run (a date's reruns count once). */
  runs: count,
  /** Of those, dates whose latest success carries a duration. */
  durationRuns: count,
  /** Of those, dates whose latest success carries an end lateness (the job is in an SLO). */
  latenessRuns: count,
  /** covarPop(x, duration) / varPop(x); null with fewer than two distinct x. */
  durationSlopeSecondsPerDay: finite.nullable(),
  /** covarPop(x, lateness) / varPop(x); null with fewer than two distinct x. */
  endLatenessSlopeSecondsPerDay: finite.nullable(),
  p50DurationSeconds: finite.nullable(),
  p90DurationSeconds: finite.nullable(),
});
export type JobTrendRow = z.infer<typeof jobTrendRowSchema>;

/** The run of one job on one business date: the latest success's end and duration. */
export const jobEndPointSchema = z.object({
  application: z.string(),
  job: z.string(),
  businessDate: z.string().regex(DATE_PATTERN),
  /** When the run ended (the succeed event's time), epoch ms. */
  endMs: finite,
  durationMs: finite.nullable(),
});
export type JobEndPoint = z.infer<typeof jobEndPointSchema>;

/** Per SLO over the window, from its closed rows (one per business date, or per slot). */
export const sloTrendRowSchema = z.object({
  sloId: z.string(),
  /** Business dates with at least one closed row. */
  days: count,
  /** Closed rows counted: days, or slots for an SLO that repeats within the day. */
  occurrences: count,
  onTimeRatio: z.number().min(0).max(1),
  /** Median of actualEnd − expectedEnd over the rows that were met; null when none was. */
  medianLatenessSeconds: finite.nullable(),
  /** 90th percentile of the same; what an expected end would need to be met 90% of the time. */
  p90LatenessSeconds: finite.nullable(),
  /**
   * Share of rows on the median's side of the deadline: late (after it, or never met) when
   * the median is positive, early when negative, the larger of the two otherwise.
   */
  sameSideShare: z.number().min(0).max(1),
});
export type SloTrendRow = z.infer<typeof sloTrendRowSchema>;

/** The trend queries of one event store, each a small named query run in the store. */
export interface TrendQueries {
  /** Per job: duration and end-lateness slopes, p50/p90 duration, runs. */
  jobDurationTrend(args: JobTrendArgs): Promise<JobTrendRow[]>;
  /** Per job and business date: the latest success's end and duration (breach projection input). */
  jobEndSeries(args: JobTrendArgs): Promise<JobEndPoint[]>;
  /** Per SLO: on-time ratio, median and p90 signed lateness, same-side share. */
  sloTrend(args: SloTrendArgs): Promise<SloTrendRow[]>;
}

/** Parses a query's arguments, throwing a RangeError that lists every problem. */
export function parseTrendArgs<T>(schema: z.ZodType<T>, args: unknown, query: string): T {
  const parsed = schema.safeParse(args);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(args)'}: ${i.message}`);
  throw new RangeError(`${query}: invalid arguments: ${problems.join('; ')}`);
}

/** Validates a query's rows before they leave the adapter; a mismatch is a bug in its SQL. */
export function parseTrendRows<T>(schema: z.ZodType<T>, rows: readonly unknown[], query: string): T[] {
  return rows.map((row, i) => {
    const parsed = schema.safeParse(row);
    if (parsed.success) return parsed.data;
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`${query}: row ${i} does not match its schema: ${problems.join('; ')}`);
  });
}

/** A number from a database cell: 64-bit integers arrive as strings or bigints, NULL as null. */
export function numberOrNull(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

/** Milliseconds to seconds, keeping null. */
export function msToSeconds(value: number | null): number | null {
  return value === null ? null : value / 1000;
}

/** One result row of a trend query's SQL, by column name: cells as the driver gives them. */
export type TrendCells = Readonly<Record<string, unknown>>;

/**
 * The SQL of the three queries in one dialect: each is given validated arguments and answers
 * rows with the columns listed below (JOB_TREND_COLUMNS, JOB_END_COLUMNS, SLO_TREND_COLUMNS).
 */
export interface TrendSql {
  jobDurationTrend(args: JobTrendArgs): Promise<readonly TrendCells[]>;
  jobEndSeries(args: JobTrendArgs): Promise<readonly TrendCells[]>;
  sloTrend(args: SloTrendArgs): Promise<readonly TrendCells[]>;
}

/** The columns of `jobDurationTrend`'s SQL, in order. */
export const JOB_TREND_COLUMNS = [
  'application',
  'job',
  'runs',
  'duration_runs',
  'lateness_runs',
  'duration_slope',
  'lateness_slope',
  'p50_duration',
  'p90_duration',
] as const;
/**
 * The columns of `jobEndSeries`'s SQL, in order. A dialect whose argMax cannot carry the latest
 * row's NULL may add `duration_missing` (1 when that row has no duration).
 */
export const JOB_END_COLUMNS = ['application', 'job', 'business_date', 'end_ms', 'duration_ms_last'] as const;
/** The columns of `sloTrend`'s SQL, in order. */
export const SLO_TREND_COLUMNS = [
  'slo',
  'days',
  'occurrences',
  'on_time_ratio',
  'median_lateness',
  'p90_lateness',
  'same_side_share',
] as const;

/** A positional row as cells named by `columns` (for drivers that answer arrays). */
export function namedCells(columns: readonly string[], row: readonly unknown[]): TrendCells {
  return Object.fromEntries(columns.map((column, i) => [column, row[i]]));
}

/** The port over one dialect's SQL: arguments checked on the way in, cells made numbers and rows checked on the way out. */
export function trendQueries(dialect: TrendSql): TrendQueries {
  return {
    jobDurationTrend: checked(
      'jobDurationTrend',
      jobTrendArgsSchema,
      jobTrendRowSchema,
      (args) => dialect.jobDurationTrend(args),
      (r) => ({
        application: r.application,
        job: r.job,
        runs: numberOrNull(r.runs),
        durationRuns: numberOrNull(r.duration_runs),
        latenessRuns: numberOrNull(r.lateness_runs),
        durationSlopeSecondsPerDay: numberOrNull(r.duration_slope),
        endLatenessSlopeSecondsPerDay: numberOrNull(r.lateness_slope),
        p50DurationSeconds: numberOrNull(r.p50_duration),
        p90DurationSeconds: numberOrNull(r.p90_duration),
      }),
    ),
    jobEndSeries: checked(
      'jobEndSeries',
      jobTrendArgsSchema,
      jobEndPointSchema,
      (args) => dialect.jobEndSeries(args),
      (r) => ({
        application: r.application,
        job: r.job,
        businessDate: r.business_date,
        endMs: numberOrNull(r.end_ms),
        durationMs: numberOrNull(r.duration_missing) === 1 ? null : numberOrNull(r.duration_ms_last),
      }),
    ),
    sloTrend: checked(
      'sloTrend',
      sloTrendArgsSchema,
      sloTrendRowSchema,
      (args) => dialect.sloTrend(args),
      (r) => ({
        sloId: r.slo,
        days: numberOrNull(r.days),
        occurrences: numberOrNull(r.occurrences),
        onTimeRatio: numberOrNull(r.on_time_ratio),
        medianLatenessSeconds: numberOrNull(r.median_lateness),
        p90LatenessSeconds: numberOrNull(r.p90_lateness),
        sameSideShare: numberOrNull(r.same_side_share),
      }),
    ),
  };
}

/** One query of the port: `run`'s SQL between the argument check and the row check. */
function checked<A, R>(
  query: string,
  argsSchema: z.ZodType<A>,
  rowSchema: z.ZodType<R>,
  run: (args: A) => Promise<readonly TrendCells[]>,
  toRow: (cells: TrendCells) => unknown,
): (input: A) => Promise<R[]> {
  return async (input) => parseTrendRows(rowSchema, (await run(parseTrendArgs(argsSchema, input, query))).map(toRow), query);
}
