// Overdue detection, start-up time and memory at N debts (default 100k) on the embedded store.
// The debts are written into the log directly (as `debt.defined` events). A real compter starts
// on it once (replaying the log), stops gracefully (saving a snapshot), and starts again: the
// second start is the restart users see. Each debt has a one-off deadline; deadlines are spread
// over a minute after both starts. Delay = the ts of the debt's change to overdue − its
// deadline (both read from the log).
// Usage: node bench/overdue.mjs [debts]   (build first: npm run build)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbEventStore } from '../dist/src/store/duckdb/duckdb-store.js';
import { EventIdGenerator } from '../dist/src/domain/event-id.js';
import { freePort, printTable, progress, root, saveResults, startProcess } from './lib.mjs';

const DEBTS = Number(process.argv[2] ?? 100_000);
const SPREAD_MS = 60_000;
// Time for both starts before the first deadline (about 10 s on an idle machine, writing the
// definitions included); the bench stops with an error rather than measure a start that ran
// past it.
const LEAD_MS = 35_000;

function definition(i, deadlineAt) {
  return {
    id: `od-${i}`,
    project: 'bench',
    name: `od-${i}`,
    pingId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    schedule: { kind: 'deadline', at: deadlineAt },
    graceMs: 0,
    startWithinMs: null,
    maxRuntimeMs: null,
    minRuntimeMs: null,
    stages: [],
    failuresBeforeAlert: 1,
    labels: {},
    paused: false,
  };
}

async function rss(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^process_resident_memory_bytes (\d+)/m.exec(text)?.[1]);
}

async function startCompter(dataDir, port) {
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const server = await startProcess(process.execPath, [join(root, 'dist', 'src', 'cli', 'main.js'), 'serve'], {
    env: { COMPTER_PORT: String(port), COMPTER_DATA_DIR: dataDir, COMPTER_LOG_LEVEL: 'warn' },
    readyUrl: `${url}/healthz`,
    timeoutMs: 120_000,
  });
  return { server, url, readyMs: performance.now() - started };
}

const dataDir = mkdtempSync(join(tmpdir(), 'compter-overdue-'));
try {
  // Baseline memory: the same process with no debts.
  const emptyDir = mkdtempSync(join(tmpdir(), 'compter-empty-'));
  const empty = await startCompter(emptyDir, await freePort());
  const emptyRss = await rss(empty.url);
  await empty.server.stop();
  rmSync(emptyDir, { recursive: true, force: true });

  progress(`writing ${DEBTS} debt definitions into the log`);
  const store = await DuckDbEventStore.open(join(dataDir, 'compter.duckdb'));
  await store.migrate();
  const ids = new EventIdGenerator();
  const now = Date.now();
  const firstDeadline = now + LEAD_MS;
  const deadlines = [];
  for (let start = 0; start < DEBTS; start += 10_000) {
    const batch = [];
    for (let i = start; i < Math.min(DEBTS, start + 10_000); i++) {
      const at = firstDeadline + Math.floor((i * SPREAD_MS) / DEBTS);
      deadlines[i] = at;
      batch.push({
        eventId: ids.next(now),
        project: 'bench',
        type: 'debt.defined',
        debt: `od-${i}`,
        application: '',
        job: '',
        slo: '',
        ts: now,
        ingestedAt: now,
        kind: '',
        status: '',
        runId: '',
        host: '',
        businessDate: '',
        durationMs: null,
        latenessMs: null,
        attributes: { definition: definition(i, at) },
      });
    }
    await store.append(batch);
  }
  await store.close();

  progress(`starting compter on ${DEBTS} debts (replaying the whole log, no snapshot yet)`);
  const cold = await startCompter(dataDir, await freePort());
  await cold.server.stop();
  progress(`restarting compter on ${DEBTS} debts (from the snapshot saved at shutdown)`);
  const { server, url, readyMs } = await startCompter(dataDir, await freePort());
  const loadedRss = await rss(url);
  const waitMs = firstDeadline + SPREAD_MS + 5_000 - Date.now();
  if (Date.now() >= firstDeadline)
    throw new Error(`the two starts took past the first deadline (restart ready in ${readyMs.toFixed(0)} ms); raise LEAD_MS`);
  for (let left = waitMs; left > 0; left -= 1000) {
    progress(`waiting for deadlines to pass: ${Math.ceil(left / 1000)}s`);
    await new Promise((r) => setTimeout(r, Math.min(1000, left)));
  }
  progress('stopping compter (drains the writer)');
  await server.stop();

  const reopened = await DuckDbEventStore.open(join(dataDir, 'compter.duckdb'));
  const delays = [];
  for await (const page of reopened.scan(null, 50_000)) {
    for (const e of page) {
      if (e.type === 'debt.status_changed' && e.status === 'overdue') delays.push(e.ts - deadlines[Number(e.debt.slice(3))]);
    }
  }
  await reopened.close();
  delays.sort((a, b) => a - b);
  const pct = (p) => delays[Math.min(delays.length - 1, Math.floor((p / 100) * delays.length))];
  progress('done\n');
  const result = {
    measuredAt: new Date().toISOString(),
    debts: DEBTS,
    flipped: delays.length,
    delayP50Ms: pct(50),
    delayP99Ms: pct(99),
    delayMaxMs: delays.at(-1),
    readyFromLogMs: Math.round(cold.readyMs),
    readyAfterRestartMs: Math.round(readyMs),
    rssEmptyMiB: emptyRss / 2 ** 20,
    rssLoadedMiB: loadedRss / 2 ** 20,
    bytesPerDebt: Math.round((loadedRss - emptyRss) / DEBTS),
  };
  printTable([
    { measure: 'debts flipped to overdue', value: `${result.flipped} of ${DEBTS}` },
    {
      measure: 'delay deadline → flip p50 / p99 / max',
      value: `${result.delayP50Ms} / ${result.delayP99Ms} / ${result.delayMaxMs} ms (target p99 ≤ 1000)`,
    },
    { measure: 'ready, first start (replays the whole log)', value: `${result.readyFromLogMs} ms` },
    { measure: 'ready after restart (snapshot + log tail)', value: `${result.readyAfterRestartMs} ms (target ≤ 5000)` },
    { measure: 'memory per debt (RSS delta)', value: `${result.bytesPerDebt} B (target ≤ 2048)` },
  ]);
  saveResults('overdue', result);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
