import type { WindowCount, WindowName } from '../../domain/rate-limits.js';
import type { InstanceBeat, RateCountStore, StoredWindowCount, WindowKey } from '../rate-counts.js';
import { RATE_COUNTS_TABLE, RATE_INSTANCES_TABLE, qualified } from './schema.js';
import { sql, type SqlFragment } from './sql.js';

/** What the counter table needs of the ClickHouse adapter. */
export interface ClickHouseRateSource {
  readonly database: string;
  selectRows<T>(statement: SqlFragment): Promise<T[]>;
  insertRows(table: SqlFragment, rows: readonly object[]): Promise<void>;
  runCommand(statement: SqlFragment): Promise<void>;
}

const DAY_MS = 86_400_000;

interface CountRow {
  window_name: string;
  window_start: string | number;
  project: string;
  instance: string;
  max_requests: string | number;
  last_reserved: string | number;
}

interface BeatRow {
  instance: string;
  last_seen_ms: string | number;
  last_stopped: string | number;
}

/** The counter table in ClickHouse (schema.ts, `rate_counts` and `rate_instances`). */
export function clickHouseRateCounts(source: ClickHouseRateSource): RateCountStore {
  const counts = qualified(source.database, RATE_COUNTS_TABLE);
  const beats = qualified(source.database, RATE_INSTANCES_TABLE);
  return {
    async writeCounts(instance: string, rows: readonly WindowCount[], writtenAt: number): Promise<void> {
      if (rows.length === 0) return;
      await source.insertRows(
        counts,
        rows.map((r) => ({
          window_name: r.window,
          window_start: r.windowStart,
          project: r.project,
          instance,
          requests: r.count,
          reserved: Math.max(r.count, r.reserved),
          written_at_ms: writtenAt,
        })),
      );
    },

    async readCounts(windows: readonly WindowKey[]): Promise<StoredWindowCount[]> {
      if (windows.length === 0) return [];
      const where = windows.map((w) => sql`(window_name = ${w.window} AND window_start = ${w.windowStart})`);
      // Merges are eventual: a key may still have several rows, so fold them here.
      const rows = await source.selectRows<CountRow>(
        sql`SELECT window_name, window_start, project, instance,
  max(requests) AS max_requests, argMax(reserved, written_at_ms) AS last_reserved
FROM ${counts} WHERE ${sql.join(where, ' OR ')}
GROUP BY window_name, window_start, project, instance`,
      );
      return rows.map((r) => ({
        window: r.window_name as WindowName,
        windowStart: Number(r.window_start),
        project: r.project,
        instance: r.instance,
        count: Number(r.max_requests),
        reserved: Number(r.last_reserved),
      }));
    },

    async beat(beat: InstanceBeat): Promise<void> {
      await source.insertRows(beats, [{ instance: beat.instance, seen_at_ms: beat.seenAt, stopped: beat.isStopped ? 1 : 0 }]);
    },

    async instances(): Promise<InstanceBeat[]> {
      const rows = await source.selectRows<BeatRow>(
        sql`SELECT instance, max(seen_at_ms) AS last_seen_ms, argMax(stopped, seen_at_ms) AS last_stopped FROM ${beats} GROUP BY instance`,
      );
      return rows.map((r) => ({ instance: r.instance, seenAt: Number(r.last_seen_ms), isStopped: Number(r.last_stopped) === 1 }));
    },

    /** Partitions are days of window starts: yesterday's holds the previous day window, older ones nothing needed. */
    async prune(now: number): Promise<void> {
      const keepFrom = Math.floor(now / DAY_MS) - 1;
      const parts = await source.selectRows<{ partition: string }>(
        sql`SELECT DISTINCT partition FROM system.parts
WHERE database = ${source.database} AND table = ${RATE_COUNTS_TABLE} AND active = 1`,
      );
      for (const { partition } of parts) {
        const day = Number(partition);
        if (Number.isSafeInteger(day) && day < keepFrom) await source.runCommand(sql`ALTER TABLE ${counts} DROP PARTITION ${day}`);
      }
    },
  };
}
