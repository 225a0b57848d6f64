import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import { ClickHouseQueryBuilder, type ClickHouseFormat } from './clickhouse-query.js';

/**
 * What every compter dashboard shares: the two data source variables, template variables,
 * query builders and the final touches (panel ids, serialization). The uids are the ones
 * dashboards/provisioning/datasources.yml gives the provisioned data sources.
 */

export const PROMETHEUS_UID = 'compter-prometheus';
export const CLICKHOUSE_UID = 'compter-clickhouse';
export const CLICKHOUSE_PLUGIN = 'grafana-clickhouse-datasource';

/** The event log table Grafana reads (compter's default COMPTER_CLICKHOUSE_DATABASE). */
export const EVENTS = 'compter.events';

/** Recording rules defined in alerts/compter.rules.yml that the dashboards read. */
export const RULE = {
  debtsByStatus: 'compter:debts_by_status:count',
  slosByStatus: 'compter:slos_by_status:count',
  occurrencesIncrease1h: 'compter:occurrences:increase1h',
  sloDeliveriesIncrease14d: 'compter:slo_deliveries:increase14d',
  sloOnTimeRatio14d: 'compter:slo_on_time_ratio:14d',
} as const;

export const promDs: common.DataSourceRef = { type: 'prometheus', uid: '${prometheus}' };
export const chDs: common.DataSourceRef = { type: CLICKHOUSE_PLUGIN, uid: '${clickhouse}' };

/** Tags every compter dashboard carries; the dashboard links find the others by them. */
export const TAGS = ['compter'];

/** The `prometheus` data source variable, defaulting to the provisioned Prometheus. */
export function prometheusDatasourceVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder('prometheus')
    .label('Prometheus')
    .type('prometheus')
    .current({ selected: true, text: 'Prometheus', value: PROMETHEUS_UID });
}

/** The `clickhouse` data source variable, defaulting to the provisioned ClickHouse. */
export function clickhouseDatasourceVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder('clickhouse')
    .label('ClickHouse')
    .type(CLICKHOUSE_PLUGIN)
    .current({ selected: true, text: 'ClickHouse', value: CLICKHOUSE_UID });
}

const allOption = { selected: true, text: 'All', value: '$__all' };

/**
 * A multi-value Prometheus label variable. "All" is `.*`, not a list of every value: with
 * 100k debts the expanded regex would not fit in a URL. Queries use it as `label=~"$name"`.
 */
export function labelVariable(name: string, label: string, labelValuesQuery: string): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder(name)
    .label(label)
    .datasource(promDs)
    .query(labelValuesQuery)
    .definition(labelValuesQuery)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current(allOption);
}

/**
 * A multi-value variable read from the event log. SQL uses it as
 * `match(column, '^(${name:regex})$')`: Grafana leaves the custom All value `.*` as it is and
 * joins chosen values as an escaped alternation.
 */
export function sqlVariable(name: string, label: string, sql: string): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder(name)
    .label(label)
    .datasource(chDs)
    .query(sql)
    .definition(sql)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current(allOption);
}

/** `column` restricted to the values chosen in variable `name` (see sqlVariable). */
export function sqlMatch(column: string, name: string): string {
  return `match(${column}, '^(\${${name}:regex})$')`;
}

/** `sql` with every line indented, for a subquery inside another query. */
export function indent(sql: string, spaces = 2): string {
  const pad = ' '.repeat(spaces);
  return sql
    .split('\n')
    .map((line) => pad + line)
    .join('\n');
}

/** A PromQL selector: `metric{m1, m2}` with the given matchers, e.g. `project=~"$project"`. */
export function sel(metric: string, ...matchers: string[]): string {
  return matchers.length === 0 ? metric : `${metric}{${matchers.join(', ')}}`;
}

export interface PromTargetOptions {
  refId?: string;
  legend?: string;
  /** One value per series at the end of the range (tables, stats, bar gauges). */
  instant?: boolean;
  /** Table format: one row per series, labels as columns. */
  table?: boolean;
}

/** A PromQL target on the dashboard's Prometheus, in code mode. */
export function prom(expr: string, options: PromTargetOptions = {}): prometheus.DataqueryBuilder {
  const q = new prometheus.DataqueryBuilder()
    .datasource(promDs)
    .refId(options.refId ?? 'A')
    .expr(expr)
    .editorMode(prometheus.QueryEditorMode.Code);
  if (options.legend !== undefined) q.legendFormat(options.legend);
  if (options.instant) q.instant();
  else q.range();
  if (options.table) q.format(prometheus.PromQueryFormat.Table);
  return q;
}

/** A raw-SQL target on the dashboard's ClickHouse. */
export function ch(sql: string, format: ClickHouseFormat, refId = 'A'): ClickHouseQueryBuilder {
  return new ClickHouseQueryBuilder(chDs, sql).format(format).refId(refId);
}

/** A visible legend: a list below, or a table on the right with last and max. */
export function legend(placement: 'bottom' | 'right' = 'bottom'): common.VizLegendOptionsBuilder {
  return new common.VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(placement === 'right' ? common.LegendDisplayMode.Table : common.LegendDisplayMode.List)
    .placement(placement === 'right' ? common.LegendPlacement.Right : common.LegendPlacement.Bottom)
    .calcs(placement === 'right' ? ['lastNotNull', 'max'] : []);
}

/** A tooltip listing every series, largest first. */
export function tooltipAll(): common.VizTooltipOptionsBuilder {
  return new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending);
}

/** Absolute thresholds from `[value, color]` steps (the first value is null: the base). */
export function thresholds(...steps: [number | null, string][]): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps(steps.map(([value, color]) => ({ value, color })));
}

/** Reduce each series to its last non-null value (stats, bar gauges). */
export function lastValue(): common.ReduceDataOptionsBuilder {
  return new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false);
}

/** Field unit for epoch milliseconds (queries multiply Prometheus's seconds by 1000). */
export function isoTime(): dashboard.DynamicConfigValue {
  return { id: 'unit', value: 'dateTimeAsIso' };
}

/**
 * Table transformations for several instant queries about the same entities: merge them into
 * one row per label set, drop the time column and the helper values, and name the rest.
 */
export function mergeTable(renames: Record<string, string>, hide: string[] = []): dashboard.DataTransformerConfig[] {
  const excludeByName: Record<string, boolean> = { Time: true };
  for (const h of hide) excludeByName[h] = true;
  return [
    { id: 'merge', options: {} },
    { id: 'organize', options: { excludeByName, renameByName: renames, indexByName: {} } },
  ];
}

/** Links to the other compter dashboards, keeping time range and variables. */
export function link(): dashboard.DashboardLinkBuilder {
  return new dashboard.DashboardLinkBuilder('compter')
    .type(dashboard.DashboardLinkType.Dashboards)
    .tags(TAGS)
    .asDropdown(false)
    .includeVars(true)
    .keepTime(true);
}

/** The common skeleton: uid, tags, time range, refresh, cross-links. */
export function newDashboard(uid: string, title: string, description: string): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(TAGS)
    .timezone('browser')
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .time({ from: 'now-6h', to: 'now' })
    .refresh('1m')
    .link(link());
}

/**
 * The dashboard as Grafana stores it: panels numbered in order (the SDK leaves ids unset, and
 * Grafana needs them unique for links and "view panel").
 */
export function finish(builder: dashboard.DashboardBuilder): dashboard.Dashboard {
  const d = builder.build();
  let id = 0;
  for (const p of d.panels ?? []) {
    p.id = ++id;
    const nested = (p as dashboard.RowPanel).panels;
    if (Array.isArray(nested)) for (const n of nested) n.id = ++id;
  }
  return d;
}

/** How one dashboard lays out its stat panels: their width, and what they show without data. */
export interface StatLayout {
  span: number;
  noValue?: string;
}

/** A one-number panel: a Prometheus instant query coloured by threshold steps. */
export type StatPanel = (
  title: string,
  description: string,
  expr: string,
  steps: [number | null, string][],
  unit?: string,
  legendFormat?: string,
) => stat.PanelBuilder;

/** The stat-panel maker for a dashboard with `layout`. */
export function statPanels(layout: StatLayout): StatPanel {
  return (title, description, expr, steps, unit = 'none', legendFormat) => {
    const target: PromTargetOptions = { instant: true };
    if (legendFormat !== undefined) target.legend = legendFormat;
    let panel = new stat.PanelBuilder().title(title).description(description).datasource(promDs).withTarget(prom(expr, target)).unit(unit);
    if (layout.noValue !== undefined) panel = panel.noValue(layout.noValue);
    return panel
      .reduceOptions(lastValue())
      .graphMode(common.BigValueGraphMode.None)
      .colorMode(common.BigValueColorMode.Background)
      .thresholds(thresholds(...steps))
      .span(layout.span)
      .height(4);
  };
}

/**
 * The compter console's external base URL (the COMPTER_PUBLIC_URL compter is reached at), a
 * text box set once per Grafana, or in provisioning; its default is compter's own default address.
 */
export function consoleUrlVariable(): dashboard.TextBoxVariableBuilder {
  return new dashboard.TextBoxVariableBuilder('compter_url')
    .label('compter console URL')
    .description('Where people reach compter (COMPTER_PUBLIC_URL); debt and SLO names link to their console pages there.')
    .defaultValue('http://127.0.0.1:8080');
}

/** A field override property linking each cell (a debt or SLO id) to its page in the compter console. */
export function consoleLink(kind: 'debts' | 'slos'): dashboard.DynamicConfigValue {
  return { id: 'links', value: [{ title: 'Open in the compter console', url: `\${compter_url}/console/${kind}/\${__value.raw}` }] };
}
