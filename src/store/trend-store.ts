import type { EventStore } from './event-store.js';
import type { TrendQueries } from './trend-queries.js';

/** An adapter that answers trend queries in its own SQL dialect. */
interface TrendQuerySource {
  trendQueries(): TrendQueries;
}

// Asked of the adapter rather than tested with instanceof, so this module loads neither
// adapter: a ClickHouse deployment never loads DuckDB's native binary.
function isTrendQuerySource(store: unknown): store is TrendQuerySource {
  return typeof (store as Partial<TrendQuerySource>).trendQueries === 'function';
}

/**
 * The trend queries in the dialect of `store`'s engine. A wrapper (the journaling store) is
 * looked through to the adapter it holds as `inner`: the queries read the engine's tables,
 * each after waiting (briefly) for the journal to be stored up to that moment.
 */
export function trendQueriesFor(store: EventStore): TrendQueries {
  if (isTrendQuerySource(store)) return store.trendQueries();
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
