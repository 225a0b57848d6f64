/**
 * The trends' view of the SLO engine (TrendInputs): its SLOs, their calendars and each job's
 * deadline on a business date, read through the engine's public API only.
 */
import type { FileConfig } from '../config.js';
import { BusinessCalendar } from '../domain/time/calendar.js';
import { compileSlo, type CompiledSlo } from '../domain/slos/slo-expectations.js';
import type { SloDefinition } from '../domain/slos/slo.js';
import { parseDuration } from '../domain/time/duration.js';
import { parseDayOffsetTime } from '../domain/time/zoned-time.js';
import type { JobKey } from '../store/trend-queries.js';
import type { CalendarJson, SloJson } from './slo-view.js';
import type { TrendInputs, TrendSlo } from './trend-service.js';

/** The part of SloEngine the trends read. */
export interface SloSource {
  listSlos(project: string): SloJson[];
  getCalendar(project: string, id: string): CalendarJson;
}

/**
 * Jobs no SLO includes have no business calendar of their own: their trend counts every
 * calendar date (UTC), so a job that also runs at weekends keeps those runs on its axis.
 */
export const EVERY_DAY_CALENDAR = new BusinessCalendar({
  id: 'every-day',
  tz: 'UTC',
  weekdays: [0, 1, 2, 3, 4, 5, 6],
  extraDates: [],
  excludeDates: [],
  newDayAt: '00:00',
});

/** Business dates whose rows one compiled SLO keeps memoized (a trend window is at most a year). */
const MEMO_DATES = 400;

interface CompiledEntry {
  updated: string;
  tz: string;
  compiled: CompiledSlo;
  /** date → deadline per `application\0job`; only for SLOs that close once per business date. */
  deadlines: Map<string, Map<string, number>>;
}

/** TrendInputs over the SLO engine; `projects` lists the projects to refresh gauges for. */
export class SloTrendInputs implements TrendInputs {
  private readonly calendars = new Map<string, { updated: string; calendar: BusinessCalendar }>();
  private readonly compiled = new Map<string, CompiledEntry>();

  constructor(
    private readonly source: SloSource,
    private readonly listProjects: () => Iterable<string>,
  ) {}

  projects(): Iterable<string> {
    return this.listProjects();
  }

  slos(project: string): TrendSlo[] {
    const out: TrendSlo[] = [];
    for (const slo of this.source.listSlos(project)) {
      const calendar = this.calendarOf(project, slo.calendar);
      if (!calendar) continue;
      this.compile(project, slo, calendar.definition.tz);
      out.push({
        id: slo.id,
        calendar,
        expectedEnd: latestExpectedEnd(slo),
        jobs: slo.jobs.map((j) => ({ application: j.application, job: j.job })),
      });
    }
    return out;
  }

  expectedEndAt(project: string, sloId: string, job: JobKey, businessDate: string): number | null {
    let entry = this.compiled.get(key(project, sloId));
    if (!entry) {
      this.slos(project);
      entry = this.compiled.get(key(project, sloId));
    }
    // A row per slot has no single deadline for the date.
    if (!entry || entry.compiled.def.within !== null) return null;
    let byJob = entry.deadlines.get(businessDate);
    if (!byJob) {
      byJob = new Map();
      for (const row of entry.compiled.rowsOn(entry.tz, businessDate)) {
        for (const j of row.jobs) byJob.set(`${j.application}\u0000${j.job}`, j.expectedEnd);
      }
      if (entry.deadlines.size >= MEMO_DATES) entry.deadlines.clear();
      entry.deadlines.set(businessDate, byJob);
    }
    return byJob.get(`${job.application}\u0000${job.job}`) ?? null;
  }

  defaultCalendar(): BusinessCalendar {
    return EVERY_DAY_CALENDAR;
  }

  private calendarOf(project: string, id: string): BusinessCalendar | null {
    let json: CalendarJson;
    try {
      json = this.source.getCalendar(project, id);
    } catch {
      return null;
    }
    const k = key(project, id);
    const cached = this.calendars.get(k);
    if (cached && cached.updated === json.updated) return cached.calendar;
    const { project: _project, created: _created, updated, ...definition } = json;
    const calendar = new BusinessCalendar(definition);
    this.calendars.set(k, { updated, calendar });
    return calendar;
  }

  private compile(project: string, slo: SloJson, tz: string): void {
    const k = key(project, slo.id);
    const cached = this.compiled.get(k);
    if (cached && cached.updated === slo.updated && cached.tz === tz) return;
    const def: SloDefinition = {
      id: slo.id,
      project: slo.project,
      name: slo.name,
      application: slo.application,
      calendar: slo.calendar,
      jobs: slo.jobs.map((j) => ({ ...j })),
      slackMs: slo.slack * 1000,
      within: slo.within,
    };
    this.compiled.set(k, { updated: slo.updated, tz, compiled: compileSlo(def), deadlines: new Map() });
  }
}

/** The SLO's expected end as written: the latest of its jobs' (what its lateness is measured against). */
export function latestExpectedEnd(slo: Pick<SloJson, 'jobs' | 'within'>): string {
  let best: { text: string; at: number } | null = null;
  for (const job of slo.jobs) {
    const at = slo.within ? offsetMs(job.expectedEnd) : dayOffsetMinutes(job.expectedEnd);
    if (best === null || at > best.at) best = { text: job.expectedEnd, at };
  }
  return best?.text ?? '';
}

function dayOffsetMinutes(text: string): number {
  const t = parseDayOffsetTime(text);
  return t.dayOffset * 1440 + t.hour * 60 + t.minute;
}

function offsetMs(text: string): number {
  const match = /^([+-])(.+)$/.exec(text.trim());
  if (!match) return 0;
  const ms = parseDuration(match[2]!);
  return match[1] === '-' ? -ms : ms;
}

/**
 * The projects whose trend gauges are kept: `default` (everything when running open) and every
 * project the config names, its tokens' projects above all (a project only exists through them).
 */
export function trendProjectsOf(config: Pick<FileConfig, 'tokens' | 'calendars' | 'slos'> | null): string[] {
  const projects = new Set(['default']);
  for (const token of config?.tokens ?? []) projects.add(token.project);
  for (const item of [...(config?.calendars ?? []), ...(config?.slos ?? [])]) if (item.project) projects.add(item.project);
  return [...projects];
}

function key(project: string, id: string): string {
  return `${project}\u0000${id}`;
}
