/**
 * The trend queries (store/trend-queries.ts) in DuckDB's dialect. Every value is a bound
 * parameter; the window's dates and business-day indexes arrive as two lists and are joined
 * in as a table (`unnest`), so the x axis is data, not SQL text.
 *
 * As in ClickHouse, a value is taken from the latest row of its group or not at all:
 * `arg_max` skips NULL arguments, so the latest row's NULL is read as a flag instead.
 */
import { INTEGER, LIST, VARCHAR, listValue, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import {
  JOB_END_COLUMNS,
  JOB_TREND_COLUMNS,
  SLO_TREND_COLUMNS,
  namedCells,
  trendQueries,
  type JobTrendArgs,
  type SloTrendArgs,
  type TrendCells,
  type TrendQueries,
} from '../trend-queries.js';

/** What the queries need of the DuckDB adapter: a read with bound parameters. */
export interface DuckDbTrendSource {
  readRows(sql: string, values: DuckDBValue[], types: DuckDBType[]): Promise<DuckDBValue[][]>;
}

/** A statement and its bound parameters. */
export interface BoundSql {
  sql: string;
  values: DuckDBValue[];
  types: DuckDBType[];
}

function binder(): { bind: (value: DuckDBValue, type: DuckDBType) => string; values: DuckDBValue[]; types: DuckDBType[] } {
  const values: DuckDBValue[] = [];
  const types: DuckDBType[] = [];
  return {
    values,
    types,
    bind(value, type) {
      values.push(value);
      types.push(type);
      return `$${values.length}`;
    },
  };
}

const latestOf = (column: string): string =>
  `CASE WHEN arg_max(e.${column} IS NULL, e.event_id) THEN NULL ELSE arg_max(coalesce(e.${column}, 0), e.event_id) END`;

/**
 * `business_date BETWEEN first AND last`: the join already restricts to the window, but only a
 * range on a column reaches the scan's zone maps, which skip row groups outside it (the log is
 * appended in time order, so business dates cluster).
 */
function dateRange(args: { dates: readonly { date: string }[] }, bind: ReturnType<typeof binder>['bind']): string {
  const sorted = args.dates.map((d) => d.date).sort();
  return `e.business_date BETWEEN ${bind(sorted[0]!, VARCHAR)} AND ${bind(sorted[sorted.length - 1]!, VARCHAR)}`;
}

/** FROM/JOIN/WHERE for the window's successful runs; the jobs filter is a join on a bound list. */
function succeededRuns(args: JobTrendArgs, bind: ReturnType<typeof binder>['bind']): string {
  const project = bind(args.project, VARCHAR);
  const dates = bind(listValue(args.dates.map((d) => d.date)), LIST(VARCHAR));
  const indexes = bind(listValue(args.dates.map((d) => d.index)), LIST(INTEGER));
  let jobs = '';
  if (args.jobs !== undefined) {
    const unique = [...new Map(args.jobs.map((j) => [`${j.application}\u0000${j.job}`, j])).values()];
    const applications = bind(listValue(unique.map((j) => j.application)), LIST(VARCHAR));
    const names = bind(listValue(unique.map((j) => j.job)), LIST(VARCHAR));
    jobs = `JOIN (SELECT unnest(${applications}) AS application, unnest(${names}) AS job) k
      ON k.application = e.application AND k.job = e.job`;
  }
  return `FROM events e
    JOIN (SELECT unnest(${dates}) AS business_date, unnest(${indexes}) AS x) w ON w.business_date = e.business_date
    ${jobs}
    WHERE e.project = ${project} AND e.debt = '' AND e.type = 'job.status' AND e.status = 'succeed'
      AND ${dateRange(args, bind)}`;
}

/** The SQL of `jobDurationTrend`, with its parameters. */
export function jobDurationTrendSql(args: JobTrendArgs): BoundSql {
  const b = binder();
  const slope = (y: string): string =>
    `CASE WHEN var_pop(x) FILTER (WHERE ${y} IS NOT NULL) > 0
       THEN covar_pop(x, ${y}) / var_pop(x) FILTER (WHERE ${y} IS NOT NULL) / 1000 END`;
  const sql = `WITH per_date AS (
  SELECT
    e.application,
    e.job,
    e.business_date,
    any_value(w.x) AS x,
    ${latestOf('duration_ms')} AS duration_ms_last,
    ${latestOf('lateness_ms')} AS lateness_ms_last
  ${succeededRuns(args, b.bind)}
  GROUP BY e.application, e.job, e.business_date
)
SELECT
  application,
  job,
  count(*)::DOUBLE AS runs,
  count(duration_ms_last)::DOUBLE AS duration_runs,
  count(lateness_ms_last)::DOUBLE AS lateness_runs,
  ${slope('duration_ms_last')} AS duration_slope,
  ${slope('lateness_ms_last')} AS lateness_slope,
  quantile_cont(duration_ms_last, 0.5) / 1000 AS p50_duration,
  quantile_cont(duration_ms_last, 0.9) / 1000 AS p90_duration
FROM per_date
GROUP BY application, job
ORDER BY application, job`;
  return { sql, values: b.values, types: b.types };
}

/** The SQL of `jobEndSeries`, with its parameters. */
export function jobEndSeriesSql(args: JobTrendArgs): BoundSql {
  const b = binder();
  const sql = `SELECT
  e.application,
  e.job,
  e.business_date,
  arg_max(epoch_ms(e.ts), e.event_id)::DOUBLE AS end_ms,
  (${latestOf('duration_ms')})::DOUBLE AS duration_ms_last
${succeededRuns(args, b.bind)}
GROUP BY e.application, e.job, e.business_date
ORDER BY e.application, e.job, e.business_date`;
  return { sql, values: b.values, types: b.types };
}

/**
 * The SQL of `sloTrend`, with its parameters. Slot comes from attributes (`''` for daily SLOs). A
 * row whose latest closing is `excused` (maintenance) is left out of every figure.
 */
export function sloTrendSql(args: SloTrendArgs): BoundSql {
  const b = binder();
  const project = b.bind(args.project, VARCHAR);
  const dates = b.bind(listValue(args.dates.map((d) => d.date)), LIST(VARCHAR));
  const sloFilter = args.slos === undefined ? '' : `AND list_contains(${b.bind(listValue(args.slos), LIST(VARCHAR))}, e.slo)`;
  const sql = `WITH per_slot AS (
  SELECT
    e.slo,
    e.business_date,
    coalesce(json_extract_string(e.attributes, '$.slot'), '') AS slot_key,
    arg_max(e.status, e.event_id) AS last_status,
    ${latestOf('lateness_ms')} AS lateness_ms_last
  FROM events e
  JOIN (SELECT unnest(${dates}) AS business_date) w ON w.business_date = e.business_date
  WHERE e.project = ${project} AND e.debt = '' AND e.type = 'slo.closed' AND ${dateRange(args, b.bind)} ${sloFilter}
  GROUP BY e.slo, e.business_date, slot_key
), per_slo AS (
  SELECT
    slo,
    count(DISTINCT business_date) AS days,
    count(*) AS occurrences,
    count(*) FILTER (WHERE last_status = 'on_time') / count(*) AS on_time_ratio,
    quantile_cont(lateness_ms_last, 0.5) / 1000 AS median_lateness,
    quantile_cont(lateness_ms_last, 0.9) / 1000 AS p90_lateness,
    count(*) FILTER (WHERE lateness_ms_last IS NULL OR lateness_ms_last > 0) AS late_side,
    count(*) FILTER (WHERE lateness_ms_last < 0) AS early_side
  FROM per_slot
  WHERE last_status <> 'excused'
  GROUP BY slo
)
SELECT
  slo,
  days::DOUBLE,
  occurrences::DOUBLE,
  on_time_ratio,
  median_lateness,
  p90_lateness,
  CASE WHEN median_lateness > 0 THEN late_side
       WHEN median_lateness < 0 THEN early_side
       ELSE greatest(late_side, early_side) END / occurrences AS same_side_share
FROM per_slo
ORDER BY slo`;
  return { sql, values: b.values, types: b.types };
}

/** The three queries bound to one DuckDB store; rows come back positional, in the port's column order. */
export function duckDbTrendQueries(store: DuckDbTrendSource): TrendQueries {
  const run = async (columns: readonly string[], q: BoundSql): Promise<TrendCells[]> =>
    (await store.readRows(q.sql, q.values, q.types)).map((row) => namedCells(columns, row));
  return trendQueries({
    jobDurationTrend: (args) => run(JOB_TREND_COLUMNS, jobDurationTrendSql(args)),
    jobEndSeries: (args) => run(JOB_END_COLUMNS, jobEndSeriesSql(args)),
    sloTrend: (args) => run(SLO_TREND_COLUMNS, sloTrendSql(args)),
  });
}
