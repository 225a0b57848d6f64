/**
 * Row settlement and prediction of the SLO engine: which rows a business date holds, which runs
 * belong to each, when a row is final and its `slo.closed` event, the row on show with its
 * predicted end, and when the timer must look again.
 */
import { addDays, compareDates, daysBetween } from '../domain/time/civil-date.js';
import { derivedEventId, eventIdTime } from '../domain/event-id.js';
import type { LogEvent, ProjectlessEventDraft, SloClosedEvent } from '../domain/event.js';
import type { RowExpectation } from '../domain/slos/slo-expectations.js';
import {
  attributeRuns,
  computeRow,
  nextChangeAt,
  outcomeOf,
  type JobRun,
  type PerformanceRow,
  type RowInput,
  type RowVerdict,
  type UpstreamRows,
} from '../domain/slos/slo-performance.js';
import { SLO_CLOSED_STATUSES, type SloMetricsView } from '../domain/slos/slo.js';
import { zonedParts } from '../domain/time/zoned-time.js';
import type { DeadlineTimer } from './deadline-timer.js';
import type { JobRuns, RunState } from './job-runs.js';
import {
  expectationsOn,
  jobKeyOf,
  keyOf,
  rowKeyOf,
  type ClosedRow,
  type SloContext,
  type SloDefinitions,
  type SloState,
} from './slo-definitions.js';

/** Business dates before today an SLO's history looks back over at most. */
export const MAX_HISTORY_DATES = 400;
/** Closed rows kept in memory beyond the open ones (the log holds them all). */
const CLOSED_ROWS_KEPT = 500;
/** The timer re-checks every SLO at least this often (new dates come into view). */
const MAX_WAKE_GAP_MS = 6 * 3_600_000;

/** Runs the job-run index no longer holds, read from the log: job key → business date → runs. */
export type OlderRuns = Map<string, Map<string, RunState[]>>;

export interface SloRowsDeps {
  defs: SloDefinitions;
  runs: JobRuns;
  wakes: DeadlineTimer;
  /** Makes a logged event of the project at `now`. */
  makeEvent(project: string, fields: ProjectlessEventDraft, now: number, eventId?: string): LogEvent;
  sloMetrics?: { update(view: SloMetricsView): void };
  p90DurationMs?: (project: string, application: string, job: string) => number | null;
  /** Maintenance windows; without them no row is excused. */
  maintenance?: SloMaintenanceLookup;
}

/** Whether a maintenance window of the project covers the SLO at an instant. */
export interface SloMaintenanceLookup {
  isSloInMaintenance(project: string, sloId: string, t: number): boolean;
}

/** Settles and shows the rows of every SLO from the definitions and the job-run index. */
export class SloRows {
  constructor(private readonly deps: SloRowsDeps) {}

  /**
   * Brings one SLO up to `now`: closes every row from the cursor to two days ahead that is final
   * (met, or past its slack), moves the cursor to the first row still open, updates its metrics
   * and schedules its next wake-up. Returns the `slo.closed` events (already applied). With
   * `older` (a definition computing its history) rows close as they would have at the time.
   */
  settle(state: SloState, now: number, older?: OlderRuns): LogEvent[] {
    const ctx = this.deps.defs.contextOf(state);
    const key = keyOf(state.def.project, state.def.id);
    if (!ctx) {
      this.deps.wakes.schedule(key, null);
      return [];
    }
    const calendar = ctx.entry.calendar;
    this.ensureCursor(state, ctx);
    const horizon = addDays(zonedParts(ctx.entry.def.tz, now).date, 2);
    const events: LogEvent[] = [];
    const open: { verdict: RowVerdict; input: RowInput }[] = [];
    let firstOpen: string | null = null;
    // ensureCursor has set it.
    const cursor = state.cursor ?? zonedParts(ctx.entry.def.tz, now).date;
    let date: string | null = calendar.isBusinessDay(cursor) ? cursor : calendar.nextBusinessDay(cursor);
    while (date !== null && compareDates(date, horizon) <= 0) {
      const rows = this.rowsOf(state, ctx, date);
      const runs = rows.length ? this.runsOfRows(state, date, rows, older) : [];
      for (let k = 0; k < rows.length; k++) {
        if (state.closed.has(rowKeyOf(date, rows[k]!.slot))) continue;
        const input = this.rowInput(state, ctx, rows[k]!, runs[k]!, now);
        const verdict = computeRow(input);
        if (verdict.isFinal) {
          events.push(this.close(state, verdict, now, older !== undefined));
        } else {
          firstOpen ??= date;
          open.push({ verdict, input });
        }
      }
      date = calendar.nextBusinessDay(date);
    }
    state.cursor = firstOpen ?? date ?? horizon;
    this.pruneClosed(state);

    // The row on show: the first open row that has begun; else the latest closed one (its
    // outcome stays visible until the next row begins); else the next row to come.
    const begun = open.find((o) => o.verdict.hasBegun);
    const latestClosed = begun ? undefined : latestClosedRow(state);
    const shown: PerformanceRow | null =
      begun?.verdict ?? (latestClosed ? closedRowToRow(state.def.id, latestClosed) : (open[0]?.verdict ?? null));
    this.deps.sloMetrics?.update({
      project: state.def.project,
      slo: state.def.id,
      application: state.def.application,
      deadlineAt: shown?.expectedEnd ?? null,
      latenessMs: state.lastLatenessMs,
      status: shown?.status ?? 'pending',
      predictedEndAt: shown?.predictedEnd ?? null,
      deliveries: { ...state.deliveries },
    });

    if (this.deps.wakes.isRunning) {
      let wakeAt = now + MAX_WAKE_GAP_MS;
      for (const o of open) {
        const at = nextChangeAt(o.input);
        if (at !== null && at < wakeAt) wakeAt = at;
      }
      this.deps.wakes.schedule(key, wakeAt);
    }
    return events;
  }

  /**
   * Closes the final rows of one business date a report touched (it may name a date the timer
   * does not look at yet, or one already behind it): an open row that became final closes; a
   * closed row whose outcome or actuals the report changed closes again, as it would have closed
   * at the time; a date behind the cursor whose row is no longer held closes again too.
   * Null when a job's runs of that date are no longer in the index: pass them as `older`.
   */
  settleDate(state: SloState, date: string, now: number, older?: OlderRuns): LogEvent[] | null {
    const ctx = this.deps.defs.contextOf(state);
    if (!ctx) return [];
    this.ensureCursor(state, ctx);
    if (!ctx.entry.calendar.isBusinessDay(date)) return [];
    if (state.firstDate !== null && compareDates(date, state.firstDate) < 0) return [];
    const isBehind = compareDates(date, state.cursor!) < 0;
    if (!older && this.unheldJobs(state, date).length > 0) return null;
    const rows = this.rowsOf(state, ctx, date);
    const runs = rows.length ? this.runsOfRows(state, date, rows, older) : [];
    const events: LogEvent[] = [];
    rows.forEach((row, k) => {
      const closed = state.closed.get(rowKeyOf(date, row.slot));
      const verdict = computeRow(this.rowInput(state, ctx, row, runs[k]!, now));
      if (!verdict.isFinal || (closed && isSameOutcome(closed, verdict))) return;
      events.push(this.close(state, verdict, now, closed !== undefined || isBehind));
    });
    return events;
  }

  /**
   * True when one of `dates` is a business date before the SLO's first row, not after today and
   * inside the look-back: its rows start earlier than they do now.
   */
  isBeforeHistory(state: SloState, dates: Iterable<string>, now: number): boolean {
    const ctx = this.deps.defs.contextOf(state);
    if (!ctx || state.def.since !== undefined) return false;
    this.ensureCursor(state, ctx);
    const today = zonedParts(ctx.entry.def.tz, now).date;
    // The look-back counts business days of the whole calendar, as loadHistory does.
    const calendar = this.deps.defs.calendars.get(keyOf(state.def.project, state.def.calendar))!.calendar;
    for (const date of dates) {
      if (compareDates(date, state.firstDate!) >= 0 || compareDates(date, today) > 0 || !ctx.entry.calendar.isBusinessDay(date)) continue;
      // Cheap bound first: 400 business dates never span more than 400 weeks.
      if (daysBetween(date, today) > 7 * MAX_HISTORY_DATES) continue;
      if (calendar.businessDayIndex(date, today) <= MAX_HISTORY_DATES) return true;
    }
    return false;
  }

  /** The SLO's jobs whose runs of that date the job-run index no longer holds. */
  unheldJobs(state: SloState, date: string): { application: string; job: string; jobKey: string }[] {
    return state.def.jobs
      .map((j) => ({ application: j.application, job: j.job, jobKey: jobKeyOf(state.def.project, j.application, j.job) }))
      .filter((j) => !this.deps.runs.holdsDate(j.jobKey, date));
  }

  /**
   * Folds a `slo.closed` event into its SLO's closed rows and deliveries. A later closing of the
   * same row (a late report changed it) replaces the earlier one and counts as a delivery too.
   */
  applyClosed(event: SloClosedEvent): void {
    const state = this.deps.defs.slos.get(keyOf(event.project, event.slo));
    if (!state) return;
    const row = closedRowOf(event);
    const key = rowKeyOf(row.businessDate, row.slot);
    state.closed.delete(key);
    state.closed.set(key, row);
    // An excused row is no delivery: it counts in no outcome and sets no lateness.
    if (row.status === 'excused') return;
    state.deliveries[row.status] = (state.deliveries[row.status] ?? 0) + 1;
    if (row.latenessMs !== null) state.lastLatenessMs = row.latenessMs;
  }

  /** The row on show (as in `settle`), computed without closing anything. */
  currentRow(state: SloState, ctx: SloContext, now: number): PerformanceRow | null {
    const calendar = ctx.entry.calendar;
    this.ensureCursor(state, ctx);
    const horizon = addDays(zonedParts(ctx.entry.def.tz, now).date, 2);
    let firstOpen: PerformanceRow | null = null;
    let date: string | null = calendar.isBusinessDay(state.cursor!) ? state.cursor! : calendar.nextBusinessDay(state.cursor!);
    while (date !== null && compareDates(date, horizon) <= 0) {
      const rows = this.rowsOf(state, ctx, date);
      const runs = rows.length ? this.runsOfRows(state, date, rows) : [];
      for (let k = 0; k < rows.length; k++) {
        if (state.closed.has(rowKeyOf(date, rows[k]!.slot))) continue;
        const verdict = computeRow(this.rowInput(state, ctx, rows[k]!, runs[k]!, now));
        if (verdict.hasBegun) return stripVerdict(verdict);
        firstOpen ??= stripVerdict(verdict);
      }
      date = calendar.nextBusinessDay(date);
    }
    const closed = latestClosedRow(state);
    return closed ? closedRowToRow(state.def.id, closed) : firstOpen;
  }

  /**
   * The inputs of one row's verdict: its expectation, the runs of each job and their p90
   * durations, whether a maintenance window covers its deadline, and its upstream rows.
   * `seen` holds the SLOs already on the way down a chain of `after` (a guard against cycles).
   */
  rowInput(
    state: SloState,
    ctx: SloContext,
    expectation: RowExpectation,
    runsByJob: readonly JobRun[][],
    now: number,
    seen?: ReadonlySet<string>,
  ): RowInput {
    const { project, id } = state.def;
    return {
      sloId: id,
      expectation,
      slackMs: state.def.slackMs,
      jobs: state.def.jobs.map((j, i) => ({
        runs: runsByJob[i]!,
        p90DurationMs:
          this.deps.p90DurationMs?.(project, j.application, j.job) ??
          this.deps.runs.p90Of(jobKeyOf(project, j.application, j.job), ctx.entry.calendar),
      })),
      now,
      isExcused: this.deps.maintenance?.isSloInMaintenance(project, id, expectation.expectedEnd) ?? false,
      upstream: state.def.after?.length ? this.upstreamRows(state, expectation, now, seen) : null,
    };
  }

  /**
   * What the upstream SLOs' rows of the same business date and slot tell a row: the latest end
   * of those that end (or are predicted to end) after their own expectedEnd, whether one of those
   * has begun, and which are past their deadline unmet. Upstreams that are not defined, have no
   * such row, or have no prediction yet tell nothing.
   */
  private upstreamRows(state: SloState, expectation: RowExpectation, now: number, seen?: ReadonlySet<string>): UpstreamRows {
    const out: UpstreamRows = { lateEndAt: null, hasLateBegun: false, blockedBy: [] };
    const path = new Set(seen);
    path.add(keyOf(state.def.project, state.def.id));
    const { businessDate: date, slot } = expectation;
    for (const id of state.def.after ?? []) {
      const key = keyOf(state.def.project, id);
      const upState = this.deps.defs.slos.get(key);
      const upCtx = upState && !path.has(key) ? this.deps.defs.contextOf(upState) : null;
      if (!upState || !upCtx) continue;
      const rows = this.rowsOf(upState, upCtx, date);
      const k = rows.findIndex((r) => r.slot === slot);
      if (k < 0) continue;
      const deadline = rows[k]!.expectedEnd;
      const closed = upState.closed.get(rowKeyOf(date, slot));
      let row: { actualEnd: number | null; predictedEnd: number | null; hasBegun: boolean };
      if (closed) {
        // Closed unmet, it has not delivered yet: what waits for it can start no earlier than now.
        row = { actualEnd: closed.actualEnd, predictedEnd: closed.actualEnd ?? now, hasBegun: true };
      } else {
        const runs = this.runsOfRows(upState, date, rows)[k]!;
        row = computeRow(this.rowInput(upState, upCtx, rows[k]!, runs, now, path));
      }
      if (row.actualEnd === null && now > deadline) out.blockedBy.push(id);
      const endAt = row.actualEnd ?? row.predictedEnd;
      if (endAt === null || endAt <= deadline) continue;
      if (out.lateEndAt === null || endAt > out.lateEndAt) out.lateEndAt = endAt;
      if (row.hasBegun) out.hasLateBegun = true;
    }
    return out;
  }

  /** The rows of a business date the SLO owns (none before it existed, none on non-business days). */
  rowsOf(state: SloState, ctx: SloContext, date: string): RowExpectation[] {
    if (!ctx.entry.calendar.isBusinessDay(date)) return [];
    if (state.historyFrom !== null && compareDates(date, state.historyFrom) >= 0) return expectationsOn(ctx, date);
    return expectationsOn(ctx, date).filter((r) => r.expectedEnd >= state.startsAt);
  }

  /** runs[k][i]: the runs of the SLO's job i that belong to row k of the date; `older` for dates the index no longer holds. */
  runsOfRows(state: SloState, date: string, rows: RowExpectation[], older?: OlderRuns): RunState[][][] {
    const out: RunState[][][] = rows.map(() => []);
    for (const j of state.def.jobs) {
      const jobKey = jobKeyOf(state.def.project, j.application, j.job);
      const held = this.deps.runs.holdsDate(jobKey, date);
      const runs = held || !older ? this.deps.runs.runsOn(jobKey, date) : (older.get(jobKey)?.get(date) ?? []);
      const split = state.def.within ? (attributeRuns(rows, runs) as RunState[][]) : [runs];
      rows.forEach((_, k) => out[k]!.push(split[k] ?? []));
    }
    return out;
  }

  /** Sets the cursor and the first date of an SLO that has none yet. */
  ensureCursor(state: SloState, ctx: SloContext): void {
    if (state.cursor !== null) return;
    const calendar = ctx.entry.calendar;
    // Day offsets reach up to 31 days, so a row of a date a month back may still lie ahead.
    let date: string | null = state.historyFrom ?? addDays(zonedParts(ctx.entry.def.tz, state.startsAt).date, -32);
    for (let i = 0; date !== null && i < 1000; i++) {
      if (calendar.isBusinessDay(date) && this.rowsOf(state, ctx, date).length > 0) break;
      date = calendar.nextBusinessDay(date);
    }
    state.cursor = date ?? zonedParts(ctx.entry.def.tz, state.startsAt).date;
    state.firstDate ??= state.cursor;
  }

  /** The earliest expectedEnd, over the SLOs that include the job, of the row a run at `runAt` belongs to. */
  earliestExpectedEnd(jobKey: string, businessDate: string, runAt: number): number | null {
    let earliest: number | null = null;
    for (const sloKey of this.deps.defs.slosOfJob(jobKey)) {
      const state = this.deps.defs.slos.get(sloKey);
      const ctx = state && this.deps.defs.contextOf(state);
      if (!state || !ctx || !ctx.entry.calendar.isBusinessDay(businessDate)) continue;
      const rows = expectationsOn(ctx, businessDate);
      const index = state.def.jobs.findIndex((j) => jobKeyOf(state.def.project, j.application, j.job) === jobKey);
      if (index < 0 || rows.length === 0) continue;
      const probe: JobRun = { runId: '', startedAt: runAt, endedAt: null, outcome: null };
      const k = state.def.within ? attributeRuns(rows, [probe]).findIndex((runs) => runs.length > 0) : 0;
      const end = rows[Math.max(0, k)]!.jobs[index]!.expectedEnd;
      if (earliest === null || end < earliest) earliest = end;
    }
    return earliest;
  }

  /**
   * Writes a final row as `slo.closed`: at `now` when met, at the end of its slack when missed or
   * failed. A row closed after the fact (`asAtTheTime`: history, a late report) is stamped when
   * it would have closed: its last success, or the end of its slack if that came first.
   */
  private close(state: SloState, verdict: RowVerdict, now: number, asAtTheTime: boolean): LogEvent {
    const outcome = outcomeOf(verdict);
    const closeAt = verdict.expectedEnd! + state.def.slackMs;
    const ts = verdict.actualEnd === null ? closeAt : asAtTheTime ? Math.min(verdict.actualEnd, closeAt) : now;
    const event = this.deps.makeEvent(
      state.def.project,
      {
        type: 'slo.closed',
        ts,
        slo: state.def.id,
        application: state.def.application,
        status: outcome,
        businessDate: verdict.businessDate,
        latenessMs: verdict.latenessMs,
        attributes: {
          slot: verdict.slot ?? '',
          expectedStart: verdict.expectedStart,
          expectedEnd: verdict.expectedEnd,
          actualStart: verdict.actualStart,
          actualEnd: verdict.actualEnd,
        },
      },
      now,
      closedRowId(
        state,
        verdict.businessDate,
        verdict.slot ?? '',
        outcome,
        verdict.actualEnd === null ? closeAt : Math.min(verdict.actualEnd, closeAt),
      ),
    );
    if (event.type === 'slo.closed') this.applyClosed(event);
    return event;
  }

  private pruneClosed(state: SloState): void {
    if (state.closed.size <= 2 * CLOSED_ROWS_KEPT) return;
    for (const [key, row] of state.closed) {
      if (state.closed.size <= CLOSED_ROWS_KEPT) break;
      if (compareDates(row.businessDate, state.cursor!) < 0) state.closed.delete(key);
    }
  }
}

/** A `slo.closed` event as a closed row; the one place that reads its attributes. */
export function closedRowOf(e: SloClosedEvent): ClosedRow {
  const a = e.attributes;
  // A status no version wrote (a damaged row) reads as the worst outcome rather than vanishing.
  const status = SLO_CLOSED_STATUSES.includes(e.status) ? e.status : 'missed';
  return {
    businessDate: e.businessDate,
    slot: a.slot ? a.slot : null,
    status,
    expectedStart: a.expectedStart ?? null,
    expectedEnd: a.expectedEnd ?? e.ts,
    actualStart: a.actualStart ?? null,
    actualEnd: a.actualEnd ?? null,
    latenessMs: e.latenessMs,
    closedAt: e.ts,
  };
}

/** A closed row as a performance row (its predicted end is its actual end). */
export function closedRowToRow(sloId: string, row: ClosedRow): PerformanceRow {
  return {
    sloId,
    businessDate: row.businessDate,
    slot: row.slot,
    expectedStart: row.expectedStart,
    expectedEnd: row.expectedEnd,
    actualStart: row.actualStart,
    actualEnd: row.actualEnd,
    status: row.status,
    latenessMs: row.latenessMs,
    predictedEnd: row.actualEnd,
  };
}

function isSameOutcome(closed: ClosedRow, verdict: RowVerdict): boolean {
  return closed.status === verdict.status && closed.actualStart === verdict.actualStart && closed.actualEnd === verdict.actualEnd;
}

function latestClosedRow(state: SloState): ClosedRow | undefined {
  let latest: ClosedRow | undefined;
  for (const row of state.closed.values()) if (!latest || row.expectedEnd > latest.expectedEnd) latest = row;
  return latest;
}

function stripVerdict(v: RowVerdict): PerformanceRow {
  const { hasBegun: _hasBegun, isFinal: _isFinal, ...row } = v;
  return row;
}

/**
 * Every instance's timer closes the same rows, so a row's closing has the same id on each and
 * the log holds it once. The id's time is when the row's outcome was settled (its last success
 * or the end of its slack), and never before the definition the row belongs to: the history
 * reads only closings after that definition's event.
 */
function closedRowId(state: SloState, businessDate: string, slot: string, outcome: string, settledAt: number): string {
  const atMs = state.generation === null ? settledAt : Math.max(settledAt, eventIdTime(state.generation) + 1);
  return derivedEventId(atMs, [state.def.project, state.def.id, 'slo.closed', state.generation ?? '', businessDate, slot, outcome]);
}
