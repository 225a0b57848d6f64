import type { LogEvent } from '../../domain/event.js';
import { toEventRow } from './schema.js';

/** Rows serialized between two turns of the event loop (about 1.5 ms of work). */
export const ROWS_PER_SLICE = 500;

/**
 * The JSONEachRow body of an insert of `events` (one row per line, stamped with `origin`),
 * made a slice of rows at a time with the event loop free between slices: a 5,000-event chunk
 * of the journal made in one go held the loop for 10-15 ms, and every request waited it out.
 */
export async function eachRowText(events: readonly LogEvent[], origin: string): Promise<string> {
  const parts: string[] = [];
  for (let from = 0; from < events.length; from += ROWS_PER_SLICE) {
    if (from > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    let text = '';
    for (let i = from; i < Math.min(events.length, from + ROWS_PER_SLICE); i++) {
      const row = toEventRow(events[i]!);
      row.origin = origin;
      text += JSON.stringify(row) + '\n';
    }
    parts.push(text);
  }
  return parts.join('');
}
