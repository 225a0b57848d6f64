// SLO history: job status for 400 business dates × 10 jobs is posted first, then an SLO over
// those jobs is defined; the figure is how long the definition takes until its performance
// table answers (target ≤ 2 s). A real compter process on DuckDB; the job-run index holds 60
// dates per job, so 340 of the 400 come from the event store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, printTable, progress, root, saveResults, startProcess } from './lib.mjs';

const DATES = 400;
const JOBS = 10;
const TARGET_MS = 2000;

async function call(url, method, path, body) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const dataDir = mkdtempSync(join(tmpdir(), 'compter-slo-history-'));
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const server = await startProcess(process.execPath, [join(root, 'dist', 'src', 'cli', 'main.js'), 'serve'], {
  env: { COMPTER_PORT: String(port), COMPTER_DATA_DIR: dataDir, COMPTER_LOG_LEVEL: 'warn' },
  readyUrl: `${url}/healthz`,
  timeoutMs: 120_000,
});
try {
  await call(url, 'PUT', '/v1/calendars/weekdays', { tz: 'UTC' });
  // The last DATES business dates before today (weekdays, UTC).
  const dates = [];
  for (let d = new Date(Date.now() - 86_400_000); dates.length < DATES; d = new Date(d.getTime() - 86_400_000)) {
    if (d.getUTCDay() !== 0 && d.getUTCDay() !== 6) dates.unshift(d.toISOString().slice(0, 10));
  }
  const reports = [];
  for (const date of dates) {
    for (let j = 0; j < JOBS; j++) {
      const runId = `r-${date}-${j}`;
      const base = { application: 'bench', job: `job-${j}`, businessDate: date, runId };
      reports.push({ ...base, status: 'start', time: `${date}T01:${String(j).padStart(2, '0')}:00Z` });
      reports.push({ ...base, status: 'succeed', time: `${date}T02:${String(j * 3).padStart(2, '0')}:00Z` });
    }
  }
  for (let k = 0; k < reports.length; k += 1000) {
    progress(`job status ${k + 1000}/${reports.length}`);
    await call(url, 'POST', '/v1/job-status', reports.slice(k, k + 1000));
  }
  progress(`defining an SLO over ${DATES} business dates × ${JOBS} jobs of history`);
  const t0 = performance.now();
  await call(url, 'PUT', '/v1/slos/history', {
    application: 'bench',
    calendar: 'weekdays',
    jobs: Array.from({ length: JOBS }, (_, j) => ({ job: `job-${j}`, expectedEnd: '02:20' })),
    slack: '1h',
  });
  const defineMs = performance.now() - t0;
  // One request spans at most 400 calendar days: the table is read in two halves.
  const half = dates[DATES / 2];
  const before = new Date(Date.parse(half) - 86_400_000).toISOString().slice(0, 10);
  const first = await call(url, 'GET', `/v1/slos/history/performance?from=${dates[0]}&to=${before}`);
  const second = await call(url, 'GET', `/v1/slos/history/performance?from=${half}&to=${dates[DATES - 1]}`);
  const rows = [...first.rows, ...second.rows];
  const readyMs = performance.now() - t0;
  const closed = rows.filter((r) => r.status === 'on_time' || r.status === 'late').length;
  if (closed !== DATES) throw new Error(`expected ${DATES} closed rows, got ${closed}`);
  const result = { dates: DATES, jobs: JOBS, defineMs: Math.round(defineMs), readyMs: Math.round(readyMs), targetMs: TARGET_MS };
  progress('');
  printTable([{ ...result, ok: readyMs <= TARGET_MS ? 'yes' : 'no' }]);
  saveResults('slo-history', result);
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
