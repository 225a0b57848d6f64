import { ClickHouseEventStore } from './clickhouse/clickhouse-store.js';
import { clickHouseTrendQueries } from './clickhouse/trend-sql.js';
import { DuckDbEventStore } from './duckdb/duckdb-store.js';
import { duckDbTrendQueries } from './duckdb/trend-sql.js';
import type { EventStore } from './event-store.js';
import type { TrendQueries } from './trend-queries.js';

/**
 * The trend queries in the dialect of `store`'s engine. A wrapper (the spooling store) is
 * looked through to the adapter it holds as `inner`: the queries read the engine's tables.
 */
export function trendQueriesFor(store: EventStore): TrendQueries {
  if (store instanceof ClickHouseEventStore) return clickHouseTrendQueries(store);
  if (store instanceof DuckDbEventStore) return duckDbTrendQueries(store);
  const inner = (store as { inner?: unknown }).inner;
  if (inner !== null && typeof inner === 'object' && inner !== store) return trendQueriesFor(inner as EventStore);
  throw new TypeError(`no trend queries for event store kind ${store.kind}; pass the ClickHouse or DuckDB adapter`);
}
