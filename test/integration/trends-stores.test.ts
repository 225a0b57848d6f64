/**
 * The trend queries and the trend service on real DuckDB and a real clickhouse-server, over a
 * generated history whose answers are known (test/support/trend-history.ts). Both engines
 * must give the same answers.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { VARCHAR } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/time/clock.js';
import { EventIdGenerator } from '../../src/domain/event-id.js';
import type { LogEvent } from '../../src/domain/event.js';
import { TrendService, type JobTrendJson, type SloTrendJson } from '../../src/engine/trend-service.js';
import { TrendSeries } from '../../src/metrics/trend-series.js';
import { ClickHouseEventStore } from '../../src/store/clickhouse/clickhouse-store.js';
import { createDatabaseSql, migrations, migrationsTableSql, toEventRow } from '../../src/store/clickhouse/schema.js';
import { sql } from '../../src/store/clickhouse/sql.js';
import { DuckDbEventStore } from '../../src/store/duckdb/duckdb-store.js';
import type { EventStore } from '../../src/store/event-store.js';
import type { JobEndPoint, JobTrendRow, SloTrendRow, TrendQueries } from '../../src/store/trend-queries.js';
import { trendQueriesFor } from '../../src/store/trend-store.js';
import { getSharedChdb } from '../support/chdb-server.js';
import { getSharedClickHouse } from '../support/clickhouse-server.js';
import {
  APP,
  EARLY_CLOSE_LATENESS,
  NOW,
  SETTLEMENT_LATENESS,
  TrendHistory,
  US_CALENDAR,
  WINDOW,
  nextDayAt,
  percentile,
} from '../support/trend-history.js';

interface OpenedStore {
  store: EventStore;
  cleanup(): Promise<void>;
  /** Rows and distinct event ids of a project in the table the trend queries read. */
  countRows(project: string): Promise<{ rows: number; ids: number }>;
  /** Keeps ClickHouse from merging copies away while a test looks at them. */
  holdMerges(): Promise<void>;
}

interface Engine {
  name: 'duckdb' | 'clickhouse' | 'clickhouse-current';
  open(): Promise<OpenedStore>;
}

const engines: Engine[] = [
  {
    name: 'duckdb',
    async open() {
      const dir = await mkdtemp(join(tmpdir(), 'compter-trends-'));
      const store = await DuckDbEventStore.open(join(dir, 'compter.duckdb'));
      return {
        store,
        cleanup: () => rm(dir, { recursive: true, force: true }),
        async countRows(project) {
          const [row] = await store.readRows(
            'SELECT count(*)::DOUBLE, count(DISTINCT event_id)::DOUBLE FROM events WHERE project = $1',
            [project],
            [VARCHAR],
          );
          return { rows: row![0] as number, ids: row![1] as number };
        },
        holdMerges: async () => undefined,
      };
    },
  },
  { name: 'clickhouse', open: async () => openClickHouse((await getSharedClickHouse()).url) },
  // The same adapter against a current engine (chdb, ClickHouse 26.x): the SQL must run on both.
  { name: 'clickhouse-current', open: async () => openClickHouse((await getSharedChdb()).url) },
];

async function openClickHouse(url: string): Promise<OpenedStore> {
  const database = `compter_trends_${randomBytes(6).toString('hex')}`;
  const store = new ClickHouseEventStore({ url, database, requestTimeoutMs: 20_000 });
  const admin = createClient({ url });
  return {
    store,
    cleanup: () => admin.close(),
    async countRows(project) {
      const [row] = await store.selectRows<{ rows: string; ids: string }>(
        sql`SELECT count() AS rows, uniqExact(event_id) AS ids FROM ${sql.ident(database)}.trend_rows WHERE project = ${project}`,
      );
      return { rows: Number(row!.rows), ids: Number(row!.ids) };
    },
    async holdMerges() {
      for (const table of ['events', 'trend_rows']) await admin.command({ query: `SYSTEM STOP MERGES ${database}.${table}` });
    },
  };
}

/** What each engine answered, compared across engines at the end. */
const answers = new Map<
  string,
  Partial<{ jobs: JobTrendRow[]; series: JobEndPoint[]; slos: SloTrendRow[]; jobJson: JobTrendJson[]; sloJson: SloTrendJson[] }>
>();

const byJob = <T extends { job: string }>(rows: readonly T[], job: string): T => {
  const row = rows.find((r) => r.job === job);
  if (!row) throw new Error(`no row for job ${job}`);
  return row;
};
const bySlo = <T extends { sloId: string }>(rows: readonly T[], sloId: string): T => {
  const row = rows.find((r) => r.sloId === sloId);
  if (!row) throw new Error(`no row for SLO ${sloId}`);
  return row;
};

/** The same jobs in another project, with values that would change every answer if they leaked in. */
function otherProject(events: readonly LogEvent[]): LogEvent[] {
  const ids = new EventIdGenerator();
  return events.map((e) => ({
    ...e,
    eventId: ids.next(e.ts),
    project: 'trends-other-project',
    durationMs: e.durationMs === null ? null : e.durationMs * 10,
    latenessMs: e.latenessMs === null ? null : e.latenessMs + 3_600_000,
  }));
}

describe.each(engines)('trends on $name', (engine) => {
  const history = new TrendHistory();
  const dates = WINDOW;
  let opened: OpenedStore;
  let store: EventStore;
  let queries: TrendQueries;

  beforeAll(async () => {
    opened = await engine.open();
    store = opened.store;
    await store.migrate();
    await store.append(history.events);
    await store.append(otherProject(history.events));
    queries = trendQueriesFor(store);
  });

  afterAll(async () => {
    await store?.close();
    await opened?.cleanup();
  });

  it('the x axis skips weekends and holidays: consecutive indexes across Thanksgiving', () => {
    const at = (date: string) => dates.find((d) => d.date === date)?.index;
    expect(at('2026-11-26')).toBeUndefined(); // Thanksgiving
    expect(at('2026-11-11')).toBeUndefined(); // Veterans Day
    expect(at('2026-11-28')).toBeUndefined(); // Saturday
    expect(at('2026-11-27')).toBe(at('2026-11-25')! + 1);
    expect(at('2026-11-30')).toBe(at('2026-11-27')! + 1);
    expect(dates.map((d) => d.index)).toEqual([...Array(30).keys()]);
    for (const d of dates) expect(US_CALENDAR.businessDayIndex(dates[0]!.date, d.date)).toBe(d.index);
  });

  it('jobDurationTrend: a job 60 s slower each business day has slope 60 and known percentiles', async () => {
    const rows = await queries.jobDurationTrend({ project: history.project, dates });
    const slow = byJob(rows, 'overdraft-calc');
    expect(slow).toMatchObject({ application: APP, runs: 30, durationRuns: 30, latenessRuns: 30 });
    // Exact, not merely within ±1: x is the business-day index, and reruns, failures, starts,
    // rows before the window and other projects are all left out.
    expect(slow.durationSlopeSecondsPerDay!).toBeCloseTo(60, 6);
    expect(slow.endLatenessSlopeSecondsPerDay!).toBeCloseTo(60, 6);
    expect(slow.p50DurationSeconds!).toBeCloseTo(30 * 60 + 14.5 * 60, 6);
    expect(slow.p90DurationSeconds!).toBeCloseTo(30 * 60 + 26.1 * 60, 6);

    const flat = byJob(rows, 'flat-job');
    expect(flat.runs).toBe(30);
    expect(Math.abs(flat.durationSlopeSecondsPerDay!)).toBeLessThan(1);
    expect(Math.abs(flat.endLatenessSlopeSecondsPerDay!)).toBeLessThan(1);

    expect(byJob(rows, 'new-job')).toMatchObject({ runs: 5, durationRuns: 5 });
    // The latest success of one date has no duration: that date drops out of the duration
    // statistics instead of borrowing the earlier run's 7 minutes.
    const partial = byJob(rows, 'partial-job');
    expect(partial).toMatchObject({ runs: 12, durationRuns: 11, latenessRuns: 12 });
    expect(partial.p50DurationSeconds).toBeCloseTo(16 * 60, 6);
    expect(rows.map((r) => r.job)).toEqual([...rows.map((r) => r.job)].sort());
    answers.set(engine.name, { ...answers.get(engine.name), jobs: rows });
  });

  it('jobDurationTrend: restricted to given jobs, and empty for an unknown project', async () => {
    const rows = await queries.jobDurationTrend({ project: history.project, dates, jobs: [{ application: APP, job: 'flat-job' }] });
    expect(rows.map((r) => r.job)).toEqual(['flat-job']);
    expect(await queries.jobDurationTrend({ project: 'trends-nobody', dates })).toEqual([]);
  });

  it('jobDurationTrend: a window holding only part of the history counts only its dates', async () => {
    const rows = await queries.jobDurationTrend({ project: history.project, dates: dates.slice(20) });
    const slow = byJob(rows, 'overdraft-calc');
    expect(slow.runs).toBe(10);
    expect(slow.durationSlopeSecondsPerDay!).toBeCloseTo(60, 6);
    expect(slow.p50DurationSeconds!).toBeCloseTo(30 * 60 + 24.5 * 60, 6);
  });

  it('jobEndSeries: the latest success per business date, its end and duration', async () => {
    const series = await queries.jobEndSeries({ project: history.project, dates });
    const slow = series.filter((p) => p.job === 'overdraft-calc');
    expect(slow.map((p) => p.businessDate)).toEqual(dates.map((d) => d.date));
    for (const [i, p] of slow.entries()) {
      expect(p.endMs).toBe(nextDayAt(p.businessDate, 3) - 50 * 60_000 + i * 60_000);
      expect(p.durationMs).toBe(30 * 60_000 + i * 60_000);
    }
    const partial = series.find((p) => p.job === 'partial-job' && p.businessDate === dates[5]!.date)!;
    expect(partial.durationMs).toBeNull();
    expect(partial.endMs).toBe(nextDayAt(dates[5]!.date, 3) - 80 * 60_000);
    answers.set(engine.name, { ...answers.get(engine.name), series });
  });

  it('sloTrend: on-time ratio, median lateness and same-side share', async () => {
    const rows = await queries.sloTrend({ project: history.project, dates });
    const settlement = bySlo(rows, 'settlement');
    // 27 of 30 dates late by 8-12 minutes; the first date's failed close was replaced.
    expect(settlement).toMatchObject({ days: 30, occurrences: 30, sameSideShare: 0.9 });
    expect(settlement.onTimeRatio).toBeCloseTo(0.1, 9);
    expect(settlement.medianLatenessSeconds!).toBeCloseTo(percentile(SETTLEMENT_LATENESS, 0.5), 6);
    expect(settlement.medianLatenessSeconds!).toBeGreaterThanOrEqual(480);
    expect(settlement.medianLatenessSeconds!).toBeLessThanOrEqual(720);
    expect(settlement.p90LatenessSeconds!).toBeCloseTo(percentile(SETTLEMENT_LATENESS, 0.9), 6);

    const early = bySlo(rows, 'early-close');
    expect(early).toMatchObject({ days: 30, onTimeRatio: 1, sameSideShare: 1 });
    expect(early.medianLatenessSeconds!).toBeCloseTo(percentile(EARLY_CLOSE_LATENESS, 0.5), 6);

    // Never met counts as late for the side, and is left out of the median.
    const flaky = bySlo(rows, 'flaky');
    expect(flaky).toMatchObject({ days: 10, occurrences: 10, medianLatenessSeconds: 300, p90LatenessSeconds: 300 });
    expect(flaky.onTimeRatio).toBeCloseTo(0.2, 9);
    expect(flaky.sameSideShare).toBeCloseTo(0.8, 9);

    // Two slots a day: occurrences are slots, days are dates.
    expect(bySlo(rows, 'slotted')).toMatchObject({
      days: 30,
      occurrences: 60,
      onTimeRatio: 1,
      medianLatenessSeconds: -30,
      sameSideShare: 1,
    });

    // Rows whose latest closing is excused (maintenance) are left out of every figure.
    const maintained = bySlo(rows, 'maintained');
    expect(maintained).toMatchObject({ days: 15, occurrences: 15, medianLatenessSeconds: -60, p90LatenessSeconds: 120 });
    expect(maintained.onTimeRatio).toBeCloseTo(0.8, 9);
    expect(maintained.sameSideShare).toBeCloseTo(0.8, 9);

    expect((await queries.sloTrend({ project: history.project, dates, slos: ['flaky'] })).map((r) => r.sloId)).toEqual(['flaky']);
    answers.set(engine.name, { ...answers.get(engine.name), slos: rows });
  });

  it('the trend service: breach dates, history rules, bias, suggested ends, gauges and p90', async () => {
    const series = new TrendSeries();
    const service = new TrendService({ queries, inputs: history.inputs(), clock: new ManualClock(NOW), series });
    const jobs = await service.jobTrends(history.project, 30);

    const slow = byJob(jobs, 'overdraft-calc');
    expect(slow.durationSlopeSecondsPerDay!).toBeCloseTo(60, 6);
    // On time exactly at index 50, late from 51: 22 business days after 2026-12-11, past
    // Christmas and New Year's Day.
    expect(slow.projectedBreachDate).toBe('2027-01-14');
    // Crossed inside the window: on time at index 10, late from index 11.
    expect(byJob(jobs, 'already-late').projectedBreachDate).toBe(WINDOW[11]!.date);
    const flat = byJob(jobs, 'flat-job');
    expect(flat.projectedBreachDate).toBeNull();
    expect(Math.abs(flat.durationSlopeSecondsPerDay!)).toBeLessThan(1);
    // Five business dates: percentiles yes, slopes and projection no.
    expect(byJob(jobs, 'new-job')).toMatchObject({
      runs: 5,
      durationSlopeSecondsPerDay: null,
      endLatenessSlopeSecondsPerDay: null,
      projectedBreachDate: null,
    });
    expect(byJob(jobs, 'new-job').p90DurationSeconds).not.toBeNull();
    expect(Object.keys(slow).sort()).toEqual(
      [
        'application',
        'job',
        'runs',
        'durationSlopeSecondsPerDay',
        'endLatenessSlopeSecondsPerDay',
        'p50DurationSeconds',
        'p90DurationSeconds',
        'projectedBreachDate',
      ].sort(),
    );

    const slos = await service.sloTrends(history.project, 30);
    expect(slos.map((s) => s.sloId)).toEqual(['early-close', 'flaky', 'no-data', 'overnight', 'settlement']);
    const settlement = bySlo(slos, 'settlement');
    expect(settlement.bias).toBe('late');
    const shiftMinutes = Math.ceil(percentile(SETTLEMENT_LATENESS, 0.9) / 300) * 5;
    expect(settlement.suggestedExpectedEnd).toBe(`06:${String(shiftMinutes).padStart(2, '0')}+1d`);
    expect(bySlo(slos, 'early-close')).toMatchObject({ bias: 'early', suggestedExpectedEnd: '06:35+1d', onTimeRatio: 1 });
    expect(bySlo(slos, 'flaky')).toMatchObject({ bias: 'late', suggestedExpectedEnd: '08:05+1d' });
    expect(bySlo(slos, 'no-data')).toEqual({
      sloId: 'no-data',
      onTimeRatio: null,
      medianLatenessSeconds: null,
      sameSideShare: null,
      bias: 'none',
      suggestedExpectedEnd: null,
    });

    expect(service.p90DurationMs(history.project, APP, 'overdraft-calc')).toBeNull();
    await service.refresh();
    expect(service.p90DurationMs(history.project, APP, 'overdraft-calc')).toBeCloseTo((30 + 26.1) * 60_000, 3);
    const render = series.render();
    const text = Buffer.concat(render.chunks).toString();
    render.release();
    const labels = `{project="${history.project}",application="${APP}",job="overdraft-calc"}`;
    const slope = Number(new RegExp(`compter_job_duration_trend_seconds_per_day${escape(labels)} (\\S+)`).exec(text)?.[1]);
    expect(slope).toBeCloseTo(60, 6);
    expect(text).toContain(`compter_job_projected_breach_timestamp_seconds${labels} ${nextDayAt('2027-01-14', 3) / 1000}\n`);
    expect(text).not.toContain(
      `compter_job_projected_breach_timestamp_seconds{project="${history.project}",application="${APP}",job="flat-job"}`,
    );
    expect(text).not.toContain(`job="new-job"`);
    answers.set(engine.name, { ...answers.get(engine.name), jobJson: jobs, sloJson: slos });
  });

  it('re-sent events (duplicate event_ids, not yet merged) change no answer', async () => {
    const before = roundDeep({
      jobs: await queries.jobDurationTrend({ project: history.project, dates }),
      series: await queries.jobEndSeries({ project: history.project, dates }),
      slos: await queries.sloTrend({ project: history.project, dates }),
    });
    // Separate appends: ClickHouse keeps each as its own part until a merge, held off here.
    await opened.holdMerges();
    await store.append(history.events);
    await store.append(history.events.filter((e) => e.type === 'slo.closed' || e.status === 'succeed'));
    const stored = await opened.countRows(history.project);
    expect(stored.rows).toBeGreaterThanOrEqual(2 * stored.ids);
    // Rounded: the engines may sum in another order from one run to the next.
    expect(
      roundDeep({
        jobs: await queries.jobDurationTrend({ project: history.project, dates }),
        series: await queries.jobEndSeries({ project: history.project, dates }),
        slos: await queries.sloTrend({ project: history.project, dates }),
      }),
    ).toEqual(before);
  });

  it('refuses bad arguments before any SQL runs', async () => {
    await expect(queries.jobDurationTrend({ project: history.project, dates: [] })).rejects.toThrow(/dates/);
    await expect(queries.sloTrend({ project: "x' OR 1=1 --", dates })).rejects.toThrow(/project/);
    await expect(queries.jobEndSeries({ project: history.project, dates: [dates[0]!, { ...dates[0]!, index: 1 }] })).rejects.toThrow(
      /repeat/,
    );
  });

  it('job and application names with quotes and backslashes are values, not SQL', async () => {
    const tricky = { application: `it's "odd" \\ `, job: `job'); DROP TABLE events; --` };
    const ids = new EventIdGenerator();
    const ts = nextDayAt(dates[0]!.date, 2);
    await store.append([
      { ...history.events.find((e) => e.status === 'succeed')!, ...tricky, eventId: ids.next(ts), businessDate: dates[0]!.date },
    ]);
    const rows = await queries.jobDurationTrend({ project: history.project, dates, jobs: [tricky] });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ ...tricky, runs: 1 });
  });
});

describe('ClickHouse trend_rows', () => {
  it('a log written before the trend table existed is backfilled by the migration that adds it', async () => {
    const server = await getSharedClickHouse();
    const database = `compter_trends_${randomBytes(6).toString('hex')}`;
    const admin = createClient({ url: server.url });
    const store = new ClickHouseEventStore({ url: server.url, database, requestTimeoutMs: 20_000 });
    try {
      // The schema as it was before migration 3.
      await admin.command({ query: createDatabaseSql(database).text });
      await admin.command({ query: migrationsTableSql(database).text });
      for (const m of migrations.filter((m) => m.version < 3)) {
        for (const statement of m.statements(database)) await admin.command({ query: statement.text });
        await admin.insert({
          table: `${database}.schema_migrations`,
          values: [{ version: m.version, name: m.name, applied_at: 0 }],
          format: 'JSONEachRow',
        });
      }
      // Written as compter wrote rows then (no `origin` column yet).
      const history = new TrendHistory();
      await admin.insert({ table: `${database}.events`, values: history.events.map(toEventRow), format: 'JSONEachRow' });
      await store.migrate();
      const rows = await trendQueriesFor(store).jobDurationTrend({ project: history.project, dates: WINDOW });
      const slow = byJob(rows, 'overdraft-calc');
      expect(slow.runs).toBe(30);
      expect(slow.durationSlopeSecondsPerDay!).toBeCloseTo(60, 6);
      // And the view takes over for what comes after.
      const later = new TrendHistory();
      await store.append(later.events);
      expect(byJob(await trendQueriesFor(store).jobDurationTrend({ project: later.project, dates: WINDOW }), 'overdraft-calc').runs).toBe(
        30,
      );
    } finally {
      await store.close();
      await admin.command({ query: `DROP DATABASE IF EXISTS ${database}` });
      await admin.close();
    }
  });
});

describe('both engines', () => {
  it('give the same answers', () => {
    const duck = answers.get('duckdb');
    const click = answers.get('clickhouse');
    const current = answers.get('clickhouse-current');
    expect(duck).toBeDefined();
    expect(click).toBeDefined();
    expect(current).toBeDefined();
    expect(roundDeep(click)).toEqual(roundDeep(duck));
    expect(roundDeep(current)).toEqual(roundDeep(duck));
  });
});

/** Rounds every number to 6 decimals: the engines sum in different orders. */
function roundDeep(value: unknown): unknown {
  if (typeof value === 'number') return Math.round(value * 1e6) / 1e6 + 0;
  if (Array.isArray(value)) return value.map(roundDeep);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, roundDeep(v)]));
  return value;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
