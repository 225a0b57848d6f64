/**
 * The seed's batch-SLO scenarios (issue 4) as one suite that runs against any event store:
 * pass a `startTestCompter`-like factory (DuckDB here; the ClickHouse run passes its own).
 * Times: November 2026 in New York is EST (UTC-5); Thursday the 26th is Thanksgiving.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TestCompter } from './app-harness.js';

export type CompterFactory = (options?: { now?: string; dataDir?: string; env?: Record<string, string> }) => Promise<TestCompter>;

export const CALENDARS = {
  'every-day': { tz: 'America/New_York', weekdays: [0, 1, 2, 3, 4, 5, 6], newDayAt: '06:00' },
  'us-business': { tz: 'America/New_York', holidays: { country: 'US', state: 'NY' } },
  'back-office': { tz: 'America/New_York', weekdays: [1, 2, 3, 4, 5, 6], holidays: { country: 'US', state: 'NY' } },
} as const;

export const SLOS = {
  overdraft: {
    name: 'Overdraft calculation',
    application: 'deposits',
    calendar: 'every-day',
    jobs: [{ job: 'overdraft-calc', expectedStart: '00:30+1d', expectedEnd: '03:00+1d' }],
    slack: '30m',
  },
  dss: {
    name: 'Decision-support load',
    application: 'deposits',
    calendar: 'us-business',
    jobs: [{ job: 'dss-load', expectedStart: '02:00', expectedEnd: '05:00' }],
    slack: '1h',
  },
  'bo-report': {
    name: 'Back-office report',
    application: 'backoffice',
    calendar: 'back-office',
    jobs: [{ job: 'report-gen', expectedEnd: '08:00' }],
    slack: '2h',
  },
  summary: {
    name: 'Intraday summary',
    application: 'deposits',
    calendar: 'us-business',
    within: { cron: '10,40 6-18 * * *' },
    jobs: [{ job: 'summary-build', expectedEnd: '+0m' }],
    slack: '20m',
  },
} as const;

/** Defines the calendars and the named SLOs; every answer must be 201. */
export async function defineAll(c: TestCompter, slos: (keyof typeof SLOS)[]): Promise<void> {
  for (const [id, body] of Object.entries(CALENDARS)) expect((await c.json('PUT', `/v1/calendars/${id}`, body)).status).toBe(201);
  for (const id of slos) expect((await c.json('PUT', `/v1/slos/${id}`, SLOS[id])).status).toBe(201);
}

/** Moves the clock to `iso` and lets the SLO timer act. */
export async function at(c: TestCompter, iso: string): Promise<void> {
  c.clock.set(Date.parse(iso));
  await c.slos.tick();
}

/** Reports job statuses (application deposits unless given); expects 200. */
export async function report(c: TestCompter, ...items: Record<string, unknown>[]): Promise<{ accepted: number; duplicates: number }> {
  const res = await c.json(
    'POST',
    '/v1/job-status',
    items.map((i) => ({ application: 'deposits', ...i })),
  );
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** A run on a business date: start and end given as UTC instants. */
export async function runJob(
  c: TestCompter,
  job: string,
  businessDate: string,
  runId: string,
  startIso: string,
  endIso: string,
  status: 'succeed' | 'fail' = 'succeed',
  application = 'deposits',
): Promise<void> {
  await at(c, startIso);
  await report(c, { application, job, status: 'start', time: startIso, businessDate, runId });
  await at(c, endIso);
  await report(c, { application, job, status, time: endIso, businessDate, runId });
}

export async function rows(c: TestCompter, slo: string, from: string, to: string): Promise<any[]> {
  const res = await c.json('GET', `/v1/slos/${slo}/performance?from=${from}&to=${to}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.rows;
}

/** `[businessDate, slot, status, latenessSeconds]` of each row. */
export const brief = (rs: any[]): unknown[][] => rs.map((r) => [r.businessDate, r.slot, r.status, r.latenessSeconds]);

/** The SLO and job lines of /metrics. */
export async function sloMetricLines(c: TestCompter): Promise<string[]> {
  const text = await (await c.request('/metrics')).text();
  return text
    .split('\n')
    .filter((l) => /^compter_(slo|job)_/.test(l))
    .sort();
}

export function sample(lines: string[], prefix: string): number | undefined {
  const line = lines.find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const labels = (slo: string, application = 'deposits') => `{project="default",slo="${slo}",application="${application}"`;

/** Registers the scenario suite for one store. */
export function describeSloScenarios(storeName: string, start: CompterFactory): void {
  describe(`batch-SLO scenarios on ${storeName}`, () => {
    const open: TestCompter[] = [];
    const dirs: string[] = [];
    const boot = async (now: string): Promise<TestCompter> => {
      const c = await start({ now });
      open.push(c);
      return c;
    };
    afterEach(async () => {
      for (const c of open.splice(0)) await c.cleanup();
      for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
    });

    it('the overdraft job due by 03:00 every calendar day; Monday’s run that starts 00:30 Tuesday belongs to Monday', async () => {
      const c = await boot('2026-11-22T12:00:00Z');
      await defineAll(c, ['overdraft']);
      // Sunday's run, in the small hours of Monday.
      await runJob(c, 'overdraft-calc', '2026-11-22', 'od-1122', '2026-11-23T05:30:00Z', '2026-11-23T07:40:00Z');
      // Monday's: it starts 00:30 Tuesday, names Monday, and its success names only the run.
      await at(c, '2026-11-24T05:30:00Z');
      await report(c, {
        job: 'overdraft-calc',
        status: 'start',
        time: '2026-11-24T00:30:00-05:00',
        businessDate: '2026-11-23',
        runId: 'od-1123',
      });
      expect((await c.json('GET', '/v1/slos/overdraft')).body.current).toMatchObject({
        businessDate: '2026-11-23',
        status: 'running',
        actualStart: '2026-11-24T05:30:00.000Z',
      });
      await at(c, '2026-11-24T07:50:00Z');
      await report(c, { job: 'overdraft-calc', status: 'succeed', time: '2026-11-24T02:50:00-05:00', runId: 'od-1123' });
      // Tuesday's run sends no business date at all: the calendar's 06:00 rollover derives Tuesday.
      await at(c, '2026-11-25T05:35:00Z');
      await report(c, { job: 'overdraft-calc', status: 'start', time: '2026-11-25T00:35:00-05:00', runId: 'od-1124' });
      await at(c, '2026-11-25T08:20:00Z');
      await report(c, { job: 'overdraft-calc', status: 'succeed', time: '2026-11-25T03:20:00-05:00', runId: 'od-1124' });

      expect(brief(await rows(c, 'overdraft', '2026-11-21', '2026-11-25'))).toEqual([
        ['2026-11-22', null, 'on_time', -1200],
        ['2026-11-23', null, 'on_time', -600],
        ['2026-11-24', null, 'late', 1200],
        ['2026-11-25', null, 'pending', null],
      ]);
      const monday = (await rows(c, 'overdraft', '2026-11-23', '2026-11-23'))[0];
      expect(monday).toEqual({
        sloId: 'overdraft',
        businessDate: '2026-11-23',
        slot: null,
        expectedStart: '2026-11-24T05:30:00.000Z',
        expectedEnd: '2026-11-24T08:00:00.000Z',
        actualStart: '2026-11-24T05:30:00.000Z',
        actualEnd: '2026-11-24T07:50:00.000Z',
        status: 'on_time',
        latenessSeconds: -600,
        predictedEnd: '2026-11-24T07:50:00.000Z',
      });

      // The log holds every status with its business date, run length and lateness (docs/events.md).
      const logged = await c.store.query({ project: 'default', job: 'overdraft-calc', types: ['job.status'], limit: 100, order: 'asc' });
      expect(logged.map((e) => [e.status, e.runId, e.businessDate, e.durationMs, e.latenessMs])).toEqual([
        ['start', 'od-1122', '2026-11-22', null, null],
        ['succeed', 'od-1122', '2026-11-22', 7_800_000, -1_200_000],
        ['start', 'od-1123', '2026-11-23', null, null],
        ['succeed', 'od-1123', '2026-11-23', 8_400_000, -600_000],
        ['start', 'od-1124', '2026-11-24', null, null],
        ['succeed', 'od-1124', '2026-11-24', 9_900_000, 1_200_000],
      ]);
      expect(logged[3]!.attributes).toEqual({ expectedEnd: Date.parse('2026-11-24T08:00:00Z') });
      expect(logged[3]!.ts).toBe(Date.parse('2026-11-24T07:50:00Z'));
      const closed = await c.store.query({ project: 'default', slo: 'overdraft', types: ['slo.closed'], limit: 100, order: 'asc' });
      expect(
        closed.map((e) => [e.businessDate, e.status, e.application, e.latenessMs, e.type === 'slo.closed' && e.attributes.slot]),
      ).toEqual([
        ['2026-11-22', 'on_time', 'deposits', -1_200_000, ''],
        ['2026-11-23', 'on_time', 'deposits', -600_000, ''],
        ['2026-11-24', 'late', 'deposits', 1_200_000, ''],
      ]);
      expect(closed[1]!.attributes).toMatchObject({
        expectedStart: Date.parse('2026-11-24T05:30:00Z'),
        expectedEnd: Date.parse('2026-11-24T08:00:00Z'),
        actualStart: Date.parse('2026-11-24T05:30:00Z'),
        actualEnd: Date.parse('2026-11-24T07:50:00Z'),
      });
    });

    it('the decision-support load due by 05:00 each business day: a holiday, the day after Thanksgiving, a date with no events at all, a late delivery', async () => {
      const c = await boot('2026-11-24T12:00:00Z');
      await defineAll(c, ['dss']);
      await runJob(c, 'dss-load', '2026-11-25', 'dss-1125', '2026-11-25T07:00:00Z', '2026-11-25T09:45:00Z');
      // Thanksgiving passes with nothing; so does Friday, a business day by default.
      await at(c, '2026-11-27T10:59:00Z');
      expect((await c.json('GET', '/v1/slos/dss')).body.current).toMatchObject({ businessDate: '2026-11-27', status: 'late' });
      await at(c, '2026-11-27T11:00:01Z');
      expect((await c.json('GET', '/v1/slos/dss')).body).toMatchObject({
        status: 'missed',
        deliveries: { on_time: 1, late: 0, missed: 1, failed: 0 },
      });
      await runJob(c, 'dss-load', '2026-11-30', 'dss-1130', '2026-11-30T07:30:00Z', '2026-11-30T10:20:00Z');

      expect(brief(await rows(c, 'dss', '2026-11-25', '2026-11-30'))).toEqual([
        ['2026-11-25', null, 'on_time', -900],
        ['2026-11-26', null, 'not_scheduled', null],
        ['2026-11-27', null, 'missed', null],
        ['2026-11-28', null, 'not_scheduled', null],
        ['2026-11-29', null, 'not_scheduled', null],
        ['2026-11-30', null, 'late', 1200],
      ]);
      const lines = await sloMetricLines(c);
      for (const [outcome, n] of [
        ['on_time', 1],
        ['late', 1],
        ['missed', 1],
        ['failed', 0],
      ] as const) {
        expect(sample(lines, `compter_slo_deliveries_total${labels('dss')},outcome="${outcome}"}`)).toBe(n);
      }
      expect(sample(lines, `compter_slo_status${labels('dss')},status="late"}`)).toBe(1);
      expect(sample(lines, `compter_slo_lateness_seconds${labels('dss')}}`)).toBe(1200);
      expect(sample(lines, `compter_slo_deadline_timestamp_seconds${labels('dss')}}`)).toBe(Date.parse('2026-11-30T10:00:00Z') / 1000);
      expect(sample(lines, 'compter_job_runs_total{project="default",application="deposits",job="dss-load",status="succeed"}')).toBe(2);
      expect(sample(lines, 'compter_job_last_duration_seconds{project="default",application="deposits",job="dss-load"}')).toBe(10_200);
    });

    it('a report due by 08:00 on back-office business days (Saturdays too, holidays not)', async () => {
      const c = await boot('2026-11-25T12:00:00Z');
      await defineAll(c, ['bo-report', 'dss']);
      await at(c, '2026-11-28T12:55:00Z');
      await report(c, {
        application: 'backoffice',
        job: 'report-gen',
        status: 'succeed',
        time: '2026-11-28T07:55:00-05:00',
        businessDate: '2026-11-28',
      });
      await at(c, '2026-11-30T16:00:00Z');
      // Defined at 07:00 on Wednesday: Wednesday's report, due 08:00, is already owed.
      expect(brief(await rows(c, 'bo-report', '2026-11-24', '2026-11-30'))).toEqual([
        ['2026-11-25', null, 'missed', null],
        ['2026-11-26', null, 'not_scheduled', null],
        ['2026-11-27', null, 'missed', null],
        ['2026-11-28', null, 'on_time', -300],
        ['2026-11-29', null, 'not_scheduled', null],
        ['2026-11-30', null, 'missed', null],
      ]);
      // The same Saturday is no business day for the decision-support calendar.
      expect((await rows(c, 'dss', '2026-11-28', '2026-11-28'))[0].status).toBe('not_scheduled');
      const lines = await sloMetricLines(c);
      expect(sample(lines, `compter_slo_deliveries_total${labels('bo-report', 'backoffice')},outcome="missed"}`)).toBe(3);
      expect(sample(lines, `compter_slo_deliveries_total${labels('bo-report', 'backoffice')},outcome="on_time"}`)).toBe(1);
    });

    it('a summary every 30 minutes 06:00–18:00 whose updates are due by :10 and :40', async () => {
      const c = await boot('2026-11-24T10:00:00Z');
      await defineAll(c, ['summary']);
      await runJob(c, 'summary-build', '2026-11-24', 'sum-0600', '2026-11-24T11:00:00Z', '2026-11-24T11:06:00Z');
      await runJob(c, 'summary-build', '2026-11-24', 'sum-0630', '2026-11-24T11:30:00Z', '2026-11-24T11:45:00Z');
      // No run for 07:10; 07:10 + 20m slack is 12:30Z.
      await at(c, '2026-11-24T12:30:00Z');
      expect((await c.json('GET', '/v1/slos/summary')).body.current).toMatchObject({ slot: '07:10', status: 'late' });
      await at(c, '2026-11-24T12:30:01Z');
      await runJob(c, 'summary-build', '2026-11-24', 'sum-0731', '2026-11-24T12:31:00Z', '2026-11-24T12:35:00Z');

      const today = await rows(c, 'summary', '2026-11-24', '2026-11-24');
      expect(today).toHaveLength(26);
      expect(brief(today.slice(0, 5))).toEqual([
        ['2026-11-24', '06:10', 'on_time', -240],
        ['2026-11-24', '06:40', 'late', 300],
        ['2026-11-24', '07:10', 'missed', null],
        ['2026-11-24', '07:40', 'on_time', -300],
        ['2026-11-24', '08:10', 'pending', null],
      ]);
      expect(today[1]).toMatchObject({
        expectedEnd: '2026-11-24T11:40:00.000Z',
        actualStart: '2026-11-24T11:30:00.000Z',
        actualEnd: '2026-11-24T11:45:00.000Z',
      });
      expect(today.at(-1)).toMatchObject({ slot: '18:40', expectedEnd: '2026-11-24T23:40:00.000Z' });
      // Thanksgiving has no slots.
      expect(brief(await rows(c, 'summary', '2026-11-26', '2026-11-26'))).toEqual([['2026-11-26', null, 'not_scheduled', null]]);
      const closed = await c.store.query({ project: 'default', slo: 'summary', types: ['slo.closed'], limit: 100, order: 'asc' });
      expect(closed.map((e) => [e.type === 'slo.closed' && e.attributes.slot, e.status])).toEqual([
        ['06:10', 'on_time'],
        ['06:40', 'late'],
        ['07:10', 'missed'],
        ['07:40', 'on_time'],
      ]);
      const lines = await sloMetricLines(c);
      expect(sample(lines, `compter_slo_deliveries_total${labels('summary')},outcome="on_time"}`)).toBe(2);
    });

    it('a failed run followed by a rerun with a new run id; a failure never rerun', async () => {
      const c = await boot('2026-11-24T06:00:00Z');
      await defineAll(c, ['dss']);
      await runJob(c, 'dss-load', '2026-11-24', 'r-1', '2026-11-24T07:00:00Z', '2026-11-24T07:30:00Z', 'fail');
      const failed = (await c.json('GET', '/v1/slos/dss')).body;
      expect(failed).toMatchObject({ status: 'at_risk', current: { businessDate: '2026-11-24', status: 'at_risk' } });
      expect(sample(await sloMetricLines(c), `compter_slo_status${labels('dss')},status="at_risk"}`)).toBe(1);
      await at(c, '2026-11-24T07:40:00Z');
      await report(c, { job: 'dss-load', status: 'start', time: '2026-11-24T07:40:00Z', businessDate: '2026-11-24', runId: 'r-2' });
      expect((await c.json('GET', '/v1/slos/dss')).body.status).toBe('running');
      await at(c, '2026-11-24T09:00:00Z');
      await report(c, { job: 'dss-load', status: 'succeed', time: '2026-11-24T09:00:00Z', runId: 'r-2' });

      // Wednesday: a failure and no rerun. Failed after the deadline, closed as failed after the slack.
      await runJob(c, 'dss-load', '2026-11-25', 'r-3', '2026-11-25T07:00:00Z', '2026-11-25T07:30:00Z', 'fail');
      await at(c, '2026-11-25T10:00:01Z');
      expect((await rows(c, 'dss', '2026-11-25', '2026-11-25'))[0]).toMatchObject({
        status: 'failed',
        actualStart: '2026-11-25T07:00:00.000Z',
        actualEnd: null,
      });
      await at(c, '2026-11-25T11:00:01Z');

      expect(brief(await rows(c, 'dss', '2026-11-24', '2026-11-25'))).toEqual([
        ['2026-11-24', null, 'on_time', -3600],
        ['2026-11-25', null, 'failed', null],
      ]);
      const lines = await sloMetricLines(c);
      expect(sample(lines, `compter_slo_deliveries_total${labels('dss')},outcome="failed"}`)).toBe(1);
      expect(sample(lines, `compter_slo_deliveries_total${labels('dss')},outcome="on_time"}`)).toBe(1);
      expect(sample(lines, 'compter_job_runs_total{project="default",application="deposits",job="dss-load",status="fail"}')).toBe(2);
      expect(sample(lines, 'compter_job_runs_total{project="default",application="deposits",job="dss-load",status="succeed"}')).toBe(1);
    });

    it('at_risk from the p90 of recent durations on this calendar', async () => {
      const c = await boot('2026-11-21T06:00:00Z');
      await defineAll(c, ['dss']);
      // One hour on business days; five hours on days the calendar does not count.
      for (const date of ['2026-11-21', '2026-11-22'])
        await runJob(c, 'dss-load', date, `h-${date}`, `${date}T07:00:00Z`, `${date}T12:00:00Z`);
      for (const date of ['2026-11-23', '2026-11-24', '2026-11-25'])
        await runJob(c, 'dss-load', date, `h-${date}`, `${date}T07:00:00Z`, `${date}T08:00:00Z`);
      await runJob(c, 'dss-load', '2026-11-26', 'h-2026-11-26', '2026-11-26T07:00:00Z', '2026-11-26T12:00:00Z');
      // Friday starts 02:30: with a p90 of one hour it ends 03:30, well before 05:00.
      await at(c, '2026-11-27T07:30:00Z');
      await report(c, { job: 'dss-load', status: 'start', time: '2026-11-27T07:30:00Z', businessDate: '2026-11-27', runId: 'fri' });
      expect((await c.json('GET', '/v1/slos/dss')).body.current).toMatchObject({
        status: 'running',
        predictedEnd: '2026-11-27T08:30:00.000Z',
      });
      // Monday starts 04:30: predicted 05:30, after the deadline.
      await at(c, '2026-11-30T09:30:00Z');
      await report(c, { job: 'dss-load', status: 'start', time: '2026-11-30T09:30:00Z', businessDate: '2026-11-30', runId: 'mon' });
      expect((await c.json('GET', '/v1/slos/dss')).body.current).toMatchObject({
        businessDate: '2026-11-30',
        status: 'at_risk',
        predictedEnd: '2026-11-30T10:30:00.000Z',
      });
      const lines = await sloMetricLines(c);
      expect(sample(lines, `compter_slo_status${labels('dss')},status="at_risk"}`)).toBe(1);
      expect(sample(lines, `compter_slo_predicted_end_timestamp_seconds${labels('dss')}}`)).toBe(Date.parse('2026-11-30T10:30:00Z') / 1000);
    });

    it.each([
      ['from the log alone', '0'],
      ['from a snapshot', '200000'],
    ])('a restart on the same data reproduces the rows and the series (%s)', async (_, snapshotEvery) => {
      const dataDir = await mkdtemp(join(tmpdir(), 'compter-slo-restart-'));
      dirs.push(dataDir);
      const env = { COMPTER_SNAPSHOT_EVERY_EVENTS: snapshotEvery };
      const first = await start({ now: '2026-11-24T06:00:00Z', dataDir, env });
      await defineAll(first, ['dss', 'summary']);
      await runJob(first, 'dss-load', '2026-11-24', 'r-1', '2026-11-24T07:00:00Z', '2026-11-24T07:30:00Z', 'fail');
      await runJob(first, 'dss-load', '2026-11-24', 'r-2', '2026-11-24T07:40:00Z', '2026-11-24T10:10:00Z');
      await runJob(first, 'summary-build', '2026-11-24', 's-1', '2026-11-24T11:00:00Z', '2026-11-24T11:05:00Z');
      await at(first, '2026-11-25T12:00:00Z');
      // Predicted ends use the p90 the trend refresh read from the store; the periodic refresh may
      // or may not have run since the last report, so both sides read fresh statistics.
      await first.trends.refresh();
      const before = {
        dss: await rows(first, 'dss', '2026-11-23', '2026-11-26'),
        summary: await rows(first, 'summary', '2026-11-24', '2026-11-24'),
        metrics: await sloMetricLines(first),
        slos: (await first.json('GET', '/v1/slos')).body,
      };
      await first.cleanup();
      const second = await start({ now: '2026-11-25T12:00:00Z', dataDir, env });
      open.push(second);
      expect(second.rebuilt.fromSnapshot).toBe(snapshotEvery !== '0');
      await second.trends.refresh();
      const after = {
        dss: await rows(second, 'dss', '2026-11-23', '2026-11-26'),
        summary: await rows(second, 'summary', '2026-11-24', '2026-11-24'),
        metrics: await sloMetricLines(second),
        slos: (await second.json('GET', '/v1/slos')).body,
      };
      expect(after).toEqual(before);
      expect(brief(before.dss)).toEqual([
        ['2026-11-24', null, 'late', 600],
        ['2026-11-25', null, 'missed', null],
        ['2026-11-26', null, 'not_scheduled', null],
      ]);
      // Nothing was closed twice: the restart found every row already in the log.
      const closed = await second.store.query({ project: 'default', slo: 'dss', types: ['slo.closed'], limit: 100, order: 'asc' });
      expect(closed.map((e) => e.businessDate)).toEqual(['2026-11-24', '2026-11-25']);
    });
  });
}
