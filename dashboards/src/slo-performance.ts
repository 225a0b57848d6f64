import * as common from '@grafana/grafana-foundation-sdk/common';
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { METRIC } from '../../src/metrics/names.js';
import {
  EVENTS,
  RULE,
  ch,
  chDs,
  clickhouseDatasourceVariable,
  consoleLink,
  consoleUrlVariable,
  finish,
  indent,
  isoTime,
  labelVariable,
  lastValue,
  legend,
  mergeTable,
  newDashboard,
  prom,
  prometheusDatasourceVariable,
  promDs,
  sel,
  sqlMatch,
  thresholds,
  tooltipAll,
  statPanels,
} from './common.js';

/**
 * SLOs: the current business date from Prometheus (status, deadline, prediction, lateness,
 * 14-day on-time ratio) and every closed delivery from the event log (`slo.closed` rows).
 */

const f = ['project=~"$project"', 'application=~"$application"', 'slo=~"$slo"'];
const perSlo = 'max by (project, application, slo)';
/** The status each SLO is in now, as a label (value 1). */
const statusNow = `max by (project, application, slo, status) (${sel(METRIC.sloStatus, ...f)}) == 1`;

/** `expr` (one series per SLO) with the SLO's current status added as a label. */
function withStatus(expr: string): string {
  return `(${expr}) * on (project, application, slo) group_left (status) (${statusNow})`;
}

/**
 * Closed deliveries in the time range, one row per event (the log may hold a resent one twice).
 * Rows excused by a maintenance window are no deliveries: left out unless `withExcused`.
 */
function closedDeliveries(columns: string, withExcused = false): string {
  return [
    `SELECT event_id, ${columns}`,
    `FROM ${EVENTS}`,
    `WHERE type = 'slo.closed'${withExcused ? '' : " AND status != 'excused'"} AND $__timeFilter(ts)`,
    `  AND ${sqlMatch('project', 'project')} AND ${sqlMatch('application', 'application')} AND ${sqlMatch('slo', 'slo')}`,
    'LIMIT 1 BY event_id',
  ].join('\n');
}

const statPanel = statPanels({ span: 6, noValue: '0' });

/** The SLO performance dashboard (uid compter-slo-performance). */
export function sloPerformanceDashboard(): dashboard.Dashboard {
  const b = newDashboard(
    'compter-slo-performance',
    'compter / SLO performance',
    'SLOs: status of the current business date, lateness, on-time ratio, and every closed delivery from the event log.',
  )
    .time({ from: 'now-30d', to: 'now' })
    .withVariable(prometheusDatasourceVariable())
    .withVariable(clickhouseDatasourceVariable())
    .withVariable(labelVariable('project', 'Project', `label_values(${METRIC.sloStatus}, project)`))
    .withVariable(labelVariable('application', 'Application', `label_values(${METRIC.sloStatus}{project=~"$project"}, application)`))
    .withVariable(labelVariable('slo', 'SLO', `label_values(${METRIC.sloStatus}{project=~"$project", application=~"$application"}, slo)`))
    .withVariable(consoleUrlVariable());

  b.withRow(new dashboard.RowBuilder('Current business date'));
  b.withPanel(statPanel('SLOs', 'SLOs defined.', `count(${perSlo} (${sel(METRIC.sloStatus, ...f)}))`, [[null, 'blue']]));
  b.withPanel(
    statPanel(
      'Late, missed or failed',
      'SLOs whose current business date is late (deadline passed), missed (slack ran out) or failed (a job failed and was not rerun).',
      `count(${perSlo} (${sel(METRIC.sloStatus, ...f, 'status=~"late|missed|failed"')}) == 1)`,
      [
        [null, 'green'],
        [1, 'red'],
      ],
    ),
  );
  b.withPanel(
    statPanel(
      'At risk',
      'Not met yet, and predicted (p90 of recent durations) to end after the deadline.',
      `count(${perSlo} (${sel(METRIC.sloStatus, ...f, 'status="at_risk"')}) == 1)`,
      [
        [null, 'green'],
        [1, 'orange'],
      ],
    ),
  );
  b.withPanel(
    statPanel(
      'On time, last 14 days',
      `Share of deliveries met by their deadline over 14 days (recording rule ${RULE.sloDeliveriesIncrease14d}, recorded every 2m).`,
      `sum(${sel(RULE.sloDeliveriesIncrease14d, ...f, 'outcome="on_time"')}) / sum(${sel(RULE.sloDeliveriesIncrease14d, ...f)})`,
      [
        [null, 'red'],
        [0.9, 'yellow'],
        [0.99, 'green'],
      ],
      'percentunit',
    ),
  );
  b.withPanel(
    new table.PanelBuilder()
      .title('SLOs now')
      .description(
        'Each SLO with the status of its current business date, its deadline (expected end), the predicted end and the lateness so far. ' +
          'GET /v1/slos/{slo}/performance on compter has the rows behind it.',
      )
      .datasource(promDs)
      .withTarget(prom(statusNow, { refId: 'A', instant: true, table: true }))
      .withTarget(prom(withStatus(`${perSlo} (${sel(METRIC.sloDeadline, ...f)}) * 1000`), { refId: 'B', instant: true, table: true }))
      .withTarget(prom(withStatus(`${perSlo} (${sel(METRIC.sloPredictedEnd, ...f)}) * 1000`), { refId: 'C', instant: true, table: true }))
      .withTarget(prom(withStatus(`${perSlo} (${sel(METRIC.sloLateness, ...f)})`), { refId: 'D', instant: true, table: true }))
      .transformations(mergeTable({ 'Value #B': 'Deadline', 'Value #C': 'Predicted end', 'Value #D': 'Lateness' }, ['Value #A']))
      .overrideByName('Deadline', [isoTime()])
      .overrideByName('Predicted end', [isoTime()])
      .overrideByName('Lateness', [{ id: 'unit', value: 's' }])
      .overrideByName('slo', [consoleLink('slos')])
      .sortBy([new common.TableSortByFieldStateBuilder().displayName('Lateness').desc(true)])
      .span(24)
      .height(9),
  );
  b.withPanel(
    new timeseries.PanelBuilder()
      .title('Lateness')
      .description('compter_slo_lateness_seconds: actual end minus expected end of the current business date; negative is early.')
      .datasource(promDs)
      .withTarget(prom(`${perSlo} (${sel(METRIC.sloLateness, ...f)})`, { legend: '{{application}}/{{slo}}' }))
      .unit('s')
      .thresholds(thresholds([null, 'green'], [0, 'red']))
      .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Line))
      .legend(legend('right'))
      .tooltip(tooltipAll())
      .span(12)
      .height(8),
  );
  b.withPanel(
    new timeseries.PanelBuilder()
      .title('SLOs by status')
      .description(`From the recording rule ${RULE.slosByStatus}; follows the project filter only.`)
      .datasource(promDs)
      .withTarget(prom(`sum by (status) (${sel(RULE.slosByStatus, 'project=~"$project"')})`, { legend: '{{status}}' }))
      .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
      .fillOpacity(40)
      .unit('none')
      .decimals(0)
      .legend(legend('right'))
      .tooltip(tooltipAll())
      .span(12)
      .height(8),
  );
  b.withPanel(
    new bargauge.PanelBuilder()
      .title('On-time ratio per SLO, last 14 days')
      .description(`Recording rule ${RULE.sloOnTimeRatio14d}: on-time deliveries over all deliveries in 14 days.`)
      .datasource(promDs)
      .withTarget(prom(sel(RULE.sloOnTimeRatio14d, ...f), { instant: true, legend: '{{application}}/{{slo}}' }))
      .unit('percentunit')
      .min(0)
      .max(1)
      .thresholds(thresholds([null, 'red'], [0.9, 'yellow'], [0.99, 'green']))
      .orientation(common.VizOrientation.Horizontal)
      .displayMode(common.BarGaugeDisplayMode.Basic)
      .reduceOptions(lastValue())
      .span(12)
      .height(8),
  );
  b.withPanel(
    new bargauge.PanelBuilder()
      .title('Deliveries by outcome')
      .description('SLO deliveries closed in the time range, by outcome (compter_slo_deliveries_total).')
      .datasource(promDs)
      .withTarget(
        prom(
          `sum by (outcome) (max by (project, slo, application, outcome) (increase(${sel(METRIC.sloDeliveriesTotal, ...f)}[$__range])))`,
          { instant: true, legend: '{{outcome}}' },
        ),
      )
      .unit('none')
      .decimals(0)
      .orientation(common.VizOrientation.Horizontal)
      .displayMode(common.BarGaugeDisplayMode.Basic)
      .reduceOptions(lastValue())
      .span(12)
      .height(8),
  );

  b.withRow(new dashboard.RowBuilder('Delivery history (event log)'));
  b.withPanel(
    new timeseries.PanelBuilder()
      .title('Lateness per business date')
      .description(
        'From slo.closed rows in the event log: actual end minus expected end per business date (the latest slot for intra-day SLOs); ' +
          'negative is early. Deliveries never met have no lateness and are left out, as are rows excused by a maintenance window.',
      )
      .datasource(chDs)
      .withTarget(
        ch(
          [
            "SELECT toDateTime(toDate(business_date), 'UTC') AS time,",
            "  concat(application, '/', slo) AS slo_name,",
            '  max(lateness_ms) / 1000 AS lateness_seconds',
            'FROM (',
            indent(closedDeliveries('application, slo, business_date, lateness_ms')),
            ')',
            "WHERE business_date != '' AND lateness_ms IS NOT NULL",
            'GROUP BY time, slo_name',
            'ORDER BY time, slo_name',
          ].join('\n'),
          'timeseries',
        ),
      )
      .unit('s')
      .drawStyle(common.GraphDrawStyle.Line)
      .showPoints(common.VisibilityMode.Always)
      .pointSize(6)
      .thresholds(thresholds([null, 'green'], [0, 'red']))
      .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Line))
      .legend(legend('right'))
      .tooltip(tooltipAll())
      .span(12)
      .height(9),
  );
  b.withPanel(
    new timeseries.PanelBuilder()
      .title('On-time ratio per business date')
      .description(
        'From slo.closed rows: on-time deliveries over all deliveries closed for each business date (all selected SLOs); ' +
          'rows excused by a maintenance window are not deliveries.',
      )
      .datasource(chDs)
      .withTarget(
        ch(
          [
            "SELECT toDateTime(toDate(business_date), 'UTC') AS time,",
            "  countIf(status = 'on_time') / count() AS on_time_ratio",
            'FROM (',
            indent(closedDeliveries('business_date, status')),
            ')',
            "WHERE business_date != ''",
            'GROUP BY time',
            'ORDER BY time',
          ].join('\n'),
          'timeseries',
        ),
      )
      .unit('percentunit')
      .min(0)
      .max(1)
      .drawStyle(common.GraphDrawStyle.Bars)
      .fillOpacity(60)
      .legend(legend())
      .span(12)
      .height(9),
  );
  b.withPanel(
    new table.PanelBuilder()
      .title('Deliveries')
      .description(
        'Every slo.closed row in the time range, newest business date first: status (excused: due inside a maintenance window), ' +
          'lateness, expected and actual end.',
      )
      .datasource(chDs)
      .withTarget(
        ch(
          [
            'SELECT business_date, slot, application, slo, status,',
            '  lateness_ms / 1000 AS lateness_seconds,',
            "  if(expected_end_ms = 0, NULL, toDateTime(intDiv(expected_end_ms, 1000), 'UTC')) AS expected_end,",
            "  if(actual_end_ms = 0, NULL, toDateTime(intDiv(actual_end_ms, 1000), 'UTC')) AS actual_end,",
            '  ts AS closed_at',
            'FROM (',
            indent(
              closedDeliveries(
                "business_date, visitParamExtractString(attributes, 'slot') AS slot, application, slo, status, lateness_ms, " +
                  "visitParamExtractInt(attributes, 'expectedEnd') AS expected_end_ms, visitParamExtractInt(attributes, 'actualEnd') AS actual_end_ms, ts",
                true,
              ),
            ),
            ')',
            'ORDER BY business_date DESC, slot DESC, application, slo',
            'LIMIT 1000',
          ].join('\n'),
          'table',
        ),
      )
      .overrideByName('lateness_seconds', [{ id: 'unit', value: 's' }])
      .span(24)
      .height(10),
  );
  return finish(b);
}
