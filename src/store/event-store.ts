import type { EventType, LogEvent } from '../domain/event.js';

/** A filtered read of the log, for the API's history routes. */
export interface EventQuery {
  project: string;
  debt?: string;
  slo?: string;
  application?: string;
  job?: string;
  types?: readonly EventType[];
  /** Inclusive lower / exclusive upper bound on `ts`, epoch ms. */
  fromTs?: number;
  toTs?: number;
  limit: number;
  /** By event id (= time order). */
  order: 'asc' | 'desc';
}

/**
 * A serialized projection of the log up to and including `upToEventId`. Start-up loads the
 * latest snapshot and replays only the events after it, so it never reads all history.
 */
export interface Snapshot {
  upToEventId: string;
  takenAt: number;
  /** The projection as JSON text, split so no single value is huge. */
  chunks: string[];
}

/**
 * The port every event store adapter implements (DuckDB embedded, ClickHouse). Both pass
 * test/support/store-contract.ts. Writers call `append` with batches; group commit and the
 * spool live above the port (store/batch-writer.ts), not in the adapters.
 */
export interface EventStore {
  readonly kind: 'duckdb' | 'clickhouse';
  /** Creates or upgrades the schema; idempotent, safe to run on every start. */
  migrate(): Promise<void>;
  /**
   * Durably stores a batch in one write. On resolve every event is committed. Appending an
   * event whose `eventId` is already stored must not make it appear twice on read. `json`,
   * when given, is `JSON.stringify(events)` in UTF-8, already made by the caller (the journal
   * has it); an adapter that serializes to JSON may use it instead of making it again.
   */
  append(events: readonly LogEvent[], json?: Buffer): Promise<void>;
  /** Every event with id > `afterEventId` (all when null), in id order, deduplicated, in pages. */
  scan(afterEventId: string | null, pageSize: number): AsyncIterable<LogEvent[]>;
  /** A filtered, limited read, deduplicated by id. */
  query(q: EventQuery): Promise<LogEvent[]>;
  /** Stores a snapshot; older ones may be pruned. */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /** The most recent complete snapshot, or null. */
  loadLatestSnapshot(): Promise<Snapshot | null>;
  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
