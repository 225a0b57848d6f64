/**
 * The history half of the SLO engine: an SLO's rows over a range of business dates, closed rows
 * as the log recorded them and open or future ones computed now.
 */
import { addDays, compareDates, daysBetween, isValidDate } from '../domain/time/civil-date.js';
import { DomainError, assertNoProblems, type Problem } from '../domain/problems.js';
import { computeRow, notScheduledRow } from '../domain/slos/slo-performance.js';
import { zonedParts } from '../domain/time/zoned-time.js';
import type { EventStore } from '../store/event-store.js';
import type { BusinessCalendar } from '../domain/time/calendar.js';
import type { SloDefinition } from '../domain/slos/slo.js';
import { foldRun, type JobRuns, type RunState } from './job-runs.js';
import { jobKeyOf, rowKeyOf, type ClosedRow, type SloContext, type SloState } from './slo-definitions.js';
import { MAX_HISTORY_DATES, closedRowOf, closedRowToRow, type OlderRuns, type SloRows } from './slo-rows.js';
import { rowJson, type PerformanceRowJson } from './slo-view.js';

/** The widest performance range one request may ask for, in days, and the most rows it may return. */
export const MAX_PERFORMANCE_DAYS = 400;
export const MAX_PERFORMANCE_ROWS = 10_000;
const DAY_MS = 86_400_000;
/** Dates the performance route answers for: day offsets and the walk past `to` stay inside the years 0000–9999. */
export const FIRST_DATE = '1970-01-01';
export const LAST_DATE = '9000-12-31';

/** Most `job.status` events read per job for one history (400 dates of a job that reruns a few times a day). */
const HISTORY_EVENTS_PER_JOB = 200_000;

/** Where an SLO's history starts and the runs older than the job-run index holds. */
export interface SloHistory {
  historyFrom: string | null;
  older: OlderRuns;
}

/**
 * Finds the start of an SLO's history and the runs it needs: `since` when the definition gives
 * one, else the first business date on which any of its jobs reported, never more than
 * MAX_HISTORY_DATES business dates before today (today not counted) and never after today
 * (null: no history). Runs on dates the job-run index no longer holds are read from the log,
 * one query per job, and only for jobs that had dates evicted.
 */
export async function loadHistory(
  store: EventStore,
  runs: JobRuns,
  def: SloDefinition,
  calendar: BusinessCalendar,
  today: string,
): Promise<SloHistory> {
  let bound = today;
  for (let i = 0; i < MAX_HISTORY_DATES; i++) bound = calendar.previousBusinessDay(bound) ?? bound;
  const older: OlderRuns = new Map();
  let first: string | null = null;
  const consider = (date: string): void => {
    if (compareDates(date, bound) >= 0 && compareDates(date, today) <= 0 && (first === null || date < first)) first = date;
  };
  for (const j of def.jobs) {
    const jobKey = jobKeyOf(def.project, j.application, j.job);
    for (const date of runs.jobs.get(jobKey)?.dates.keys() ?? []) consider(date);
    const oldest = runs.oldestDate(jobKey);
    if (oldest === null || runs.holdsDate(jobKey, addDays(oldest, -1)) || compareDates(oldest, bound) <= 0) continue;
    const events = await store.query({
      project: def.project,
      application: j.application,
      job: j.job,
      types: ['job.status'],
      fromTs: Date.parse(`${bound}T00:00:00Z`) - 2 * DAY_MS,
      toTs: Date.parse(`${oldest}T00:00:00Z`) + 40 * DAY_MS,
      limit: HISTORY_EVENTS_PER_JOB,
      order: 'asc',
    });
    const byDate = new Map<string, RunState[]>();
    for (const e of events) {
      if (compareDates(e.businessDate, bound) < 0 || compareDates(e.businessDate, oldest) >= 0) continue;
      let dateRuns = byDate.get(e.businessDate);
      if (!dateRuns) byDate.set(e.businessDate, (dateRuns = []));
      foldRun(dateRuns, e);
      consider(e.businessDate);
    }
    older.set(jobKey, byDate);
  }
  if (def.since !== undefined) return { historyFrom: compareDates(def.since, bound) < 0 ? bound : def.since, older };
  return { historyFrom: first, older };
}

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
    fromTs: state.historyFrom !== null ? fromTs : Math.max(fromTs, state.startsAt),
    toTs,
    limit: 4 * MAX_PERFORMANCE_ROWS,
    order: 'asc',
  });
  const closedInLog = new Map<string, ClosedRow>();
  for (const e of logged) {
    if (e.type !== 'slo.closed' || e.businessDate < from || e.businessDate > to) continue;
    if (state.generation !== null && e.eventId < state.generation) continue;
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
