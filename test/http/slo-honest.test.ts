/**
 * Honest SLO rows (docs/semantics.md, "Maintenance windows" and "Dependencies"): a maintenance
 * window over an SLO excuses the rows whose deadline falls inside it, and leaves them out of
 * deliveries, lateness and trends; an SLO that waits for another (`after`) predicts its end from
 * the upstream's delay. Times: November 2026 in New York is EST (UTC-5); calendar `every-day`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';
import { at, brief, report, rows, runJob, sample, sloMetricLines } from '../support/slo-scenarios.js';

const open: TestCompter[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.cleanup();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function boot(now: string, dataDir?: string): Promise<TestCompter> {
  const c = await startTestCompter({ now, ...(dataDir ? { dataDir } : {}) });
  open.push(c);
  return c;
}

const EVERY_DAY = { tz: 'America/New_York', weekdays: [0, 1, 2, 3, 4, 5, 6] };
/** Friday's run is due 03:00 Saturday New York time (08:00Z); the slack ends 09:00Z. */
const nightly = (job: string, extra: Record<string, unknown> = {}) => ({
  application: 'deposits',
  calendar: 'every-day',
  jobs: [{ job, expectedStart: '01:00+1d', expectedEnd: '03:00+1d' }],
  slack: '1h',
  ...extra,
});
/** 02:00-04:00 New York on Saturday 21 November: holds the deadline of Friday's rows only. */
const upgrade = (slos: string[]) => ({ match: { slos }, from: '2026-11-21T07:00:00Z', to: '2026-11-21T09:00:00Z', reason: 'upgrade' });

const labels = (slo: string) => `{project="default",slo="${slo}",application="deposits"`;

async function setUp(now: string, dataDir?: string): Promise<TestCompter> {
  const c = await boot(now, dataDir);
  expect((await c.json('PUT', '/v1/calendars/every-day', EVERY_DAY)).status).toBe(201);
  expect((await c.json('PUT', '/v1/slos/nightly', nightly('nightly-load'))).status).toBe(201);
  return c;
}

describe('maintenance windows excuse SLO rows', () => {
  it('a row due inside a window is excused, not late: out of deliveries, lateness and the on-time ratio', async () => {
    const c = await setUp('2026-11-20T12:00:00Z');
    expect((await c.json('PUT', '/v1/slos/quick', nightly('quick-load'))).status).toBe(201);
    expect((await c.json('PUT', '/v1/maintenance/upgrade', upgrade(['nightly', 'quick']))).status).toBe(201);

    // Friday: quick's job makes its deadline inside the window, nightly's runs long.
    await at(c, '2026-11-21T06:00:00Z');
    await report(
      c,
      { job: 'nightly-load', status: 'start', time: '2026-11-21T06:00:00Z', businessDate: '2026-11-20', runId: 'n-20' },
      { job: 'quick-load', status: 'start', time: '2026-11-21T06:00:00Z', businessDate: '2026-11-20', runId: 'q-20' },
    );
    await at(c, '2026-11-21T07:30:00Z');
    await report(c, { job: 'quick-load', status: 'succeed', time: '2026-11-21T07:30:00Z', businessDate: '2026-11-20', runId: 'q-20' });
    await at(c, '2026-11-21T08:10:00Z');
    // Past its deadline and unmet: shown excused, never late, so CompterSloLate stays quiet.
    expect((await c.json('GET', '/v1/slos/nightly')).body.current).toMatchObject({ businessDate: '2026-11-20', status: 'excused' });
    let lines = await sloMetricLines(c);
    expect(sample(lines, `compter_slo_status${labels('nightly')},status="excused"}`)).toBe(1);
    expect(sample(lines, `compter_slo_status${labels('nightly')},status="late"}`)).toBe(0);
    await at(c, '2026-11-21T08:30:00Z');
    await report(c, { job: 'nightly-load', status: 'succeed', time: '2026-11-21T08:30:00Z', businessDate: '2026-11-20', runId: 'n-20' });

    // Saturday: due after the window, late as usual. Sunday: on time.
    await runJob(c, 'nightly-load', '2026-11-21', 'n-21', '2026-11-22T06:00:00Z', '2026-11-22T08:20:00Z');
    await runJob(c, 'nightly-load', '2026-11-22', 'n-22', '2026-11-23T06:00:00Z', '2026-11-23T07:30:00Z');
    await at(c, '2026-11-23T12:00:00Z');

    expect(brief(await rows(c, 'nightly', '2026-11-20', '2026-11-22'))).toEqual([
      ['2026-11-20', null, 'excused', 1800],
      ['2026-11-21', null, 'late', 1200],
      ['2026-11-22', null, 'on_time', -1800],
    ]);
    // Met on time inside the window: on time still, and delivered.
    expect(brief(await rows(c, 'quick', '2026-11-20', '2026-11-20'))).toEqual([['2026-11-20', null, 'on_time', -1800]]);
    const logged = await c.store.query({ project: 'default', slo: 'nightly', types: ['slo.closed'], limit: 10, order: 'asc' });
    expect(logged.map((e) => [e.businessDate, e.status])).toEqual([
      ['2026-11-20', 'excused'],
      ['2026-11-21', 'late'],
      ['2026-11-22', 'on_time'],
    ]);

    const slo = (await c.json('GET', '/v1/slos/nightly')).body;
    expect(slo.deliveries).toEqual({ on_time: 1, late: 1, missed: 0, failed: 0 });
    // quick did not run on the nights after: those two rows are missed.
    expect((await c.json('GET', '/v1/slos/quick')).body.deliveries).toEqual({ on_time: 1, late: 0, missed: 2, failed: 0 });
    lines = await sloMetricLines(c);
    expect(sample(lines, `compter_slo_deliveries_total${labels('nightly')},outcome="late"}`)).toBe(1);
    expect(sample(lines, `compter_slo_deliveries_total${labels('nightly')},outcome="on_time"}`)).toBe(1);
    expect(lines.filter((l) => l.includes('outcome="excused"'))).toEqual([]);
    expect(sample(lines, `compter_slo_lateness_seconds${labels('nightly')}}`)).toBe(-1800);

    // The on-time ratio counts the late row and the on-time one, not the excused one.
    const trends = await c.json('GET', '/v1/trends/slos');
    expect(trends.body.slos.find((s: any) => s.sloId === 'nightly')).toMatchObject({ onTimeRatio: 0.5 });
  });

  it('the excused row sets no lateness: compter_slo_lateness_seconds waits for a delivered row', async () => {
    const c = await setUp('2026-11-20T12:00:00Z');
    await c.json('PUT', '/v1/maintenance/upgrade', upgrade(['nightly']));
    await runJob(c, 'nightly-load', '2026-11-20', 'n-20', '2026-11-21T06:00:00Z', '2026-11-21T08:30:00Z');
    const lines = await sloMetricLines(c);
    expect(sample(lines, `compter_slo_lateness_seconds${labels('nightly')}}`)).toBeUndefined();
    expect(sample(lines, `compter_slo_status${labels('nightly')},status="excused"}`)).toBe(1);
  });

  it('a window defined or deleted later re-derives the open row at once', async () => {
    const c = await setUp('2026-11-20T12:00:00Z');
    await at(c, '2026-11-21T06:00:00Z');
    await report(c, { job: 'nightly-load', status: 'start', time: '2026-11-21T06:00:00Z', businessDate: '2026-11-20', runId: 'n-20' });
    await at(c, '2026-11-21T08:10:00Z');
    const status = async (s: string) => sample(await sloMetricLines(c), `compter_slo_status${labels('nightly')},status="${s}"}`);
    expect((await c.json('GET', '/v1/slos/nightly')).body.status).toBe('late');
    expect(await status('late')).toBe(1);

    // Defined after the deadline passed: the deadline still falls inside it.
    expect((await c.json('PUT', '/v1/maintenance/upgrade', upgrade(['nightly']))).status).toBe(201);
    expect((await c.json('GET', '/v1/slos/nightly')).body.status).toBe('excused');
    expect(await status('excused')).toBe(1);
    expect(await status('late')).toBe(0);

    expect((await c.json('DELETE', '/v1/maintenance/upgrade')).status).toBe(204);
    expect((await c.json('GET', '/v1/slos/nightly')).body.status).toBe('late');
    expect(await status('late')).toBe(1);
    await at(c, '2026-11-21T09:00:01Z');
    expect(brief(await rows(c, 'nightly', '2026-11-20', '2026-11-20'))).toEqual([['2026-11-20', null, 'missed', null]]);
    expect((await c.json('GET', '/v1/slos/nightly')).body.deliveries).toMatchObject({ missed: 1 });
  });

  it('a window over another SLO, or not over the deadline, leaves the row alone', async () => {
    const c = await setUp('2026-11-20T12:00:00Z');
    await c.json('PUT', '/v1/maintenance/other', upgrade(['someone-else']));
    // Over the run but ending before the deadline.
    await c.json('PUT', '/v1/maintenance/early', {
      match: { slos: ['nightly'] },
      from: '2026-11-21T05:00:00Z',
      to: '2026-11-21T07:59:00Z',
    });
    await at(c, '2026-11-21T09:00:01Z');
    expect(brief(await rows(c, 'nightly', '2026-11-20', '2026-11-20'))).toEqual([['2026-11-20', null, 'missed', null]]);
  });

  it.each([
    ['the log', '0'],
    ['a snapshot', '200000'],
  ])('a window survives a restart from %s: the open row stays excused and closes excused', async (_from, every) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'compter-slo-honest-'));
    dirs.push(dataDir);
    const env = { COMPTER_SNAPSHOT_EVERY_EVENTS: every };
    const first = await startTestCompter({ dataDir, env, now: '2026-11-20T12:00:00Z' });
    open.push(first);
    await first.json('PUT', '/v1/calendars/every-day', EVERY_DAY);
    await first.json('PUT', '/v1/slos/nightly', nightly('nightly-load'));
    await first.json('PUT', '/v1/maintenance/upgrade', upgrade(['nightly']));
    await at(first, '2026-11-21T06:00:00Z');
    await report(first, { job: 'nightly-load', status: 'start', time: '2026-11-21T06:00:00Z', businessDate: '2026-11-20', runId: 'n-20' });
    await at(first, '2026-11-21T08:30:00Z');
    expect((await first.json('GET', '/v1/slos/nightly')).body.status).toBe('excused');
    open.splice(open.indexOf(first), 1);
    await first.cleanup();

    const again = await startTestCompter({ dataDir, env, now: '2026-11-21T08:40:00Z' });
    open.push(again);
    expect((await again.json('GET', '/v1/maintenance/upgrade')).status).toBe(200);
    expect((await again.json('GET', '/v1/slos/nightly')).body.status).toBe('excused');
    expect(sample(await sloMetricLines(again), `compter_slo_status${labels('nightly')},status="excused"}`)).toBe(1);
    await at(again, '2026-11-21T09:00:01Z');
    expect(brief(await rows(again, 'nightly', '2026-11-20', '2026-11-20'))).toEqual([['2026-11-20', null, 'excused', null]]);
    expect((await again.json('GET', '/v1/slos/nightly')).body.deliveries).toEqual({ on_time: 0, late: 0, missed: 0, failed: 0 });
  });
});

describe('SLO dependencies (after)', () => {
  /** `load` extracts 01:00-03:00; `report` publishes 03:00-04:00 after it; `report-alone` is the same without `after`. */
  async function chain(): Promise<TestCompter> {
    const c = await boot('2026-11-17T12:00:00Z');
    await c.json('PUT', '/v1/calendars/every-day', EVERY_DAY);
    const load = {
      application: 'deposits',
      calendar: 'every-day',
      jobs: [{ job: 'extract', expectedStart: '01:00+1d', expectedEnd: '03:00+1d' }],
    };
    const publish = {
      application: 'deposits',
      calendar: 'every-day',
      jobs: [{ job: 'publish', expectedStart: '03:00+1d', expectedEnd: '04:00+1d' }],
    };
    expect((await c.json('PUT', '/v1/slos/load', load)).status).toBe(201);
    const put = await c.json('PUT', '/v1/slos/report', { ...publish, after: ['load'] });
    expect(put.status).toBe(201);
    expect(put.body.after).toEqual(['load']);
    expect((await c.json('PUT', '/v1/slos/report-alone', publish)).body.after).toEqual([]);
    // Three nights of history: extract takes an hour, publish 45 minutes.
    for (const [date, next] of [
      ['2026-11-17', '2026-11-18'],
      ['2026-11-18', '2026-11-19'],
      ['2026-11-19', '2026-11-20'],
    ]) {
      await runJob(c, 'extract', date!, `x-${date}`, `${next}T06:00:00Z`, `${next}T07:00:00Z`);
      await runJob(c, 'publish', date!, `p-${date}`, `${next}T08:00:00Z`, `${next}T08:45:00Z`);
    }
    return c;
  }

  it("the upstream's delay moves the downstream's predicted end: at risk before its own job starts", async () => {
    const c = await chain();
    // Friday's extract starts on time and fails at 07:30Z; until then nothing is late.
    await at(c, '2026-11-21T06:00:00Z');
    await report(c, { job: 'extract', status: 'start', time: '2026-11-21T06:00:00Z', businessDate: '2026-11-20', runId: 'x-20a' });
    await at(c, '2026-11-21T07:30:00Z');
    expect(await rows(c, 'report', '2026-11-20', '2026-11-20')).toMatchObject([
      { status: 'pending', predictedEnd: '2026-11-21T08:45:00.000Z' },
    ]);
    // The rerun starts at once and takes its hour: extract is predicted to end 08:30Z, after its 08:00Z deadline.
    await report(
      c,
      { job: 'extract', status: 'fail', time: '2026-11-21T07:30:00Z', businessDate: '2026-11-20', runId: 'x-20a' },
      { job: 'extract', status: 'start', time: '2026-11-21T07:30:00Z', businessDate: '2026-11-20', runId: 'x-20b' },
    );
    // The upstream's report re-derives the downstream at once: its series say so before any timer.
    const lines = await sloMetricLines(c);
    expect(sample(lines, `compter_slo_status${labels('report')},status="at_risk"}`)).toBe(1);
    expect(sample(lines, `compter_slo_predicted_end_timestamp_seconds${labels('report')}}`)).toBe(
      Date.parse('2026-11-21T09:15:00Z') / 1000,
    );
    await at(c, '2026-11-21T07:45:00Z');
    expect((await c.json('GET', '/v1/slos/load')).body.current).toMatchObject({
      status: 'at_risk',
      predictedEnd: '2026-11-21T08:30:00.000Z',
    });
    // publish cannot start before 08:30Z: 08:30 + 45 min is after its 09:00Z deadline.
    const downstream = (await c.json('GET', '/v1/slos/report')).body.current;
    expect(downstream).toMatchObject({
      businessDate: '2026-11-20',
      status: 'at_risk',
      actualStart: null,
      predictedEnd: '2026-11-21T09:15:00.000Z',
    });
    expect(downstream.blockedBy).toBeUndefined();
    // Without the dependency: its own expectedStart + 45 min, and not begun yet.
    expect(await rows(c, 'report-alone', '2026-11-20', '2026-11-20')).toMatchObject([
      { status: 'pending', predictedEnd: '2026-11-21T08:45:00.000Z' },
    ]);

    // Past the upstream's deadline and still running: the downstream row is blocked by it.
    await at(c, '2026-11-21T08:40:00Z');
    expect((await c.json('GET', '/v1/slos/report')).body.current).toMatchObject({
      status: 'at_risk',
      predictedEnd: '2026-11-21T09:25:00.000Z',
      blockedBy: ['load'],
    });
    // The upstream ends late at 08:40Z: the downstream is no longer blocked, and starts from that end.
    await report(c, { job: 'extract', status: 'succeed', time: '2026-11-21T08:40:00Z', businessDate: '2026-11-20', runId: 'x-20b' });
    const after = (await c.json('GET', '/v1/slos/report')).body.current;
    expect(after).toMatchObject({ status: 'at_risk', predictedEnd: '2026-11-21T09:25:00.000Z' });
    expect(after.blockedBy).toBeUndefined();
  });

  it('an upstream on time changes nothing', async () => {
    const c = await chain();
    await at(c, '2026-11-21T06:00:00Z');
    await report(c, { job: 'extract', status: 'start', time: '2026-11-21T06:00:00Z', businessDate: '2026-11-20', runId: 'x-20' });
    await at(c, '2026-11-21T06:30:00Z');
    const alone = await rows(c, 'report-alone', '2026-11-20', '2026-11-20');
    expect(alone).toMatchObject([{ status: 'pending', predictedEnd: '2026-11-21T08:45:00.000Z' }]);
    expect(await rows(c, 'report', '2026-11-20', '2026-11-20')).toEqual(alone.map((r) => ({ ...r, sloId: 'report' })));
  });

  it('refuses a cycle and an SLO after itself with 422, a wrong type with 400', async () => {
    const c = await chain();
    const cycle = await c.json('PUT', '/v1/slos/load', {
      application: 'deposits',
      calendar: 'every-day',
      jobs: [{ job: 'extract', expectedEnd: '03:00+1d' }],
      after: ['report'],
    });
    expect(cycle.status).toBe(422);
    expect(cycle.body.error.problems).toEqual([{ path: 'after', message: expect.stringContaining('load → report → load') }]);
    expect((await c.json('GET', '/v1/slos/load')).body.after).toEqual([]);
    const base = { application: 'deposits', calendar: 'every-day', jobs: [{ job: 'x', expectedEnd: '03:00+1d' }] };
    const self = await c.json('PUT', '/v1/slos/selfish', { ...base, after: ['selfish', 'Not An Id', 'load', 'load'] });
    expect(self.status).toBe(422);
    expect(self.body.error.problems.map((p: any) => p.path).sort()).toEqual(['after', 'after.0', 'after.1']);
    expect((await c.json('GET', '/v1/slos/selfish')).status).toBe(404);
    expect((await c.json('PUT', '/v1/slos/typed', { ...base, after: 'load' })).status).toBe(400);
    // An upstream not defined yet is accepted, and waits for nothing until it is.
    expect((await c.json('PUT', '/v1/slos/early-bird', { ...base, after: ['not-yet'] })).status).toBe(201);
  });
});
