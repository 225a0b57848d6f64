import type { LogEvent } from '../../domain/event.js';

/**
 * Current ClickHouse refuses an INSERT block that touches more than 100 partitions (Code 252,
 * `max_partitions_per_insert_block`); 18.16 has no such limit and no such setting, so
 * raising it per insert is not portable. `events` is partitioned by UTC month, so a batch is
 * cut into blocks of at most this many months instead. Below the limit, so the setting may be
 * lowered by an operator a little without breaking the drain.
 */
export const MAX_MONTHS_PER_INSERT = 90;

/** The UTC month (`toYYYYMM(ts)`) an event's partition is named by. */
function monthOf(ts: number): number {
  const d = new Date(ts);
  return d.getUTCFullYear() * 100 + d.getUTCMonth() + 1;
}

/**
 * Cuts a batch into insert blocks of at most `maxMonths` distinct months each. A batch within
 * the limit (the usual case: live events are all in this month) is one block, unchanged; the
 * months of a larger one go to blocks in ascending order, each keeping the batch's order.
 */
export function insertBlocks<T extends Pick<LogEvent, 'ts'>>(events: readonly T[], maxMonths = MAX_MONTHS_PER_INSERT): T[][] {
  const byMonth = new Map<number, T[]>();
  for (const e of events) {
    const month = monthOf(e.ts);
    const group = byMonth.get(month);
    if (group) group.push(e);
    else byMonth.set(month, [e]);
  }
  if (byMonth.size <= maxMonths) return events.length ? [events.slice()] : [];
  const months = [...byMonth.keys()].sort((a, b) => a - b);
  const blocks: T[][] = [];
  for (let i = 0; i < months.length; i += maxMonths) blocks.push(months.slice(i, i + maxMonths).flatMap((m) => byMonth.get(m)!));
  return blocks;
}

/**
 * ClickHouse error codes that mean the rows themselves cannot be stored, so every retry fails
 * the same way: values the table cannot parse or hold. Server-side trouble (memory, too many
 * parts while merges lag, timeouts, a dropped connection) is not here: retrying fixes it.
 */
const ROW_ERROR_CODES = new Set([
  '6', // CANNOT_PARSE_TEXT
  '26', // CANNOT_PARSE_QUOTED_STRING
  '27', // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  '38', // CANNOT_PARSE_DATE
  '41', // CANNOT_PARSE_DATETIME
  '53', // TYPE_MISMATCH
  '69', // ARGUMENT_OUT_OF_BOUND
  '70', // CANNOT_CONVERT_TYPE
  '72', // CANNOT_PARSE_NUMBER
  '117', // INCORRECT_DATA
  '131', // TOO_LARGE_STRING_SIZE
]);

/**
 * True when an insert failed for a reason no retry can fix: the journal must then set the
 * batch (and, record by record, only its bad events) aside instead of blocking its drain.
 * Code 252 is both "too many parts" (merges lag: retry) and "too many partitions for a single
 * INSERT block" (the batch itself: never), so the message decides.
 */
export function isPermanentInsertError(err: unknown): boolean {
  if (isPartitionLimitError(err)) return true;
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code !== '252' && ROW_ERROR_CODES.has(code);
}

/** True for "too many partitions for a single INSERT block" (not "too many parts", the same code). */
export function isPartitionLimitError(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err as Error & { code?: unknown }).code === '252' &&
    /partitions for (a )?single INSERT block/i.test(err.message)
  );
}
