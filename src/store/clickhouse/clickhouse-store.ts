import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { randomBytes, randomUUID } from 'node:crypto';
import type { LogEvent } from '../../domain/event.js';
import type { EventQuery, EventStore, Snapshot } from '../event-store.js';
import { distinctById, inPages, keysetRows, take } from '../paging.js';
import { checkEventQuery, entityFilters, requireCount } from '../query-rules.js';
import { latestCompleteSnapshot, snapshotsToDrop } from '../snapshot-chunks.js';
import {
  EVENTS_TABLE,
  EVENT_INSERT_COLUMNS,
  columnExistsSql,
  EVENT_READ_COLUMNS,
  MIGRATIONS_TABLE,
  SNAPSHOTS_TABLE,
  createDatabaseSql,
  fromEventRow,
  migrations,
  migrationsTableSql,
  qualified,
  checkEventRow,
  type EventReadRow,
} from './schema.js';
import { systemStoreClock, type StoreClock } from '../store-clock.js';
import { insertBlocks, isPartitionLimitError, isPermanentInsertError } from './insert-blocks.js';
import { eachRowText } from './each-row.js';
import { sql, sqlDateTimeMs, sqlIdentifier, type SqlFragment } from './sql.js';
import type { TrendQueries } from '../trend-queries.js';
import { clickHouseTrendQueries } from './trend-sql.js';
import type { RateCountStore } from '../rate-counts.js';
import { clickHouseRateCounts } from './rate-count-sql.js';

export interface ClickHouseEventStoreOptions {
  /** e.g. `http://127.0.0.1:8123` */
  url: string;
  /** Database holding `events`; created by `migrate()`. Default `compter`. */
  database?: string;
  username?: string;
  password?: string;
  /** Per-request timeout; default 30 s. */
  requestTimeoutMs?: number;
  /** Concurrent HTTP connections to ClickHouse; default 10. */
  maxOpenConnections?: number;
  /** `applied_at` of migrations and the wait between migration attempts; the process's clock by default. */
  clock?: StoreClock;
}

/** Marker rows examined by `loadLatestSnapshot` before giving up on finding a complete one. */
const SNAPSHOT_CANDIDATES = 5;
const MIGRATE_ATTEMPTS = 5;
/** `byIds`: ids per query, so a statement stays well under ClickHouse's query size limit. */
const TAIL_IDS_PER_QUERY = 2000;
/** `scan`: ClickHouse memory for sorting before it spills to disk, and the idle timeout. */
const SCAN_SORT_MEMORY_BYTES = 512 * 1024 * 1024;
const SCAN_IDLE_TIMEOUT_MS = 15 * 60_000;
// DateTime bounds; query() prunes partitions on `ts` only for times inside them.
const MAX_DATETIME_MS = 4_294_967_295_999;

/**
 * The event log in ClickHouse (docs/events.md). Works with ClickHouse 18.16 and current versions:
 * every value reaches SQL through `sql.ts`, never through the client's query parameters
 * (18.16 has none). One client without a default database, with every table qualified, so
 * `migrate()` can create the database through the same connection pool.
 */
export class ClickHouseEventStore implements EventStore {
  readonly kind = 'clickhouse' as const;
  readonly database: string;
  private readonly client: ClickHouseClient;
  /** For `scan`'s long sorted streams, with a longer idle timeout; made on first use. */
  private scanClient: ClickHouseClient | null = null;
  private readonly requestTimeoutMs: number;
  private readonly events: SqlFragment;
  /** The append's statement; its rows follow in the request body. */
  private readonly insertStatement: SqlFragment;
  private readonly snapshots: SqlFragment;
  private readonly clock: StoreClock;
  /** Marks the rows this process writes, so its own log tail leaves them out. */
  readonly origin = randomUUID();

  constructor(private readonly options: ClickHouseEventStoreOptions) {
    this.database = options.database ?? 'compter';
    sqlIdentifier(this.database); // fail at construction, not at the first query
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.client = this.newClient(this.requestTimeoutMs, options.maxOpenConnections ?? 10);
    this.events = qualified(this.database, EVENTS_TABLE);
    this.insertStatement = sql`INSERT INTO ${this.events} (${sql.raw(EVENT_INSERT_COLUMNS.join(', '))}) FORMAT JSONEachRow`;
    this.snapshots = qualified(this.database, SNAPSHOTS_TABLE);
    this.clock = options.clock ?? systemStoreClock;
  }

  private newClient(requestTimeoutMs: number, maxOpenConnections: number): ClickHouseClient {
    return createClient({
      url: this.options.url,
      username: this.options.username ?? 'default',
      password: this.options.password ?? '',
      request_timeout: requestTimeoutMs,
      max_open_connections: maxOpenConnections,
      // gzip off (the 1.x default): compter and ClickHouse share a host or LAN, where it costs
      // more CPU than it saves. Both directions do work with 18.16 if ever turned on.
      compression: { request: false, response: false },
      // Every failure is thrown to the caller, which logs it with pino; the client's own
      // console logging would only print each one a second time, unstructured.
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  /**
   * Creates the database and applies pending migrations. Every statement is idempotent and
   * applied versions are recorded after their statements, so a rerun or two instances
   * racing only repeat harmless `IF NOT EXISTS` DDL. Old servers may still fail a CREATE that
   * races another on the same table (a DDL guard error), hence the retries.
   */
  async migrate(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.migrateOnce();
        return;
      } catch (err) {
        if (attempt >= MIGRATE_ATTEMPTS) throw err;
        await new Promise<void>((resolve) => this.clock.after(100 * 2 ** attempt, resolve));
      }
    }
  }

  private async migrateOnce(): Promise<void> {
    await this.command(createDatabaseSql(this.database));
    await this.command(migrationsTableSql(this.database));
    const versions = await this.select<{ version: number | string }>(
      sql`SELECT DISTINCT version FROM ${qualified(this.database, MIGRATIONS_TABLE)}`,
    );
    const applied = new Set(versions.map((r) => Number(r.version)));
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      for (const statement of m.statements(this.database)) await this.command(statement);
      for (const c of m.columns?.(this.database) ?? []) {
        const found = await this.select<{ name: string }>(columnExistsSql(this.database, c.table, c.column));
        if (found.length === 0) await this.command(c.add);
      }
      await this.client.insert({
        table: qualified(this.database, MIGRATIONS_TABLE).text,
        values: [{ version: m.version, name: m.name, applied_at: Math.floor(this.clock.now() / 1000) }],
        format: 'JSONEachRow',
      });
    }
  }

  /**
   * One INSERT per batch, or one per block of at most 90 months when a batch spans more (an
   * import of old history; current servers refuse a block over 100 partitions). A batch
   * spanning several months becomes several parts, so a failed insert may be partly stored;
   * the caller retries the whole batch and reads deduplicate.
   */
  async append(events: readonly LogEvent[]): Promise<void> {
    // Checked first: a batch with an event the table can never hold fails before any insert.
    for (const e of events) checkEventRow(e);
    for (const block of insertBlocks(events)) await this.insertBlock(block);
  }

  /**
   * Inserts one block. Its JSONEachRow body is written here, a slice of rows at a time with the
   * event loop let go between slices: made in one go (as the client does with an array of
   * rows), a 5,000-event chunk of the journal held the loop for 10-15 ms, which every request
   * behind it waited out (ClickHouse ping p99 30-40 ms). A server whose partition limit an
   * operator set below ours takes the block month by month instead; rows it can never hold fail
   * as RangeError, so the journal sets them aside instead of retrying them forever.
   */
  private async insertBlock(block: readonly LogEvent[]): Promise<void> {
    // Named columns, so the server fills `inserted_at` from its DEFAULT (18.16 gives an omitted
    // JSONEachRow field the type's zero otherwise).
    try {
      await this.insertText(this.insertStatement, await eachRowText(block, this.origin));
    } catch (err) {
      const months = insertBlocks(block, 1);
      if (isPartitionLimitError(err) && months.length > 1) {
        for (const month of months) await this.insertBlock(month);
        return;
      }
      if (isPermanentInsertError(err))
        throw new RangeError(`the batch cannot be stored: ${(err as Error).message.split('\n')[0]}`, { cause: err });
      throw err;
    }
  }

  /**
   * One streaming query, `ORDER BY event_id`, cut into pages as rows arrive. The table is
   * sorted by entity, not by id, so every keyset page (`event_id > last ... LIMIT n`) would
   * read and top-N-sort the whole remaining log again: fine for the short tail after a
   * snapshot, quadratic for a full replay (measured on 18.16 with 10M events: 3.4 s per
   * 10k-row page, about an hour in all, against about 1.5 min for the one sorted stream).
   * ClickHouse spills the sort to disk past SCAN_SORT_MEMORY_BYTES. Copies of an id are
   * adjacent in the sorted stream and dropped as it streams (store/paging.ts), which is cheaper than `LIMIT 1 BY` or
   * `FINAL` (both sort every matching row again).
   */
  async *scan(afterEventId: string | null, pageSize: number): AsyncIterable<LogEvent[]> {
    requireCount('pageSize', pageSize, 1);
    // PREWHERE reads the other columns only for granules holding later ids: 18.16 does not
    // move this condition there on its own (measured: 0.4 s instead of 1.4 s at 10M events
    // for the tail after a snapshot).
    const where = afterEventId === null ? sql`` : sql`PREWHERE event_id > ${afterEventId}`;
    // Until the sort is done nothing arrives, and the client's timeout is an idle-socket one.
    this.scanClient ??= this.newClient(Math.max(this.requestTimeoutMs, SCAN_IDLE_TIMEOUT_MS), 1);
    const statement = sql`SELECT ${EVENT_READ_COLUMNS} FROM ${this.events} ${where} ORDER BY event_id`;
    const result = await this.scanClient.query({
      query: statement.text,
      format: 'JSONEachRow',
      clickhouse_settings: { max_bytes_before_external_sort: String(SCAN_SORT_MEMORY_BYTES) },
    });
    yield* inPages(distinctById(streamRows<EventReadRow>(result.stream<EventReadRow>()), eventIdOf, fromEventRow, afterEventId), pageSize);
  }

  /**
   * The distinct ids stored after `afterEventId`: the log tail's cheap first read (one column),
   * so it fetches whole rows only for events it has not seen (engine/log-tail.ts).
   */
  async idsAfter(afterEventId: string, storedSinceSec?: number): Promise<string[]> {
    // Another process's rows only, and with `storedSinceSec` only those stored since then:
    // without them a poll re-read every id of its overlap, 600k at 10k events/s.
    // A zero `inserted_at` is a row from a version that did not name its columns (18.16 stores
    // an omitted field as the type's zero): when it was stored is unknown, so it is listed.
    const since =
      storedSinceSec === undefined
        ? sql``
        : sql`AND (inserted_at >= toDateTime(${Math.max(0, Math.floor(storedSinceSec))}) OR toUInt32(inserted_at) = 0)`;
    const rows = await this.select<{ event_id: string }>(
      sql`SELECT DISTINCT event_id FROM ${this.events}
          PREWHERE event_id > ${afterEventId} WHERE origin != ${this.origin} ${since} ORDER BY event_id`,
    );
    return rows.map((r) => r.event_id);
  }

  /** The server's clock, Unix seconds: what `inserted_at` is stamped with. */
  async serverNowSec(): Promise<number> {
    const [row] = await this.select<{ now: number | string }>(sql`SELECT toUInt32(now()) AS now`);
    return Number(row!.now);
  }

  /** The events with these ids, in id order, each once. */
  async byIds(ids: readonly string[]): Promise<LogEvent[]> {
    const byId = new Map<string, LogEvent>();
    for (let i = 0; i < ids.length; i += TAIL_IDS_PER_QUERY) {
      const chunk = ids.slice(i, i + TAIL_IDS_PER_QUERY);
      const rows = await this.select<EventReadRow>(
        sql`SELECT ${EVENT_READ_COLUMNS} FROM ${this.events} PREWHERE event_id IN ${chunk} ORDER BY event_id`,
      );
      for (const row of rows) if (!byId.has(row.event_id)) byId.set(row.event_id, fromEventRow(row));
    }
    return [...byId.values()].sort((a, b) => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
  }

  /** The project's events matching every filter, keyset pages in id order, each id once (store/paging.ts). */
  async query(q: EventQuery): Promise<LogEvent[]> {
    if (checkEventQuery(q).matchesNothing) return [];
    const where = entityFilters(q).map(([column, value]) => sql`${sql.raw(column)} = ${value}`);
    if (q.types !== undefined) where.push(sql`type IN ${q.types}`);
    if (q.fromTs !== undefined) {
      if (q.fromTs > MAX_DATETIME_MS) return [];
      if (q.fromTs > 0) where.push(sql`ts_ms >= ${Math.ceil(q.fromTs)}`, sql`ts >= ${sql.raw(sqlDateTimeMs(q.fromTs))}`);
    }
    if (q.toTs !== undefined) {
      if (q.toTs <= 0) return [];
      if (q.toTs <= MAX_DATETIME_MS) where.push(sql`ts_ms < ${Math.ceil(q.toTs)}`, sql`ts <= ${sql.raw(sqlDateTimeMs(q.toTs))}`);
    }
    const direction = sql.raw(q.order === 'asc' ? 'ASC' : 'DESC');
    const beyond = sql.raw(q.order === 'asc' ? '>' : '<');
    const page = (after: string | null, limit: number): Promise<EventReadRow[]> => {
      const conditions = after === null ? where : [...where, sql`event_id ${beyond} ${after}`];
      return this.select<EventReadRow>(
        sql`SELECT ${EVENT_READ_COLUMNS} FROM ${this.events}
            WHERE ${sql.join(conditions, ' AND ')} ORDER BY event_id ${direction} LIMIT ${limit}`,
      );
    };
    return take(distinctById(keysetRows(page, eventIdOf, null, q.limit), eventIdOf, fromEventRow), q.limit);
  }

  /**
   * Chunks first, then the marker row: a crash in between leaves an incomplete snapshot
   * that `loadLatestSnapshot` skips. Then drops all but the newest complete snapshots.
   */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    requireCount('takenAt', snapshot.takenAt, 0);
    const [top] = await this.select<{ seq: string | number }>(sql`SELECT max(seq) AS seq FROM ${this.snapshots}`);
    const seq = Number(top?.seq ?? 0) + 1;
    const base = {
      snapshot_id: `${seq}-${randomBytes(8).toString('hex')}`,
      seq,
      up_to_event_id: snapshot.upToEventId,
      taken_at_ms: snapshot.takenAt,
      chunk_count: snapshot.chunks.length,
    };
    if (snapshot.chunks.length > 0) {
      await this.client.insert({
        table: this.snapshots.text,
        values: snapshot.chunks.map((chunk, i) => ({ ...base, chunk_index: i, is_marker: 0, chunk })),
        format: 'JSONEachRow',
      });
    }
    await this.client.insert({
      table: this.snapshots.text,
      values: [{ ...base, chunk_index: 0, is_marker: 1, chunk: '' }],
      format: 'JSONEachRow',
    });
    await this.pruneSnapshots();
  }

  /** The last saved snapshot whose marker and chunks are all present, or null. */
  async loadLatestSnapshot(): Promise<Snapshot | null> {
    const markers = await this.select<SnapshotMarkerRow>(
      sql`SELECT snapshot_id, up_to_event_id, taken_at_ms, chunk_count FROM ${this.snapshots}
WHERE is_marker = 1 ORDER BY seq DESC, snapshot_id DESC LIMIT ${SNAPSHOT_CANDIDATES}`,
    );
    return latestCompleteSnapshot(
      markers.map((m) => ({
        id: m.snapshot_id,
        upToEventId: m.up_to_event_id,
        takenAt: Number(m.taken_at_ms),
        chunkCount: Number(m.chunk_count),
      })),
      async (snapshotId) => {
        const rows = await this.select<{ chunk_index: number | string; chunk: string }>(
          sql`SELECT chunk_index, chunk FROM ${this.snapshots}
WHERE snapshot_id = ${snapshotId} AND is_marker = 0 ORDER BY chunk_index`,
        );
        return rows.map((row) => ({ index: Number(row.chunk_index), chunk: row.chunk }));
      },
    );
  }

  /** Drops the partitions of the saves `snapshotsToDrop` names (store/snapshot-chunks.ts). */
  private async pruneSnapshots(): Promise<void> {
    const saved = await this.select<{ snapshot_id: string; complete: string | number }>(
      sql`SELECT snapshot_id, max(seq) AS seq, max(is_marker) AS complete FROM ${this.snapshots}
GROUP BY snapshot_id ORDER BY seq DESC, snapshot_id DESC`,
    );
    for (const old of snapshotsToDrop(saved.map((s) => ({ id: s.snapshot_id, complete: Number(s.complete) === 1 })))) {
      await this.command(sql`ALTER TABLE ${this.snapshots} DROP PARTITION ${old}`);
    }
  }

  async ping(): Promise<void> {
    await this.select(sql`SELECT 1 AS ok`);
  }

  /** Runs a read-only SELECT built with sql.ts (the trend queries, clickhouse/trend-sql.ts). */
  selectRows<T>(statement: SqlFragment): Promise<T[]> {
    return this.select<T>(statement);
  }

  /** The trend queries in ClickHouse's dialect, reading this store's database. */
  trendQueries(): TrendQueries {
    return clickHouseTrendQueries(this);
  }

  /** The rate limits' counter table in this store's database (clickhouse/rate-count-sql.ts). */
  rateCounts(): RateCountStore {
    return clickHouseRateCounts({
      database: this.database,
      selectRows: (statement) => this.select(statement),
      insertRows: async (table, rows) => {
        await this.client.insert({ table: table.text, values: [...rows], format: 'JSONEachRow' });
      },
      runCommand: (statement) => this.command(statement),
    });
  }

  async close(): Promise<void> {
    await this.client.close();
    await this.scanClient?.close();
  }

  /** Runs an INSERT whose rows, already in its format, are the request body. */
  private async insertText(statement: SqlFragment, body: string): Promise<void> {
    const result = await this.client.exec({ query: statement.text, values: Readable.from([body], { objectMode: false }) });
    // The answer is empty; read it so the connection goes back to the pool.
    result.stream.resume();
    await finished(result.stream);
  }

  private async command(statement: SqlFragment): Promise<void> {
    await this.client.command({ query: statement.text });
  }

  private async select<T>(statement: SqlFragment): Promise<T[]> {
    const result = await this.client.query({ query: statement.text, format: 'JSONEachRow' });
    return result.json<T>();
  }
}

interface SnapshotMarkerRow {
  snapshot_id: string;
  up_to_event_id: string;
  taken_at_ms: string | number;
  chunk_count: string | number;
}

const eventIdOf = (row: EventReadRow): string => row.event_id;

/** The rows of a JSONEachRow result stream, one at a time. */
async function* streamRows<T>(stream: AsyncIterable<ReadonlyArray<{ json<U>(): U }>>): AsyncIterable<T> {
  for await (const rows of stream) for (const row of rows) yield row.json<T>();
}
