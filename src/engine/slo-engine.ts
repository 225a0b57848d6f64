import type { Logger } from 'pino';
import { validateCalendarDefinition, type CalendarDefinition, type DayInfo } from '../domain/time/calendar.js';
import { addDays, isValidDate } from '../domain/time/civil-date.js';
import type { Clock } from '../domain/time/clock.js';
import type { LogEvent, ProjectlessEventDraft } from '../domain/event.js';
import type { EventIdGenerator } from '../domain/event-id.js';
import type { JobMetricsView, JobStatusReport } from '../domain/slos/job-status.js';
import { DomainError, assertNoProblems, type Problem } from '../domain/problems.js';
import { normalizeSloInput, type SloDefinition, type SloInput, type SloMetricsView } from '../domain/slos/slo.js';
import { zonedParts } from '../domain/time/zoned-time.js';
import type { EventStore } from '../store/event-store.js';
import type { EventSink } from './debt-engine.js';
import { BackgroundWrites } from './background-writes.js';
import type { Projection } from './projection.js';
import type { LogPosition } from './rebuild.js';
import { makeLogEvent } from './event-factory.js';
import { sloJson, type CalendarJson, type PerformanceRowJson, type SloJson } from './slo-view.js';
import { DeadlineTimer } from './deadline-timer.js';
import { JobRuns, foldRun, jobMetricsView, type JobState, type PlannedReport, type RunState } from './job-runs.js';
import { SloDefinitions, calendarJson, jobKeyOf, keyOf, type ClosedRow, type SloState } from './slo-definitions.js';
import { LAST_DATE, loadHistory, performanceRows } from './slo-history.js';
import { SloRows, type SloMaintenanceLookup } from './slo-rows.js';

export { RUN_DATES_PER_JOB } from './job-runs.js';
export { MAX_PERFORMANCE_DAYS, MAX_PERFORMANCE_ROWS } from './slo-history.js';

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
   * The p90 duration the trend queries computed in the store (predicted ends come from the
   * same statistics as the trends); null when they have none yet, and then the engine's own p90
   * of recent runs on the SLO's calendar stands in.
   */
  p90DurationMs?: (project: string, application: string, job: string) => number | null;
  /** Maintenance windows: a row whose deadline falls inside one over its SLO is excused. */
  maintenance?: SloMaintenanceLookup;
}

type SnapshotItem =
  | { kind: 'calendar'; project: string; def: CalendarDefinition; created: number; updated: number }
  | (Omit<SloState, 'closed'> & { kind: 'slo'; closed: [string, ClosedRow][] })
  | (Omit<JobState, 'dates' | 'version'> & { kind: 'job'; dates: [string, RunState[]][] });

/**
 * The jobs-and-SLOs front door of the engine (docs/semantics.md): business calendars, job runs
 * by business date, SLO definitions and their performance rows. Like the debt engine it decides
 * and applies synchronously and awaits only the durable write. A row closes — one `slo.closed`
 * event — when every job of it has succeeded (on_time / late), or when its slack ran out
 * (missed / failed); the timer wakes at the instants a row's status can change on its own.
 * Calendars are per project; `isBusinessDay` answers rrule debts too. The parts live beside it:
 * slo-definitions.ts (calendars, SLOs), job-runs.ts (the run index), slo-rows.ts (settlement,
 * prediction), slo-history.ts (rows over a range of dates).
 */
export class SloEngine implements Projection {
  readonly section = 'slos';
  private readonly defs = new SloDefinitions();
  private readonly runs = new JobRuns();
  private readonly rows: SloRows;
  /** Identity of each report being written → that write, so a resend arriving meanwhile can wait for it. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly wakes: DeadlineTimer;
  /** SLOs another instance's events touched since the last settle of them (applyRemoteEvent). */
  private readonly remoteTouched = new Set<string>();
  private readonly background: BackgroundWrites;

  constructor(private readonly deps: SloEngineDeps) {
    this.wakes = new DeadlineTimer(deps.clock, () => void this.tick());
    // A missed row is re-derived from the calendar and the runs on the next start.
    this.background = new BackgroundWrites(deps.sink, deps.logger, 'could not write time-driven SLO events');
    this.rows = new SloRows({
      defs: this.defs,
      runs: this.runs,
      wakes: this.wakes,
      makeEvent: (project, fields, now, eventId) => this.makeEvent(project, fields, now, eventId),
      sloMetrics: deps.sloMetrics,
      p90DurationMs: deps.p90DurationMs,
      maintenance: deps.maintenance,
    });
  }

  /** Numbers of calendars, SLOs and jobs held. */
  get sizes(): { calendars: number; slos: number; jobs: number } {
    return { calendars: this.defs.calendars.size, slos: this.defs.slos.size, jobs: this.runs.jobs.size };
  }

  /* ---------------------------------------------------------------- projection */

  /** After replay: closes every row time settled while compter was down, exports metrics, starts the timer. */
  begin(): Promise<void> {
    this.wakes.start();
    const now = this.deps.clock.now();
    const events: LogEvent[] = [];
    for (const state of this.defs.slos.values()) events.push(...this.rows.settle(state, now));
    for (const job of this.runs.jobs.values()) this.deps.jobMetrics?.update(jobMetricsView(job));
    if (events.length) void this.background.write(events);
    return Promise.resolve();
  }

  /** Stops the timer. */
  stop(): void {
    this.wakes.stop();
  }

  /**
   * Folds in an event another instance wrote (the log tail), while running: the SLOs it touches
   * (and those that wait for them) settle once the poll's events are all applied, so their
   * metrics and wake-ups follow here too. Rows they close carry derived ids, as everywhere.
   */
  applyRemoteEvent(event: LogEvent): void {
    this.applyLogEvent(event);
    if (!this.wakes.isRunning) return;
    const touched = this.sloKeysTouchedBy(event);
    if (touched.length === 0) return;
    if (this.remoteTouched.size === 0) setImmediate(() => this.settleRemoteTouched());
    for (const key of touched) this.remoteTouched.add(key);
    if (event.type === 'job.status') {
      const job = this.runs.jobs.get(jobKeyOf(event.project, event.application, event.job));
      if (job) this.deps.jobMetrics?.update(jobMetricsView(job));
    }
  }

  private sloKeysTouchedBy(event: LogEvent): string[] {
    switch (event.type) {
      case 'slo.defined':
      case 'slo.closed':
        return [keyOf(event.project, event.slo)];
      case 'job.status':
        return [...this.defs.slosOfJob(jobKeyOf(event.project, event.application, event.job))];
      case 'calendar.defined':
        return [...this.defs.slos.values()].filter((s) => s.def.project === event.project).map((s) => keyOf(s.def.project, s.def.id));
      default:
        return [];
    }
  }

  private settleRemoteTouched(): void {
    const states = [...this.remoteTouched].map((key) => this.defs.slos.get(key)).filter((state) => state !== undefined);
    this.remoteTouched.clear();
    const now = this.deps.clock.now();
    const events: LogEvent[] = [];
    for (const state of [...states, ...this.defs.dependentsOf(states)]) events.push(...this.rows.settle(state, now));
    if (events.length) void this.background.write(events);
  }

  /** Folds one logged event into the projection. */
  applyLogEvent(event: LogEvent): void {
    switch (event.type) {
      case 'calendar.defined':
        return this.defs.applyCalendar(event);
      case 'slo.defined':
        this.defs.applySloDefined(event);
        return;
      case 'slo.deleted':
        if (this.defs.applySloDeleted(event)) {
          this.wakes.remove(keyOf(event.project, event.slo));
          this.deps.sloMetrics?.remove(event.project, event.slo);
        }
        return;
      case 'slo.closed':
        return this.rows.applyClosed(event);
      case 'job.status':
        this.runs.apply(event);
        return;
      default:
        return;
    }
  }

  /** Calendars first, then SLOs, then jobs: restore order does not matter, but reads well. */
  snapshotItems(): unknown[] {
    const items: SnapshotItem[] = [];
    for (const c of this.defs.calendars.values())
      items.push({ kind: 'calendar', project: c.project, def: c.def, created: c.created, updated: c.updated });
    for (const s of this.defs.slos.values()) items.push({ ...s, kind: 'slo', closed: [...s.closed] });
    for (const j of this.runs.jobs.values()) {
      const { version: _version, dates, ...rest } = j;
      items.push({ ...rest, kind: 'job', dates: [...dates] });
    }
    return items;
  }

  restoreItems(items: unknown[]): void {
    for (const item of items as SnapshotItem[]) {
      if (item.kind === 'calendar') {
        this.defs.restoreCalendar(item.project, item.def, item.created, item.updated);
      } else if (item.kind === 'slo') {
        const { kind: _kind, closed, ...rest } = item;
        this.defs.restoreSlo({ ...rest, closed: new Map(closed) });
      } else {
        const { kind: _kind, dates, ...rest } = item;
        this.runs.restore({ ...rest, dates: new Map(dates), version: 0 });
      }
    }
  }

  /* ---------------------------------------------------------------- calendars */

  /** True when `date` is a business day of the project's calendar; false for an unknown calendar. */
  isBusinessDay(project: string, calendarId: string, date: string): boolean {
    return this.defs.calendars.get(keyOf(project, calendarId))?.calendar.isBusinessDay(date) ?? false;
  }

  /** True when the project has the calendar. */
  hasCalendar(project: string, calendarId: string): boolean {
    return this.defs.calendars.has(keyOf(project, calendarId));
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
    const existed = this.defs.calendars.has(key);
    const now = this.deps.clock.now();
    const events = [this.makeEvent(project, { type: 'calendar.defined', ts: now, attributes: { calendar: id, definition: def } }, now)];
    this.applyLogEvent(events[0]!);
    // Business days changed: every SLO on this calendar re-reads its rows, and what waits for them.
    const onCalendar = [...this.defs.slos.values()].filter((s) => s.def.project === project && s.def.calendar === id);
    events.push(...this.settleWithDependents(onCalendar, now));
    await this.commit(events);
    return { calendar: calendarJson(this.defs.calendars.get(key)!), created: !existed };
  }

  /** Defines a calendar only when it is new or its definition differs (config applied at every start). */
  async defineCalendarIfChanged(project: string, id: string, input: Record<string, unknown>): Promise<boolean> {
    const existing = this.defs.calendars.get(keyOf(project, id));
    if (existing) {
      const result = validateCalendarDefinition({ ...input, id });
      if (result.ok && JSON.stringify(result.value) === JSON.stringify(existing.def)) return false;
    }
    await this.defineCalendar(project, id, input);
    return true;
  }

  /** The calendar, or not_found. */
  getCalendar(project: string, id: string): CalendarJson {
    return calendarJson(this.defs.requireCalendar(project, id));
  }

  /** Every date from `from` to `to` with whether it is a business day and why not. */
  calendarDays(project: string, id: string, from: string | undefined, to: string | undefined): DayInfo[] {
    const entry = this.defs.requireCalendar(project, id);
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
    const plan = this.runs.plan(project, reports, (jobKey, at) => this.deriveBusinessDate(project, jobKey, at));
    assertNoProblems([...problems, ...plan.problems], 'job status refused');

    const events: LogEvent[] = [];
    const touchedSlos = new Map<string, Set<string>>();
    const touchedJobs = new Set<string>();
    let duplicates = 0;
    const written: PlannedReport[] = [];
    const originals: Promise<void>[] = [];
    const fromLog: { state: SloState; date: string }[] = [];
    const earlier = new Set<SloState>();
    for (const item of plan.planned) {
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
      for (const sloKey of this.defs.slosOfJob(jobKey)) {
        let dates = touchedSlos.get(sloKey);
        if (!dates) touchedSlos.set(sloKey, (dates = new Set()));
        dates.add(businessDate);
      }
    }
    for (const [sloKey, dates] of touchedSlos) {
      const state = this.defs.slos.get(sloKey);
      if (!state) continue;
      // Dates beyond the timer's horizon (reported ahead) are closed here when met, and dates
      // behind it re-close when the report changed them.
      if (this.rows.isBeforeHistory(state, dates, now)) earlier.add(state);
      for (const date of dates) {
        const closings = this.rows.settleDate(state, date, now);
        if (closings) events.push(...closings);
        else fromLog.push({ state, date });
      }
      events.push(...this.rows.settle(state, now));
    }
    // Rows that wait for the touched ones (`after`) predict from theirs.
    const touched = [...touchedSlos.keys()].map((key) => this.defs.slos.get(key)).filter((state) => state !== undefined);
    for (const state of this.defs.dependentsOf(touched)) events.push(...this.rows.settle(state, now));
    for (const jobKey of touchedJobs) this.deps.jobMetrics?.update(jobMetricsView(this.runs.jobs.get(jobKey)!));
    const write = this.commit(events);
    for (const { identity } of written) this.inFlight.set(identity, write);
    try {
      await write;
    } catch (err) {
      // Not durable: the client's retry of these reports must be written, not taken for a resend.
      for (const item of written) this.runs.unsee(item);
      throw err;
    } finally {
      for (const { identity } of written) if (this.inFlight.get(identity) === write) this.inFlight.delete(identity);
    }
    if (fromLog.length) void this.resettleFromLog(fromLog);
    for (const state of earlier) void this.extendHistory(state);
    // A resend of a report whose first copy is still being written is durable only with it.
    await Promise.all(originals);
    return { accepted: written.length, duplicates };
  }

  /* ---------------------------------------------------------------- SLOs */

  /** Creates or replaces an SLO; `created` tells which. Its calendar must exist in the project. */
  async defineSlo(project: string, id: string, input: SloInput): Promise<{ slo: SloJson; created: boolean }> {
    const { definition, problems } = normalizeSloInput(input, { id, project });
    if (!this.defs.calendars.has(keyOf(project, input.calendar))) {
      problems.push({
        path: 'calendar',
        message: `no calendar "${input.calendar}" in this project; define it first (PUT /v1/calendars/${input.calendar})`,
      });
    }
    const cycle = definition ? this.defs.cycleProblem(definition) : undefined;
    if (cycle) problems.push(cycle);
    assertNoProblems(problems, 'invalid SLO definition');
    const existed = this.defs.slos.has(keyOf(project, id));
    const state = await this.recompute(definition!);
    return { slo: this.sloJsonOf(state, this.deps.clock.now()), created: !existed };
  }

  /**
   * Writes `slo.defined` for a definition with the start of its history and closes every row
   * that is final, as it would have closed: the rows are derived from the job-status log, so a
   * definition covers the past too.
   */
  private async recompute(definition: SloDefinition): Promise<SloState> {
    const { project, id } = definition;
    const entry = this.defs.calendars.get(keyOf(project, definition.calendar))!;
    const today = zonedParts(entry.def.tz, this.deps.clock.now()).date;
    const history = await loadHistory(this.deps.store, this.runs, definition, entry.calendar, today);
    const now = this.deps.clock.now();
    const defined = this.makeEvent(
      project,
      { type: 'slo.defined', ts: now, slo: id, attributes: { definition, historyFrom: history.historyFrom } },
      now,
    );
    this.applyLogEvent(defined);
    const state = this.defs.slos.get(keyOf(project, id))!;
    const closings = this.rows.settle(state, now, history.older);
    for (const dependent of this.defs.dependentsOf([state])) closings.push(...this.rows.settle(dependent, now));
    await this.commit([defined, ...closings]);
    return state;
  }

  /** Recomputes an SLO whose jobs reported for a date before its first row (job status sent after the definition). */
  private async extendHistory(state: SloState): Promise<void> {
    try {
      if (this.defs.slos.get(keyOf(state.def.project, state.def.id)) === state) await this.recompute(state.def);
    } catch (err) {
      this.deps.logger.error({ err, slo: state.def.id }, 'could not recompute the SLO history');
    }
  }

  /** Defines an SLO only when it is new or its definition differs (config applied at every start). */
  async defineSloIfChanged(project: string, id: string, input: SloInput): Promise<boolean> {
    const existing = this.defs.slos.get(keyOf(project, id));
    if (existing) {
      const { definition } = normalizeSloInput(input, { id, project });
      if (definition && JSON.stringify(definition) === JSON.stringify(existing.def)) return false;
    }
    await this.defineSlo(project, id, input);
    return true;
  }

  /** The SLO with its current row, or not_found. */
  getSlo(project: string, id: string): SloJson {
    return this.sloJsonOf(this.defs.requireSlo(project, id), this.deps.clock.now());
  }

  /** Every SLO of a project, ordered by id. */
  listSlos(project: string): SloJson[] {
    const now = this.deps.clock.now();
    const out: SloJson[] = [];
    for (const state of this.defs.slos.values()) if (state.def.project === project) out.push(this.sloJsonOf(state, now));
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Deletes an SLO; its history stays in the log. */
  async deleteSlo(project: string, id: string): Promise<void> {
    const state = this.defs.requireSlo(project, id);
    const now = this.deps.clock.now();
    const event = this.makeEvent(project, { type: 'slo.deleted', ts: now, slo: id, attributes: { definition: state.def } }, now);
    const dependents = this.defs.dependentsOf([state]);
    this.applyLogEvent(event);
    // What waited for it no longer does.
    await this.commit([event, ...dependents.flatMap((dependent) => this.rows.settle(dependent, now))]);
  }

  /**
   * Re-derives every SLO of a project now (a maintenance window was defined or deleted), so
   * open rows follow the new windows at once. Resolves when the closings are durable.
   */
  async resettleProject(project: string): Promise<void> {
    const now = this.deps.clock.now();
    const events: LogEvent[] = [];
    for (const state of this.defs.slos.values()) if (state.def.project === project) events.push(...this.rows.settle(state, now));
    await this.commit(events);
  }

  /**
   * The rows of every calendar date from `from` to `to` (inclusive): closed rows as the log
   * recorded them, open and future rows computed now, `not_scheduled` for non-business dates.
   */
  async performance(project: string, id: string, fromDate?: string, toDate?: string): Promise<PerformanceRowJson[]> {
    const state = this.defs.requireSlo(project, id);
    const ctx = this.defs.contextOf(state);
    if (!ctx) throw new DomainError('not_found', `the calendar "${state.def.calendar}" of SLO "${id}" is gone`);
    return performanceRows({ store: this.deps.store, rows: this.rows }, state, ctx, this.deps.clock.now(), fromDate, toDate);
  }

  /* ---------------------------------------------------------------- timer */

  /** Settles every SLO whose wake-up is due; resolves when its events are written. */
  tick(): Promise<void> {
    const now = this.deps.clock.now();
    const due: SloState[] = [];
    for (const key of this.wakes.popDue(now)) {
      const state = this.defs.slos.get(key);
      if (state) due.push(state);
    }
    const events = this.settleWithDependents(due, now);
    return events.length ? this.background.write(events) : Promise.resolve();
  }

  /* ---------------------------------------------------------------- helpers */

  /** Settles `states`, then the SLOs that wait for them (`after`): their predictions follow the upstream rows. */
  private settleWithDependents(states: readonly SloState[], now: number): LogEvent[] {
    const events: LogEvent[] = [];
    for (const state of [...states, ...this.defs.dependentsOf(states)]) events.push(...this.rows.settle(state, now));
    return events;
  }

  /** Re-settles dates whose runs the index no longer holds, reading them from the log (late reports for old dates). */
  private async resettleFromLog(items: { state: SloState; date: string }[]): Promise<void> {
    try {
      const events: LogEvent[] = [];
      for (const { state, date } of items) {
        const older = new Map<string, Map<string, RunState[]>>();
        for (const j of this.rows.unheldJobs(state, date)) {
          const logged = await this.deps.store.query({
            project: state.def.project,
            application: j.application,
            job: j.job,
            types: ['job.status'],
            fromTs: Date.parse(`${date}T00:00:00Z`) - 2 * 86_400_000,
            toTs: Date.parse(`${date}T00:00:00Z`) + 40 * 86_400_000,
            limit: 10_000,
            order: 'asc',
          });
          const runs: RunState[] = [];
          for (const e of logged) if (e.businessDate === date) foldRun(runs, e);
          older.set(j.jobKey, new Map([[date, runs]]));
        }
        if (this.defs.slos.get(keyOf(state.def.project, state.def.id)) !== state) continue;
        events.push(...(this.rows.settleDate(state, date, this.deps.clock.now(), older) ?? []));
      }
      if (events.length) await this.background.write(events);
    } catch (err) {
      this.deps.logger.error({ err }, 'could not re-settle SLO rows from the log');
    }
  }

  /** The business date of a report without one: from the calendar of the first SLO (by id) that includes the job. */
  private deriveBusinessDate(project: string, jobKey: string, at: number): string | null {
    const keys = [...this.defs.slosOfJob(jobKey)].sort();
    for (const key of keys) {
      const state = this.defs.slos.get(key);
      const entry = state && this.defs.calendars.get(keyOf(project, state.def.calendar));
      if (entry) return entry.calendar.businessDateAt(at);
    }
    return null;
  }

  /**
   * The `job.status` event of a report: `duration_ms` when it ends a run whose start is known,
   * `lateness_ms` for a success against the earliest expectedEnd of the SLOs that include the job.
   */
  private jobStatusEvent(project: string, report: JobStatusReport, jobKey: string, businessDate: string, now: number): LogEvent {
    const run = this.runs.findRun(jobKey, businessDate, report.runId);
    const startedAt = run?.startedAt ?? null;
    const durationMs = report.status !== 'start' && startedAt !== null && report.at >= startedAt ? report.at - startedAt : null;
    let expectedEnd: number | null = null;
    if (report.status === 'succeed') expectedEnd = this.rows.earliestExpectedEnd(jobKey, businessDate, startedAt ?? report.at);
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

  private sloJsonOf(state: SloState, now: number): SloJson {
    const ctx = this.defs.contextOf(state);
    const current = ctx ? this.rows.currentRow(state, ctx, now) : null;
    return sloJson(state.def, state, current, state.deliveries);
  }

  private makeEvent(project: string, fields: ProjectlessEventDraft, now: number, eventId?: string): LogEvent {
    return makeLogEvent(this.deps.ids, this.deps.position, { ...fields, project }, now, eventId);
  }

  private async commit(events: LogEvent[]): Promise<void> {
    if (events.length) await this.deps.sink.write(events);
  }
}
