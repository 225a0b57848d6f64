import type { Logger } from 'pino';
import { BusinessCalendar, validateCalendarDefinition, type CalendarDefinition, type DayInfo } from '../domain/time/calendar.js';
import { addDays, compareDates, daysBetween, isValidDate } from '../domain/time/civil-date.js';
import type { Clock } from '../domain/time/clock.js';
import type { LogEvent } from '../domain/event.js';
import type { EventIdGenerator } from '../domain/event-id.js';
import type { JobMetricsView, JobStatusReport } from '../domain/slos/job-status.js';
import { DomainError, assertNoProblems, type Problem } from '../domain/problems.js';
import { compileSlo, type CompiledSlo, type RowExpectation } from '../domain/slos/slo-expectations.js';
import {
  attributeRuns,
  computeRow,
  nextChangeAt,
  notScheduledRow,
  outcomeOf,
  p90,
  type JobRun,
  type PerformanceRow,
  type RowInput,
  type RowVerdict,
} from '../domain/slos/slo-performance.js';
import { normalizeSloInput, SLO_OUTCOMES, type SloDefinition, type SloInput, type SloMetricsView, type SloOutcome } from '../domain/slos/slo.js';
import { zonedParts } from '../domain/time/zoned-time.js';
import type { EventStore } from '../store/event-store.js';
import type { EventSink } from './debt-engine.js';
import type { Projection } from './projection.js';
import type { LogPosition } from './rebuild.js';
import { makeLogEvent } from './event-factory.js';
import { rowJson, sloJson, type CalendarJson, type PerformanceRowJson, type SloJson } from './slo-view.js';
import { DeadlineTimer } from './deadline-timer.js';

/** Where the engine reports per-SLO metric changes. */
export interface SloMetricsSink {
  update(view: SloMetricsView): void;
  remove(project: string, slo: string): void;
}

/** Where the engine reports per-job metric changes. */
export interface JobMetricsSink {
  update(view: JobMetricsView): void;
}

export interface SloEngineDeps {
  clock: Clock;
  sink: EventSink;
  store: EventStore;
  logger: Logger;
  /** The generator the debt engine uses too, so ids stay strictly increasing across projections. */
  ids: EventIdGenerator;
  position: LogPosition;
  sloMetrics?: SloMetricsSink;
  jobMetrics?: JobMetricsSink;
  /**
   * The p90 duration the trend queries computed in the store (SPEC: predicted ends come from the
   * same statistics as the trends); null when they have none yet, and then the engine's own p90
   * of recent runs on the SLO's calendar stands in.
   */
  p90DurationMs?: (project: string, application: string, job: string) => number | null;
}

/** Business dates of runs kept per job: enough for trends' windows and the p90 of durations. */
export const RUN_DATES_PER_JOB = 60;
/** Most recent successful durations a p90 is taken over. */
const P90_SAMPLE = 50;
/** Closed rows kept in memory beyond the open ones (the log holds them all). */
const CLOSED_ROWS_KEPT = 500;
/** The widest performance range one request may ask for, in days, and the most rows it may return. */
export const MAX_PERFORMANCE_DAYS = 400;
export const MAX_PERFORMANCE_ROWS = 10_000;
/** The timer re-checks every SLO at least this often (new dates come into view). */
const MAX_WAKE_GAP_MS = 6 * 3_600_000;
const DAY_MS = 86_400_000;
/** Dates the performance route answers for: day offsets and the walk past `to` stay inside the years 0000–9999. */
const FIRST_DATE = '1970-01-01';
const LAST_DATE = '9000-12-31';

interface CalendarEntry {
  project: string;
  def: CalendarDefinition;
  calendar: BusinessCalendar;
  created: number;
  updated: number;
}

/** One run of a job on one business date, with the reports already seen (for idempotent resends). */
interface RunState extends JobRun {
  host: string;
  /** `${status}@${epoch ms}` of every report folded in. */
  seen: string[];
}

interface JobState {
  project: string;
  application: string;
  job: string;
  /** Business date → runs, the most recent RUN_DATES_PER_JOB dates. */
  dates: Map<string, RunState[]>;
  succeeded: number;
  failed: number;
  lastDurationMs: number | null;
  lastEndedAt: number | null;
  /** Bumped on every change; keys the p90 cache. */
  version: number;
}

interface ClosedRow {
  businessDate: string;
  slot: string | null;
  status: SloOutcome;
  expectedStart: number | null;
  expectedEnd: number;
  actualStart: number | null;
  actualEnd: number | null;
  latenessMs: number | null;
  closedAt: number;
}

interface SloState {
  def: SloDefinition;
  created: number;
  updated: number;
  /** Rows whose expectedEnd is before this are not the SLO's (it did not exist yet). */
  startsAt: number;
  /** The first business date with a row; set once the calendar is known. */
  firstDate: string | null;
  /** The earliest business date that may still have an open row; every row before it is closed. */
  cursor: string | null;
  /** Row key → closed row: every closed row from the cursor on, and the most recent others. */
  closed: Map<string, ClosedRow>;
  deliveries: Record<SloOutcome, number>;
  /** Lateness of the latest delivered (met) row. */
  lastLatenessMs: number | null;
}

/** What a computation about one SLO needs beside its state: its calendar and parsed times. */
interface SloContext {
  entry: CalendarEntry;
  compiled: CompiledSlo;
  /** Business date → its rows (before the startsAt filter). */
  rows: Map<string, RowExpectation[]>;
}

type SnapshotItem =
  | { kind: 'calendar'; project: string; def: CalendarDefinition; created: number; updated: number }
  | (Omit<SloState, 'closed'> & { kind: 'slo'; closed: [string, ClosedRow][] })
  | (Omit<JobState, 'dates' | 'version'> & { kind: 'job'; dates: [string, RunState[]][] });

function keyOf(project: string, id: string): string {
  return `${project}\u0000${id}`;
}

function jobKeyOf(project: string, application: string, job: string): string {
  return `${project}\u0000${application}\u0000${job}`;
}

function rowKeyOf(businessDate: string, slot: string | null): string {
  return slot === null ? businessDate : `${businessDate} ${slot}`;
}

function emptyDeliveries(): Record<SloOutcome, number> {
  return { on_time: 0, late: 0, missed: 0, failed: 0 };
}

/**
 * The jobs-and-SLOs front door of the engine (SPEC §3): business calendars, job runs by
 * business date, SLO definitions and their performance rows. Like the debt engine it decides
 * and applies synchronously and awaits only the durable write. A row closes — one `slo.closed`
 * event — when every job of it has succeeded (on_time / late), or when its slack ran out
 * (missed / failed); the timer wakes at the instants a row's status can change on its own.
 * Calendars are per project; `isBusinessDay` answers rrule debts too.
 */
export class SloEngine implements Projection {
  readonly section = 'slos';
  private readonly calendars = new Map<string, CalendarEntry>();
  private readonly slos = new Map<string, SloState>();
  private readonly jobs = new Map<string, JobState>();
  /** project + runId → the job and business date it was last seen with. */
  private readonly runIndex = new Map<string, { jobKey: string; businessDate: string }>();
  /** job key → keys of the SLOs that include it. */
  private readonly slosByJob = new Map<string, Set<string>>();
  private readonly contexts = new Map<string, SloContext>();
  private readonly p90Cache = new Map<string, { version: number; calendar: BusinessCalendar; value: number | null }>();
  /** Identity of each report being written → that write, so a resend arriving meanwhile can wait for it. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly wakes: DeadlineTimer;

  constructor(private readonly deps: SloEngineDeps) {
    this.wakes = new DeadlineTimer(deps.clock, () => void this.tick());
  }

  /** Numbers of calendars, SLOs and jobs held. */
  get sizes(): { calendars: number; slos: number; jobs: number } {
    return { calendars: this.calendars.size, slos: this.slos.size, jobs: this.jobs.size };
  }

  /* ---------------------------------------------------------------- projection */

  /** After replay: closes every row time settled while compter was down, exports metrics, starts the timer. */
  async begin(): Promise<void> {
    this.wakes.start();
    const now = this.deps.clock.now();
    const events: LogEvent[] = [];
    for (const state of this.slos.values()) events.push(...this.settle(state, now));
    for (const job of this.jobs.values()) this.deps.jobMetrics?.update(jobMetricsView(job));
    if (events.length) void this.commitInBackground(events);
  }

  /** Stops the timer. */
  stop(): void {
    this.wakes.stop();
  }

  /** Folds one logged event into the projection. */
  applyLogEvent(event: LogEvent): void {
    switch (event.type) {
      case 'calendar.defined':
        return this.applyCalendar(event);
      case 'slo.defined':
        return this.applySloDefined(event);
      case 'slo.deleted':
        return this.applySloDeleted(event);
      case 'slo.closed':
        return this.applySloClosed(event);
      case 'job.status':
        return this.applyJobStatus(event);
      default:
        return;
    }
  }

  /** Calendars first, then SLOs, then jobs: restore order does not matter, but reads well. */
  snapshotItems(): unknown[] {
    const items: SnapshotItem[] = [];
    for (const c of this.calendars.values())
      items.push({ kind: 'calendar', project: c.project, def: c.def, created: c.created, updated: c.updated });
    for (const s of this.slos.values()) items.push({ ...s, kind: 'slo', closed: [...s.closed] });
    for (const j of this.jobs.values()) {
      const { version: _version, dates, ...rest } = j;
      items.push({ ...rest, kind: 'job', dates: [...dates] });
    }
    return items;
  }

  restoreItems(items: unknown[]): void {
    for (const item of items as SnapshotItem[]) {
      if (item.kind === 'calendar') {
        this.calendars.set(keyOf(item.project, item.def.id), {
          project: item.project,
          def: item.def,
          calendar: new BusinessCalendar(item.def),
          created: item.created,
          updated: item.updated,
        });
      } else if (item.kind === 'slo') {
        const { kind: _kind, closed, ...rest } = item;
        const state: SloState = { ...rest, closed: new Map(closed) };
        this.slos.set(keyOf(state.def.project, state.def.id), state);
        this.indexSloJobs(state.def, true);
      } else {
        const { kind: _kind, dates, ...rest } = item;
        const job: JobState = { ...rest, dates: new Map(dates), version: 0 };
        const jobKey = jobKeyOf(job.project, job.application, job.job);
        this.jobs.set(jobKey, job);
        for (const [businessDate, runs] of job.dates) {
          for (const run of runs) if (run.runId) this.runIndex.set(keyOf(job.project, run.runId), { jobKey, businessDate });
        }
      }
    }
  }

  /* ---------------------------------------------------------------- calendars */

  /** True when `date` is a business day of the project's calendar; false for an unknown calendar. */
  isBusinessDay(project: string, calendarId: string, date: string): boolean {
    return this.calendars.get(keyOf(project, calendarId))?.calendar.isBusinessDay(date) ?? false;
  }

  /** True when the project has the calendar. */
  hasCalendar(project: string, calendarId: string): boolean {
    return this.calendars.has(keyOf(project, calendarId));
  }

  /** Creates or replaces a calendar; `created` tells which. */
  async defineCalendar(project: string, id: string, input: Record<string, unknown>): Promise<{ calendar: CalendarJson; created: boolean }> {
    const problems: Problem[] = [];
    if (input.id !== undefined && input.id !== id) problems.push({ path: 'id', message: `does not match the id in the URL ("${id}")` });
    const result = validateCalendarDefinition({ ...input, id });
    if (!result.ok) problems.push(...result.problems);
    assertNoProblems(problems, 'invalid calendar');
    const def = (result as { value: CalendarDefinition }).value;
    const key = keyOf(project, id);
    const existed = this.calendars.has(key);
    const now = this.deps.clock.now();
    const events = [this.makeEvent(project, { type: 'calendar.defined', ts: now, attributes: { calendar: id, definition: def } }, now)];
    this.applyLogEvent(events[0]!);
    // Business days changed: every SLO on this calendar re-reads its rows.
    for (const state of this.slos.values()) {
      if (state.def.project === project && state.def.calendar === id) events.push(...this.settle(state, now));
    }
    await this.commit(events);
    return { calendar: this.calendarJson(this.calendars.get(key)!), created: !existed };
  }

  /** Defines a calendar only when it is new or its definition differs (config applied at every start). */
  async defineCalendarIfChanged(project: string, id: string, input: Record<string, unknown>): Promise<boolean> {
    const existing = this.calendars.get(keyOf(project, id));
    if (existing) {
      const result = validateCalendarDefinition({ ...input, id });
      if (result.ok && JSON.stringify(result.value) === JSON.stringify(existing.def)) return false;
    }
    await this.defineCalendar(project, id, input);
    return true;
  }

  /** The calendar, or not_found. */
  getCalendar(project: string, id: string): CalendarJson {
    return this.calendarJson(this.requireCalendar(project, id));
  }

  /** Every date from `from` to `to` with whether it is a business day and why not. */
  calendarDays(project: string, id: string, from: string | undefined, to: string | undefined): DayInfo[] {
    const entry = this.requireCalendar(project, id);
    const today = zonedParts(entry.def.tz, this.deps.clock.now()).date;
    const first = from ?? today;
    const last = to ?? (isValidDate(first) && first < LAST_DATE ? addDays(first, 30) : first);
    return entry.calendar.days(first, last);
  }

  /* ---------------------------------------------------------------- job status */

  /**
   * Records job status reports, all or nothing: every problem of every report (the stateless
   * ones the caller found plus a runId already used by another job, a business date that cannot
   * be derived) refuses the whole request. A report identical to one already recorded
   * (application, job, runId, status, time, business date) is a resend: counted, not logged again.
   */
  async reportJobStatus(
    project: string,
    reports: readonly JobStatusReport[],
    problems: readonly Problem[] = [],
  ): Promise<{ accepted: number; duplicates: number }> {
    const now = this.deps.clock.now();
    const all = [...problems];
    const planned: { report: JobStatusReport; jobKey: string; businessDate: string; identity: string; isDuplicate: boolean }[] = [];
    const owners = new Map<string, string>();
    const batchDates = new Map<string, string>();
    const seenInBatch = new Set<string>();
    for (const report of reports) {
      const jobKey = jobKeyOf(project, report.application, report.job);
      const runKey = report.runId ? keyOf(project, report.runId) : null;
      const indexed = runKey ? this.runIndex.get(runKey) : undefined;
      const owner = runKey ? (owners.get(runKey) ?? indexed?.jobKey) : undefined;
      if (runKey && owner !== undefined && owner !== jobKey) {
        const [, application, job] = owner.split('\u0000');
        all.push({
          path: `${report.pathPrefix}runId`,
          message: `run "${report.runId}" already belongs to job ${application}/${job}; a rerun needs a new runId`,
        });
        continue;
      }
      const knownDate = runKey ? (batchDates.get(runKey) ?? (indexed?.jobKey === jobKey ? indexed.businessDate : undefined)) : undefined;
      const businessDate = report.businessDate ?? knownDate ?? this.deriveBusinessDate(project, jobKey, report.at);
      if (businessDate === null) {
        all.push({
          path: `${report.pathPrefix}businessDate`,
          message: `required: no SLO includes ${report.application}/${report.job}, so its business date cannot be derived`,
        });
        continue;
      }
      if (runKey) {
        owners.set(runKey, jobKey);
        batchDates.set(runKey, businessDate);
      }
      const seenKey = `${report.status}@${report.at}`;
      const identity = `${jobKey}\u0000${businessDate}\u0000${report.runId}\u0000${seenKey}`;
      const run = this.jobs
        .get(jobKey)
        ?.dates.get(businessDate)
        ?.find((r) => r.runId === report.runId);
      const isDuplicate = seenInBatch.has(identity) || (run?.seen.includes(seenKey) ?? false);
      seenInBatch.add(identity);
      planned.push({ report, jobKey, businessDate, identity, isDuplicate });
    }
    assertNoProblems(all, 'job status refused');

    const events: LogEvent[] = [];
    const touchedSlos = new Map<string, Set<string>>();
    const touchedJobs = new Set<string>();
    let duplicates = 0;
    const written: typeof planned = [];
    const originals: Promise<void>[] = [];
    for (const item of planned) {
      const { report, jobKey, businessDate, identity, isDuplicate } = item;
      if (isDuplicate) {
        duplicates++;
        const original = this.inFlight.get(identity);
        if (original) originals.push(original);
        continue;
      }
      written.push(item);
      const event = this.jobStatusEvent(project, report, jobKey, businessDate, now);
      this.applyLogEvent(event);
      events.push(event);
      touchedJobs.add(jobKey);
      for (const sloKey of this.slosByJob.get(jobKey) ?? []) {
        let dates = touchedSlos.get(sloKey);
        if (!dates) touchedSlos.set(sloKey, (dates = new Set()));
        dates.add(businessDate);
      }
    }
    for (const [sloKey, dates] of touchedSlos) {
      const state = this.slos.get(sloKey);
      if (!state) continue;
      // Dates beyond the timer's horizon (reported ahead) are closed here when met.
      for (const date of dates) events.push(...this.settleDate(state, date, now));
      events.push(...this.settle(state, now));
    }
    for (const jobKey of touchedJobs) this.deps.jobMetrics?.update(jobMetricsView(this.jobs.get(jobKey)!));
    const write = this.commit(events);
    for (const { identity } of written) this.inFlight.set(identity, write);
    try {
      await write;
    } catch (err) {
      // Not durable: the client's retry of these reports must be written, not taken for a resend.
      for (const { report, jobKey, businessDate } of written) {
        const seen = this.jobs
          .get(jobKey)
          ?.dates.get(businessDate)
          ?.find((r) => r.runId === report.runId)?.seen;
        const at = seen?.lastIndexOf(`${report.status}@${report.at}`) ?? -1;
        if (at >= 0) seen!.splice(at, 1);
      }
      throw err;
    } finally {
      for (const { identity } of written) if (this.inFlight.get(identity) === write) this.inFlight.delete(identity);
    }
    // A resend of a report whose first copy is still being written is durable only with it.
    await Promise.all(originals);
    return { accepted: written.length, duplicates };
  }

  /* ---------------------------------------------------------------- SLOs */

  /** Creates or replaces an SLO; `created` tells which. Its calendar must exist in the project. */
  async defineSlo(project: string, id: string, input: SloInput): Promise<{ slo: SloJson; created: boolean }> {
    const { definition, problems } = normalizeSloInput(input, { id, project });
    if (!this.calendars.has(keyOf(project, input.calendar))) {
      problems.push({
        path: 'calendar',
        message: `no calendar "${input.calendar}" in this project; define it first (PUT /v1/calendars/${input.calendar})`,
      });
    }
    assertNoProblems(problems, 'invalid SLO definition');
    const key = keyOf(project, id);
    const existed = this.slos.has(key);
    const now = this.deps.clock.now();
    const defined = this.makeEvent(project, { type: 'slo.defined', ts: now, slo: id, attributes: { definition } }, now);
    this.applyLogEvent(defined);
    const state = this.slos.get(key)!;
    const events = [defined, ...this.settle(state, now)];
    await this.commit(events);
    return { slo: this.sloJsonOf(state, now), created: !existed };
  }

  /** Defines an SLO only when it is new or its definition differs (config applied at every start). */
  async defineSloIfChanged(project: string, id: string, input: SloInput): Promise<boolean> {
    const existing = this.slos.get(keyOf(project, id));
    if (existing) {
      const { definition } = normalizeSloInput(input, { id, project });
      if (definition && JSON.stringify(definition) === JSON.stringify(existing.def)) return false;
    }
    await this.defineSlo(project, id, input);
    return true;
  }

  /** The SLO with its current row, or not_found. */
  getSlo(project: string, id: string): SloJson {
    return this.sloJsonOf(this.requireSlo(project, id), this.deps.clock.now());
  }

  /** Every SLO of a project, ordered by id. */
  listSlos(project: string): SloJson[] {
    const now = this.deps.clock.now();
    const out: SloJson[] = [];
    for (const state of this.slos.values()) if (state.def.project === project) out.push(this.sloJsonOf(state, now));
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Deletes an SLO; its history stays in the log. */
  async deleteSlo(project: string, id: string): Promise<void> {
    const state = this.requireSlo(project, id);
    const now = this.deps.clock.now();
    const event = this.makeEvent(project, { type: 'slo.deleted', ts: now, slo: id, attributes: { definition: state.def } }, now);
    this.applyLogEvent(event);
    await this.commit([event]);
  }

  /**
   * The rows of every calendar date from `from` to `to` (inclusive): closed rows as the log
   * recorded them, open and future rows computed now, `not_scheduled` for non-business dates.
   * Dates before the SLO existed have no rows. Default range: the week up to today.
   */
  async performance(project: string, id: string, fromDate?: string, toDate?: string): Promise<PerformanceRowJson[]> {
    const state = this.requireSlo(project, id);
    const ctx = this.contextOf(state);
    if (!ctx) throw new DomainError('not_found', `the calendar "${state.def.calendar}" of SLO "${id}" is gone`);
    const to = toDate ?? zonedParts(ctx.entry.def.tz, this.deps.clock.now()).date;
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

    const now = this.deps.clock.now();
    this.ensureCursor(state, ctx);
    const fromTs = Date.parse(`${from}T00:00:00Z`) - 8 * DAY_MS;
    const toTs = Date.parse(`${to}T00:00:00Z`) + 40 * DAY_MS;
    const logged = await this.deps.store.query({
      project,
      slo: id,
      types: ['slo.closed'],
      fromTs: Math.max(fromTs, state.startsAt),
      toTs,
      limit: 4 * MAX_PERFORMANCE_ROWS,
      order: 'asc',
    });
    const closedInLog = new Map<string, ClosedRow>();
    for (const e of logged) {
      if (e.businessDate < from || e.businessDate > to) continue;
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
      const rows = this.rowsOf(state, ctx, date);
      const runs = rows.length ? this.runsOfRows(state, date, rows) : [];
      rows.forEach((row, k) => {
        const key = rowKeyOf(date, row.slot);
        const closed = state.closed.get(key) ?? closedInLog.get(key);
        out.push(rowJson(closed ? closedRowToRow(id, closed) : computeRow(this.rowInput(state, ctx, row, runs[k]!, now))));
      });
      if (out.length > MAX_PERFORMANCE_ROWS) {
        throw new DomainError('invalid', `the range holds more than ${MAX_PERFORMANCE_ROWS} rows; ask for fewer days`, [
          { path: 'query.to', message: `more than ${MAX_PERFORMANCE_ROWS} rows; ask for fewer days` },
        ]);
      }
    }
    return out;
  }

  /* ---------------------------------------------------------------- timer */

  /** Settles every SLO whose wake-up is due; resolves when its events are written. */
  tick(): Promise<void> {
    const now = this.deps.clock.now();
    const events: LogEvent[] = [];
    for (const key of this.wakes.popDue(now)) {
      const state = this.slos.get(key);
      if (state) events.push(...this.settle(state, now));
    }
    return events.length ? this.commitInBackground(events) : Promise.resolve();
  }

  /* ---------------------------------------------------------------- rows */

  /**
   * Brings one SLO up to `now`: closes every row from the cursor to two days ahead that is final
   * (met, or past its slack), moves the cursor to the first row still open, updates its metrics
   * and schedules its next wake-up. Returns the `slo.closed` events (already applied).
   */
  private settle(state: SloState, now: number): LogEvent[] {
    const ctx = this.contextOf(state);
    const key = keyOf(state.def.project, state.def.id);
    if (!ctx) {
      this.wakes.schedule(key, null);
      return [];
    }
    const calendar = ctx.entry.calendar;
    this.ensureCursor(state, ctx);
    const horizon = addDays(zonedParts(ctx.entry.def.tz, now).date, 2);
    const events: LogEvent[] = [];
    const open: { verdict: RowVerdict; input: RowInput }[] = [];
    let firstOpen: string | null = null;
    let date: string | null = state.cursor!;
    if (!calendar.isBusinessDay(date)) date = calendar.nextBusinessDay(date);
    while (date !== null && compareDates(date, horizon) <= 0) {
      const rows = this.rowsOf(state, ctx, date);
      const runs = rows.length ? this.runsOfRows(state, date, rows) : [];
      for (let k = 0; k < rows.length; k++) {
        if (state.closed.has(rowKeyOf(date, rows[k]!.slot))) continue;
        const input = this.rowInput(state, ctx, rows[k]!, runs[k]!, now);
        const verdict = computeRow(input);
        if (verdict.isFinal) {
          events.push(this.close(state, verdict, now));
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

    if (this.wakes.isRunning) {
      let wakeAt = now + MAX_WAKE_GAP_MS;
      for (const o of open) {
        const at = nextChangeAt(o.input);
        if (at !== null && at < wakeAt) wakeAt = at;
      }
      this.wakes.schedule(key, wakeAt);
    }
    return events;
  }

  /** Closes the final rows of one business date (a report may name a date the timer does not look at yet). */
  private settleDate(state: SloState, date: string, now: number): LogEvent[] {
    const ctx = this.contextOf(state);
    if (!ctx) return [];
    this.ensureCursor(state, ctx);
    if (compareDates(date, state.cursor!) < 0 || !ctx.entry.calendar.isBusinessDay(date)) return [];
    const rows = this.rowsOf(state, ctx, date);
    const runs = rows.length ? this.runsOfRows(state, date, rows) : [];
    const events: LogEvent[] = [];
    rows.forEach((row, k) => {
      if (state.closed.has(rowKeyOf(date, row.slot))) return;
      const verdict = computeRow(this.rowInput(state, ctx, row, runs[k]!, now));
      if (verdict.isFinal) events.push(this.close(state, verdict, now));
    });
    return events;
  }

  /** Writes a final row as `slo.closed`: at `now` when met, at the end of its slack when missed or failed. */
  private close(state: SloState, verdict: RowVerdict, now: number): LogEvent {
    const outcome = outcomeOf(verdict);
    const isMet = verdict.actualEnd !== null;
    const ts = isMet ? now : verdict.expectedEnd! + state.def.slackMs;
    const event = this.makeEvent(
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
    );
    this.applyLogEvent(event);
    return event;
  }

  private rowInput(state: SloState, ctx: SloContext, expectation: RowExpectation, runsByJob: RunState[][], now: number): RowInput {
    return {
      sloId: state.def.id,
      expectation,
      slackMs: state.def.slackMs,
      jobs: state.def.jobs.map((j, i) => ({
        runs: runsByJob[i]!,
        p90DurationMs:
          this.deps.p90DurationMs?.(state.def.project, j.application, j.job) ??
          this.p90Of(jobKeyOf(state.def.project, j.application, j.job), ctx.entry.calendar),
      })),
      now,
    };
  }

  /** The rows of a business date the SLO owns (none before it existed, none on non-business days). */
  private rowsOf(state: SloState, ctx: SloContext, date: string): RowExpectation[] {
    if (!ctx.entry.calendar.isBusinessDay(date)) return [];
    return expectationsOn(ctx, date).filter((r) => r.expectedEnd >= state.startsAt);
  }

  /** runs[k][i]: the runs of the SLO's job i that belong to row k of the date. */
  private runsOfRows(state: SloState, date: string, rows: RowExpectation[]): RunState[][][] {
    const out: RunState[][][] = rows.map(() => []);
    for (const j of state.def.jobs) {
      const runs = this.jobs.get(jobKeyOf(state.def.project, j.application, j.job))?.dates.get(date) ?? [];
      const split = state.def.within ? (attributeRuns(rows, runs) as RunState[][]) : [runs];
      rows.forEach((_, k) => out[k]!.push(split[k] ?? []));
    }
    return out;
  }

  private ensureCursor(state: SloState, ctx: SloContext): void {
    if (state.cursor !== null) return;
    const calendar = ctx.entry.calendar;
    // Day offsets reach up to 31 days, so a row of a date a month back may still lie ahead.
    let date: string | null = addDays(zonedParts(ctx.entry.def.tz, state.startsAt).date, -32);
    for (let i = 0; date !== null && i < 1000; i++) {
      if (calendar.isBusinessDay(date) && this.rowsOf(state, ctx, date).length > 0) break;
      date = calendar.nextBusinessDay(date);
    }
    state.cursor = date ?? zonedParts(ctx.entry.def.tz, state.startsAt).date;
    state.firstDate ??= state.cursor;
  }

  private contextOf(state: SloState): SloContext | null {
    const entry = this.calendars.get(keyOf(state.def.project, state.def.calendar));
    if (!entry) return null;
    const key = keyOf(state.def.project, state.def.id);
    let ctx = this.contexts.get(key);
    if (!ctx || ctx.entry !== entry || ctx.compiled.def !== state.def) {
      ctx = { entry, compiled: compileSlo(state.def), rows: new Map() };
      this.contexts.set(key, ctx);
    }
    return ctx;
  }

  /** p90 of a job's recent successful durations on business dates of `calendar`. */
  private p90Of(jobKey: string, calendar: BusinessCalendar): number | null {
    const job = this.jobs.get(jobKey);
    if (!job) return null;
    const cacheKey = `${jobKey}\u0000${calendar.definition.id}`;
    const cached = this.p90Cache.get(cacheKey);
    if (cached && cached.version === job.version && cached.calendar === calendar) return cached.value;
    const durations: number[] = [];
    const dates = [...job.dates.keys()].sort();
    for (const date of dates) {
      if (!calendar.isBusinessDay(date)) continue;
      for (const run of job.dates.get(date)!) {
        if (run.outcome === 'succeed' && run.startedAt !== null && run.endedAt !== null && run.endedAt >= run.startedAt)
          durations.push(run.endedAt - run.startedAt);
      }
    }
    const value = p90(durations.slice(-P90_SAMPLE));
    this.p90Cache.set(cacheKey, { version: job.version, calendar, value });
    return value;
  }

  private pruneClosed(state: SloState): void {
    if (state.closed.size <= 2 * CLOSED_ROWS_KEPT) return;
    for (const [key, row] of state.closed) {
      if (state.closed.size <= CLOSED_ROWS_KEPT) break;
      if (compareDates(row.businessDate, state.cursor!) < 0) state.closed.delete(key);
    }
  }

  /* ---------------------------------------------------------------- job status helpers */

  /** The business date of a report without one: from the calendar of the first SLO (by id) that includes the job. */
  private deriveBusinessDate(project: string, jobKey: string, at: number): string | null {
    const keys = [...(this.slosByJob.get(jobKey) ?? [])].sort();
    for (const key of keys) {
      const state = this.slos.get(key);
      const entry = state && this.calendars.get(keyOf(project, state.def.calendar));
      if (entry) return entry.calendar.businessDateAt(at);
    }
    return null;
  }

  /**
   * The `job.status` event of a report: `duration_ms` when it ends a run whose start is known,
   * `lateness_ms` for a success against the earliest expectedEnd of the SLOs that include the job.
   */
  private jobStatusEvent(project: string, report: JobStatusReport, jobKey: string, businessDate: string, now: number): LogEvent {
    const run = this.jobs
      .get(jobKey)
      ?.dates.get(businessDate)
      ?.find((r) => r.runId === report.runId);
    const startedAt = run?.startedAt ?? null;
    const durationMs = report.status !== 'start' && startedAt !== null && report.at >= startedAt ? report.at - startedAt : null;
    let expectedEnd: number | null = null;
    if (report.status === 'succeed') expectedEnd = this.earliestExpectedEnd(jobKey, businessDate, startedAt ?? report.at);
    return this.makeEvent(
      project,
      {
        type: 'job.status',
        ts: report.at,
        application: report.application,
        job: report.job,
        status: report.status,
        runId: report.runId,
        host: report.host,
        businessDate,
        durationMs,
        latenessMs: expectedEnd === null ? null : report.at - expectedEnd,
        attributes: expectedEnd === null ? {} : { expectedEnd },
      },
      now,
    );
  }

  private earliestExpectedEnd(jobKey: string, businessDate: string, runAt: number): number | null {
    let earliest: number | null = null;
    for (const sloKey of this.slosByJob.get(jobKey) ?? []) {
      const state = this.slos.get(sloKey);
      const ctx = state && this.contextOf(state);
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

  /* ---------------------------------------------------------------- folds */

  private applyCalendar(event: LogEvent): void {
    const def = event.attributes.definition as CalendarDefinition;
    const key = keyOf(event.project, def.id);
    const existing = this.calendars.get(key);
    this.calendars.set(key, {
      project: event.project,
      def,
      calendar: new BusinessCalendar(def),
      created: existing?.created ?? event.ts,
      updated: event.ts,
    });
  }

  private applySloDefined(event: LogEvent): void {
    const def = event.attributes.definition as SloDefinition;
    const key = keyOf(event.project, def.id);
    const existing = this.slos.get(key);
    if (existing) {
      this.indexSloJobs(existing.def, false);
      existing.def = def;
      existing.updated = event.ts;
    } else {
      this.slos.set(key, {
        def,
        created: event.ts,
        updated: event.ts,
        startsAt: event.ts,
        firstDate: null,
        cursor: null,
        closed: new Map(),
        deliveries: emptyDeliveries(),
        lastLatenessMs: null,
      });
    }
    this.indexSloJobs(def, true);
  }

  private applySloDeleted(event: LogEvent): void {
    const key = keyOf(event.project, event.slo);
    const state = this.slos.get(key);
    if (!state) return;
    this.indexSloJobs(state.def, false);
    this.slos.delete(key);
    this.contexts.delete(key);
    this.wakes.remove(key);
    this.deps.sloMetrics?.remove(event.project, event.slo);
  }

  private applySloClosed(event: LogEvent): void {
    const state = this.slos.get(keyOf(event.project, event.slo));
    if (!state) return;
    const row = closedRowOf(event);
    const key = rowKeyOf(row.businessDate, row.slot);
    if (state.closed.has(key)) return;
    state.closed.set(key, row);
    state.deliveries[row.status] = (state.deliveries[row.status] ?? 0) + 1;
    if (row.latenessMs !== null) state.lastLatenessMs = row.latenessMs;
  }

  private applyJobStatus(event: LogEvent): void {
    const jobKey = jobKeyOf(event.project, event.application, event.job);
    let job = this.jobs.get(jobKey);
    if (!job) {
      job = {
        project: event.project,
        application: event.application,
        job: event.job,
        dates: new Map(),
        succeeded: 0,
        failed: 0,
        lastDurationMs: null,
        lastEndedAt: null,
        version: 0,
      };
      this.jobs.set(jobKey, job);
    }
    const at = event.ts;
    let runs = job.dates.get(event.businessDate);
    if (!runs) {
      runs = [];
      job.dates.set(event.businessDate, runs);
      this.evictOldDates(job, jobKey);
    }
    let run = runs.find((r) => r.runId === event.runId);
    if (!run) {
      run = { runId: event.runId, startedAt: null, endedAt: null, outcome: null, host: event.host, seen: [] };
      runs.push(run);
    }
    run.seen.push(`${event.status}@${at}`);
    if (event.host) run.host = event.host;
    if (event.status === 'start') {
      if (run.endedAt !== null && at > run.endedAt) {
        // A new attempt under the same run id (an anonymous run rerun after it ended).
        run.startedAt = at;
        run.endedAt = null;
        run.outcome = null;
      } else if (run.startedAt === null || at < run.startedAt) {
        run.startedAt = at;
      }
    } else if (event.status === 'succeed' || event.status === 'fail') {
      if (run.endedAt === null || at >= run.endedAt) {
        run.endedAt = at;
        run.outcome = event.status;
      }
      if (event.status === 'succeed') job.succeeded++;
      else job.failed++;
      if (event.durationMs !== null && (job.lastEndedAt === null || at >= job.lastEndedAt)) {
        job.lastDurationMs = event.durationMs;
        job.lastEndedAt = at;
      }
    }
    // A date older than every kept one is evicted at once; its runs are not indexed then.
    if (event.runId && job.dates.get(event.businessDate) === runs)
      this.runIndex.set(keyOf(event.project, event.runId), { jobKey, businessDate: event.businessDate });
    job.version++;
  }

  private evictOldDates(job: JobState, jobKey: string): void {
    if (job.dates.size <= RUN_DATES_PER_JOB) return;
    const oldest = [...job.dates.keys()].sort()[0]!;
    for (const run of job.dates.get(oldest)!) {
      const runKey = keyOf(job.project, run.runId);
      const indexed = this.runIndex.get(runKey);
      if (run.runId && indexed?.jobKey === jobKey && indexed.businessDate === oldest) this.runIndex.delete(runKey);
    }
    job.dates.delete(oldest);
  }

  private indexSloJobs(def: SloDefinition, add: boolean): void {
    const sloKey = keyOf(def.project, def.id);
    for (const j of def.jobs) {
      const jobKey = jobKeyOf(def.project, j.application, j.job);
      let set = this.slosByJob.get(jobKey);
      if (add) {
        if (!set) this.slosByJob.set(jobKey, (set = new Set()));
        set.add(sloKey);
      } else if (set) {
        set.delete(sloKey);
        if (set.size === 0) this.slosByJob.delete(jobKey);
      }
    }
  }

  /* ---------------------------------------------------------------- plumbing */

  private sloJsonOf(state: SloState, now: number): SloJson {
    const ctx = this.contextOf(state);
    let current: PerformanceRow | null = null;
    if (ctx) {
      this.ensureCursor(state, ctx);
      current = this.currentRow(state, ctx, now);
    }
    return sloJson(state.def, state, current, state.deliveries);
  }

  /** The row on show (as in `settle`), computed without closing anything. */
  private currentRow(state: SloState, ctx: SloContext, now: number): PerformanceRow | null {
    const calendar = ctx.entry.calendar;
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

  private calendarJson(entry: CalendarEntry): CalendarJson {
    return {
      ...entry.def,
      project: entry.project,
      created: new Date(entry.created).toISOString(),
      updated: new Date(entry.updated).toISOString(),
    };
  }

  private requireCalendar(project: string, id: string): CalendarEntry {
    const entry = this.calendars.get(keyOf(project, id));
    if (!entry) throw new DomainError('not_found', `no calendar "${id}"`);
    return entry;
  }

  private requireSlo(project: string, id: string): SloState {
    const state = this.slos.get(keyOf(project, id));
    if (!state) throw new DomainError('not_found', `no SLO "${id}"`);
    return state;
  }

  private makeEvent(project: string, fields: Partial<LogEvent> & Pick<LogEvent, 'type' | 'ts'>, now: number): LogEvent {
    return makeLogEvent(this.deps.ids, this.deps.position, { ...fields, project }, now);
  }

  private async commit(events: LogEvent[]): Promise<void> {
    if (events.length) await this.deps.sink.write(events);
  }

  private async commitInBackground(events: LogEvent[]): Promise<void> {
    try {
      await this.deps.sink.write(events);
    } catch (err) {
      // A missed row is re-derived from the calendar and the runs on the next start.
      this.deps.logger.error({ err, events: events.length }, 'could not write time-driven SLO events');
    }
  }
}

/** A business date's rows before the startsAt filter, memoized per SLO context. */
function expectationsOn(ctx: SloContext, date: string): RowExpectation[] {
  let rows = ctx.rows.get(date);
  if (!rows) {
    rows = ctx.compiled.rowsOn(ctx.entry.def.tz, date);
    if (ctx.rows.size >= 1000) ctx.rows.clear();
    ctx.rows.set(date, rows);
  }
  return rows;
}

function jobMetricsView(job: JobState): JobMetricsView {
  return {
    project: job.project,
    application: job.application,
    job: job.job,
    succeeded: job.succeeded,
    failed: job.failed,
    lastDurationMs: job.lastDurationMs,
  };
}

function closedRowOf(e: LogEvent): ClosedRow {
  const a = e.attributes;
  const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
  const status = (SLO_OUTCOMES as readonly string[]).includes(e.status) ? (e.status as SloOutcome) : 'missed';
  return {
    businessDate: e.businessDate,
    slot: typeof a.slot === 'string' && a.slot !== '' ? a.slot : null,
    status,
    expectedStart: num(a.expectedStart),
    expectedEnd: num(a.expectedEnd) ?? e.ts,
    actualStart: num(a.actualStart),
    actualEnd: num(a.actualEnd),
    latenessMs: e.latenessMs,
    closedAt: e.ts,
  };
}

function closedRowToRow(sloId: string, row: ClosedRow): PerformanceRow {
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

function latestClosedRow(state: SloState): ClosedRow | undefined {
  let latest: ClosedRow | undefined;
  for (const row of state.closed.values()) if (!latest || row.expectedEnd > latest.expectedEnd) latest = row;
  return latest;
}

function stripVerdict(v: RowVerdict): PerformanceRow {
  const { hasBegun: _hasBegun, isFinal: _isFinal, ...row } = v;
  return row;
}
