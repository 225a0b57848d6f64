import { BIGINT, BOOLEAN, LIST, VARCHAR, listValue, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import type { WindowCount, WindowName } from '../../domain/rate-limits.js';
import type { InstanceBeat, RateCountStore, StoredWindowCount, WindowKey } from '../rate-counts.js';

/** A statement and its bound parameters. */
export interface BoundStatement {
  sql: string;
  values: DuckDBValue[];
  types: DuckDBType[];
}

/** What the counter table needs of the DuckDB adapter. */
export interface DuckDbRateSource {
  readRows(sql: string, values: DuckDBValue[], types: DuckDBType[]): Promise<DuckDBValue[][]>;
  writeRows(statements: readonly BoundStatement[]): Promise<void>;
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

// A count never goes down: a row written late (or by a restarted instance that lost its
// last write) cannot undo a higher count already stored.
const UPSERT_COUNT = `INSERT INTO rate_counts (window_name, window_start, project, instance, requests, reserved, written_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7)
  ON CONFLICT (window_name, window_start, project, instance) DO UPDATE SET
    requests = greatest(rate_counts.requests, excluded.requests),
    reserved = excluded.reserved,
    written_at = excluded.written_at`;

// The windows asked for arrive as one list of `name@start` keys; the lower bound on the start
// lets the scan skip row groups by their zone maps.
const READ_COUNTS = `SELECT window_name, window_start::DOUBLE, project, instance, requests::DOUBLE, reserved::DOUBLE
  FROM rate_counts
  WHERE window_start >= $1 AND list_contains($2, window_name || '@' || window_start::VARCHAR)`;

const UPSERT_BEAT = `INSERT INTO rate_instances (instance, seen_at, stopped) VALUES ($1, $2, $3)
  ON CONFLICT (instance) DO UPDATE SET seen_at = excluded.seen_at, stopped = excluded.stopped`;

const READ_BEATS = 'SELECT instance, seen_at::DOUBLE, stopped FROM rate_instances';

const PRUNE = `DELETE FROM rate_counts WHERE (window_name = 'burst' AND window_start < $1) OR window_start < $2`;

/** The counter table in DuckDB (duckdb-store.ts, migration 3). */
export function duckDbRateCounts(source: DuckDbRateSource): RateCountStore {
  return {
    async writeCounts(instance: string, rows: readonly WindowCount[], writtenAt: number): Promise<void> {
      await source.writeRows(
        rows.map((r) => ({
          sql: UPSERT_COUNT,
          values: [
            r.window,
            BigInt(r.windowStart),
            r.project,
            instance,
            BigInt(r.count),
            BigInt(Math.max(r.count, r.reserved)),
            BigInt(writtenAt),
          ],
          types: [VARCHAR, BIGINT, VARCHAR, VARCHAR, BIGINT, BIGINT, BIGINT],
        })),
      );
    },

    async readCounts(windows: readonly WindowKey[]): Promise<StoredWindowCount[]> {
      if (windows.length === 0) return [];
      const from = Math.min(...windows.map((w) => w.windowStart));
      const keys = windows.map((w) => `${w.window}@${w.windowStart}`);
      const rows = await source.readRows(READ_COUNTS, [BigInt(from), listValue(keys)], [BIGINT, LIST(VARCHAR)]);
      return rows.map(([window, windowStart, project, instance, count, reserved]) => ({
        window: window as WindowName,
        windowStart: windowStart as number,
        project: project as string,
        instance: instance as string,
        count: count as number,
        reserved: reserved as number,
      }));
    },

    async beat(beat: InstanceBeat): Promise<void> {
      await source.writeRows([
        { sql: UPSERT_BEAT, values: [beat.instance, BigInt(beat.seenAt), beat.isStopped], types: [VARCHAR, BIGINT, BOOLEAN] },
      ]);
    },

    async instances(): Promise<InstanceBeat[]> {
      const rows = await source.readRows(READ_BEATS, [], []);
      return rows.map(([instance, seenAt, stopped]) => ({
        instance: instance as string,
        seenAt: seenAt as number,
        isStopped: stopped === true,
      }));
    },

    /** Keeps the minute windows of the last two minutes and the day windows of the last two days. */
    async prune(now: number): Promise<void> {
      await source.writeRows([{ sql: PRUNE, values: [BigInt(now - 2 * MINUTE_MS), BigInt(now - 2 * DAY_MS)], types: [BIGINT, BIGINT] }]);
    },
  };
}
