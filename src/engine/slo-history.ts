/**
 * The history half of the SLO engine: an SLO's rows over a range of business dates, closed rows
 * as the log recorded them and open or future ones computed now.
 */
import { addDays, compareDates, daysBetween, isValidDate } from '../domain/time/civil-date.js';
import { DomainError, assertNoProblems, type Problem } from '../domain/problems.js';
import { computeRow, notScheduledRow } from '../domain/slos/slo-performance.js';
import { zonedParts } from '../domain/time/zoned-time.js';
import type { EventStore } from '../store/event-store.js';
import { rowKeyOf, type ClosedRow, type SloContext, type SloState } from './slo-definitions.js';
import { closedRowOf, closedRowToRow, type SloRows } from './slo-rows.js';
import { rowJson, type PerformanceRowJson } from './slo-view.js';

/** The widest performance range one request may ask for, in days, and the most rows it may return. */
export const MAX_PERFORMANCE_DAYS = 400;
export const MAX_PERFORMANCE_ROWS = 10_000;
const DAY_MS = 86_400_000;
/** Dates the performance route answers for: day offsets and the walk past `to` stay inside the years 0000–9999. */
export const FIRST_DATE = '1970-01-01';
export const LAST_DATE = '9000-12-31';

export interface HistoryDeps {
  store: EventStore;
  rows: SloRows;
}

/**
 * The rows of every calendar date from `from` to `to` (inclusive): closed rows as the log
 * recorded them, open and future rows computed now, `not_scheduled` for non-business dates.
 * Dates before the SLO's first row have none. Default range: the week up to today.
 */
export async function performanceRows(
  deps: HistoryDeps,
  state: SloState,
  ctx: SloContext,
  now: number,
  fromDate?: string,
  toDate?: string,
): Promise<PerformanceRowJson[]> {
  const id = state.def.id;
  const to = toDate ?? zonedParts(ctx.entry.def.tz, now).date;
  const from = fromDate ?? (isValidDate(to) ? addDays(to, -6) : to);
  const problems: Problem[] = [];
  for (const [name, value] of [
    ['from', from],
    ['to', to],
  ] as const) {
    if (!isValidDate(value)) problems.push({ path: `query.${name}`, message: 'must be a date YYYY-MM-DD' });
    else if (value < FIRST_DATE || value > LAST_DATE)
      problems.push({ path: `query.${name}`, message: `must lie between ${FIRST_DATE} and ${LAST_DATE}` });
  }
  if (problems.length === 0 && compareDates(to, from) < 0)
    problems.push({ path: 'query.to', message: `must not be before from (${from})` });
  if (problems.length === 0 && daysBetween(from, to) >= MAX_PERFORMANCE_DAYS)
    problems.push({ path: 'query.to', message: `the range may span at most ${MAX_PERFORMANCE_DAYS} days` });
  assertNoProblems(problems, 'invalid range');

  deps.rows.ensureCursor(state, ctx);
  const fromTs = Date.parse(`${from}T00:00:00Z`) - 8 * DAY_MS;
  const toTs = Date.parse(`${to}T00:00:00Z`) + 40 * DAY_MS;
  const logged = await deps.store.query({
    project: state.def.project,
    slo: id,
    types: ['slo.closed'],
    fromTs: Math.max(fromTs, state.startsAt),
    toTs,
    limit: 4 * MAX_PERFORMANCE_ROWS,
    order: 'asc',
  });
  const closedInLog = new Map<string, ClosedRow>();
  for (const e of logged) {
    if (e.type !== 'slo.closed' || e.businessDate < from || e.businessDate > to) continue;
    const row = closedRowOf(e);
    closedInLog.set(rowKeyOf(row.businessDate, row.slot), row);
  }
  const out: PerformanceRowJson[] = [];
  for (let date = from; compareDates(date, to) <= 0; date = addDays(date, 1)) {
    if (state.firstDate !== null && compareDates(date, state.firstDate) < 0) continue;
    if (!ctx.entry.calendar.isBusinessDay(date)) {
      out.push(rowJson(notScheduledRow(id, date)));
      continue;
    }
    const rows = deps.rows.rowsOf(state, ctx, date);
    const runs = rows.length ? deps.rows.runsOfRows(state, date, rows) : [];
    rows.forEach((row, k) => {
      const key = rowKeyOf(date, row.slot);
      const closed = state.closed.get(key) ?? closedInLog.get(key);
      out.push(rowJson(closed ? closedRowToRow(id, closed) : computeRow(deps.rows.rowInput(state, ctx, row, runs[k]!, now))));
    });
    if (out.length > MAX_PERFORMANCE_ROWS) {
      throw new DomainError('invalid', `the range holds more than ${MAX_PERFORMANCE_ROWS} rows; ask for fewer days`, [
        { path: 'query.to', message: `more than ${MAX_PERFORMANCE_ROWS} rows; ask for fewer days` },
      ]);
    }
  }
  return out;
}
