import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  BIGINT,
  DuckDBInstance,
  INTEGER,
  TIMESTAMP,
  VARCHAR,
  timestampValue,
  type DuckDBConnection,
  type DuckDBPreparedStatement,
  type DuckDBResultReader,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import { decodeEvent, type LogEvent } from '../../domain/event.js';
import type { EventQuery, EventStore, Snapshot } from '../event-store.js';
import { distinctById, inPages, keysetRows, take } from '../paging.js';
import { checkEventQuery, entityFilters, requireCount } from '../query-rules.js';
import { latestCompleteSnapshot, snapshotsToDrop } from '../snapshot-chunks.js';
import type { TrendQueries } from '../trend-queries.js';
import { duckDbTrendQueries } from './trend-sql.js';
import type { RateCountStore } from '../rate-counts.js';
import { duckDbRateCounts, type BoundStatement } from './rate-count-sql.js';

/*
 * Schema choices (docs/events.md):
 *
 * - `ts` and `ingested_at` are TIMESTAMP (no time zone) holding UTC at ms precision. It is
 *   DuckDB's default timestamp type, so `date_trunc`, `time_bucket`, Grafana's `$__timeFilter`
 *   and comparisons against `TIMESTAMP '2026-01-01 00:00:00'` work without casts, and unlike
 *   TIMESTAMPTZ its day boundaries do not move with the reading session's TimeZone setting.
 *   Exact epoch ms come back with `epoch_ms(ts)`, so no second BIGINT column is needed.
 * - A batch is written as JSON: its UTF-8 bytes (the journal's own, no second JSON.stringify)
 *   bound as one BLOB into a connection-local TEMP table, then decoded, parsed (`from_json`)
 *   and inserted by one INSERT ... SELECT that commits on DuckDB's own thread. The JS thread
 *   makes no string of the batch and a few native calls per batch, where the
 *   Appender made one native call per string value (13 per event) and flushed on the JS
 *   thread: measured on 3,000-event batches, the event loop went from 58% to 21% busy for the
 *   same inserts. Binding the JSON straight into the INSERT (`from_json($1)`) was slower and
 *   blocked the event loop longer: the planner folds the constant, parsing it while planning.
 * - Dedupe happens on read, row by row in id order (store/paging.ts): event ids are unique by
 *   construction and a re-sent batch (after a crash, from the journal) is rare, so a per-batch
 *   lookup would cost every append for the sake of an exception. No unique ART index either: it
 *   would keep every id in memory and slow bulk appends and checkpoints.
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
  {
    version: 3,
    name: 'rate counts',
    // The rate limits' counts (duckdb/rate-count-sql.ts): one row per key, updated in place,
    // and pruned to the windows still current or previous, so the key's index stays small.
    statements: [
      `CREATE TABLE IF NOT EXISTS rate_counts (
        window_name VARCHAR NOT NULL,
        window_start BIGINT NOT NULL,
        project VARCHAR NOT NULL,
        instance VARCHAR NOT NULL,
        requests BIGINT NOT NULL,
        reserved BIGINT NOT NULL,
        written_at BIGINT NOT NULL,
        PRIMARY KEY (window_name, window_start, project, instance)
      )`,
      `CREATE TABLE IF NOT EXISTS rate_instances (
        instance VARCHAR PRIMARY KEY,
        seen_at BIGINT NOT NULL,
        stopped BOOLEAN NOT NULL
      )`,
    ],
  },
];

/** The columns `append` writes, each with the JSON field and type `from_json` reads it as. */
const WRITE_COLUMNS: ReadonlyArray<readonly [column: string, field: keyof LogEvent, select: string, jsonType: string]> = [
  ['event_id', 'eventId', 'e.eventId', 'VARCHAR'],
  ['project', 'project', 'e.project', 'VARCHAR'],
  ['type', 'type', 'e.type', 'VARCHAR'],
  ['debt', 'debt', 'e.debt', 'VARCHAR'],
  ['application', 'application', 'e.application', 'VARCHAR'],
  ['job', 'job', 'e.job', 'VARCHAR'],
  ['slo', 'slo', 'e.slo', 'VARCHAR'],
  ['ts', 'ts', 'epoch_ms(round(e.ts)::BIGINT)', 'DOUBLE'],
  ['ingested_at', 'ingestedAt', 'epoch_ms(round(e.ingestedAt)::BIGINT)', 'DOUBLE'],
  ['kind', 'kind', 'e.kind', 'VARCHAR'],
  ['status', 'status', 'e.status', 'VARCHAR'],
  ['run_id', 'runId', 'e.runId', 'VARCHAR'],
  ['host', 'host', 'e.host', 'VARCHAR'],
  ['business_date', 'businessDate', 'e.businessDate', 'VARCHAR'],
  ['duration_ms', 'durationMs', 'round(e.durationMs)::BIGINT', 'DOUBLE'],
  ['lateness_ms', 'latenessMs', 'round(e.latenessMs)::BIGINT', 'DOUBLE'],
  ['attributes', 'attributes', 'e.attributes::VARCHAR', 'JSON'],
];
const JSON_STRUCTURE = JSON.stringify([Object.fromEntries(WRITE_COLUMNS.map(([, field, , jsonType]) => [field, jsonType]))]);
/** A connection-local table the batch's JSON text is put in first (TEMP: never logged). */
const STAGING_TABLE = 'incoming_batch';
/** One row per element of the staged JSON array, parsed while the statement executes. */
const INSERT_FROM_STAGING = `INSERT INTO events (${WRITE_COLUMNS.map(([column]) => column).join(', ')})
  SELECT ${WRITE_COLUMNS.map(([, , select]) => select).join(', ')}
  FROM (SELECT unnest(from_json(decode(batch)::JSON, '${JSON_STRUCTURE}')) AS e FROM ${STAGING_TABLE})`;
/** How DuckDB prints a memory size, e.g. `18.8 GiB`. */
const MEMORY_SIZE = /^\d+(\.\d+)? ?[KMGTP]?i?B$/;
/** JS Date's range; a timestamp outside it is not one compter made. */
const MAX_ABS_MS = 8.64e15;

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
  private stage: DuckDBPreparedStatement | null = null;
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
    // jemalloc keeps what DuckDB frees (start-up reads, the pages `releaseStartupMemory` evicts)
    // as dirty pages until its next allocation purges them: at 50k debts ~70 MiB stayed resident
    // after start. Its background thread gives them back within seconds.
    const instance = await DuckDBInstance.create(path, { allocator_background_threads: 'true' });
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
   * Commits the batch in one statement: one transaction, one WAL sync, all or nothing, parsed
   * and written on DuckDB's thread (see the schema notes above). A re-sent id is not looked
   * up here; reads collapse repeats.
   */
  async append(events: readonly LogEvent[], json?: Buffer): Promise<void> {
    this.requireOpen();
    if (events.length === 0) return;
    // Checked before touching the database, so a bad value rejects the batch up front.
    for (const e of events) requireStorable(e);
    const unique = dropRepeatedIds(events);
    const bytes = json !== undefined && unique.length === events.length ? json : Buffer.from(JSON.stringify(unique), 'utf8');
    return this.exclusive(async () => {
      if (!this.stage) {
        await this.writer.run(`CREATE TEMP TABLE IF NOT EXISTS ${STAGING_TABLE} (batch BLOB)`);
        this.stage = await this.writer.prepare(`INSERT INTO ${STAGING_TABLE} VALUES ($1)`);
      }
      // Clears what a failed try left behind.
      await this.writer.run(`DELETE FROM ${STAGING_TABLE}`);
      this.stage.clearBindings();
      this.stage.bindBlob(1, bytes);
      await this.stage.run();
      try {
        await this.writer.run(INSERT_FROM_STAGING);
      } catch (err) {
        // Data DuckDB cannot convert (an unpaired surrogate) or hold (a null where the column is
        // NOT NULL) fails every retry too: say so, so the journal sets it aside.
        if (/^(Conversion|Constraint) Error/.test((err as Error).message))
          throw new RangeError(`the batch cannot be stored: ${(err as Error).message.split('\n')[0]}`, { cause: err });
        throw err;
      }
    });
  }

  /**
   * Every event with id > `afterEventId` in id order, in keyset pages of `pageSize` stored rows
   * with repeats dropped as they come (store/paging.ts). Deduplicating row by row keeps each
   * page's cost flat: DISTINCT ON over every later row made a 10M-event replay take about an hour.
   */
  async *scan(afterEventId: string | null, pageSize: number): AsyncIterable<LogEvent[]> {
    requireCount('pageSize', pageSize, 1);
    // The LIMIT sits in a subquery so the read columns are computed for the page's rows only.
    const page = (after: string | null, limit: number): Promise<DuckDBValue[][]> => {
      this.requireOpen();
      return after === null
        ? this.readRows(
            `SELECT ${READ_COLUMNS} FROM (SELECT * FROM events ORDER BY event_id LIMIT $1) ORDER BY event_id`,
            [limit],
            [BIGINT],
          )
        : this.readRows(
            `SELECT ${READ_COLUMNS} FROM (SELECT * FROM events WHERE event_id > $1 ORDER BY event_id LIMIT $2) ORDER BY event_id`,
            [after, limit],
            [VARCHAR, BIGINT],
          );
    };
    yield* inPages(distinctById(keysetRows(page, eventIdOf, afterEventId, pageSize), eventIdOf, toEvent, afterEventId), pageSize);
  }

  /** The project's events matching every given filter, ordered by id, at most `limit`. */
  async query(q: EventQuery): Promise<LogEvent[]> {
    this.requireOpen();
    if (checkEventQuery(q).matchesNothing) return [];
    const params: DuckDBValue[] = [];
    const types: DuckDBType[] = [];
    const param = (value: DuckDBValue, type: DuckDBType): string => {
      params.push(value);
      types.push(type);
      return `$${params.length}`;
    };
    const where = entityFilters(q).map(([column, value]) => `${column} = ${param(value, VARCHAR)}`);
    if (q.types !== undefined) where.push(`type IN (${q.types.map((t) => param(t, VARCHAR)).join(', ')})`);
    if (q.fromTs !== undefined) where.push(`ts >= ${param(toTimestamp(q.fromTs, 'fromTs'), TIMESTAMP)}`);
    if (q.toTs !== undefined) where.push(`ts < ${param(toTimestamp(q.toTs, 'toTs'), TIMESTAMP)}`);
    const direction = q.order === 'desc' ? 'DESC' : 'ASC';
    const beyond = q.order === 'desc' ? '<' : '>';
    // Keyset pages of the newest (or oldest) matching rows (store/paging.ts): a top-N needs no
    // sort of everything that matches, where DISTINCT ON over all matching rows took 5-10 s for
    // a project-wide read of a 10M-event log.
    const page = (after: string | null, limit: number): Promise<DuckDBValue[][]> => {
      const conditions = after === null ? where : [...where, `event_id ${beyond} $${params.length + 1}`];
      const values = after === null ? [...params, limit] : [...params, after, limit];
      const valueTypes = after === null ? [...types, BIGINT] : [...types, VARCHAR, BIGINT];
      return this.readRows(
        `SELECT ${READ_COLUMNS} FROM
           (SELECT * FROM events WHERE ${conditions.join(' AND ')} ORDER BY event_id ${direction} LIMIT $${values.length})
         ORDER BY event_id ${direction}`,
        values,
        valueTypes,
      );
    };
    return take(distinctById(keysetRows(page, eventIdOf, null, q.limit), eventIdOf, toEvent), q.limit);
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
        const insert = await this.writer.prepare('INSERT INTO snapshot_chunks (snapshot_id, seq, chunk) VALUES ($1, $2, $3)');
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
        // Saves newest first, with whether their row is there (chunks without one are a save cut short).
        const saved = await this.writer.runAndReadAll(
          `SELECT snapshot_id, bool_or(complete) FROM
             (SELECT snapshot_id, true AS complete FROM snapshots UNION ALL SELECT snapshot_id, false FROM snapshot_chunks)
           GROUP BY snapshot_id ORDER BY snapshot_id DESC`,
        );
        const drop = snapshotsToDrop(saved.getRows().map(([id, complete]) => ({ id: id as bigint, complete: complete === true })));
        for (const id of drop) {
          await this.writer.run('DELETE FROM snapshot_chunks WHERE snapshot_id = $1', [id], [BIGINT]);
          await this.writer.run('DELETE FROM snapshots WHERE snapshot_id = $1', [id], [BIGINT]);
        }
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
    return latestCompleteSnapshot(
      saved.getRows().map(([id, upToEventId, takenAt, chunkCount]) => ({
        id: id as bigint,
        upToEventId: upToEventId as string,
        takenAt: takenAt as number,
        chunkCount: chunkCount as number,
      })),
      async (snapshotId) => {
        const rows = await this.readRows(
          'SELECT seq, chunk FROM snapshot_chunks WHERE snapshot_id = $1 ORDER BY seq',
          [snapshotId],
          [BIGINT],
        );
        return rows.map(([seq, chunk]) => ({ index: seq as number, chunk: chunk as string }));
      },
    );
  }

  /**
   * Lets DuckDB give back the memory start-up filled: its buffer pool still holds the pages
   * of the snapshot and the log it read once (about 2 KB per debt at 100k debts), and only
   * evicts them under its limit, 80% of RAM by default. Lowering the limit for a moment
   * evicts them; the limit is then put back. Best effort: a failure changes nothing.
   */
  async releaseStartupMemory(): Promise<void> {
    this.requireOpen();
    await this.exclusive(async () => {
      const limit = String((await this.writer.runAndReadAll(`SELECT current_setting('memory_limit')`)).getRows()[0]![0]);
      // Put back exactly as read; only a size like "18.8 GiB" is ever written into the SQL.
      if (!MEMORY_SIZE.test(limit)) return;
      try {
        await this.writer.run(`SET GLOBAL memory_limit = '16MB'`);
      } catch {
        // Pinned blocks can keep DuckDB above the floor; then nothing is evicted.
      } finally {
        await this.writer.run(`SET GLOBAL memory_limit = '${limit}'`);
      }
    });
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

  /** Runs write statements with bound parameters in one transaction, after the writes queued before them. */
  async writeRows(statements: readonly BoundStatement[]): Promise<void> {
    this.requireOpen();
    if (statements.length === 0) return;
    return this.exclusive(() =>
      this.inTransaction(async () => {
        for (const s of statements) await this.writer.run(s.sql, s.values, s.types);
      }),
    );
  }

  /** The trend queries in DuckDB's dialect, reading this store's tables. */
  trendQueries(): TrendQueries {
    return duckDbTrendQueries(this);
  }

  /** The rate limits' counter table in this file (duckdb/rate-count-sql.ts). */
  rateCounts(): RateCountStore {
    return duckDbRateCounts(this);
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
        this.stage?.destroySync();
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

/** Refuses (RangeError) an event whose numbers the log cannot hold; JSON would turn NaN into null. */
function requireStorable(e: LogEvent): void {
  requireMs(e.ts, 'ts');
  requireMs(e.ingestedAt, 'ingestedAt');
  if (e.durationMs !== null) requireMs(e.durationMs, 'durationMs');
  if (e.latenessMs !== null) requireMs(e.latenessMs, 'latenessMs');
}

function requireMs(value: number, field: string): void {
  if (typeof value !== 'number' || !(Math.abs(value) <= MAX_ABS_MS))
    throw new RangeError(`${field} must be a finite number of milliseconds, got ${value}`);
}

function toTimestamp(ms: number, field: string): DuckDBValue {
  return timestampValue(toBigInt(ms, field) * 1000n);
}

function toBigInt(value: number, field: string): bigint {
  if (!Number.isFinite(value)) throw new TypeError(`${field} must be a finite number, got ${value}`);
  // The log keeps whole milliseconds; a fractional value is rounded rather than refused.
  return BigInt(Math.round(value));
}

const eventIdOf = (row: DuckDBValue[]): string => row[0] as string;

function toEvent(row: DuckDBValue[]): LogEvent {
  return decodeEvent({
    eventId: row[0] as string,
    project: row[1] as string,
    type: row[2] as string,
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
    attributes: JSON.parse(row[16] as string),
  });
}
