import * as barchart from '@grafana/grafana-foundation-sdk/barchart';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { METRIC } from '../../src/metrics/names.js';
import {
  EVENTS,
  ch,
  chDs,
  clickhouseDatasourceVariable,
  finish,
  indent,
  isoTime,
  legend,
  mergeTable,
  newDashboard,
  prom,
  prometheusDatasourceVariable,
  promDs,
  sel,
  sqlMatch,
  sqlVariable,
  thresholds,
  tooltipAll,
} from './common.js';

/**
 * Trends, computed in SQL over the event log: run duration and end lateness per business date
 * with a least-squares slope (covarPop / varPop, which every ClickHouse version has), and how
 * early or late SLO deliveries close. Only SQL that runs on ClickHouse 18.16 and current
 * versions: no window functions, DateTime64, query parameters or simpleLinearRegression.
 */

/**
 * The slope's x is toRelativeDayNum(toDate(business_date)): calendar days. The business
 * calendar is not in SQL, so across weekends and holidays this slope is per calendar day;
 * compter's own trend (compter_job_duration_trend_seconds_per_day, /v1/trends/jobs) uses
 * the business-day index.
 */
const X = 'toRelativeDayNum(toDate(business_date))';
const DAY = "toDateTime(toDate(business_date), 'UTC')";

/** Successful runs in the time range with a business date, one row per event. */
function succeededRuns(columns: string): string {
  return [
    `SELECT event_id, ${columns}`,
    `FROM ${EVENTS}`,
    `WHERE type = 'job.status' AND status = 'succeed' AND business_date != '' AND $__timeFilter(ts)`,
    `  AND ${sqlMatch('project', 'project')} AND ${sqlMatch('application', 'application')} AND ${sqlMatch('job', 'job')}`,
    'LIMIT 1 BY event_id',
  ].join('\n');
}

/**
 * Closed SLO deliveries in the time range, one row per event; `metOnly` keeps those with a
 * lateness. Rows excused by a maintenance window are no deliveries and are left out.
 */
function closedDeliveries(columns: string, metOnly: boolean): string {
  return [
    `SELECT event_id, ${columns}`,
    `FROM ${EVENTS}`,
    `WHERE type = 'slo.closed' AND status != 'excused'${metOnly ? ' AND lateness_ms IS NOT NULL' : ''} AND $__timeFilter(ts)`,
    `  AND ${sqlMatch('project', 'project')} AND ${sqlMatch('application', 'application')}`,
    'LIMIT 1 BY event_id',
  ].join('\n');
}

/** One point per job and business date: the mean duration of that date's successful runs. */
const dailyDurations = [
  `SELECT ${X} AS x, ${DAY} AS time, concat(application, '/', job) AS job_name, avg(duration_ms) / 1000 AS y`,
  'FROM (',
  indent(succeededRuns('application, job, business_date, duration_ms')),
  ')',
  'WHERE duration_ms IS NOT NULL',
  'GROUP BY application, job, business_date',
].join('\n');

const durationWithTrend = [
  'SELECT p.time AS time, p.job_name AS job_name, p.y AS duration_seconds,',
  // Unmatched rows of a LEFT JOIN get default values, not NULL (join_use_nulls is off by
  // default on every version): has_trend tells a job with fewer than two dates apart.
  '  if(r.has_trend = 1, r.intercept + r.slope * p.x, NULL) AS trend_seconds',
  'FROM (',
  indent(dailyDurations),
  ') AS p',
  'ANY LEFT JOIN (',
  '  SELECT job_name, toUInt8(1) AS has_trend, covarPop(x, y) / varPop(x) AS slope, avg(y) - slope * avg(x) AS intercept',
  '  FROM (',
  indent(dailyDurations, 4),
  '  )',
  '  GROUP BY job_name',
  '  HAVING varPop(x) > 0',
  ') AS r USING job_name',
  'ORDER BY time, job_name',
].join('\n');

const trendPerJob = [
  'SELECT application, job, sum(runs) AS runs, count() AS business_dates,',
  '  if(varPop(x) = 0, NULL, covarPop(x, y) / varPop(x)) AS duration_slope_seconds_per_day,',
  '  if(varPopIf(x, isNotNull(l)) = 0, NULL, covarPopIf(x, l, isNotNull(l)) / varPopIf(x, isNotNull(l))) AS end_lateness_slope_seconds_per_day,',
  '  quantileExact(0.5)(y) AS p50_duration_seconds,',
  '  quantileExact(0.9)(y) AS p90_duration_seconds,',
  '  argMax(y, x) AS last_duration_seconds',
  'FROM (',
  `  SELECT application, job, ${X} AS x, avg(duration_ms) / 1000 AS y, avg(lateness_ms) / 1000 AS l, count() AS runs`,
  '  FROM (',
  indent(succeededRuns('application, job, business_date, duration_ms, lateness_ms'), 4),
  '  )',
  '  WHERE duration_ms IS NOT NULL',
  '  GROUP BY application, job, business_date',
  ')',
  'GROUP BY application, job',
  'ORDER BY duration_slope_seconds_per_day DESC, application, job',
].join('\n');

const endLateness = [
  `SELECT ${DAY} AS time, concat(application, '/', job) AS job_name, avg(lateness_ms) / 1000 AS end_lateness_seconds`,
  'FROM (',
  indent(succeededRuns('application, job, business_date, lateness_ms')),
  ')',
  'WHERE lateness_ms IS NOT NULL',
  'GROUP BY time, job_name',
  'ORDER BY time, job_name',
].join('\n');

// Bucket labels carry their order: the bar chart keeps the row order, which ORDER BY sets.
const earlyLate = [
  'SELECT multiIf(',
  "    l < -3600, 'early > 1h', l < -900, 'early 15m-1h', l < 0, 'early < 15m', l = 0, 'on the dot',",
  "    l <= 900, 'late < 15m', l <= 3600, 'late 15m-1h', 'late > 1h') AS lateness,",
  '  count() AS deliveries',
  'FROM (',
  '  SELECT lateness_ms / 1000 AS l FROM (',
  indent(closedDeliveries('lateness_ms', true), 4),
  '  )',
  ')',
  'GROUP BY lateness',
  'ORDER BY min(l)',
].join('\n');

// "Routinely" early or late: the median says which side, and at least 70% of the met
// deliveries fall on that side. Deliveries never met (missed, no lateness) count in the
// on-time ratio only.
const sloBias = [
  'SELECT application, slo, count() AS deliveries,',
  "  countIf(status = 'on_time') / count() AS on_time_ratio,",
  '  median(l) AS median_lateness_seconds,',
  '  if(count(l) = 0, 0, greatest(countIf(l < 0), countIf(l > 0)) / count(l)) AS same_side_share,',
  "  multiIf(same_side_share < 0.7 OR median_lateness_seconds = 0, 'none', median_lateness_seconds < 0, 'early', 'late') AS bias",
  'FROM (',
  '  SELECT application, slo, status, lateness_ms / 1000 AS l FROM (',
  indent(closedDeliveries('application, slo, status, lateness_ms', false), 4),
  '  )',
  ')',
  'GROUP BY application, slo',
  'ORDER BY on_time_ratio, application, slo',
].join('\n');

const jobFilters = ['project=~"$project"', 'application=~"$application"', 'exported_job=~"$job"'];
// The batch job's name arrives as `exported_job`: the scrape's own `job` label is compter's.
const perJob = 'max by (project, application, exported_job)';

/** The trends dashboard (uid compter-trends), SQL over the event log. */
export function trendsDashboard(): dashboard.Dashboard {
  const b = newDashboard(
    'compter-trends',
    'compter / Trends',
    'Job durations and end lateness per business date with their slopes, and how early or late SLO deliveries are, computed in SQL over the event log.',
  )
    .time({ from: 'now-30d', to: 'now' })
    .refresh('5m')
    .withVariable(clickhouseDatasourceVariable())
    .withVariable(prometheusDatasourceVariable())
    .withVariable(
      sqlVariable(
        'project',
        'Project',
        `SELECT DISTINCT project FROM ${EVENTS} WHERE type IN ('job.status', 'slo.closed') AND $__timeFilter(ts) ORDER BY project`,
      ),
    )
    .withVariable(
      sqlVariable(
        'application',
        'Application',
        `SELECT DISTINCT application FROM ${EVENTS} WHERE type IN ('job.status', 'slo.closed') AND $__timeFilter(ts) AND ${sqlMatch('project', 'project')} ORDER BY application`,
      ),
    )
    .withVariable(
      sqlVariable(
        'job',
        'Job',
        `SELECT DISTINCT job FROM ${EVENTS} WHERE type = 'job.status' AND $__timeFilter(ts) AND ${sqlMatch('project', 'project')} AND ${sqlMatch('application', 'application')} ORDER BY job`,
      ),
    );

  b.withRow(new dashboard.RowBuilder('Jobs'));
  b.withPanel(
    new timeseries.PanelBuilder()
      .title('Run duration per business date, with its linear trend')
      .description(
        'Mean duration of the successful runs of each job per business date (job.status rows with status succeed), and the least-squares line ' +
          'through those points over the time range (covarPop/varPop). The slope is per calendar day: x is ' +
          'toRelativeDayNum(toDate(business_date)), because the business calendar is not available in SQL. compter_job_duration_trend_seconds_per_day ' +
          'and /v1/trends/jobs use the business-day index instead.',
      )
      .datasource(chDs)
      .withTarget(ch(durationWithTrend, 'timeseries'))
      .unit('s')
      .showPoints(common.VisibilityMode.Always)
      .pointSize(5)
      .overrideByRegexp('/trend_seconds/', [
        { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
        { id: 'custom.showPoints', value: 'never' },
      ])
      .legend(legend('right'))
      .tooltip(tooltipAll())
      .span(24)
      .height(10),
  );
  b.withPanel(
    new table.PanelBuilder()
      .title('Duration and end-lateness slopes per job')
      .description(
        'Per job over the time range: runs, business dates, slope of the daily mean duration and of the end lateness (seconds per calendar day; ' +
          'end lateness exists only for jobs an SLO includes), p50/p90 of the daily mean duration and the latest one. Steepest slowdown first.',
      )
      .datasource(chDs)
      .withTarget(ch(trendPerJob, 'table'))
      .overrideByRegexp('/_seconds_per_day$/', [
        { id: 'unit', value: 's' },
        { id: 'decimals', value: 1 },
      ])
      .overrideByRegexp('/_duration_seconds$/', [{ id: 'unit', value: 's' }])
      .span(24)
      .height(9),
  );
  b.withPanel(
    new timeseries.PanelBuilder()
      .title('End lateness per business date')
      .description(
        'When each job finished relative to the earliest expected end of the SLOs that include it (job.status lateness_ms); negative is early. ' +
          'Jobs in no SLO have no lateness and are not shown.',
      )
      .datasource(chDs)
      .withTarget(ch(endLateness, 'timeseries'))
      .unit('s')
      .showPoints(common.VisibilityMode.Always)
      .pointSize(5)
      .thresholds(thresholds([null, 'green'], [0, 'red']))
      .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Line))
      .legend(legend('right'))
      .tooltip(tooltipAll())
      .span(12)
      .height(9),
  );
  b.withPanel(
    new table.PanelBuilder()
      .title("compter's trend per job (business days)")
      .description(
        'What compter itself exports from its periodic trend refresh: the duration slope per business day and the projected date on which ' +
          'the p90 end crosses the SLO deadline (CompterJobSlowingDown warns within 7 days).',
      )
      .datasource(promDs)
      .withTarget(prom(`${perJob} (${sel(METRIC.jobDurationTrend, ...jobFilters)})`, { refId: 'A', instant: true, table: true }))
      .withTarget(prom(`${perJob} (${sel(METRIC.jobProjectedBreach, ...jobFilters)}) * 1000`, { refId: 'B', instant: true, table: true }))
      .transformations(mergeTable({ exported_job: 'job', 'Value #A': 'Duration slope', 'Value #B': 'Projected breach' }))
      .overrideByName('Duration slope', [
        { id: 'unit', value: 's' },
        { id: 'decimals', value: 1 },
      ])
      .overrideByName('Projected breach', [isoTime()])
      .sortBy([new common.TableSortByFieldStateBuilder().displayName('Duration slope').desc(true)])
      .span(12)
      .height(9),
  );

  b.withRow(new dashboard.RowBuilder('SLO deliveries'));
  b.withPanel(
    new barchart.PanelBuilder()
      .title('Early/late distribution')
      .description('How far from their expected end SLO deliveries closed in the time range (slo.closed lateness_ms), in buckets.')
      .datasource(chDs)
      .withTarget(ch(earlyLate, 'table'))
      .xField('lateness')
      .unit('none')
      .decimals(0)
      .showValue(common.VisibilityMode.Auto)
      .legend(legend())
      .span(12)
      .height(9),
  );
  b.withPanel(
    new table.PanelBuilder()
      .title('Routinely early or late')
      .description(
        'Per SLO over the time range: on-time ratio, median signed lateness, and the share of deliveries on the same side of the expected end. ' +
          'bias is early or late when that share is at least 70%: the expected end may be worth moving (/v1/trends/slos suggests one).',
      )
      .datasource(chDs)
      .withTarget(ch(sloBias, 'table'))
      .overrideByName('on_time_ratio', [{ id: 'unit', value: 'percentunit' }])
      .overrideByName('same_side_share', [{ id: 'unit', value: 'percentunit' }])
      .overrideByName('median_lateness_seconds', [{ id: 'unit', value: 's' }])
      .span(12)
      .height(9),
  );
  return finish(b);
}
