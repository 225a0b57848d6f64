import { decodeEvent, type LogEvent } from '../../domain/event.js';
import { sql, type SqlFragment } from './sql.js';

/**
 * The ClickHouse tables of the event log, the row shapes they are written and read with, and
 * the versioned migrations that create them. Every statement runs on ClickHouse 18.16 (the
 * Debian package the tests start) and on current ClickHouse: no DateTime64, LowCardinality,
 * TTL, `ALTER ... ADD COLUMN IF NOT EXISTS` or query parameters.
 */

export const EVENTS_TABLE = 'events';
export const SNAPSHOTS_TABLE = 'snapshots';
export const TREND_ROWS_TABLE = 'trend_rows';
export const TREND_ROWS_VIEW = 'trend_rows_mv';
export const MIGRATIONS_TABLE = 'schema_migrations';
export const RATE_COUNTS_TABLE = 'rate_counts';
export const RATE_INSTANCES_TABLE = 'rate_instances';

/** One schema change; each statement must be idempotent (`IF NOT EXISTS`), see `migrate()`. */
export interface Migration {
  version: number;
  name: string;
  statements(database: string): SqlFragment[];
  /**
   * Columns to add, each only when `system.columns` does not list it yet: 18.16 has no
   * `ADD COLUMN IF NOT EXISTS`, and instances migrating at once may both try.
   */
  columns?(database: string): { table: string; column: string; add: SqlFragment }[];
}

/** The names of `table`'s columns called `column` (none or one row). */
export function columnExistsSql(database: string, table: string, column: string): SqlFragment {
  return sql`SELECT name FROM system.columns WHERE database = ${database} AND table = ${table} AND name = ${column}`;
}

/** A table name qualified with its database, both validated. */
export function qualified(database: string, table: string): SqlFragment {
  return sql`${sql.ident(database)}.${sql.ident(table)}`;
}

export function createDatabaseSql(database: string): SqlFragment {
  return sql`CREATE DATABASE IF NOT EXISTS ${sql.ident(database)}`;
}

/**
 * Applied migration versions. Two instances migrating at once may both record a version;
 * ReplacingMergeTree folds the rows and readers use DISTINCT, so that is harmless.
 */
export function migrationsTableSql(database: string): SqlFragment {
  return sql`CREATE TABLE IF NOT EXISTS ${qualified(database, MIGRATIONS_TABLE)} (
  version UInt32,
  name String,
  applied_at DateTime('UTC')
) ENGINE = ReplacingMergeTree()
ORDER BY version`;
}

/**
 * `events`, the append-only log (docs/events.md), for compter and for Grafana.
 *
 * Time: no DateTime64 on 18.16, so each instant is two columns: `ts DateTime('UTC')` (whole
 * seconds, for partitioning, Grafana's time macros and toStartOfDay-style grouping) and
 * `ts_ms UInt64` (epoch ms, the exact value compter reads back and filters on). Likewise
 * `ingested_at` / `ingested_at_ms`. 'UTC' pins month partitions and text output regardless
 * of the server's time zone.
 *
 * `business_date` is a String, `''` when the event has none: the log must give back exactly
 * what was written, and a Date column would need a sentinel (1970-01-01) for "none" that is
 * also a real date. `YYYY-MM-DD` strings sort and group like dates; trend queries that need
 * date arithmetic use `toDate(business_date)` on rows where it is not empty.
 *
 * Engine: ReplacingMergeTree collapses rows with equal sorting keys within a partition, so a
 * re-sent event (same event_id, same ts, hence same month partition) is eventually stored
 * once. The key ends in event_id, which is unique per event, so two different events never
 * collapse. The columns before it serve the reads: per-project, then per-entity history
 * (debt; application + job; slo) and per-type trend scans, each an index range; event_id
 * last keeps each entity's rows in time order. Merges are eventual, so reads still
 * deduplicate (see clickhouse-store.ts). Nothing in the key is Nullable (18.16 refuses it).
 *
 * Users querying this table should deduplicate too, e.g. `... LIMIT 1 BY event_id`.
 */
export function eventsTableSql(database: string): SqlFragment {
  return sql`CREATE TABLE IF NOT EXISTS ${qualified(database, EVENTS_TABLE)} (
  event_id String,
  project String,
  type String,
  debt String,
  application String,
  job String,
  slo String,
  ts DateTime('UTC'),
  ts_ms UInt64,
  ingested_at DateTime('UTC'),
  ingested_at_ms UInt64,
  kind String,
  status String,
  run_id String,
  host String,
  business_date String,
  duration_ms Nullable(Int64),
  lateness_ms Nullable(Int64),
  attributes String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (project, debt, application, job, slo, type, event_id)`;
}

/**
 * `snapshots`: serialized projections, one row per chunk plus one marker row written after
 * all chunks were committed; only a snapshot with its marker and every chunk counts. `seq`
 * orders saves (the latest is the highest); `snapshot_id` is `<seq>-<random>` so two
 * instances saving at once never share rows. Each snapshot is its own partition, so pruning
 * one is a cheap, atomic `DROP PARTITION` rather than a mutation rewriting the table.
 */
export function snapshotsTableSql(database: string): SqlFragment {
  return sql`CREATE TABLE IF NOT EXISTS ${qualified(database, SNAPSHOTS_TABLE)} (
  snapshot_id String,
  seq UInt64,
  up_to_event_id String,
  taken_at_ms UInt64,
  chunk_count UInt32,
  chunk_index UInt32,
  is_marker UInt8,
  chunk String
) ENGINE = MergeTree()
PARTITION BY snapshot_id
ORDER BY (is_marker, chunk_index)`;
}

/**
 * `trend_rows`: the rows the trend queries read (clickhouse/trend-sql.ts), kept by a
 * materialized view on `events`: successful `job.status` and every `slo.closed`, sorted by
 * business date. `events` is sorted by entity, so a window of business dates is a scan of the
 * whole log there (about 4 s at 10M events on 18.16) and an index range here. The view's
 * SELECT cannot fail on any row (no casts; visitParamExtractString returns '' for anything it
 * does not find), so it never makes an insert into `events` fail. Copies of an event (a
 * re-sent batch, or a row the backfill and the view both wrote) keep their event_id, and the
 * trend queries take one row per event_id, so copies change no answer; ReplacingMergeTree
 * folds them eventually. Partitioned by the business date's month, a string prefix that any
 * value has.
 */
export function trendRowsTableSql(database: string): SqlFragment {
  return sql`CREATE TABLE IF NOT EXISTS ${qualified(database, TREND_ROWS_TABLE)} (
  project String,
  type String,
  business_date String,
  application String,
  job String,
  slo String,
  slot String,
  event_id String,
  ts_ms UInt64,
  status String,
  duration_ms Nullable(Int64),
  lateness_ms Nullable(Int64)
) ENGINE = ReplacingMergeTree()
PARTITION BY substring(business_date, 1, 7)
ORDER BY (project, type, business_date, application, job, slo, slot, event_id)`;
}

/** The rows of `events` that `trend_rows` holds, in its column order. */
function trendRowsSelect(database: string): SqlFragment {
  return sql`SELECT project, type, business_date, application, job, slo,
  if(type = 'slo.closed', visitParamExtractString(attributes, 'slot'), '') AS slot,
  event_id, ts_ms, status, duration_ms, lateness_ms
FROM ${qualified(database, EVENTS_TABLE)}
WHERE (type = 'job.status' AND status = 'succeed') OR type = 'slo.closed'`;
}

/** Keeps `trend_rows` filled from every insert into `events` from now on. */
export function trendRowsViewSql(database: string): SqlFragment {
  return sql`CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(database, TREND_ROWS_VIEW)}
TO ${qualified(database, TREND_ROWS_TABLE)} AS ${trendRowsSelect(database)}`;
}

/**
 * Copies the rows `events` held before the view existed. Runs after the view is created, so
 * nothing inserted meanwhile is missed; what both wrote is a harmless copy (see above).
 */
export function trendRowsBackfillSql(database: string): SqlFragment {
  return sql`INSERT INTO ${qualified(database, TREND_ROWS_TABLE)} ${trendRowsSelect(database)}`;
}

/**
 * `rate_counts`: each instance's absolute count per project and fixed window, and how far it
 * may go before its next write (`reserved`), for the rate limits of several instances
 * (docs/security.md). Written every half second or so while requests arrive, so one row per
 * key survives merges: the latest written (`written_at_ms` is the version; counts only grow
 * within a window, so the latest is also the highest). Readers still take `max(requests)` and
 * the latest `reserved` per key, as merges are eventual. Sorted by window first, so the read
 * of the current and previous windows is an index range; partitioned by the window's day, so
 * old rows go with a `DROP PARTITION` (18.16 has no TTL).
 */
export function rateCountsTableSql(database: string): SqlFragment {
  return sql`CREATE TABLE IF NOT EXISTS ${qualified(database, RATE_COUNTS_TABLE)} (
  window_name String,
  window_start UInt64,
  project String,
  instance String,
  requests UInt64,
  reserved UInt64,
  written_at_ms UInt64
) ENGINE = ReplacingMergeTree(written_at_ms)
PARTITION BY intDiv(window_start, 86400000)
ORDER BY (window_name, window_start, project, instance)`;
}

/** `rate_instances`: each instance's latest heartbeat; a graceful stop writes `stopped = 1`. */
export function rateInstancesTableSql(database: string): SqlFragment {
  return sql`CREATE TABLE IF NOT EXISTS ${qualified(database, RATE_INSTANCES_TABLE)} (
  instance String,
  seen_at_ms UInt64,
  stopped UInt8
) ENGINE = ReplacingMergeTree(seen_at_ms)
ORDER BY instance`;
}

/**
 * In version order. Append only; never edit an applied one. 18.16 has no
 * `ADD COLUMN IF NOT EXISTS`: a future column migration must check `system.columns` first.
 */
export const migrations: readonly Migration[] = [
  { version: 1, name: 'create events', statements: (db) => [eventsTableSql(db)] },
  { version: 2, name: 'create snapshots', statements: (db) => [snapshotsTableSql(db)] },
  { version: 3, name: 'trend rows', statements: (db) => [trendRowsTableSql(db), trendRowsViewSql(db), trendRowsBackfillSql(db)] },
  { version: 4, name: 'rate counts', statements: (db) => [rateCountsTableSql(db), rateInstancesTableSql(db)] },
  { version: 5, name: 'tail columns', statements: () => [], columns: tailColumns },
];

/**
 * Two columns for the log tail of other instances (engine/log-tail.ts): `origin`, the writing
 * process, so a poll leaves out what this one wrote, and `inserted_at`, the server's clock at
 * the insert, so a poll reads only rows stored since the last one (less a margin) instead of
 * every id of the last minute. Rows stored before this migration read `origin` empty and
 * `inserted_at` as the time of the read: a poll takes them for new and skips them as seen.
 */
function tailColumns(database: string): { table: string; column: string; add: SqlFragment }[] {
  const events = qualified(database, EVENTS_TABLE);
  return [
    { table: EVENTS_TABLE, column: 'origin', add: sql`ALTER TABLE ${events} ADD COLUMN origin String DEFAULT ''` },
    { table: EVENTS_TABLE, column: 'inserted_at', add: sql`ALTER TABLE ${events} ADD COLUMN inserted_at DateTime DEFAULT now()` },
  ];
}

/** The columns an insert into `events` names: the others (`inserted_at`) take their default there. */
export const EVENT_INSERT_COLUMNS: readonly [string, ...string[]] = [
  'event_id',
  'project',
  'type',
  'debt',
  'application',
  'job',
  'slo',
  'ts',
  'ts_ms',
  'ingested_at',
  'ingested_at_ms',
  'kind',
  'status',
  'run_id',
  'host',
  'business_date',
  'duration_ms',
  'lateness_ms',
  'attributes',
  'origin',
];

/** The `events` row as written with JSONEachRow. */
export interface EventRow {
  event_id: string;
  project: string;
  type: string;
  debt: string;
  application: string;
  job: string;
  slo: string;
  /** Unix seconds: JSONEachRow parses a number into DateTime the same way on every version. */
  ts: number;
  ts_ms: number;
  ingested_at: number;
  ingested_at_ms: number;
  kind: string;
  status: string;
  run_id: string;
  host: string;
  business_date: string;
  duration_ms: number | null;
  lateness_ms: number | null;
  attributes: string;
  /** The writing process (`ClickHouseEventStore.origin`); empty from tools that import rows. */
  origin?: string;
}

/** The columns read back; 64-bit integers arrive as strings in ClickHouse's JSON formats. */
export const EVENT_READ_COLUMNS = sql.raw(
  'event_id, project, type, debt, application, job, slo, ts_ms, ingested_at_ms, kind, status, ' +
    'run_id, host, business_date, duration_ms, lateness_ms, attributes',
);

export interface EventReadRow {
  event_id: string;
  project: string;
  type: string;
  debt: string;
  application: string;
  job: string;
  slo: string;
  ts_ms: string | number;
  ingested_at_ms: string | number;
  kind: string;
  status: string;
  run_id: string;
  host: string;
  business_date: string;
  duration_ms: string | number | null;
  lateness_ms: string | number | null;
  attributes: string;
}

// DateTime is unsigned 32-bit seconds on every ClickHouse version.
const MAX_DATETIME_MS = 4_294_967_295_999;

/** Throws (RangeError) when the event has a time DateTime cannot hold or a non-integer ms value. */
export function checkEventRow(e: LogEvent): void {
  checkTime('ts', e.ts, e.eventId);
  checkTime('ingestedAt', e.ingestedAt, e.eventId);
  checkNullableInt('durationMs', e.durationMs, e.eventId);
  checkNullableInt('latenessMs', e.latenessMs, e.eventId);
}

/** The row for an event; throws on times DateTime cannot hold and non-integer ms values. */
export function toEventRow(e: LogEvent): EventRow {
  checkEventRow(e);
  return {
    event_id: e.eventId,
    project: e.project,
    type: e.type,
    debt: e.debt,
    application: e.application,
    job: e.job,
    slo: e.slo,
    ts: Math.floor(e.ts / 1000),
    ts_ms: e.ts,
    ingested_at: Math.floor(e.ingestedAt / 1000),
    ingested_at_ms: e.ingestedAt,
    kind: e.kind,
    status: e.status,
    run_id: e.runId,
    host: e.host,
    business_date: e.businessDate,
    duration_ms: e.durationMs ?? null,
    lateness_ms: e.latenessMs ?? null,
    attributes: JSON.stringify(e.attributes ?? {}),
  };
}

/** The event a stored row describes. */
export function fromEventRow(r: EventReadRow): LogEvent {
  return decodeEvent({
    eventId: r.event_id,
    project: r.project,
    type: r.type,
    debt: r.debt,
    application: r.application,
    job: r.job,
    slo: r.slo,
    ts: Number(r.ts_ms),
    ingestedAt: Number(r.ingested_at_ms),
    kind: r.kind,
    status: r.status,
    runId: r.run_id,
    host: r.host,
    businessDate: r.business_date,
    durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
    latenessMs: r.lateness_ms === null ? null : Number(r.lateness_ms),
    attributes: r.attributes === '' ? {} : JSON.parse(r.attributes),
  });
}

function checkTime(field: string, ms: number, eventId: string): number {
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_DATETIME_MS) {
    throw new RangeError(`event ${eventId}: ${field} must be integer epoch ms between 1970 and 2106, got ${String(ms)}`);
  }
  return ms;
}

function checkNullableInt(field: string, value: number | null, eventId: string): number | null {
  if (value === null || value === undefined) return null;
  if (!Number.isSafeInteger(value)) throw new RangeError(`event ${eventId}: ${field} must be an integer or null, got ${String(value)}`);
  return value;
}
