/**
 * SLO history (issue 16 item 4) as one suite that runs against any event store: job status for
 * 80 business dates is posted first, the SLOs are defined after, and their performance tables
 * must cover the past. Times: November 2026 – February 2027 in New York is EST (UTC−5), so every
 * wall time below is `-05:00`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestCompter } from './app-harness.js';
import type { CompterFactory } from './slo-scenarios.js';

/** Monday 2027-03-01, noon in New York: every row of the data is closed, today's is open. */
export const HISTORY_NOW = '2027-03-01T17:00:00Z';
const FIRST = '2026-11-02';
const LAST = '2027-02-26';

/** The daily SLO: Monday's run finishes early Tuesday (the next calendar day). */
export const OVERNIGHT = {
  application: 'deposits',
  calendar: 'us-business',
  jobs: [{ job: 'overdraft-calc', expectedStart: '00:30+1d', expectedEnd: '03:00+1d' }],
  slack: '30m',
};

/** The intra-day SLO: updates due 10 minutes after 09:00, 12:00 and 15:00. */
export const INTRADAY = {
  application: 'deposits',
  calendar: 'us-business',
  within: { cron: '0 9,12,15 * * *' },
  jobs: [{ job: 'summary-build', expectedEnd: '+10m' }],
  slack: '20m',
};

interface Run {
  job: string;
  runId: string;
  start?: string;
  end?: string;
  outcome?: 'succeed' | 'fail';
}

/** An ISO instant from a civil date, a day offset and an EST wall time. */
function est(date: string, days: number, hhmm: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return `${d.toISOString().slice(0, 10)}T${hhmm}:00-05:00`;
}

/**
 * The overnight job on business date number i, and the row status it must give, worked out by
 * hand from the rules (deadline 03:00 next day, slack 30 min: a success by 03:00 is on_time, by
 * 03:30 late, after that missed; a failure never rerun is failed; nothing at all is missed).
 */
function overnightPlan(date: string, i: number): { runs: Run[]; status: string; latenessSeconds: number | null } {
  const job = 'overdraft-calc';
  if (i % 11 === 10) return { runs: [], status: 'missed', latenessSeconds: null };
  switch (i % 5) {
    case 0:
      return {
        runs: [{ job, runId: `oc-${date}`, start: est(date, 1, '00:30'), end: est(date, 1, '02:50'), outcome: 'succeed' }],
        status: 'on_time',
        latenessSeconds: -600,
      };
    case 1:
      return {
        runs: [{ job, runId: `oc-${date}`, start: est(date, 1, '00:40'), end: est(date, 1, '03:20'), outcome: 'succeed' }],
        status: 'late',
        latenessSeconds: 1200,
      };
    case 2:
      return {
        runs: [{ job, runId: `oc-${date}`, start: est(date, 1, '00:30'), end: est(date, 1, '04:00'), outcome: 'succeed' }],
        status: 'missed',
        latenessSeconds: 3600,
      };
    case 3:
      return {
        runs: [{ job, runId: `oc-${date}`, start: est(date, 1, '00:30'), end: est(date, 1, '01:30'), outcome: 'fail' }],
        status: 'failed',
        latenessSeconds: null,
      };
    default:
      return {
        runs: [
          { job, runId: `oc-${date}-a`, start: est(date, 1, '00:30'), end: est(date, 1, '01:00'), outcome: 'fail' },
          { job, runId: `oc-${date}-b`, start: est(date, 1, '01:10'), end: est(date, 1, '02:40'), outcome: 'succeed' },
        ],
        status: 'on_time',
        latenessSeconds: -1200,
      };
  }
}

/** The intra-day job's three slots on business date number i, with the statuses they must give (deadline slot + 10 min, slack 20 min). */
function intradayPlan(date: string, i: number): { runs: Run[]; statuses: string[] } {
  const job = 'summary-build';
  const runs: Run[] = [
    { job, runId: `sb-${date}-09`, start: est(date, 0, '09:00'), end: est(date, 0, '09:05'), outcome: 'succeed' },
    { job, runId: `sb-${date}-12`, start: est(date, 0, '12:00'), end: est(date, 0, '12:25'), outcome: 'succeed' },
  ];
  if (i % 3 === 0) runs.push({ job, runId: `sb-${date}-15`, start: est(date, 0, '15:00'), end: est(date, 0, '15:08'), outcome: 'succeed' });
  if (i % 3 === 2) runs.push({ job, runId: `sb-${date}-15`, start: est(date, 0, '15:00'), end: est(date, 0, '15:05'), outcome: 'fail' });
  return { runs, statuses: ['on_time', 'late', ['on_time', 'missed', 'failed'][i % 3]!] };
}

function reportsOf(date: string, runs: Run[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const r of runs) {
    const base = { application: 'deposits', job: r.job, businessDate: date, runId: r.runId };
    if (r.start) out.push({ ...base, status: 'start', time: r.start });
    if (r.end) out.push({ ...base, status: r.outcome, time: r.end });
  }
  return out;
}

async function post(c: TestCompter, reports: Record<string, unknown>[]): Promise<void> {
  for (let k = 0; k < reports.length; k += 500) {
    const res = await c.json('POST', '/v1/job-status', reports.slice(k, k + 500));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
}

/** The business dates of the data, from the calendar (Thanksgiving, Christmas and New Year's Day are not among them). */
async function businessDates(c: TestCompter): Promise<string[]> {
  const res = await c.json('GET', `/v1/calendars/us-business/days?from=${FIRST}&to=${LAST}`);
  expect(res.status).toBe(200);
  const dates = (res.body.days as { date: string; business: boolean }[]).filter((d) => d.business).map((d) => d.date);
  for (const holiday of ['2026-11-26', '2026-12-25', '2027-01-01']) expect(dates).not.toContain(holiday);
  return dates;
}

type Row = { businessDate: string; slot: string | null; status: string; latenessSeconds: number | null };

async function rowsOf(c: TestCompter, slo: string, from = FIRST, to = LAST): Promise<Row[]> {
  const res = await c.json('GET', `/v1/slos/${slo}/performance?from=${from}&to=${to}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.rows;
}

function countOf(statuses: string[]): Record<string, number> {
  const out: Record<string, number> = { on_time: 0, late: 0, missed: 0, failed: 0 };
  for (const s of statuses) out[s]!++;
  return out;
}

async function deliveriesMetric(c: TestCompter, slo: string): Promise<Record<string, number>> {
  const text = await (await c.request('/metrics')).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('compter_slo_deliveries_total{') || !line.includes(`slo="${slo}"`)) continue;
    out[/outcome="([a-z_]+)"/.exec(line)![1]!] = Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

/** The SLO-history suite against the store the factory's compters use. */
export function describeSloHistory(storeName: string, start: CompterFactory): void {
  describe(`SLO history from the job-status log (${storeName})`, () => {
    let c: TestCompter;
    let dates: string[];
    const overnight = new Map<string, ReturnType<typeof overnightPlan>>();
    const intraday = new Map<string, ReturnType<typeof intradayPlan>>();

    beforeAll(async () => {
      c = await start({ now: HISTORY_NOW });
      expect(
        (await c.json('PUT', '/v1/calendars/us-business', { tz: 'America/New_York', holidays: { country: 'US', state: 'NY' } })).status,
      ).toBe(201);
      dates = await businessDates(c);
      expect(dates.length).toBeGreaterThanOrEqual(75);
      const reports: Record<string, unknown>[] = [];
      dates.forEach((date, i) => {
        const o = overnightPlan(date, i);
        const s = intradayPlan(date, i);
        overnight.set(date, o);
        intraday.set(date, s);
        reports.push(...reportsOf(date, o.runs), ...reportsOf(date, s.runs));
      });
      await post(c, reports);
      // Phase 2: the SLOs come after their history.
      expect((await c.json('PUT', '/v1/slos/overnight', OVERNIGHT)).status).toBe(201);
      expect((await c.json('PUT', '/v1/slos/intraday', INTRADAY)).status).toBe(201);
    }, 180_000);

    afterAll(async () => {
      await c?.cleanup();
    });

    it('a daily SLO whose job ends the next calendar day: one row per business date from the first report, as hand-computed', async () => {
      const rows = await rowsOf(c, 'overnight');
      const scheduled = rows.filter((r) => r.status !== 'not_scheduled');
      expect(rows[0]!.businessDate).toBe(FIRST);
      expect(scheduled.map((r) => r.businessDate)).toEqual(dates);
      expect(scheduled.map((r) => [r.businessDate, r.status, r.latenessSeconds])).toEqual(
        dates.map((d) => [d, overnight.get(d)!.status, overnight.get(d)!.latenessSeconds]),
      );
      expect(rows.find((r) => r.businessDate === '2026-11-26')!.status).toBe('not_scheduled');
      // Nothing before the first report.
      expect(await rowsOf(c, 'overnight', '2026-10-20', '2026-11-01')).toEqual([]);
    });

    it('an intra-day SLO: every slot of every business date, closed as it would have been', async () => {
      const rows = (await rowsOf(c, 'intraday')).filter((r) => r.status !== 'not_scheduled');
      expect(rows.map((r) => [r.businessDate, r.slot, r.status])).toEqual(
        dates.flatMap((d) => intraday.get(d)!.statuses.map((s, k) => [d, ['09:00', '12:00', '15:00'][k], s])),
      );
    });

    it('deliveries count every closed row, in the SLO and in compter_slo_deliveries_total', async () => {
      const expected = countOf(dates.map((d) => overnight.get(d)!.status));
      expect((await c.json('GET', '/v1/slos/overnight')).body.deliveries).toEqual(expected);
      expect(await deliveriesMetric(c, 'overnight')).toEqual(expected);
      const slots = countOf(dates.flatMap((d) => intraday.get(d)!.statuses));
      // Today's 09:00 slot, with no report, closed missed at 09:30 (the clock says noon).
      slots.missed!++;
      expect((await c.json('GET', '/v1/slos/intraday')).body.deliveries).toEqual(slots);
    });

    it('trends per SLO follow from the history rows', async () => {
      const res = await c.json('GET', '/v1/trends/slos?window=30');
      expect(res.status).toBe(200);
      const trend = res.body.slos.find((s: { sloId: string }) => s.sloId === 'overnight');
      // The 30 business dates up to today: today's row is still open, so the last 29 of the data.
      const window = dates.slice(-29).map((d) => overnight.get(d)!.status);
      expect(trend.onTimeRatio).toBeCloseTo(window.filter((s) => s === 'on_time').length / window.length, 6);
      // The median (interpolated) of the signed lateness of the met rows in that window.
      const lateness = dates
        .slice(-29)
        .map((d) => overnight.get(d)!.latenessSeconds)
        .filter((l): l is number => l !== null)
        .sort((a, b) => a - b);
      const mid = (lateness.length - 1) / 2;
      expect(trend.medianLatenessSeconds).toBeCloseTo((lateness[Math.floor(mid)]! + lateness[Math.ceil(mid)]!) / 2, 6);
    });

    it('a late report for a past business date updates that row (held in memory, and older than the index holds)', async () => {
      const missing = dates.filter((_, i) => i % 11 === 10);
      const recent = missing[missing.length - 1]!;
      const old = missing[0]!;
      for (const d of [recent, old]) {
        await post(c, [
          {
            application: 'deposits',
            job: 'overdraft-calc',
            status: 'start',
            time: est(d, 1, '00:30'),
            businessDate: d,
            runId: `late-${d}`,
          },
          {
            application: 'deposits',
            job: 'overdraft-calc',
            status: 'succeed',
            time: est(d, 1, '02:55'),
            businessDate: d,
            runId: `late-${d}`,
          },
        ]);
      }
      for (const d of [recent, old]) {
        overnight.set(d, { runs: [], status: 'on_time', latenessSeconds: -300 });
        await expect
          .poll(async () => (await rowsOf(c, 'overnight', d, d))[0], { timeout: 10_000 })
          .toMatchObject({ businessDate: d, status: 'on_time', latenessSeconds: -300 });
      }
    });

    it('redefining an SLO recomputes its rows; `since` moves the start', async () => {
      const looser = {
        ...OVERNIGHT,
        jobs: [{ job: 'overdraft-calc', expectedStart: '00:30+1d', expectedEnd: '03:30+1d' }],
        since: '2027-01-04',
      };
      expect((await c.json('PUT', '/v1/slos/overnight', looser)).status).toBe(200);
      const rows = (await rowsOf(c, 'overnight')).filter((r) => r.status !== 'not_scheduled');
      expect(rows[0]!.businessDate).toBe('2027-01-04');
      const expected = dates
        .filter((d) => d >= '2027-01-04')
        .map((d) => {
          const status = overnight.get(d)!.status;
          // With the deadline at 03:30 and the slack to 04:00, the 03:20 success is on time and the 04:00 one late.
          return [d, status === 'late' ? 'on_time' : status === 'missed' && overnight.get(d)!.latenessSeconds === 3600 ? 'late' : status];
        });
      expect(rows.map((r) => [r.businessDate, r.status])).toEqual(expected);
      expect((await c.json('GET', '/v1/slos/overnight')).body.deliveries).toEqual(countOf(expected.map((e) => e[1]!)));
    });
  });
}
