import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { randomBytes } from 'node:crypto';
import type { LogEvent } from '../../domain/event.js';
import type { EventQuery, EventStore, Snapshot } from '../event-store.js';
import {
  EVENTS_TABLE,
  EVENT_READ_COLUMNS,
  MIGRATIONS_TABLE,
  SNAPSHOTS_TABLE,
  createDatabaseSql,
  fromEventRow,
  migrations,
  migrationsTableSql,
  qualified,
  toEventRow,
  type EventReadRow,
  type EventRow,
} from './schema.js';
import { insertBlocks, isPartitionLimitError, isPermanentInsertError } from './insert-blocks.js';
import { sql, sqlDateTimeMs, sqlIdentifier, type SqlFragment } from './sql.js';

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
}

/** Complete snapshots kept by `saveSnapshot`; older ones are dropped. */
const SNAPSHOTS_KEPT = 2;
/** Marker rows examined by `loadLatestSnapshot` before giving up on finding a complete one. */
const SNAPSHOT_CANDIDATES = 5;
const MIGRATE_ATTEMPTS = 5;
/** `scan`: ClickHouse memory for sorting before it spills to disk, and the idle timeout. */
const SCAN_SORT_MEMORY_BYTES = 512 * 1024 * 1024;
const SCAN_IDLE_TIMEOUT_MS = 15 * 60_000;
// DateTime bounds; query() prunes partitions on `ts` only for times inside them.
const MAX_DATETIME_MS = 4_294_967_295_999;

/**
 * The event log in ClickHouse (SPEC §5). Works with ClickHouse 18.16 and current versions:
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
  private readonly snapshots: SqlFragment;

  constructor(private readonly options: ClickHouseEventStoreOptions) {
    this.database = options.database ?? 'compter';
    sqlIdentifier(this.database); // fail at construction, not at the first query
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.client = this.newClient(this.requestTimeoutMs, options.maxOpenConnections ?? 10);
    this.events = qualified(this.database, EVENTS_TABLE);
    this.snapshots = qualified(this.database, SNAPSHOTS_TABLE);
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
        await sleep(100 * 2 ** attempt);
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
      await this.client.insert({
        table: qualified(this.database, MIGRATIONS_TABLE).text,
        values: [{ version: m.version, name: m.name, applied_at: Math.floor(Date.now() / 1000) }],
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
    // Rows first: a batch with an event the table can never hold fails before any insert.
    const rows = events.map(toEventRow);
    for (const block of insertBlocks(rows.map((row, i) => ({ ts: events[i]!.ts, row })))) await this.insertBlock(block);
  }

  /**
   * Inserts one block. A server whose partition limit an operator set below ours takes the
   * block month by month instead; rows it can never hold fail as RangeError, so the journal
   * sets them aside instead of retrying them forever.
   */
  private async insertBlock(block: readonly { ts: number; row: EventRow }[]): Promise<void> {
    try {
      await this.client.insert({ table: this.events.text, values: block.map((b) => b.row), format: 'JSONEachRow' });
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
   * adjacent in the sorted stream and dropped here, which is cheaper than `LIMIT 1 BY` or
   * `FINAL` (both sort every matching row again).
   */
  async *scan(afterEventId: string | null, pageSize: number): AsyncIterable<LogEvent[]> {
    checkPositiveInt('pageSize', pageSize);
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
    let page: LogEvent[] = [];
    let last = afterEventId;
    for await (const rows of result.stream<EventReadRow>()) {
      for (const row of rows) {
        const r = row.json();
        if (r.event_id === last) continue;
        last = r.event_id;
        page.push(fromEventRow(r));
        if (page.length === pageSize) {
          yield page;
          page = [];
        }
      }
    }
    if (page.length > 0) yield page;
  }

  async query(q: EventQuery): Promise<LogEvent[]> {
    checkNonNegativeInt('limit', q.limit);
    if (q.order !== 'asc' && q.order !== 'desc') throw new RangeError(`order must be 'asc' or 'desc', got ${String(q.order)}`);
    if (q.limit === 0 || (q.types !== undefined && q.types.length === 0)) return [];
    const where: SqlFragment[] = [sql`project = ${q.project}`];
    if (q.debt !== undefined) where.push(sql`debt = ${q.debt}`);
    if (q.application !== undefined) where.push(sql`application = ${q.application}`);
    if (q.job !== undefined) where.push(sql`job = ${q.job}`);
    if (q.slo !== undefined) where.push(sql`slo = ${q.slo}`);
    if (q.types !== undefined) where.push(sql`type IN ${q.types}`);
    if (q.fromTs !== undefined) {
      checkFinite('fromTs', q.fromTs);
      if (q.fromTs > MAX_DATETIME_MS) return [];
      if (q.fromTs > 0) where.push(sql`ts_ms >= ${Math.ceil(q.fromTs)}`, sql`ts >= ${sql.raw(sqlDateTimeMs(q.fromTs))}`);
    }
    if (q.toTs !== undefined) {
      checkFinite('toTs', q.toTs);
      if (q.toTs <= 0) return [];
      if (q.toTs <= MAX_DATETIME_MS) where.push(sql`ts_ms < ${Math.ceil(q.toTs)}`, sql`ts <= ${sql.raw(sqlDateTimeMs(q.toTs))}`);
    }
    const out: LogEvent[] = [];
    for await (const batch of this.distinctById(where, q.order, null, q.limit)) {
      out.push(...batch);
      if (out.length >= q.limit) break;
    }
    return out.slice(0, q.limit);
  }

  /**
   * Distinct events matching `where`, in id order after `cursor`, fetched `batchSize` rows at
   * a time. A batch may come out shorter than `batchSize` when it held unmerged copies; the
   * next one starts strictly after the last id seen, which also skips copies cut off by the
   * LIMIT.
   */
  private async *distinctById(
    where: readonly SqlFragment[],
    order: 'asc' | 'desc',
    cursor: string | null,
    batchSize: number,
  ): AsyncIterable<LogEvent[]> {
    const direction = sql.raw(order === 'asc' ? 'ASC' : 'DESC');
    const after = sql.raw(order === 'asc' ? '>' : '<');
    let last = cursor;
    for (;;) {
      const conditions = last === null ? [...where] : [...where, sql`event_id ${after} ${last}`];
      const whereClause = conditions.length > 0 ? sql`WHERE ${sql.join(conditions, ' AND ')}` : sql``;
      const rows = await this.select<EventReadRow>(
        sql`SELECT ${EVENT_READ_COLUMNS} FROM ${this.events} ${whereClause} ORDER BY event_id ${direction} LIMIT ${batchSize}`,
      );
      const batch: LogEvent[] = [];
      for (const row of rows) {
        if (row.event_id === last) continue;
        last = row.event_id;
        batch.push(fromEventRow(row));
      }
      if (batch.length > 0) yield batch;
      if (rows.length < batchSize) return;
    }
  }

  /**
   * Chunks first, then the marker row: a crash in between leaves an incomplete snapshot
   * that `loadLatestSnapshot` skips. Then drops all but the newest complete snapshots.
   */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    checkNonNegativeInt('takenAt', snapshot.takenAt);
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
    for (const marker of markers) {
      const chunks = await this.loadChunks(marker.snapshot_id, Number(marker.chunk_count));
      if (chunks) return { upToEventId: marker.up_to_event_id, takenAt: Number(marker.taken_at_ms), chunks };
    }
    return null;
  }

  /** The chunks of one snapshot in order, or null when any is missing (pruned meanwhile). */
  private async loadChunks(snapshotId: string, count: number): Promise<string[] | null> {
    if (count === 0) return [];
    const rows = await this.select<{ chunk_index: number | string; chunk: string }>(
      sql`SELECT chunk_index, chunk FROM ${this.snapshots}
WHERE snapshot_id = ${snapshotId} AND is_marker = 0 ORDER BY chunk_index`,
    );
    const chunks: string[] = [];
    for (const row of rows) {
      // A retried save may have stored a chunk twice; the first copy of each index wins.
      if (Number(row.chunk_index) === chunks.length) chunks.push(row.chunk);
    }
    return chunks.length === count ? chunks : null;
  }

  /**
   * Keeps the newest SNAPSHOTS_KEPT complete snapshots and any save newer than them (maybe
   * still in progress in another instance); drops every other snapshot's partition.
   */
  private async pruneSnapshots(): Promise<void> {
    const saved = await this.select<{ snapshot_id: string; seq: string | number; complete: string | number }>(
      sql`SELECT snapshot_id, max(seq) AS seq, max(is_marker) AS complete FROM ${this.snapshots}
GROUP BY snapshot_id ORDER BY seq DESC, snapshot_id DESC`,
    );
    const kept = saved.filter((s) => Number(s.complete) === 1).slice(0, SNAPSHOTS_KEPT);
    if (kept.length < SNAPSHOTS_KEPT) return;
    const oldestKept = kept[kept.length - 1]!;
    const oldestKeptIndex = saved.indexOf(oldestKept);
    for (const old of saved.slice(oldestKeptIndex + 1)) {
      await this.command(sql`ALTER TABLE ${this.snapshots} DROP PARTITION ${old.snapshot_id}`);
    }
  }

  async ping(): Promise<void> {
    await this.select(sql`SELECT 1 AS ok`);
  }

  /** Runs a read-only SELECT built with sql.ts (the trend queries, clickhouse/trend-sql.ts). */
  selectRows<T>(statement: SqlFragment): Promise<T[]> {
    return this.select<T>(statement);
  }

  async close(): Promise<void> {
    await this.client.close();
    await this.scanClient?.close();
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

function checkPositiveInt(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, got ${String(n)}`);
}

function checkNonNegativeInt(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer, got ${String(n)}`);
}

function checkFinite(name: string, n: number): void {
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new RangeError(`${name} must be a finite number, got ${String(n)}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
