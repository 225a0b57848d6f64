import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { METRIC } from '../../src/metrics/names.js';
import {
  finish,
  labelVariable,
  legend,
  newDashboard,
  prom,
  prometheusDatasourceVariable,
  promDs,
  sel,
  tooltipAll,
  statPanels,
} from './common.js';

/** compter itself: scrape health, HTTP traffic, the event store and spool, the Node.js process. */

// `job` here is the scrape job (compter's own), not a batch job.
const h = ['job=~"$job"', 'instance=~"$instance"'];
const RATE = '[$__rate_interval]';

const statPanel = statPanels({ span: 4 });

interface Series {
  expr: string;
  legend: string;
}

function graph(title: string, description: string, unit: string, series: Series[], span = 12): timeseries.PanelBuilder {
  const p = new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(promDs)
    .unit(unit)
    .legend(legend())
    .tooltip(tooltipAll())
    .span(span)
    .height(8);
  series.forEach((s, i) => p.withTarget(prom(s.expr, { refId: String.fromCharCode(65 + i), legend: s.legend })));
  return p;
}

function p99(histogram: string, by: string): string {
  return `histogram_quantile(0.99, sum by (${by}, le) (rate(${sel(`${histogram}_bucket`, ...h)}${RATE})))`;
}

function p50(histogram: string, by: string): string {
  return `histogram_quantile(0.5, sum by (${by}, le) (rate(${sel(`${histogram}_bucket`, ...h)}${RATE})))`;
}

/** The health dashboard (uid compter-health). */
export function healthDashboard(): dashboard.Dashboard {
  const b = newDashboard(
    'compter-health',
    'compter / Health',
    'compter itself: scrape health, HTTP traffic and latency, event log writes and spool, memory and CPU.',
  )
    .time({ from: 'now-3h', to: 'now' })
    .withVariable(prometheusDatasourceVariable())
    .withVariable(labelVariable('job', 'Scrape job', `label_values(${METRIC.buildInfo}, job)`))
    .withVariable(labelVariable('instance', 'Instance', `label_values(${METRIC.buildInfo}{job=~"$job"}, instance)`));

  b.withRow(new dashboard.RowBuilder('Instances'));
  b.withPanel(
    statPanel('Up', 'Instances Prometheus scrapes successfully.', `sum(${sel('up', ...h)})`, [
      [null, 'red'],
      [1, 'green'],
    ]),
  );
  b.withPanel(
    statPanel('Down', 'Instances Prometheus cannot scrape; CompterDown pages after 5 minutes.', `count(${sel('up', ...h)} == 0)`, [
      [null, 'green'],
      [1, 'red'],
    ]).noValue('0'),
  );
  b.withPanel(
    statPanel(
      'Version',
      'compter_build_info: the version each instance runs.',
      sel(METRIC.buildInfo, ...h),
      [[null, 'blue']],
      'none',
      '{{version}}',
    ).textMode(common.BigValueTextMode.Name),
  );
  b.withPanel(
    statPanel(
      'Uptime',
      'Time since the youngest instance started.',
      `min(time() - ${sel('process_start_time_seconds', ...h)})`,
      [[null, 'blue']],
      's',
    ),
  );
  b.withPanel(
    statPanel(
      'Spooled events',
      'Events accepted while the event store was unreachable, durable on local disk only until they drain.',
      `sum(${sel(METRIC.spoolEvents, ...h)})`,
      [
        [null, 'green'],
        [1, 'orange'],
      ],
    ),
  );
  b.withPanel(
    statPanel(
      'Store errors, last hour',
      'Failed event store operations in the last hour.',
      `sum(increase(${sel(METRIC.eventStoreErrorsTotal, ...h)}[1h]))`,
      [
        [null, 'green'],
        [1, 'red'],
      ],
    ).decimals(0),
  );

  b.withRow(new dashboard.RowBuilder('HTTP'));
  b.withPanel(
    graph('Requests by route', 'Requests answered per second, by route pattern.', 'reqps', [
      { expr: `sum by (route) (rate(${sel(METRIC.httpRequestsTotal, ...h)}${RATE}))`, legend: '{{route}}' },
    ]),
  );
  b.withPanel(
    graph(
      'Responses by status code',
      'Responses per second by status code; 429 is a rate limit, 503 an event store that cannot make writes durable.',
      'reqps',
      [{ expr: `sum by (code) (rate(${sel(METRIC.httpRequestsTotal, ...h)}${RATE}))`, legend: '{{code}}' }],
    ),
  );
  b.withPanel(
    graph('Latency p99 by route', 'compter_http_request_duration_seconds, 99th percentile per route.', 's', [
      { expr: p99(METRIC.httpRequestDuration, 'route'), legend: '{{route}}' },
    ]),
  );
  b.withPanel(
    graph('Latency p50 by route', 'compter_http_request_duration_seconds, median per route.', 's', [
      { expr: p50(METRIC.httpRequestDuration, 'route'), legend: '{{route}}' },
    ]),
  );
  b.withPanel(
    graph('Rate-limited requests by project', 'Requests refused with 429 per second, by project.', 'reqps', [
      { expr: `sum by (project) (rate(${sel(METRIC.rateLimitedTotal, ...h)}${RATE}))`, legend: '{{project}}' },
    ]),
  );

  b.withRow(new dashboard.RowBuilder('Event log'));
  b.withPanel(
    graph('Events appended', 'Events written to the event log (committed or spooled) per second.', 'ops', [
      { expr: `sum by (instance) (rate(${sel(METRIC.eventsAppendedTotal, ...h)}${RATE}))`, legend: '{{instance}}' },
    ]),
  );
  b.withPanel(
    graph('Flush duration', 'One group-commit flush to the event store: p99 and median.', 's', [
      { expr: p99(METRIC.eventStoreFlushSeconds, 'instance'), legend: 'p99 {{instance}}' },
      { expr: p50(METRIC.eventStoreFlushSeconds, 'instance'), legend: 'p50 {{instance}}' },
    ]),
  );
  b.withPanel(
    graph('Events per flush', 'Group commit at work: how many events one flush writes on average.', 'none', [
      {
        expr:
          `sum by (instance) (rate(${sel(METRIC.eventsAppendedTotal, ...h)}${RATE}))` +
          ` / sum by (instance) (rate(${sel(`${METRIC.eventStoreFlushSeconds}_count`, ...h)}${RATE}))`,
        legend: '{{instance}}',
      },
    ]),
  );
  b.withPanel(
    graph('Event store errors', 'Failed event store operations per second; the spool absorbs them while it can.', 'ops', [
      { expr: `sum by (instance) (rate(${sel(METRIC.eventStoreErrorsTotal, ...h)}${RATE}))`, legend: '{{instance}}' },
    ]),
  );
  b.withPanel(
    graph('Spool depth', 'Events waiting in the local spool; CompterSpooling warns after 10 minutes above 0.', 'none', [
      { expr: `max by (instance) (${sel(METRIC.spoolEvents, ...h)})`, legend: '{{instance}}' },
    ]),
  );

  b.withRow(new dashboard.RowBuilder('Process'));
  b.withPanel(
    graph('Memory', 'Resident set size and V8 heap in use.', 'bytes', [
      { expr: sel('process_resident_memory_bytes', ...h), legend: 'RSS {{instance}}' },
      { expr: sel('nodejs_heap_size_used_bytes', ...h), legend: 'heap used {{instance}}' },
    ]),
  );
  b.withPanel(
    graph('CPU', 'CPU time per second: 1 is one core fully busy.', 'percentunit', [
      { expr: `rate(${sel('process_cpu_seconds_total', ...h)}${RATE})`, legend: '{{instance}}' },
    ]),
  );
  b.withPanel(
    graph('Event loop lag', 'Node.js event loop delay: p99 and median. Pings wait this long before compter even reads them.', 's', [
      { expr: sel('nodejs_eventloop_lag_p99_seconds', ...h), legend: 'p99 {{instance}}' },
      { expr: sel('nodejs_eventloop_lag_p50_seconds', ...h), legend: 'p50 {{instance}}' },
    ]),
  );
  b.withPanel(
    graph('File descriptors', 'Open file descriptors and the limit.', 'none', [
      { expr: sel('process_open_fds', ...h), legend: 'open {{instance}}' },
      { expr: sel('process_max_fds', ...h), legend: 'max {{instance}}' },
    ]),
  );
  return finish(b);
}
