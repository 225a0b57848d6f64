/**
 * SLO performance history on DuckDB through the app: the shared 80-business-date suite, and the
 * README's own SLO example, which must give history rows whatever today's date is.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  type Row = { businessDate: string; expectedEnd: string | null; actualEnd: string | null; status: string; latenessSeconds: number | null };
  async function tour(now: string): Promise<{ rows: Row[]; slo: unknown }> {
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
      // The rows the README shows, field for field.
      expect(
        rows.map(({ businessDate, expectedEnd, actualEnd, status, latenessSeconds }) => ({
          businessDate,
          expectedEnd,
          actualEnd,
          status,
          latenessSeconds,
        })),
      ).toEqual([
        {
          businessDate: '2026-11-23',
          expectedEnd: '2026-11-24T08:00:00.000Z',
          actualEnd: '2026-11-24T07:50:00.000Z',
          status: 'on_time',
          latenessSeconds: -600,
        },
        { businessDate: '2026-11-24', expectedEnd: '2026-11-25T08:00:00.000Z', actualEnd: null, status: 'missed', latenessSeconds: null },
        { businessDate: '2026-11-25', expectedEnd: '2026-11-26T08:00:00.000Z', actualEnd: null, status: 'missed', latenessSeconds: null },
        { businessDate: '2026-11-26', expectedEnd: null, actualEnd: null, status: 'not_scheduled', latenessSeconds: null },
        { businessDate: '2026-11-27', expectedEnd: '2026-11-28T08:00:00.000Z', actualEnd: null, status: 'missed', latenessSeconds: null },
      ]);
    });
  }

  it('job status for past dates sent after the SLO was defined extends its history to them', async () => {
    c = await startTestCompter({ now: '2026-12-03T17:00:00Z' });
    expect(
      (await c.json('PUT', '/v1/calendars/us-business', { tz: 'America/New_York', holidays: { country: 'US', state: 'NY' } })).status,
    ).toBe(201);
    const defined = await c.json('PUT', '/v1/slos/overdraft', {
      application: 'deposits',
      calendar: 'us-business',
      jobs: [{ job: 'overdraft-calc', expectedStart: '00:30+1d', expectedEnd: '03:00+1d' }],
      slack: '30m',
    });
    expect(defined.status).toBe(201);
    const range = '/v1/slos/overdraft/performance?from=2026-11-23&to=2026-11-27';
    expect((await c.json('GET', range)).body.rows).toEqual([]);
    const status = await c.json('POST', '/v1/job-status', [
      {
        application: 'deposits',
        job: 'overdraft-calc',
        status: 'start',
        time: '2026-11-24T00:30:00-05:00',
        businessDate: '2026-11-23',
        runId: 'r-1',
      },
      { application: 'deposits', job: 'overdraft-calc', status: 'succeed', time: '2026-11-24T03:10:00-05:00', runId: 'r-1' },
    ]);
    expect(status.status).toBe(200);
    await expect
      .poll(async () => (await c!.json('GET', range)).body.rows.map((r: { status: string }) => r.status), { timeout: 10_000 })
      .toEqual(['late', 'missed', 'missed', 'not_scheduled', 'missed']);
    expect((await c.json('GET', '/v1/slos/overdraft')).body.deliveries).toEqual({ on_time: 0, late: 1, missed: 6, failed: 0 });
  });

  it('a `since` that is not a date is refused with the problem, and nothing is defined', async () => {
    c = await startTestCompter({ now: '2026-12-03T17:00:00Z' });
    expect((await c.json('PUT', '/v1/calendars/us-business', { tz: 'America/New_York' })).status).toBe(201);
    const res = await c.json('PUT', '/v1/slos/overdraft', {
      application: 'deposits',
      calendar: 'us-business',
      jobs: [{ job: 'overdraft-calc', expectedEnd: '03:00+1d' }],
      since: '2026-02-30',
    });
    expect(res.status).toBe(422);
    expect(res.body.error.problems).toEqual([{ path: 'since', message: 'must be a date YYYY-MM-DD' }]);
    const far = await c.json('PUT', '/v1/slos/overdraft', {
      application: 'deposits',
      calendar: 'us-business',
      jobs: [{ job: 'overdraft-calc', expectedEnd: '03:00+1d' }],
      since: '9999-12-31',
    });
    expect(far.status).toBe(422);
    expect(far.body.error.problems).toEqual([{ path: 'since', message: 'must lie between 1970-01-01 and 9000-12-31' }]);
    expect((await c.json('GET', '/v1/slos/overdraft')).status).toBe(404);
    // The latest allowed start: defined, with no rows yet.
    const last = await c.json('PUT', '/v1/slos/overdraft', {
      application: 'deposits',
      calendar: 'us-business',
      jobs: [{ job: 'overdraft-calc', expectedEnd: '03:00+1d' }],
      since: '9000-12-31',
    });
    expect(last.status).toBe(201);
    expect(last.body.since).toBe('9000-12-31');
    expect((await c.json('GET', '/v1/slos/overdraft/performance')).body.rows).toEqual([]);
  });

  it('after a restart on the same data the history rows and deliveries are the same', async () => {
    const first = await tour('2026-12-03T17:00:00Z');
    const dataDir = c!.dataDir;
    await c!.close();
    c = await startTestCompter({ now: '2026-12-03T17:05:00Z', dataDir });
    const again = await c.json('GET', '/v1/slos/overdraft/performance?from=2026-11-23&to=2026-11-27');
    expect(again.body.rows).toEqual(first.rows);
    expect((await c.json('GET', '/v1/slos/overdraft')).body.deliveries).toEqual({ on_time: 1, late: 0, missed: 6, failed: 0 });
  });
});

describe('rows closed at start-up', () => {
  it('are in the performance read right after start-up, though their write is still queued', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'compter-slo-startup-'));
    try {
      const first = await startTestCompter({ dataDir, now: '2026-11-24T12:00:00Z' });
      await first.json('PUT', '/v1/calendars/us-business', { tz: 'America/New_York' });
      await first.json('POST', '/v1/job-status', [
        {
          application: 'deposits',
          job: 'overdraft-calc',
          status: 'succeed',
          time: '2026-11-24T02:50:00-05:00',
          businessDate: '2026-11-23',
        },
      ]);
      const defined = await first.json('PUT', '/v1/slos/overdraft', {
        application: 'deposits',
        calendar: 'us-business',
        jobs: [{ job: 'overdraft-calc', expectedEnd: '03:00+1d' }],
      });
      expect(defined.status).toBe(201);
      await first.cleanup();
      // Down for two business dates; the writer holds start-up's rows back 300 ms, and closed rows are
      // answered from memory until the log has them.
      const second = await startTestCompter({ dataDir, now: '2026-11-26T12:00:00Z', env: { COMPTER_FLUSH_INTERVAL_MS: '300' } });
      try {
        const perf = await second.json('GET', '/v1/slos/overdraft/performance?from=2026-11-23&to=2026-11-25');
        expect(perf.body.rows.map((r: { businessDate: string; status: string }) => [r.businessDate, r.status])).toEqual([
          ['2026-11-23', 'on_time'],
          ['2026-11-24', 'missed'],
          ['2026-11-25', 'missed'],
        ]);
      } finally {
        await second.cleanup();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
