// Trend queries over 10M events on both engines (issue target: under 1 s each).
// The log is generated inside each engine (ClickHouse: INSERT ... SELECT FROM numbers();
// DuckDB: INSERT ... SELECT FROM range()): `job.status` rows for 1,000 jobs (20 applications)
// × 250 business dates × 40 events per job and date (20 runs: a start and a succeed, every
// fifth run failing), plus `slo.closed` rows for 200 SLOs × 250 dates. Every row is in one
// project, so the queries cannot skip any of it by key: the worst case for a trend.
// Each query is timed over the last 30 and the last 250 business dates: one warm-up run,
// then the median of 3.
// Usage: node bench/trends.mjs [events]   (npm run build first)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { BusinessCalendar } from '../dist/src/domain/time/calendar.js';
import { businessDateWindow } from '../dist/src/domain/slos/trends.js';
import { ClickHouseEventStore } from '../dist/src/store/clickhouse/clickhouse-store.js';
import { DuckDbEventStore } from '../dist/src/store/duckdb/duckdb-store.js';
import { trendQueriesFor } from '../dist/src/store/trend-store.js';
import { clickhouseQuery, startClickHouse } from './clickhouse.mjs';
import { printTable, progress, saveResults } from './lib.mjs';

const EVENTS = Number(process.argv[2] ?? 10_000_000);
const JOBS = 1000;
const DATES = 250;
const SLOS = 200;
const PROJECT = 'bench';
const TARGET_MS = 1000;
const database = 'compter_bench_trends';

const calendar = new BusinessCalendar({
  id: 'weekdays',
  tz: 'UTC',
  weekdays: [1, 2, 3, 4, 5],
  extraDates: [],
  excludeDates: [],
  newDayAt: '00:00',
});
const allDates = businessDateWindow(calendar, '2026-11-30', DATES);
const dateList = allDates.map((d) => `'${d.date}'`).join(', ');
const dateMsList = allDates.map((d) => String(Date.parse(`${d.date}T00:00:00Z`))).join(', ');
const windows = [30, DATES].map((n) => ({ n, dates: allDates.slice(-n).map((d, index) => ({ date: d.date, index })) }));
const allJobs = Array.from({ length: JOBS }, (_, j) => ({ application: `app-${j % 20}`, job: `job-${j}` }));

// Per row n, in arrival (time) order: date n / (1000 × EPD), job n % 1000, event k = (n / 1000) % EPD
// of that job and date, k minutes after 01:00 the next day. Durations and end lateness grow
// 60 s per business date for every third job.
const EPD = EVENTS / (JOBS * DATES);
if (!Number.isInteger(EPD) || EPD < 2) throw new Error(`events must be a multiple of ${JOBS * DATES * 2}`);

async function fillClickHouse(url) {
  const table = `${database}.events`;
  progress(`clickhouse: inserting ${EVENTS.toLocaleString()} job.status rows`);
  const t0 = performance.now();
  await clickhouseQuery(
    url,
    `INSERT INTO ${table} (event_id, project, type, debt, application, job, slo, ts, ts_ms, ingested_at, ingested_at_ms,
       kind, status, run_id, host, business_date, duration_ms, lateness_ms, attributes)
     SELECT concat(toString(ts_ms), toString(10000000000 + number)), '${PROJECT}', 'job.status', '',
       concat('app-', toString(job_n % 20)), concat('job-', toString(job_n)), '',
       toDateTime(intDiv(ts_ms, 1000)), ts_ms, toDateTime(intDiv(ts_ms, 1000)), ts_ms,
       '', multiIf(k % 2 = 0, 'start', k % 10 = 9, 'fail', 'succeed'), concat('r-', toString(number)), 'batch-1', business_date,
       if(k % 2 = 0, NULL, toNullable(toInt64(600000 + job_n * 100 + if(job_n % 3 = 0, date_i * 60000, 0) + k * 1000))),
       if(k % 2 = 0, NULL, toNullable(toInt64(-3600000 + if(job_n % 3 = 0, date_i * 60000, 0) + k * 60000))),
       '{}'
     FROM (
       SELECT number, number % ${JOBS} AS job_n, intDiv(number, ${JOBS * EPD}) % ${DATES} AS date_i, intDiv(number, ${JOBS}) % ${EPD} AS k,
         [${dateList}][date_i + 1] AS business_date,
         toUInt64([${dateMsList}][date_i + 1] + 86400000 + 3600000 + k * 60000) AS ts_ms
       FROM numbers(${EVENTS})
     )`,
  );
  await clickhouseQuery(
    url,
    `INSERT INTO ${table} (event_id, project, type, debt, application, job, slo, ts, ts_ms, ingested_at, ingested_at_ms,
       kind, status, run_id, host, business_date, duration_ms, lateness_ms, attributes)
     SELECT concat(toString(ts_ms), toString(20000000000 + number)), '${PROJECT}', 'slo.closed', '',
       concat('app-', toString(slo_n % 20)), '', concat('slo-', toString(slo_n)),
       toDateTime(intDiv(ts_ms, 1000)), ts_ms, toDateTime(intDiv(ts_ms, 1000)), ts_ms,
       '', if(lateness > 0, 'late', 'on_time'), '', '', business_date, NULL, toNullable(lateness), '{"slot":""}'
     FROM (
       SELECT number, number % ${SLOS} AS slo_n, intDiv(number, ${SLOS}) % ${DATES} AS date_i,
         [${dateList}][date_i + 1] AS business_date,
         toUInt64([${dateMsList}][date_i + 1] + 86400000 + 4 * 3600000) AS ts_ms,
         toInt64((number * 7919) % 1200000) - 900000 AS lateness
       FROM numbers(${SLOS * DATES})
     )`,
  );
  // Parts as they are after a while in production: merged.
  await clickhouseQuery(url, `OPTIMIZE TABLE ${table} FINAL`);
  return Math.round((performance.now() - t0) / 1000);
}

async function fillDuckDb(path) {
  const store = await DuckDbEventStore.open(path);
  await store.migrate();
  await store.close();
  progress(`duckdb: inserting ${EVENTS.toLocaleString()} job.status rows`);
  const t0 = performance.now();
  const instance = await DuckDBInstance.create(path);
  const c = await instance.connect();
  await c.run(
    `INSERT INTO events (event_id, project, type, debt, application, job, slo, ts, ingested_at, kind, status, run_id, host,
       business_date, duration_ms, lateness_ms, attributes)
     SELECT ts_ms::VARCHAR || (10000000000 + n)::VARCHAR, '${PROJECT}', 'job.status', '',
       'app-' || (job_n % 20)::VARCHAR, 'job-' || job_n::VARCHAR, '',
       epoch_ms(ts_ms), epoch_ms(ts_ms), '',
       CASE WHEN k % 2 = 0 THEN 'start' WHEN k % 10 = 9 THEN 'fail' ELSE 'succeed' END,
       'r-' || n::VARCHAR, 'batch-1', business_date,
       CASE WHEN k % 2 = 0 THEN NULL ELSE 600000 + job_n * 100 + CASE WHEN job_n % 3 = 0 THEN date_i * 60000 ELSE 0 END + k * 1000 END,
       CASE WHEN k % 2 = 0 THEN NULL ELSE -3600000 + CASE WHEN job_n % 3 = 0 THEN date_i * 60000 ELSE 0 END + k * 60000 END,
       '{}'
     FROM (
       SELECT n, job_n, date_i, k,
         [${dateList}][date_i + 1] AS business_date,
         [${dateMsList}][date_i + 1]::BIGINT + 86400000 + 3600000 + k * 60000 AS ts_ms
       FROM (SELECT range AS n, range % ${JOBS} AS job_n, (range // ${JOBS * EPD}) % ${DATES} AS date_i, (range // ${JOBS}) % ${EPD} AS k FROM range(${EVENTS}))
     )`,
  );
  await c.run(
    `INSERT INTO events (event_id, project, type, debt, application, job, slo, ts, ingested_at, kind, status, run_id, host,
       business_date, duration_ms, lateness_ms, attributes)
     SELECT ts_ms::VARCHAR || (20000000000 + n)::VARCHAR, '${PROJECT}', 'slo.closed', '',
       'app-' || (slo_n % 20)::VARCHAR, '', 'slo-' || slo_n::VARCHAR, epoch_ms(ts_ms), epoch_ms(ts_ms), '',
       CASE WHEN lateness > 0 THEN 'late' ELSE 'on_time' END, '', '', business_date, NULL, lateness, '{"slot":""}'
     FROM (
       SELECT n, slo_n, [${dateList}][date_i + 1] AS business_date,
         [${dateMsList}][date_i + 1]::BIGINT + 86400000 + 4 * 3600000 AS ts_ms,
         (n * 7919) % 1200000 - 900000 AS lateness
       FROM (SELECT range AS n, range % ${SLOS} AS slo_n, (range // ${SLOS}) % ${DATES} AS date_i FROM range(${SLOS * DATES}))
     )`,
  );
  await c.run('CHECKPOINT');
  c.closeSync();
  instance.closeSync();
  return Math.round((performance.now() - t0) / 1000);
}

/** Median of 3 timed runs after one warm-up; the answer's row count for a sanity check. */
async function time(run) {
  const first = await run();
  const ms = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await run();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { rows: first.length, medianMs: Math.round(ms[1]), minMs: Math.round(ms[0]), maxMs: Math.round(ms[2]) };
}

async function measure(engine, store) {
  const queries = trendQueriesFor(store);
  const rows = [];
  for (const { n, dates } of windows) {
    const cases = [
      ['jobDurationTrend', () => queries.jobDurationTrend({ project: PROJECT, dates })],
      ['jobDurationTrend, 1,000-job filter', () => queries.jobDurationTrend({ project: PROJECT, dates, jobs: allJobs })],
      ['jobEndSeries', () => queries.jobEndSeries({ project: PROJECT, dates })],
      ['sloTrend', () => queries.sloTrend({ project: PROJECT, dates })],
    ];
    for (const [query, run] of cases) {
      progress(`${engine}: ${query}, window ${n}`);
      const r = await time(run);
      rows.push({
        engine,
        query,
        window: n,
        rows: r.rows,
        medianMs: r.medianMs,
        minMs: r.minMs,
        maxMs: r.maxMs,
        target: r.medianMs < TARGET_MS ? 'ok' : 'MISSED',
      });
    }
  }
  return rows;
}

async function main() {
  const results = { events: EVENTS, jobs: JOBS, dates: DATES, slos: SLOS, targetMs: TARGET_MS, load: {}, queries: [] };

  const dir = mkdtempSync(join(tmpdir(), 'compter-bench-trends-'));
  try {
    const path = join(dir, 'compter.duckdb');
    results.load.duckdbSeconds = await fillDuckDb(path);
    const store = await DuckDbEventStore.open(path);
    try {
      results.queries.push(...(await measure('duckdb', store)));
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const server = await startClickHouse();
  try {
    const store = new ClickHouseEventStore({ url: server.url, database, requestTimeoutMs: 600_000 });
    await store.migrate();
    results.load.clickhouseSeconds = await fillClickHouse(server.url);
    results.clickhouseVersion = (await clickhouseQuery(server.url, 'SELECT version()')).trim();
    try {
      results.queries.push(...(await measure('clickhouse', store)));
    } finally {
      await store.close();
    }
  } finally {
    await server.stop();
  }

  progress('done');
  console.log(
    `\ntrend queries over ${EVENTS.toLocaleString()} events (${JOBS} jobs × ${DATES} dates × ${EPD} events, + ${SLOS * DATES} slo.closed); ClickHouse ${results.clickhouseVersion}`,
  );
  console.log(`load: DuckDB ${results.load.duckdbSeconds} s, ClickHouse ${results.load.clickhouseSeconds} s (not part of the target)`);
  printTable(results.queries);
  saveResults('trends', results);
}

await main();
