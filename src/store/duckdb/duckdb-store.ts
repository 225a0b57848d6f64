import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  BIGINT,
  DuckDBDataChunk,
  DuckDBInstance,
  INTEGER,
  TIMESTAMP,
  VARCHAR,
  timestampValue,
  type DuckDBConnection,
  type DuckDBResultReader,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import type { EventType, LogEvent } from '../../domain/event.js';
import type { EventQuery, EventStore, Snapshot } from '../event-store.js';

/*
 * Schema choices (SPEC §5):
 *
 * - `ts` and `ingested_at` are TIMESTAMP (no time zone) holding UTC at ms precision. It is
 *   DuckDB's default timestamp type, so `date_trunc`, `time_bucket`, Grafana's `$__timeFilter`
 *   and comparisons against `TIMESTAMP '2026-01-01 00:00:00'` work without casts, and unlike
 *   TIMESTAMPTZ its day boundaries do not move with the reading session's TimeZone setting.
 *   Exact epoch ms come back with `epoch_ms(ts)`, so no second BIGINT column is needed.
 * - Dedupe happens on write, not on read: a batch is appended (DuckDB's Appender, one data
 *   chunk per 2048 rows) to a connection-local temp table and moved into `events` by one
 *   INSERT ... SELECT that skips ids already stored. compter's reads and users' own Grafana
 *   SQL then see each event once without having to remember a QUALIFY, and the cost is paid
 *   once per batch instead of on every read. The anti-join only reads row groups whose
 *   event_id min/max overlap the batch (ids are time-ordered, so normally just the newest
 *   one), where a unique ART index would keep every id in memory and slow bulk appends and
 *   checkpoints. It is race-free because DuckDB lets one process open the file read-write
 *   and this adapter runs its writes one at a time on a single connection.
 * - No secondary indexes: min/max zone maps on the time-ordered columns prune scans, and an
 *   ART index would cost memory per event for the history routes' occasional reads.
 */

interface Migration {
  version: number;
  name: string;
  statements: readonly string[];
}

/** Applied in order, each in its own transaction; never edit one that has shipped. */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'events',
    statements: [
      `CREATE TABLE IF NOT EXISTS events (
        event_id VARCHAR NOT NULL,
        project VARCHAR NOT NULL,
        type VARCHAR NOT NULL,
        debt VARCHAR NOT NULL,
        application VARCHAR NOT NULL,
        job VARCHAR NOT NULL,
        slo VARCHAR NOT NULL,
        ts TIMESTAMP NOT NULL,
        ingested_at TIMESTAMP NOT NULL,
        kind VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL,
        host VARCHAR NOT NULL,
        business_date VARCHAR NOT NULL,
        duration_ms BIGINT,
        lateness_ms BIGINT,
        attributes VARCHAR NOT NULL
      )`,
    ],
  },
  {
    version: 2,
    name: 'snapshots',
    statements: [
      `CREATE TABLE IF NOT EXISTS snapshot_chunks (
        snapshot_id BIGINT NOT NULL,
        seq INTEGER NOT NULL,
        chunk VARCHAR NOT NULL
      )`,
      // One row per finished snapshot, written after its chunks: loads start from this table,
      // so chunks without their row are never read, and the count catches a missing chunk.
      `CREATE TABLE IF NOT EXISTS snapshots (
        snapshot_id BIGINT NOT NULL,
        up_to_event_id VARCHAR NOT NULL,
        taken_at TIMESTAMP NOT NULL,
        chunk_count INTEGER NOT NULL
      )`,
    ],
  },
];

/** How many complete snapshots survive a save: the newest plus one to fall back on. */
const SNAPSHOTS_KEPT = 2;

/** DuckDB's vector size, the most rows one data chunk holds. */
const ROWS_PER_CHUNK = 2048;

/** The columns `append` writes, in the order the staging table and data chunks use. */
const WRITE_COLUMNS: ReadonlyArray<readonly [name: string, sqlType: string, type: DuckDBType]> = [
  ['event_id', 'VARCHAR NOT NULL', VARCHAR],
  ['project', 'VARCHAR NOT NULL', VARCHAR],
  ['type', 'VARCHAR NOT NULL', VARCHAR],
  ['debt', 'VARCHAR NOT NULL', VARCHAR],
  ['application', 'VARCHAR NOT NULL', VARCHAR],
  ['job', 'VARCHAR NOT NULL', VARCHAR],
  ['slo', 'VARCHAR NOT NULL', VARCHAR],
  ['ts', 'TIMESTAMP NOT NULL', TIMESTAMP],
  ['ingested_at', 'TIMESTAMP NOT NULL', TIMESTAMP],
  ['kind', 'VARCHAR NOT NULL', VARCHAR],
  ['status', 'VARCHAR NOT NULL', VARCHAR],
  ['run_id', 'VARCHAR NOT NULL', VARCHAR],
  ['host', 'VARCHAR NOT NULL', VARCHAR],
  ['business_date', 'VARCHAR NOT NULL', VARCHAR],
  ['duration_ms', 'BIGINT', BIGINT],
  ['lateness_ms', 'BIGINT', BIGINT],
  ['attributes', 'VARCHAR NOT NULL', VARCHAR],
];
const WRITE_COLUMN_LIST = WRITE_COLUMNS.map(([name]) => name).join(', ');
const STAGING_TABLE = 'incoming_events';
const CHUNK_TYPES = WRITE_COLUMNS.map(([, , type]) => type);

/**
 * Columns read back, in `toEvent`'s order; DOUBLE casts make JS numbers, not bigints. The
 * free-text columns are read with a one-character prefix that `toEvent` drops: the node API
 * decodes VARCHARs with a default TextDecoder, which silently strips a leading U+FEFF.
 */
const READ_COLUMNS = `event_id, project, type, debt, '.' || application, '.' || job, slo,
  epoch_ms(ts)::DOUBLE, epoch_ms(ingested_at)::DOUBLE, kind, status, run_id, '.' || host,
  business_date, duration_ms::DOUBLE, lateness_ms::DOUBLE, attributes`;

/** The embedded event store: one DuckDB file under the data directory. */
export class DuckDbEventStore implements EventStore {
  readonly kind = 'duckdb' as const;
  private writeTail: Promise<unknown> = Promise.resolve();
  private isClosed = false;
  private hasStagingTable = false;
  private closing: Promise<void> | null = null;
  private readonly reads = new Set<Promise<unknown>>();

  private constructor(
    private readonly instance: DuckDBInstance,
    /** Used only inside `exclusive`, so its transactions never interleave. */
    private readonly writer: DuckDBConnection,
    /** Reads run here so they never join a write's open transaction. */
    private readonly reader: DuckDBConnection,
  ) {}

  /** Opens (creating if needed) the database file at `path`; call `migrate()` before use. */
  static async open(path: string): Promise<DuckDbEventStore> {
    await mkdir(dirname(path), { recursive: true });
    const instance = await DuckDBInstance.create(path);
    return new DuckDbEventStore(instance, await instance.connect(), await instance.connect());
  }

  /** Creates or upgrades the schema to the newest migration; safe to run on every start. */
  async migrate(): Promise<void> {
    this.requireOpen();
    return this.exclusive(async () => {
      await this.writer.run(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        name VARCHAR NOT NULL,
        applied_at TIMESTAMP NOT NULL
      )`);
      const applied = await this.writer.runAndReadAll('SELECT version FROM schema_migrations');
      const done = new Set(applied.getRows().map((row) => Number(row[0])));
      for (const migration of MIGRATIONS) {
        if (done.has(migration.version)) continue;
        await this.inTransaction(async () => {
          for (const statement of migration.statements) await this.writer.run(statement);
          await this.writer.run(
            `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, timezone('UTC', now()))`,
            [migration.version, migration.name],
            [INTEGER, VARCHAR],
          );
        });
      }
    });
  }

  /**
   * Commits the batch in one statement: one transaction, one WAL sync, all or nothing.
   * The rows go first into a connection-local TEMP table through the appender, whose flush
   * runs on the JS thread: into a temp table it is sub-millisecond, whereas flushing into
   * `events` would commit (and sync the WAL) on the JS thread and stall every request and the
   * deadline timer. The INSERT ... SELECT then commits on DuckDB's own thread. A re-sent id is
   * not looked up here (that cost more than the rest of the append); reads collapse repeats.
   */
  async append(events: readonly LogEvent[]): Promise<void> {
    this.requireOpen();
    if (events.length === 0) return;
    // Converting before touching the database makes a bad value reject the batch up front.
    const chunks = toDataChunks(dropRepeatedIds(events));
    return this.exclusive(async () => {
      await this.ensureStagingTable();
      // Clears what a failed try left behind; a temp table is never logged.
      await this.writer.run(`DELETE FROM ${STAGING_TABLE}`);
      const appender = await this.writer.createAppender(STAGING_TABLE, 'main', 'temp');
      try {
        for (const chunk of chunks) appender.appendDataChunk(chunk);
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
      await this.writer.run(`INSERT INTO events (${WRITE_COLUMN_LIST}) SELECT ${WRITE_COLUMN_LIST} FROM ${STAGING_TABLE}`);
    });
  }

  /** Every event with id > `afterEventId` in id order, `pageSize` per page (keyset paging). */
  async *scan(afterEventId: string | null, pageSize: number): AsyncIterable<LogEvent[]> {
    requireCount('pageSize', pageSize, 1);
    let after = afterEventId;
    for (;;) {
      this.requireOpen();
      const reader =
        after === null
          ? await this.read(
              `SELECT DISTINCT ON (event_id) ${READ_COLUMNS} FROM events ORDER BY event_id LIMIT $1`,
              [pageSize],
              [BIGINT],
            )
          : await this.read(
              `SELECT DISTINCT ON (event_id) ${READ_COLUMNS} FROM events WHERE event_id > $1 ORDER BY event_id LIMIT $2`,
              [after, pageSize],
              [VARCHAR, BIGINT],
            );
      const page = reader.getRows().map(toEvent);
      if (page.length === 0) return;
      yield page;
      if (page.length < pageSize) return;
      after = page[page.length - 1]!.eventId;
    }
  }

  /** The project's events matching every given filter, ordered by id, at most `limit`. */
  async query(q: EventQuery): Promise<LogEvent[]> {
    this.requireOpen();
    requireCount('limit', q.limit, 0);
    if (q.limit === 0 || (q.types !== undefined && q.types.length === 0)) return [];
    const params: DuckDBValue[] = [];
    const types: DuckDBType[] = [];
    const param = (value: DuckDBValue, type: DuckDBType): string => {
      params.push(value);
      types.push(type);
      return `$${params.length}`;
    };
    const where = [`project = ${param(q.project, VARCHAR)}`];
    if (q.debt !== undefined) where.push(`debt = ${param(q.debt, VARCHAR)}`);
    if (q.slo !== undefined) where.push(`slo = ${param(q.slo, VARCHAR)}`);
    if (q.application !== undefined) where.push(`application = ${param(q.application, VARCHAR)}`);
    if (q.job !== undefined) where.push(`job = ${param(q.job, VARCHAR)}`);
    if (q.types !== undefined) where.push(`type IN (${q.types.map((t) => param(t, VARCHAR)).join(', ')})`);
    if (q.fromTs !== undefined) where.push(`ts >= ${param(toTimestamp(q.fromTs, 'fromTs'), TIMESTAMP)}`);
    if (q.toTs !== undefined) where.push(`ts < ${param(toTimestamp(q.toTs, 'toTs'), TIMESTAMP)}`);
    const direction = q.order === 'desc' ? 'DESC' : 'ASC';
    const reader = await this.read(
      `SELECT DISTINCT ON (event_id) ${READ_COLUMNS} FROM events WHERE ${where.join(' AND ')}
       ORDER BY event_id ${direction} LIMIT ${param(q.limit, BIGINT)}`,
      params,
      types,
    );
    return reader.getRows().map(toEvent);
  }

  /** Stores the snapshot's chunks, then its `snapshots` row, then prunes all but the newest two. */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.requireOpen();
    const takenAt = toTimestamp(snapshot.takenAt, 'takenAt');
    return this.exclusive(() =>
      this.inTransaction(async () => {
        // DuckDB's transaction already makes the save atomic; writing the row last keeps the
        // load rule the same as in stores without transactions (ClickHouse).
        const next = await this.writer.runAndReadAll(
          `SELECT coalesce(max(snapshot_id), 0) + 1 FROM
             (SELECT snapshot_id FROM snapshots UNION ALL SELECT snapshot_id FROM snapshot_chunks)`,
        );
        const snapshotId = next.getRows()[0]![0] as bigint;
        const insert = await this.writer.prepare(
          'INSERT INTO snapshot_chunks (snapshot_id, seq, chunk) VALUES ($1, $2, $3)',
        );
        try {
          for (const [seq, chunk] of snapshot.chunks.entries()) {
            insert.bind([snapshotId, seq, chunk], [BIGINT, INTEGER, VARCHAR]);
            await insert.run();
          }
        } finally {
          insert.destroySync();
        }
        await this.writer.run(
          'INSERT INTO snapshots (snapshot_id, up_to_event_id, taken_at, chunk_count) VALUES ($1, $2, $3, $4)',
          [snapshotId, snapshot.upToEventId, takenAt, snapshot.chunks.length],
          [BIGINT, VARCHAR, TIMESTAMP, INTEGER],
        );
        const kept = 'SELECT snapshot_id FROM snapshots ORDER BY snapshot_id DESC LIMIT $1';
        await this.writer.run(`DELETE FROM snapshot_chunks WHERE snapshot_id NOT IN (${kept})`, [SNAPSHOTS_KEPT], [INTEGER]);
        await this.writer.run(`DELETE FROM snapshots WHERE snapshot_id NOT IN (${kept})`, [SNAPSHOTS_KEPT], [INTEGER]);
      }),
    );
  }

  /** The most recently saved snapshot whose row and every chunk are present, or null. */
  async loadLatestSnapshot(): Promise<Snapshot | null> {
    this.requireOpen();
    const saved = await this.read(
      `SELECT snapshot_id, up_to_event_id, epoch_ms(taken_at)::DOUBLE, chunk_count
       FROM snapshots ORDER BY snapshot_id DESC`,
    );
    for (const [snapshotId, upToEventId, takenAt, chunkCount] of saved.getRows()) {
      const rows = await this.read(
        'SELECT chunk FROM snapshot_chunks WHERE snapshot_id = $1 ORDER BY seq',
        [snapshotId as bigint],
        [BIGINT],
      );
      const chunks = rows.getRows().map((row) => row[0] as string);
      if (chunks.length !== chunkCount) continue;
      return { upToEventId: upToEventId as string, takenAt: takenAt as number, chunks };
    }
    return null;
  }

  /** Resolves when DuckDB answers a trivial query; rejects once closed. */
  async ping(): Promise<void> {
    this.requireOpen();
    await this.read('SELECT 1');
  }

  /** Runs a read-only query with bound parameters on the read connection (duckdb/trend-sql.ts). */
  async readRows(sql: string, values: DuckDBValue[], types: DuckDBType[]): Promise<DuckDBValue[][]> {
    this.requireOpen();
    return (await this.read(sql, values, types)).getRows();
  }

  /** Waits for writes in progress, checkpoints the WAL into the file and releases the file lock. */
  close(): Promise<void> {
    // Refuse new work at once; writes queued before this still run before the teardown.
    this.isClosed = true;
    this.closing ??= this.exclusive(async () => {
      // Folding the WAL in now makes the next start-up skip replaying it.
      await this.writer.run('CHECKPOINT');
    })
      .catch(() => undefined)
      .then(() => Promise.allSettled([...this.reads]))
      .then(() => {
        this.reader.closeSync();
        this.writer.closeSync();
        this.instance.closeSync();
      });
    return this.closing;
  }

  /** Runs a read on `reader`, tracked so `close` never tears the connection down under it. */
  private read(sql: string, values?: DuckDBValue[], types?: DuckDBType[]): Promise<DuckDBResultReader> {
    const pending = this.reader.runAndReadAll(sql, values, types);
    this.reads.add(pending);
    const forget = (): void => {
      this.reads.delete(pending);
    };
    pending.then(forget, forget);
    return pending;
  }

  /** Runs `fn` after every earlier write finished, so transactions on `writer` never overlap. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writeTail.then(fn);
    this.writeTail = run.catch(() => undefined);
    return run;
  }

  private async inTransaction(fn: () => Promise<void>): Promise<void> {
    await this.writer.run('BEGIN TRANSACTION');
    try {
      await fn();
      await this.writer.run('COMMIT');
    } catch (err) {
      // A failed COMMIT has already rolled back, and then ROLLBACK itself fails: ignore that.
      await this.writer.run('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  private async ensureStagingTable(): Promise<void> {
    if (this.hasStagingTable) return;
    // TEMP: connection-local and kept out of the WAL and the database file.
    const columns = WRITE_COLUMNS.map(([name, sqlType]) => `${name} ${sqlType}`).join(', ');
    await this.writer.run(`CREATE TEMP TABLE IF NOT EXISTS ${STAGING_TABLE} (${columns})`);
    this.hasStagingTable = true;
  }

  private requireOpen(): void {
    if (this.isClosed) throw new Error('DuckDbEventStore is closed');
  }
}

/** Keeps the first event of each id: a batch may repeat one (a resend merged into it). */
function dropRepeatedIds(events: readonly LogEvent[]): LogEvent[] {
  const seen = new Set<string>();
  const out: LogEvent[] = [];
  for (const event of events) {
    if (seen.has(event.eventId)) continue;
    seen.add(event.eventId);
    out.push(event);
  }
  return out;
}

/** Column-major data chunks for the appender: one native call per column, not per value. */
function toDataChunks(events: readonly LogEvent[]): DuckDBDataChunk[] {
  const chunks: DuckDBDataChunk[] = [];
  for (let offset = 0; offset < events.length; offset += ROWS_PER_CHUNK) {
    const part = events.slice(offset, offset + ROWS_PER_CHUNK);
    const chunk = DuckDBDataChunk.create(CHUNK_TYPES, part.length);
    chunk.setColumns([
      part.map((e) => e.eventId),
      part.map((e) => e.project),
      part.map((e) => e.type),
      part.map((e) => e.debt),
      part.map((e) => e.application),
      part.map((e) => e.job),
      part.map((e) => e.slo),
      part.map((e) => toTimestamp(e.ts, 'ts')),
      part.map((e) => toTimestamp(e.ingestedAt, 'ingestedAt')),
      part.map((e) => e.kind),
      part.map((e) => e.status),
      part.map((e) => e.runId),
      part.map((e) => e.host),
      part.map((e) => e.businessDate),
      part.map((e) => toBigIntOrNull(e.durationMs, 'durationMs')),
      part.map((e) => toBigIntOrNull(e.latenessMs, 'latenessMs')),
      part.map((e) => JSON.stringify(e.attributes)),
    ]);
    chunks.push(chunk);
  }
  return chunks;
}

function toTimestamp(ms: number, field: string): DuckDBValue {
  return timestampValue(toBigInt(ms, field) * 1000n);
}

function toBigIntOrNull(value: number | null, field: string): bigint | null {
  return value === null ? null : toBigInt(value, field);
}

function toBigInt(value: number, field: string): bigint {
  if (!Number.isFinite(value)) throw new TypeError(`${field} must be a finite number, got ${value}`);
  // The log keeps whole milliseconds; a fractional value is rounded rather than refused.
  return BigInt(Math.round(value));
}

function requireCount(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
}

function toEvent(row: DuckDBValue[]): LogEvent {
  return {
    eventId: row[0] as string,
    project: row[1] as string,
    type: row[2] as EventType,
    debt: row[3] as string,
    application: (row[4] as string).slice(1),
    job: (row[5] as string).slice(1),
    slo: row[6] as string,
    ts: row[7] as number,
    ingestedAt: row[8] as number,
    kind: row[9] as string,
    status: row[10] as string,
    runId: row[11] as string,
    host: (row[12] as string).slice(1),
    businessDate: row[13] as string,
    durationMs: row[14] as number | null,
    latenessMs: row[15] as number | null,
    attributes: JSON.parse(row[16] as string) as Record<string, unknown>,
  };
}
