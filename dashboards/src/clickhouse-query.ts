import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as common from '@grafana/grafana-foundation-sdk/common';

/**
 * A raw-SQL target of the grafana-clickhouse-datasource plugin (v4 query model). The
 * foundation SDK ships no builder for this plugin, so this is the one it would generate:
 * `editorType: 'sql'` with `rawSql`; `format` is what the plugin's backend reads (sqlds:
 * 0 = time series, 1 = table) and `queryType` what its editor shows.
 */
export interface ClickHouseQuery extends cog.Dataquery {
  refId: string;
  datasource: common.DataSourceRef;
  editorType: 'sql';
  queryType: 'table' | 'timeseries';
  format: 0 | 1;
  rawSql: string;
}

export type ClickHouseFormat = 'table' | 'timeseries';

/** Builds a ClickHouse raw-SQL target; the SQL may use the plugin's macros and `${var:regex}`. */
export class ClickHouseQueryBuilder implements cog.Builder<cog.Dataquery> {
  private readonly internal: ClickHouseQuery;

  constructor(datasource: common.DataSourceRef, rawSql: string) {
    this.internal = {
      refId: 'A',
      datasource,
      editorType: 'sql',
      queryType: 'table',
      format: 1,
      rawSql,
      // Marker method of cog.Dataquery; JSON.stringify leaves it out, as for the SDK's own.
      _implementsDataqueryVariant: () => undefined,
    };
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  /** `timeseries` for a time column plus numbers (long frames become one series per label). */
  format(format: ClickHouseFormat): this {
    this.internal.queryType = format;
    this.internal.format = format === 'table' ? 1 : 0;
    return this;
  }

  build(): ClickHouseQuery {
    return this.internal;
  }
}
