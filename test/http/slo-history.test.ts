/**
 * SLO performance history on DuckDB through the app: the shared 80-business-date suite, and the
 * README's own SLO example, which must give history rows whatever today's date is.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';
import { describeSloHistory } from '../support/slo-history.js';

describeSloHistory('DuckDB', (options) => startTestCompter(options));

describe('the README example (Batch jobs, business calendars and SLOs)', () => {
  let c: TestCompter | undefined;
  afterEach(async () => {
    await c?.cleanup();
    c = undefined;
  });

  // The README's bodies, in its order: job status first, the SLO after it.
  async function tour(
    now: string,
  ): Promise<{ rows: { businessDate: string; status: string; latenessSeconds: number | null }[]; slo: any }> {
    c = await startTestCompter({ now });
    expect(
      (await c.json('PUT', '/v1/calendars/us-business', { tz: 'America/New_York', holidays: { country: 'US', state: 'NY' } })).status,
    ).toBe(201);
    const status = await c.json('POST', '/v1/job-status', [
      {
        application: 'deposits',
        job: 'overdraft-calc',
        status: 'start',
        time: '2026-11-24T00:30:00-05:00',
        businessDate: '2026-11-23',
        runId: 'r-1',
      },
      { application: 'deposits', job: 'overdraft-calc', status: 'succeed', time: '2026-11-24T02:50:00-05:00', runId: 'r-1' },
    ]);
    expect(status.status, JSON.stringify(status.body)).toBe(200);
    const defined = await c.json('PUT', '/v1/slos/overdraft', {
      application: 'deposits',
      calendar: 'us-business',
      jobs: [{ job: 'overdraft-calc', expectedStart: '00:30+1d', expectedEnd: '03:00+1d' }],
      slack: '30m',
    });
    expect(defined.status).toBe(201);
    const perf = await c.json('GET', '/v1/slos/overdraft/performance?from=2026-11-23&to=2026-11-27');
    expect(perf.status).toBe(200);
    return { rows: perf.body.rows, slo: defined.body };
  }

  for (const now of ['2026-12-03T17:00:00Z', '2027-09-15T12:00:00Z']) {
    it(`today ${now.slice(0, 10)}: Monday on time, the days without status missed, Thanksgiving not scheduled`, async () => {
      const { rows } = await tour(now);
      expect(rows.map((r) => [r.businessDate, r.status, r.latenessSeconds])).toEqual([
        ['2026-11-23', 'on_time', -600],
        ['2026-11-24', 'missed', null],
        ['2026-11-25', 'missed', null],
        ['2026-11-26', 'not_scheduled', null],
        ['2026-11-27', 'missed', null],
      ]);
    });
  }
});
