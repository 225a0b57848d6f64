import { setTimeout as delay } from 'node:timers/promises';
/**
 * Trends through the whole of compter on DuckDB: a calendar and an SLO defined over HTTP, a
 * job reporting over `/v1/job-status` for 29 business dates (so the SLO engine writes the
 * events), then `/v1/trends/*` and the trend gauges on `/metrics`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';
import { WINDOW, nextDayAt } from '../support/trend-history.js';

let c: TestCompter;
const MIN = 60_000;
/** Business dates with a run: the window ending 2026-12-11, less that last date (its run is still to come). */
const ran = WINDOW.slice(0, -1);

beforeAll(async () => {
  c = await startTestCompter({ now: '2026-10-28T12:00:00Z', env: { COMPTER_TRENDS_REFRESH_SECONDS: '1' } });
  expect((await c.json('PUT', '/v1/calendars/us-business', { tz: 'America/New_York', holidays: { country: 'US' } })).status).toBe(201);
  expect(
    (
      await c.json('PUT', '/v1/slos/overnight', {
        application: 'deposits',
        calendar: 'us-business',
        jobs: [{ job: 'overdraft-calc', expectedEnd: '03:00+1d' }],
      })
    ).status,
  ).toBe(201);
  for (const d of ran) {
    // 60 s slower every business date, ending 50 minutes before 03:00 on the first.
    const end = nextDayAt(d.date, 3) - 50 * MIN + d.index * MIN;
    const start = end - (30 * MIN + d.index * MIN);
    c.clock.set(end + MIN);
    const runId = `oc-${d.date}`;
    const res = await c.json('POST', '/v1/job-status', [
      { application: 'deposits', job: 'overdraft-calc', status: 'start', time: new Date(start).toISOString(), businessDate: d.date, runId },
      { application: 'deposits', job: 'overdraft-calc', status: 'succeed', time: new Date(end).toISOString(), businessDate: d.date, runId },
    ]);
    expect(res.status).toBe(200);
  }
  // Friday 2026-12-11, 15:00 in New York.
  c.clock.set(Date.parse('2026-12-11T20:00:00Z'));
}, 120_000);

afterAll(async () => {
  await c?.cleanup();
});

describe('trends end to end', () => {
  it('GET /v1/trends/jobs: slope 60 s per business day and the breach date', async () => {
    const res = await c.json('GET', '/v1/trends/jobs');
    expect(res.status).toBe(200);
    const job = res.body.jobs.find((j: { job: string }) => j.job === 'overdraft-calc');
    expect(job).toMatchObject({ application: 'deposits', runs: 29, projectedBreachDate: '2027-01-14' });
    expect(job.durationSlopeSecondsPerDay).toBeCloseTo(60, 6);
    expect(job.endLatenessSlopeSecondsPerDay).toBeCloseTo(60, 6);
    expect(job.p50DurationSeconds).toBeCloseTo(30 * 60 + 14 * 60, 6);
  });

  it('GET /v1/trends/slos: routinely early, with a tighter expected end', async () => {
    const res = await c.json('GET', '/v1/trends/slos?window=30');
    expect(res.status).toBe(200);
    const [slo] = res.body.slos;
    // Lateness −50 + i minutes for i = 0..28: median −36 min, all early, p90 −24.8 min.
    expect(slo).toEqual({
      sloId: 'overnight',
      onTimeRatio: 1,
      medianLatenessSeconds: -36 * 60,
      sameSideShare: 1,
      bias: 'early',
      suggestedExpectedEnd: '02:40+1d',
    });
  });

  it('too short a window for a projection gives none, not a wrong one', async () => {
    const res = await c.json('GET', '/v1/trends/jobs?window=5');
    const job = res.body.jobs.find((j: { job: string }) => j.job === 'overdraft-calc');
    expect(job).toMatchObject({ runs: 4, durationSlopeSecondsPerDay: null, projectedBreachDate: null });
  });

  it('the trend gauges reach /metrics on their refresh period', async () => {
    const labels = '{project="default",application="deposits",job="overdraft-calc"}';
    let text = '';
    for (let i = 0; i < 100 && !text.includes(`compter_job_projected_breach_timestamp_seconds${labels}`); i++) {
      await delay(100);
      text = await (await c.request('/metrics')).text();
    }
    expect(text).toContain(`compter_job_projected_breach_timestamp_seconds${labels} ${nextDayAt('2027-01-14', 3) / 1000}\n`);
    const slope = Number(
      /compter_job_duration_trend_seconds_per_day\{project="default",application="deposits",job="overdraft-calc"\} (\S+)/.exec(text)?.[1],
    );
    expect(slope).toBeCloseTo(60, 6);
  });
});
