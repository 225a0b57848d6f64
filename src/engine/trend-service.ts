import { z } from 'zod';
/**
 * Slowdown trends (docs/semantics.md, "Trends"): runs the store's trend queries over each calendar's
 * last N business dates, adds the math that is not SQL (domain/slos/trends.ts), answers
 * `/v1/trends/jobs` and `/v1/trends/slos`, keeps the per-job trend gauges fresh on a fixed
 * period, and hands the SLO engine each job's recent p90 duration for its predicted ends.
 *
 * Calendars and SLO definitions come through `TrendInputs`, which the SLO engine implements;
 * this service holds no SLO state of its own.
 */
import type { BusinessCalendar } from '../domain/time/calendar.js';
import type { Clock } from '../domain/time/clock.js';
import { DomainError } from '../domain/problems.js';
import {
  businessDateWindow,
  dateAtIndex,
  fitEndLateness,
  hasEnoughHistory,
  projectedBreachIndex,
  sloBias,
  suggestExpectedEnd,
  type IndexedDate,
  type LatenessPoint,
} from '../domain/slos/trends.js';
import type { JobTrendGauges, TrendSeries } from '../metrics/trend-series.js';
import { MAX_TREND_FILTER, type JobEndPoint, type JobKey, type JobTrendRow, type TrendQueries } from '../store/trend-queries.js';

/** Default window, business dates (`?window=` defaults to 30). */
export const DEFAULT_TREND_WINDOW = 30;
export const MIN_TREND_WINDOW = 2;
export const MAX_TREND_WINDOW = 365;
/** Default gauge refresh period, seconds (COMPTER_TRENDS_REFRESH_SECONDS). */
export const DEFAULT_TREND_REFRESH_SECONDS = 60;

/** An SLO as the trends need it. */
export interface TrendSlo {
  id: string;
  calendar: BusinessCalendar;
  /** The SLO's expected end as its definition writes it (`03:00+1d`; `+10m` within a slot): the latest over its jobs. */
  expectedEnd: string;
  jobs: readonly JobKey[];
}

/** What the trends read from the SLO engine. */
export interface TrendInputs {
  /** Projects whose gauges the periodic refresh computes. */
  projects(): Iterable<string>;
  /** The project's SLOs. */
  slos(project: string): readonly TrendSlo[];
  /**
   * The deadline of `job` within SLO `sloId` on `businessDate` (its expectedEnd there), epoch
   * ms; null when it has no single one that date (not a business date, or an SLO repeating
   * within the day).
   */
  expectedEndAt(project: string, sloId: string, job: JobKey, businessDate: string): number | null;
  /** The calendar for jobs that no SLO includes; null leaves those jobs out of the trends. */
  defaultCalendar(project: string): BusinessCalendar | null;
}

/** One element of `/v1/trends/jobs`; the OpenAPI document is generated from this schema. */
export const jobTrendJsonSchema = z.object({
  application: z.string(),
  job: z.string(),
  runs: z.number().describe('business dates in the window with a successful run'),
  durationSlopeSecondsPerDay: z.number().nullable(),
  endLatenessSlopeSecondsPerDay: z.number().nullable(),
  p50DurationSeconds: z.number().nullable(),
  p90DurationSeconds: z.number().nullable(),
  projectedBreachDate: z.string().nullable().describe('business date on which the p90 end is projected past the deadline'),
});

export type JobTrendJson = z.infer<typeof jobTrendJsonSchema>;

/** One element of `/v1/trends/slos`. */
export const sloTrendJsonSchema = z.object({
  sloId: z.string(),
  onTimeRatio: z.number().nullable(),
  medianLatenessSeconds: z.number().nullable(),
  sameSideShare: z.number().nullable(),
  bias: z.enum(['early', 'late', 'none']),
  suggestedExpectedEnd: z.string().nullable(),
});

export type SloTrendJson = z.infer<typeof sloTrendJsonSchema>;

interface TrendLogger {
  warn(obj: object, msg: string): void;
}

export interface TrendServiceOptions {
  queries: TrendQueries;
  inputs: TrendInputs;
  clock: Clock;
  /** Where the job gauges go; none in tests that only read the JSON. */
  series?: TrendSeries;
  logger?: TrendLogger;
  /** Gauge refresh period, seconds; default 60. */
  refreshSeconds?: number;
  /** Window of the gauges and of p90DurationMs, business dates; default 30. */
  window?: number;
}

interface Breach {
  date: string;
  /** The deadline on that date, epoch ms. */
  at: number | null;
}

interface JobTrendResult {
  json: JobTrendJson;
  gauges: JobTrendGauges;
}

/** One job's run durations by business date, for a chart. */
export interface JobDurationSeries {
  application: string;
  job: string;
  points: { businessDate: string; durationSeconds: number | null }[];
}

/** Computes trends from fresh SQL and keeps the job trend gauges refreshed. */
export class TrendService {
  private readonly queries: TrendQueries;
  private readonly inputs: TrendInputs;
  private readonly clock: Clock;
  private readonly series: TrendSeries | undefined;
  private readonly logger: TrendLogger | undefined;
  readonly refreshMs: number;
  readonly window: number;
  private timer: ReturnType<typeof setInterval> | null = null;
  private refreshing: Promise<void> | null = null;
  /** project → job key → p90 duration ms, from the last refresh. */
  private p90ByProject = new Map<string, Map<string, number>>();

  constructor(options: TrendServiceOptions) {
    this.queries = options.queries;
    this.inputs = options.inputs;
    this.clock = options.clock;
    this.series = options.series;
    this.logger = options.logger;
    this.refreshMs = (options.refreshSeconds ?? DEFAULT_TREND_REFRESH_SECONDS) * 1000;
    this.window = checkWindow(options.window ?? DEFAULT_TREND_WINDOW);
    if (!(this.refreshMs >= 1000)) throw new RangeError(`refreshSeconds must be at least 1, got ${options.refreshSeconds}`);
  }

  /** `/v1/trends/jobs`: every job with a successful run in its calendar's last `window` business dates. */
  async jobTrends(project: string, window = DEFAULT_TREND_WINDOW): Promise<JobTrendJson[]> {
    return (await this.computeJobTrends(project, checkWindow(window))).map((r) => r.json);
  }

  /**
   * Each of an SLO's jobs with the duration of its latest success per business date over the
   * SLO calendar's last `window` business dates (the series its duration trend is fitted to).
   */
  async sloJobDurations(project: string, sloId: string, window = DEFAULT_TREND_WINDOW): Promise<JobDurationSeries[]> {
    const slo = [...this.inputs.slos(project)].find((s) => s.id === sloId);
    if (!slo || slo.jobs.length === 0) return [];
    const dates = this.windowOf(slo.calendar, checkWindow(window));
    if (dates.length === 0) return [];
    const jobs = slo.jobs.slice(0, MAX_TREND_FILTER);
    const points = await this.run(() => this.queries.jobEndSeries({ project, dates, jobs: [...jobs] }));
    return jobs.map((job) => ({
      application: job.application,
      job: job.job,
      points: points
        .filter((p) => p.application === job.application && p.job === job.job)
        .sort((a, b) => compare(a.businessDate, b.businessDate))
        .map((p) => ({ businessDate: p.businessDate, durationSeconds: p.durationMs === null ? null : p.durationMs / 1000 })),
    }));
  }

  /** `/v1/trends/slos`: every SLO of the project, over its calendar's last `window` business dates. */
  async sloTrends(project: string, window = DEFAULT_TREND_WINDOW): Promise<SloTrendJson[]> {
    checkWindow(window);
    const slos = [...this.inputs.slos(project)].sort((a, b) => compare(a.id, b.id));
    const out = new Map<string, SloTrendJson>();
    for (const { calendar, members } of groupByCalendar(slos.map((slo) => ({ calendar: slo.calendar, member: slo })))) {
      const dates = this.windowOf(calendar, window);
      if (dates.length === 0) continue;
      const ids = members.map((s) => s.id);
      const rows = await this.run(() =>
        this.queries.sloTrend({ project, dates, ...(ids.length <= MAX_TREND_FILTER ? { slos: ids } : {}) }),
      );
      const byId = new Map(rows.map((r) => [r.sloId, r]));
      for (const slo of members) {
        const row = byId.get(slo.id);
        if (!row) continue;
        const bias = sloBias(row);
        out.set(slo.id, {
          sloId: slo.id,
          onTimeRatio: tidy(row.onTimeRatio),
          medianLatenessSeconds: tidy(row.medianLatenessSeconds),
          sameSideShare: tidy(row.sameSideShare),
          bias,
          suggestedExpectedEnd:
            bias === 'none' || row.p90LatenessSeconds === null ? null : suggestExpectedEnd(slo.expectedEnd, row.p90LatenessSeconds),
        });
      }
    }
    return slos.map(
      (slo) =>
        out.get(slo.id) ?? {
          sloId: slo.id,
          onTimeRatio: null,
          medianLatenessSeconds: null,
          sameSideShare: null,
          bias: 'none',
          suggestedExpectedEnd: null,
        },
    );
  }

  /**
   * The p90 of the job's run durations over the gauge window at the last refresh, ms; null
   * before the first refresh or without a run with a known duration. The SLO engine adds it
   * to a run's start for the predicted end of an SLO row.
   */
  p90DurationMs(project: string, application: string, job: string): number | null {
    return this.p90ByProject.get(project)?.get(jobKey({ application, job })) ?? null;
  }

  /** Recomputes every project's gauges and p90 durations; a refresh already running is joined. */
  refresh(): Promise<void> {
    this.refreshing ??= this.refreshAll().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** Refreshes now and then every `refreshMs`; the timer never keeps the process alive. */
  start(): void {
    if (this.timer !== null) return;
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  /** Stops the periodic refresh and waits for one in progress. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.refreshing;
  }

  private async refreshAll(): Promise<void> {
    const projects = new Set(this.inputs.projects());
    for (const project of projects) {
      try {
        const results = await this.computeJobTrends(project, this.window);
        this.series?.replaceProject(
          project,
          results.map((r) => r.gauges),
        );
        const p90 = new Map<string, number>();
        for (const { json } of results) if (json.p90DurationSeconds !== null) p90.set(jobKey(json), json.p90DurationSeconds * 1000);
        this.p90ByProject.set(project, p90);
      } catch (err) {
        // Keep the last good values: a gauge that vanishes during a store outage would
        // resolve the very alerts that should keep firing.
        this.logger?.warn({ err, project }, 'trend refresh failed; keeping the previous values');
      }
    }
    for (const project of [...this.p90ByProject.keys()]) {
      if (projects.has(project)) continue;
      this.p90ByProject.delete(project);
      this.series?.replaceProject(project, []);
    }
  }

  private async computeJobTrends(project: string, window: number): Promise<JobTrendResult[]> {
    const slos = [...this.inputs.slos(project)].sort((a, b) => compare(a.id, b.id));
    // A job follows the calendar of the first SLO (by id) that includes it.
    const calendarOf = new Map<string, BusinessCalendar>();
    const slosOf = new Map<string, TrendSlo[]>();
    const members: { calendar: BusinessCalendar; member: JobKey }[] = [];
    for (const slo of slos) {
      for (const job of slo.jobs) {
        const key = jobKey(job);
        if (!calendarOf.has(key)) {
          calendarOf.set(key, slo.calendar);
          members.push({ calendar: slo.calendar, member: job });
        }
        const list = slosOf.get(key) ?? [];
        if (!list.includes(slo)) list.push(slo);
        slosOf.set(key, list);
      }
    }

    const results = new Map<string, JobTrendResult>();
    const fallback = this.inputs.defaultCalendar(project);
    if (fallback) {
      const dates = this.windowOf(fallback, window);
      if (dates.length > 0) {
        for (const row of await this.run(() => this.queries.jobDurationTrend({ project, dates }))) {
          if (!calendarOf.has(jobKey(row))) results.set(jobKey(row), jobResult(row, null));
        }
      }
    }

    for (const { calendar, members: jobs } of groupByCalendar(members)) {
      const dates = this.windowOf(calendar, window);
      if (dates.length === 0) continue;
      const args = { project, dates, ...(jobs.length <= MAX_TREND_FILTER ? { jobs: [...jobs] } : {}) };
      // One after the other: DuckDB runs reads on a single connection.
      const rows = await this.run(() => this.queries.jobDurationTrend(args));
      const series = await this.run(() => this.queries.jobEndSeries(args));
      const pointsOf = new Map<string, JobEndPoint[]>();
      for (const p of series) {
        const list = pointsOf.get(jobKey(p)) ?? [];
        list.push(p);
        pointsOf.set(jobKey(p), list);
      }
      for (const row of rows) {
        const key = jobKey(row);
        if (calendarOf.get(key)?.definition.id !== calendar.definition.id) continue;
        let breach: Breach | null = null;
        if (hasEnoughHistory(row.runs)) {
          for (const slo of slosOf.get(key) ?? []) {
            const candidate = this.projectBreach(project, slo, row, pointsOf.get(key) ?? [], dates, calendar);
            if (candidate && (breach === null || candidate.date < breach.date)) breach = candidate;
          }
        }
        results.set(key, jobResult(row, breach));
      }
    }
    return [...results.values()].sort((a, b) => compare(a.json.application, b.json.application) || compare(a.json.job, b.json.job));
  }

  /** The business date on which the job's p90 end is projected past its deadline in `slo`. */
  private projectBreach(
    project: string,
    slo: TrendSlo,
    job: JobKey,
    points: readonly JobEndPoint[],
    dates: readonly IndexedDate[],
    calendar: BusinessCalendar,
  ): Breach | null {
    const indexOf = new Map(dates.map((d) => [d.date, d.index]));
    const lateness: LatenessPoint[] = [];
    for (const p of points) {
      const index = indexOf.get(p.businessDate);
      const deadline = this.inputs.expectedEndAt(project, slo.id, job, p.businessDate);
      if (index === undefined || deadline === null) continue;
      lateness.push({ index, latenessSeconds: (p.endMs - deadline) / 1000 });
    }
    const fit = fitEndLateness(lateness);
    if (!fit) return null;
    const index = projectedBreachIndex(fit);
    if (index === null) return null;
    const date = dateAtIndex(calendar, dates, index);
    if (date === null) return null;
    return { date, at: this.inputs.expectedEndAt(project, slo.id, job, date) };
  }

  /** The calendar's last `size` business dates up to the current business date. */
  private windowOf(calendar: BusinessCalendar, size: number): IndexedDate[] {
    const today = calendar.businessDateAt(this.clock.now());
    return today === null ? [] : businessDateWindow(calendar, today, size);
  }

  /** Runs a store query; a store failure is the store's, answered 503, never a client's 500. */
  private async run<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (err) {
      if (err instanceof DomainError) throw err;
      this.logger?.warn({ err }, 'trend query failed');
      throw new DomainError('unavailable', 'the event store did not answer the trend query; retry later', [], 10);
    }
  }
}

/** The JSON and gauges of one job: slopes need enough history, percentiles any run. */
function jobResult(row: JobTrendRow, breach: Breach | null): JobTrendResult {
  const durationSlope = hasEnoughHistory(row.durationRuns) ? tidy(row.durationSlopeSecondsPerDay) : null;
  const latenessSlope = hasEnoughHistory(row.latenessRuns) ? tidy(row.endLatenessSlopeSecondsPerDay) : null;
  return {
    json: {
      application: row.application,
      job: row.job,
      runs: row.runs,
      durationSlopeSecondsPerDay: durationSlope,
      endLatenessSlopeSecondsPerDay: latenessSlope,
      p50DurationSeconds: tidy(row.p50DurationSeconds),
      p90DurationSeconds: tidy(row.p90DurationSeconds),
      projectedBreachDate: breach?.date ?? null,
    },
    gauges: {
      application: row.application,
      job: row.job,
      durationSlopeSecondsPerDay: durationSlope,
      projectedBreachAt: breach?.at ?? null,
    },
  };
}

/** Groups members by calendar id, keeping the first calendar object seen for each id. */
function groupByCalendar<T>(items: readonly { calendar: BusinessCalendar; member: T }[]): { calendar: BusinessCalendar; members: T[] }[] {
  const groups = new Map<string, { calendar: BusinessCalendar; members: T[] }>();
  for (const { calendar, member } of items) {
    const group = groups.get(calendar.definition.id) ?? { calendar, members: [] };
    group.members.push(member);
    groups.set(calendar.definition.id, group);
  }
  return [...groups.values()];
}

/**
 * Rounds to 6 decimals (µs, µs per day): the engines sum in parallel and in no fixed order,
 * so the last bits differ from run to run; nobody needs them, and stable output caches well.
 */
function tidy<T extends number | null>(value: T): T {
  return (value === null ? null : Math.round(value * 1e6) / 1e6 + 0) as T;
}

function checkWindow(window: number): number {
  if (!Number.isInteger(window) || window < MIN_TREND_WINDOW || window > MAX_TREND_WINDOW) {
    throw new DomainError('invalid', `window must be an integer from ${MIN_TREND_WINDOW} to ${MAX_TREND_WINDOW}`, [
      { path: 'query.window', message: `must be an integer from ${MIN_TREND_WINDOW} to ${MAX_TREND_WINDOW}` },
    ]);
  }
  return window;
}

function jobKey(job: JobKey): string {
  return JSON.stringify([job.application, job.job]);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
