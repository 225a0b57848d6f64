import { ClickHouseEventStore } from './clickhouse/clickhouse-store.js';
import { clickHouseTrendQueries } from './clickhouse/trend-sql.js';
import { DuckDbEventStore } from './duckdb/duckdb-store.js';
import { duckDbTrendQueries } from './duckdb/trend-sql.js';
import type { EventStore } from './event-store.js';
import type { TrendQueries } from './trend-queries.js';

/**
 * The trend queries in the dialect of `store`'s engine. A wrapper (the journaling store) is
 * looked through to the adapter it holds as `inner`: the queries read the engine's tables,
 * each after waiting (briefly) for the journal to be stored up to that moment.
 */
export function trendQueriesFor(store: EventStore): TrendQueries {
  if (store instanceof ClickHouseEventStore) return clickHouseTrendQueries(store);
  if (store instanceof DuckDbEventStore) return duckDbTrendQueries(store);
  const inner = (store as { inner?: unknown }).inner;
  if (inner !== null && typeof inner === 'object' && inner !== store) {
    const queries = trendQueriesFor(inner as EventStore);
    const caughtUp = (store as { caughtUp?: () => Promise<boolean> }).caughtUp?.bind(store);
    if (!caughtUp) return queries;
    // After a timeout (the store is down) the query runs anyway and answers or fails as it can.
    return {
      jobDurationTrend: async (args) => (await caughtUp(), queries.jobDurationTrend(args)),
      jobEndSeries: async (args) => (await caughtUp(), queries.jobEndSeries(args)),
      sloTrend: async (args) => (await caughtUp(), queries.sloTrend(args)),
    };
  }
  throw new TypeError(`no trend queries for event store kind ${store.kind}; pass the ClickHouse or DuckDB adapter`);
}
