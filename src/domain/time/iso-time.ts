/*
 * ISO 8601 UTC text for epoch milliseconds, as `Date.prototype.toISOString` writes it, without
 * building a Date for each: every debt's JSON carries six or more instants, and a payment's
 * answer spent a tenth of its rendering in `new Date(ms).toISOString()`.
 *
 * - The part up to the second (`2026-12-08T02:04:26`) is kept in a small direct-mapped cache
 *   keyed by the epoch second; the milliseconds come from a table of the 1,000 suffixes.
 * - Instants outside years 1970-9999, and fractional milliseconds, go to the Date itself, so
 *   the text is always exactly `toISOString`'s (and invalid numbers throw as it does).
 */

const SLOTS = 1024;
const MAX_MS = 253_402_300_800_000; // 10000-01-01T00:00:00Z
const slotSeconds = new Float64Array(SLOTS).fill(-1);
const slotTexts: string[] = new Array<string>(SLOTS).fill('');
const MILLIS = Array.from({ length: 1000 }, (_, i) => `.${String(i).padStart(3, '0')}Z`);

/** `new Date(ms).toISOString()`, faster for the instants compter keeps (whole ms, 1970-9999). */
export function isoTime(ms: number): string {
  if (!(ms >= 0 && ms < MAX_MS) || !Number.isInteger(ms)) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  const slot = second & (SLOTS - 1);
  let text: string;
  if (slotSeconds[slot] === second) {
    text = slotTexts[slot]!;
  } else {
    text = new Date(second * 1000).toISOString().slice(0, 19);
    slotSeconds[slot] = second;
    slotTexts[slot] = text;
  }
  return text + MILLIS[ms - second * 1000]!;
}
