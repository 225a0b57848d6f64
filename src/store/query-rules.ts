import type { EventQuery } from './event-store.js';

/**
 * What every adapter checks and derives from an `EventQuery` before it writes SQL, so both
 * refuse the same input with the same RangeError and filter on the same columns.
 */

/** Refuses (RangeError) a count that is not a safe integer of at least `min`. */
export function requireCount(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${String(value)}`);
}

/** Refuses (RangeError) a time bound that is not a finite number. */
export function requireFinite(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`${name} must be a finite number, got ${String(value)}`);
}

/** Refuses (RangeError) a malformed query; true when it matches nothing without asking the store. */
export function checkEventQuery(q: EventQuery): { matchesNothing: boolean } {
  requireCount('limit', q.limit, 0);
  if (q.order !== 'asc' && q.order !== 'desc') throw new RangeError(`order must be 'asc' or 'desc', got ${String(q.order)}`);
  if (q.fromTs !== undefined) requireFinite('fromTs', q.fromTs);
  if (q.toTs !== undefined) requireFinite('toTs', q.toTs);
  return { matchesNothing: q.limit === 0 || (q.types !== undefined && q.types.length === 0) };
}

/** The query's equality filters as (column, value) pairs, in the order adapters add them. */
export function entityFilters(q: EventQuery): Array<readonly [column: 'project' | 'debt' | 'slo' | 'application' | 'job', value: string]> {
  const filters: Array<readonly ['project' | 'debt' | 'slo' | 'application' | 'job', string]> = [['project', q.project]];
  if (q.debt !== undefined) filters.push(['debt', q.debt]);
  if (q.slo !== undefined) filters.push(['slo', q.slo]);
  if (q.application !== undefined) filters.push(['application', q.application]);
  if (q.job !== undefined) filters.push(['job', q.job]);
  return filters;
}
