import { describe, expect, it } from 'vitest';
import { BusinessCalendar } from '../../src/domain/time/calendar.js';
import { ManualClock } from '../../src/domain/time/clock.js';
import { DomainError } from '../../src/domain/problems.js';
import { wallToInstant } from '../../src/domain/time/zoned-time.js';
import { EVERY_DAY_CALENDAR, SloTrendInputs, latestExpectedEnd, type SloSource } from '../../src/engine/slo-trend-inputs.js';
import { TrendService, type TrendInputs, type TrendSlo } from '../../src/engine/trend-service.js';
import type { CalendarJson, SloJson } from '../../src/engine/slo-view.js';
import { TrendSeries, renderTrendSeries } from '../../src/metrics/trend-series.js';
import type { EventStore } from '../../src/store/event-store.js';
import type { JobEndPoint, JobTrendArgs, JobTrendRow, SloTrendArgs, SloTrendRow, TrendQueries } from '../../src/store/trend-queries.js';
import { trendQueriesFor } from '../../src/store/trend-store.js';

const weekdays = new BusinessCalendar({
  id: 'weekdays',
  tz: 'UTC',
  weekdays: [1, 2, 3, 4, 5],
  extraDates: [],
  excludeDates: [],
  newDayAt: '00:00',
});
const NOW = Date.UTC(2026, 11, 11, 15); // Friday

function row(job: string, fields: Partial<JobTrendRow> = {}): JobTrendRow {
  return {
    application: 'app',
    job,
    runs: 30,
    durationRuns: 30,
    latenessRuns: 30,
    durationSlopeSecondsPerDay: 12,
    endLatenessSlopeSecondsPerDay: 12,
    p50DurationSeconds: 600,
    p90DurationSeconds: 900,
    ...fields,
  };
}

/** Queries answering canned rows and recording what they were asked. */
class FakeQueries implements TrendQueries {
  readonly calls: { query: string; args: JobTrendArgs | SloTrendArgs }[] = [];
  jobs: JobTrendRow[] = [];
  series: JobEndPoint[] = [];
  slos: SloTrendRow[] = [];
  failing = false;

  async jobDurationTrend(args: JobTrendArgs): Promise<JobTrendRow[]> {
    this.calls.push({ query: 'jobDurationTrend', args });
    if (this.failing) throw new Error('connection refused');
    return this.jobs.filter((r) => !args.jobs || args.jobs.some((j) => j.job === r.job));
  }
  async jobEndSeries(args: JobTrendArgs): Promise<JobEndPoint[]> {
    this.calls.push({ query: 'jobEndSeries', args });
    if (this.failing) throw new Error('connection refused');
    return this.series.filter((p) => !args.jobs || args.jobs.some((j) => j.job === p.job));
  }
  async sloTrend(args: SloTrendArgs): Promise<SloTrendRow[]> {
    this.calls.push({ query: 'sloTrend', args });
    if (this.failing) throw new Error('connection refused');
    return this.slos;
  }
}

function inputs(slos: TrendSlo[], fallback: BusinessCalendar | null = null, projects = ['p1']): TrendInputs & { projectList: string[] } {
  const self = {
    projectList: projects,
    projects: () => self.projectList,
    slos: (project: string) => (project === 'p1' ? slos : []),
    // Deadline 03:00 UTC the next day.
    expectedEndAt: (_p: string, _s: string, _j: unknown, date: string) => Date.parse(`${date}T00:00:00Z`) + 27 * 3_600_000,
    defaultCalendar: () => fallback,
  };
  return self;
}

const nightly: TrendSlo = { id: 'nightly', calendar: weekdays, expectedEnd: '03:00+1d', jobs: [{ application: 'app', job: 'calc' }] };

describe('TrendService', () => {
  it('queries each calendar over its window with its jobs, and the fallback calendar for the rest', async () => {
    const queries = new FakeQueries();
    queries.jobs = [row('calc'), row('loose')];
    const service = new TrendService({ queries, inputs: inputs([nightly], EVERY_DAY_CALENDAR), clock: new ManualClock(NOW) });
    const jobs = await service.jobTrends('p1', 5);
    expect(jobs.map((j) => j.job)).toEqual(['calc', 'loose']);
    const fallbackCall = queries.calls.find((c) => c.query === 'jobDurationTrend' && !('jobs' in c.args && c.args.jobs))!;
    expect(fallbackCall.args.dates.map((d) => d.date)).toEqual(['2026-12-07', '2026-12-08', '2026-12-09', '2026-12-10', '2026-12-11']);
    const weekdayCall = queries.calls.find((c) => c.query === 'jobDurationTrend' && 'jobs' in c.args && c.args.jobs)!;
    expect((weekdayCall.args as JobTrendArgs).jobs).toEqual([{ application: 'app', job: 'calc' }]);
    expect(weekdayCall.args.dates.map((d) => d.date)).toEqual(['2026-12-07', '2026-12-08', '2026-12-09', '2026-12-10', '2026-12-11']);
    expect(weekdayCall.args.dates.map((d) => d.index)).toEqual([0, 1, 2, 3, 4]);
  });

  it('a job followed by an SLO uses its calendar: the fallback answer for it is dropped', async () => {
    const queries = new FakeQueries();
    queries.jobs = [row('calc', { durationSlopeSecondsPerDay: 99 })];
    const service = new TrendService({ queries, inputs: inputs([nightly], EVERY_DAY_CALENDAR), clock: new ManualClock(NOW) });
    queries.jobDurationTrend = async (args) => [row('calc', { durationSlopeSecondsPerDay: args.jobs ? 1 : 99 })];
    expect((await service.jobTrends('p1', 30))[0]!.durationSlopeSecondsPerDay).toBe(1);
  });

  it('reports slopes only with enough history, percentiles always', async () => {
    const queries = new FakeQueries();
    queries.jobs = [row('calc', { runs: 9, durationRuns: 9, latenessRuns: 9 })];
    const service = new TrendService({ queries, inputs: inputs([nightly]), clock: new ManualClock(NOW) });
    expect(await service.jobTrends('p1', 30)).toEqual([
      {
        application: 'app',
        job: 'calc',
        runs: 9,
        durationSlopeSecondsPerDay: null,
        endLatenessSlopeSecondsPerDay: null,
        p50DurationSeconds: 600,
        p90DurationSeconds: 900,
        projectedBreachDate: null,
      },
    ]);
  });

  it('projects the breach from the end series against the deadlines', async () => {
    const queries = new FakeQueries();
    queries.jobs = [row('calc')];
    const service = new TrendService({ queries, inputs: inputs([nightly]), clock: new ManualClock(NOW) });
    const calls = await service.jobTrends('p1', 10);
    expect(calls[0]!.projectedBreachDate).toBeNull(); // no series: nothing to project
    const dates = queries.calls.find((c) => c.query === 'jobEndSeries')!.args.dates;
    // 10 minutes early on the first date, 60 s later each business date: on time at index
    // 10 (exactly at the deadline), late from index 11.
    queries.series = dates.map((d) => ({
      application: 'app',
      job: 'calc',
      businessDate: d.date,
      endMs: Date.parse(`${d.date}T00:00:00Z`) + 27 * 3_600_000 - 600_000 + d.index * 60_000,
      durationMs: 1000,
    }));
    const [calc] = await service.jobTrends('p1', 10);
    // The window is 11-30 .. 12-11 (indexes 0-9): index 10 is Monday 12-14, index 11 Tuesday.
    expect(calc!.projectedBreachDate).toBe('2026-12-15');
  });

  it('validates the window and answers a store failure as unavailable, not a crash', async () => {
    const queries = new FakeQueries();
    const service = new TrendService({ queries, inputs: inputs([nightly]), clock: new ManualClock(NOW) });
    await expect(service.jobTrends('p1', 1)).rejects.toMatchObject({ code: 'invalid' });
    await expect(service.sloTrends('p1', 366)).rejects.toMatchObject({ code: 'invalid' });
    queries.failing = true;
    const err = await service.sloTrends('p1', 30).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ code: 'unavailable' });
  });

  it('derives bias and a suggested expected end per SLO; an SLO without rows is listed empty', async () => {
    const queries = new FakeQueries();
    queries.slos = [
      {
        sloId: 'nightly',
        days: 30,
        occurrences: 30,
        onTimeRatio: 0.1,
        medianLatenessSeconds: 600,
        p90LatenessSeconds: 700,
        sameSideShare: 0.9,
      },
    ];
    const quiet: TrendSlo = { ...nightly, id: 'quiet' };
    const service = new TrendService({ queries, inputs: inputs([quiet, nightly]), clock: new ManualClock(NOW) });
    expect(await service.sloTrends('p1', 30)).toEqual([
      {
        sloId: 'nightly',
        onTimeRatio: 0.1,
        medianLatenessSeconds: 600,
        sameSideShare: 0.9,
        bias: 'late',
        suggestedExpectedEnd: '03:15+1d',
      },
      { sloId: 'quiet', onTimeRatio: null, medianLatenessSeconds: null, sameSideShare: null, bias: 'none', suggestedExpectedEnd: null },
    ]);
    expect((queries.calls[0]!.args as SloTrendArgs).slos).toEqual(['nightly', 'quiet']);
  });

  it('refresh fills gauges and p90s, keeps them through a failed refresh, drops removed jobs and projects', async () => {
    const queries = new FakeQueries();
    queries.jobs = [row('calc'), row('other', { durationSlopeSecondsPerDay: -3 })];
    const series = new TrendSeries();
    const two: TrendSlo = { ...nightly, jobs: [...nightly.jobs, { application: 'app', job: 'other' }] };
    const input = inputs([two]);
    const service = new TrendService({ queries, inputs: input, clock: new ManualClock(NOW), series, refreshSeconds: 60 });
    await service.refresh();
    expect(series.size).toBe(2);
    expect(service.p90DurationMs('p1', 'app', 'calc')).toBe(900_000);

    queries.failing = true;
    await service.refresh();
    expect(series.size).toBe(2);
    expect(service.p90DurationMs('p1', 'app', 'calc')).toBe(900_000);

    queries.failing = false;
    queries.jobs = [row('calc')];
    await service.refresh();
    expect(series.size).toBe(1);
    expect(text(series)).not.toContain('job="other"');

    input.projectList = [];
    await service.refresh();
    expect(series.size).toBe(0);
    expect(service.p90DurationMs('p1', 'app', 'calc')).toBeNull();
  });

  it('refuses a refresh period under a second', () => {
    expect(
      () => new TrendService({ queries: new FakeQueries(), inputs: inputs([]), clock: new ManualClock(NOW), refreshSeconds: 0.5 }),
    ).toThrow(RangeError);
  });
});

describe('TrendSeries', () => {
  it('renders both gauges with escaped labels, and omits absent values', () => {
    expect(
      renderTrendSeries('p1', { application: 'a"b', job: 'j\\1', durationSlopeSecondsPerDay: 60, projectedBreachAt: 1_800_000_000_000 }),
    ).toEqual([
      'compter_job_duration_trend_seconds_per_day{project="p1",application="a\\"b",job="j\\\\1"} 60\n',
      'compter_job_projected_breach_timestamp_seconds{project="p1",application="a\\"b",job="j\\\\1"} 1800000000\n',
    ]);
    expect(renderTrendSeries('p1', { application: 'a', job: 'j', durationSlopeSecondsPerDay: null, projectedBreachAt: null })).toEqual([
      '',
      '',
    ]);
  });

  it('replaces one project without touching another', () => {
    const series = new TrendSeries();
    series.replaceProject('p1', [{ application: 'a', job: 'j', durationSlopeSecondsPerDay: 1, projectedBreachAt: null }]);
    series.replaceProject('p2', [{ application: 'a', job: 'j', durationSlopeSecondsPerDay: 2, projectedBreachAt: null }]);
    series.replaceProject('p1', []);
    expect(text(series)).toContain('{project="p2",application="a",job="j"} 2\n');
    expect(text(series)).not.toContain('project="p1"');
  });
});

describe('SloTrendInputs', () => {
  const calendarJson: CalendarJson = {
    id: 'ny',
    tz: 'America/New_York',
    weekdays: [1, 2, 3, 4, 5],
    extraDates: [],
    excludeDates: [],
    newDayAt: '00:00',
    project: 'p1',
    created: '2026-01-01T00:00:00.000Z',
    updated: '2026-01-01T00:00:00.000Z',
  };
  const slo = (fields: Partial<SloJson>): SloJson =>
    ({
      id: 'nightly',
      name: 'nightly',
      project: 'p1',
      application: 'app',
      calendar: 'ny',
      jobs: [
        { application: 'app', job: 'a', expectedStart: null, expectedEnd: '02:00+1d' },
        { application: 'app', job: 'b', expectedStart: null, expectedEnd: '03:30+1d' },
      ],
      slack: 3600,
      within: null,
      created: '2026-01-01T00:00:00.000Z',
      updated: '2026-01-01T00:00:00.000Z',
      ...fields,
    }) as SloJson;
  const source = (slos: SloJson[]): SloSource => ({
    listSlos: (project) => (project === 'p1' ? slos : []),
    getCalendar: (project, id) => {
      if (project !== 'p1' || id !== 'ny') throw new DomainError('not_found', 'no calendar');
      return calendarJson;
    },
  });

  it('lists SLOs with their calendar and latest expected end; skips an SLO whose calendar is gone', () => {
    const adapter = new SloTrendInputs(source([slo({}), slo({ id: 'orphan', calendar: 'gone' })]), () => ['p1']);
    const slos = adapter.slos('p1');
    expect(slos.map((s) => s.id)).toEqual(['nightly']);
    expect(slos[0]!.expectedEnd).toBe('03:30+1d');
    expect(slos[0]!.calendar.definition.tz).toBe('America/New_York');
    expect(slos[0]!.jobs).toEqual([
      { application: 'app', job: 'a' },
      { application: 'app', job: 'b' },
    ]);
    expect([...adapter.projects()]).toEqual(['p1']);
  });

  it("gives each job's deadline in the calendar's zone, across the DST change", () => {
    const adapter = new SloTrendInputs(source([slo({})]), () => ['p1']);
    // Business date 2026-10-30 (EDT): 02:00 next day = 06:00Z. 2026-11-02 (EST): 07:00Z.
    expect(adapter.expectedEndAt('p1', 'nightly', { application: 'app', job: 'a' }, '2026-10-30')).toBe(
      wallToInstant('America/New_York', '2026-10-31', 2, 0),
    );
    expect(adapter.expectedEndAt('p1', 'nightly', { application: 'app', job: 'a' }, '2026-11-02')).toBe(Date.UTC(2026, 10, 3, 7));
    expect(adapter.expectedEndAt('p1', 'nightly', { application: 'app', job: 'b' }, '2026-11-02')).toBe(Date.UTC(2026, 10, 3, 8, 30));
    expect(adapter.expectedEndAt('p1', 'nightly', { application: 'app', job: 'nope' }, '2026-11-02')).toBeNull();
    expect(adapter.expectedEndAt('p1', 'unknown', { application: 'app', job: 'a' }, '2026-11-02')).toBeNull();
  });

  it('an SLO repeating within the day has no single deadline per date', () => {
    const within = slo({
      within: { cron: '10,40 6-18 * * *' },
      jobs: [{ application: 'app', job: 'a', expectedStart: null, expectedEnd: '+5m' }],
    });
    const adapter = new SloTrendInputs(source([within]), () => ['p1']);
    expect(adapter.expectedEndAt('p1', 'nightly', { application: 'app', job: 'a' }, '2026-11-02')).toBeNull();
    expect(
      latestExpectedEnd({
        within: { cron: '* * * * *' },
        jobs: [
          { application: 'a', job: 'x', expectedStart: null, expectedEnd: '-5m' },
          { application: 'a', job: 'y', expectedStart: null, expectedEnd: '+1h' },
        ],
      }),
    ).toBe('+1h');
  });

  it('jobs in no SLO fall back to every calendar date', () => {
    expect(new SloTrendInputs(source([]), () => []).defaultCalendar()).toBe(EVERY_DAY_CALENDAR);
    expect(EVERY_DAY_CALENDAR.isBusinessDay('2026-11-28')).toBe(true);
  });
});

function text(series: TrendSeries): string {
  const render = series.render();
  const out = Buffer.concat(render.chunks).toString();
  render.release();
  return out;
}

describe('trendQueriesFor', () => {
  it('refuses a store it has no dialect for, also behind a wrapper', () => {
    const unknown = { kind: 'clickhouse' } as unknown as EventStore;
    expect(() => trendQueriesFor(unknown)).toThrow(TypeError);
    expect(() => trendQueriesFor({ kind: 'duckdb', inner: unknown } as unknown as EventStore)).toThrow(TypeError);
  });
});
