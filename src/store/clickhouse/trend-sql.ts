/**
 * The trend queries (store/trend-queries.ts) in ClickHouse's dialect, for 18.16 and current
 * versions alike: slopes with covarPop/varPop (no simpleLinearRegression), the business-day
 * index mapped in with `transform` over literal arrays, every value rendered by sql.ts. They
 * read `trend_rows` (schema.ts), the successful runs and closed SLO rows of `events` sorted
 * by business date, so a window is an index range rather than a scan of the whole log.
 *
 * Nullable columns never reach argMax: 18.16 wraps aggregates of Nullable arguments so that
 * they skip NULL rows, which would let an older run's duration stand in for the latest run's
 * missing one, and newer versions changed that rule for argMax. `assumeNotNull` plus an
 * `isNull` flag taken from the same (latest) row states the rule the same way everywhere.
 */
import { TREND_ROWS_TABLE, qualified } from './schema.js';
import { sql, type SqlFragment } from './sql.js';
import {
  trendQueries,
  type JobTrendArgs,
  type SloTrendArgs,
  type TrendCells,
  type TrendDate,
  type TrendQueries,
} from '../trend-queries.js';

/** What the queries need of the ClickHouse adapter: its database and a way to run a SELECT. */
export interface ClickHouseTrendSource {
  readonly database: string;
  selectRows<T>(statement: SqlFragment): Promise<T[]>;
}

/** `[a, b, ...]`: a ClickHouse array literal of rendered scalars. */
function arrayLiteral(values: readonly (string | number)[]): SqlFragment {
  return sql`[${sql.join(
    values.map((v) => sql`${v}`),
    ', ',
  )}]`;
}

/** The window's business dates as a set for the WHERE clause. */
function datesIn(dates: readonly TrendDate[]): SqlFragment {
  return sql`business_date IN ${dates.map((d) => d.date)}`;
}

/** x = the business-day index of `business_date`; -1 never occurs (rows are filtered by datesIn). */
function dayIndex(dates: readonly TrendDate[]): SqlFragment {
  return sql`transform(business_date, ${arrayLiteral(dates.map((d) => d.date))}, ${arrayLiteral(dates.map((d) => d.index))}, -1)`;
}

function jobFilter(args: JobTrendArgs): SqlFragment {
  if (args.jobs === undefined) return sql``;
  const pairs = args.jobs.map((j) => sql`(${j.application}, ${j.job})`);
  return sql`AND (application, job) IN (${sql.join(pairs, ', ')})`;
}

/** The successful runs of the window's dates: (project, type, business_date) is the key prefix. */
function succeededRuns(store: ClickHouseTrendSource, args: JobTrendArgs): SqlFragment {
  return sql`FROM ${qualified(store.database, TREND_ROWS_TABLE)}
  WHERE project = ${args.project} AND type = 'job.status' AND status = 'succeed'
    AND ${datesIn(args.dates)} ${jobFilter(args)}`;
}

/** The SQL of `jobDurationTrend` (exported so it can be read and inspected on its own). */
export function jobDurationTrendSql(store: ClickHouseTrendSource, args: JobTrendArgs): SqlFragment {
  return sql`SELECT
  application,
  job,
  count() AS runs,
  countIf(duration_missing = 0) AS duration_runs,
  countIf(lateness_missing = 0) AS lateness_runs,
  if(varPopIf(x, duration_missing = 0) > 0,
     covarPopIf(x, duration_ms_last, duration_missing = 0) / varPopIf(x, duration_missing = 0) / 1000, NULL) AS duration_slope,
  if(varPopIf(x, lateness_missing = 0) > 0,
     covarPopIf(x, lateness_ms_last, lateness_missing = 0) / varPopIf(x, lateness_missing = 0) / 1000, NULL) AS lateness_slope,
  if(duration_runs > 0, quantileIf(0.5)(duration_ms_last, duration_missing = 0) / 1000, NULL) AS p50_duration,
  if(duration_runs > 0, quantileIf(0.9)(duration_ms_last, duration_missing = 0) / 1000, NULL) AS p90_duration
FROM (
  SELECT
    application,
    job,
    business_date,
    ${dayIndex(args.dates)} AS x,
    argMax(assumeNotNull(duration_ms), event_id) AS duration_ms_last,
    argMax(isNull(duration_ms), event_id) AS duration_missing,
    argMax(assumeNotNull(lateness_ms), event_id) AS lateness_ms_last,
    argMax(isNull(lateness_ms), event_id) AS lateness_missing
  ${succeededRuns(store, args)}
  GROUP BY application, job, business_date
)
GROUP BY application, job
ORDER BY application, job`;
}

/** The SQL of `jobEndSeries`. */
export function jobEndSeriesSql(store: ClickHouseTrendSource, args: JobTrendArgs): SqlFragment {
  return sql`SELECT
  application,
  job,
  business_date,
  argMax(ts_ms, event_id) AS end_ms,
  argMax(assumeNotNull(duration_ms), event_id) AS duration_ms_last,
  argMax(isNull(duration_ms), event_id) AS duration_missing
${succeededRuns(store, args)}
GROUP BY application, job, business_date
ORDER BY application, job, business_date`;
}

/**
 * The SQL of `sloTrend`. `slot` is `''` for once-a-day SLOs. A row whose latest closing is
 * `excused` (maintenance) is left out of every figure.
 */
export function sloTrendSql(store: ClickHouseTrendSource, args: SloTrendArgs): SqlFragment {
  const sloFilter = args.slos === undefined ? sql`` : sql`AND slo IN ${args.slos}`;
  return sql`SELECT
  slo,
  uniqExact(business_date) AS days,
  count() AS occurrences,
  countIf(last_status = 'on_time') / count() AS on_time_ratio,
  countIf(lateness_missing = 0) AS met,
  if(met > 0, quantileIf(0.5)(lateness_ms_last, lateness_missing = 0) / 1000, NULL) AS median_lateness,
  if(met > 0, quantileIf(0.9)(lateness_ms_last, lateness_missing = 0) / 1000, NULL) AS p90_lateness,
  countIf(lateness_missing = 1 OR lateness_ms_last > 0) AS late_side,
  countIf(lateness_missing = 0 AND lateness_ms_last < 0) AS early_side,
  multiIf(ifNull(median_lateness, 0) > 0, late_side,
          ifNull(median_lateness, 0) < 0, early_side,
          greatest(late_side, early_side)) / count() AS same_side_share
FROM (
  SELECT
    slo,
    business_date,
    slot,
    argMax(status, event_id) AS last_status,
    argMax(assumeNotNull(lateness_ms), event_id) AS lateness_ms_last,
    argMax(isNull(lateness_ms), event_id) AS lateness_missing
  FROM ${qualified(store.database, TREND_ROWS_TABLE)}
  WHERE project = ${args.project} AND type = 'slo.closed'
    AND ${datesIn(args.dates)} ${sloFilter}
  GROUP BY slo, business_date, slot
)
WHERE last_status != 'excused'
GROUP BY slo
ORDER BY slo`;
}

/** The three queries bound to one ClickHouse store. */
export function clickHouseTrendQueries(store: ClickHouseTrendSource): TrendQueries {
  return trendQueries({
    jobDurationTrend: (args) => store.selectRows<TrendCells>(jobDurationTrendSql(store, args)),
    jobEndSeries: (args) => store.selectRows<TrendCells>(jobEndSeriesSql(store, args)),
    sloTrend: (args) => store.selectRows<TrendCells>(sloTrendSql(store, args)),
  });
}
