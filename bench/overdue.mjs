// Overdue detection, start-up time and memory at N debts (default 100k) on the embedded store.
// The debts are written into the log directly (as `debt.defined` events). A real compter starts
// on it once (replaying the log), stops gracefully (saving a snapshot), and starts again: the
// second start is the restart users see. Each debt has a one-off deadline; deadlines are spread
// over a minute after both starts. Delay = the ts of the debt's change to overdue − its
// deadline (both read from the log).
// Memory is read twice: RSS delta / debts against an empty process (which carries fixed costs a
// loaded process has and an idle empty one has not touched yet, such as the young generation),
// and the marginal cost, (RSS at N − RSS at N/2) / (N/2), from a second store of N/2 debts.
// Each reading is taken SETTLE_MS after the process is ready: memory freed by start-up goes
// back to the OS over some seconds (DuckDB's allocator purges on a background thread).
// Usage: node bench/overdue.mjs [debts]   (build first: npm run build)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbEventStore } from '../dist/src/store/duckdb/duckdb-store.js';
import { EventIdGenerator } from '../dist/src/domain/event-id.js';
import { freePort, printTable, progress, root, saveResults, startProcess } from './lib.mjs';

const DEBTS = Number(process.argv[2] ?? 100_000);
const SPREAD_MS = 60_000;
// Time for both starts and the memory reading before the first deadline (about 25 s on an idle
// machine, writing the definitions included); the bench stops with an error rather than
// measure a start that ran past it.
const LEAD_MS = 50_000;
const SETTLE_MS = 15_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

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

async function writeDefinitions(dir, n, deadlineOf) {
  const store = await DuckDbEventStore.open(join(dir, 'compter.duckdb'));
  await store.migrate();
  const ids = new EventIdGenerator();
  const now = Date.now();
  for (let start = 0; start < n; start += 10_000) {
    const batch = [];
    for (let i = start; i < Math.min(n, start + 10_000); i++) {
      const at = deadlineOf(i);
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
}

const dataDir = mkdtempSync(join(tmpdir(), 'compter-overdue-'));
try {
  // Baseline memory: the same process with no debts.
  const emptyDir = mkdtempSync(join(tmpdir(), 'compter-empty-'));
  const empty = await startCompter(emptyDir, await freePort());
  await sleep(SETTLE_MS);
  const emptyRss = await rss(empty.url);
  await empty.server.stop();
  rmSync(emptyDir, { recursive: true, force: true });

  // The marginal cost: a store of half the debts, deadlines far ahead, started twice likewise.
  const HALF = Math.round(DEBTS / 2);
  const halfDir = mkdtempSync(join(tmpdir(), 'compter-half-'));
  progress(`writing ${HALF} debt definitions into a second log`);
  await writeDefinitions(halfDir, HALF, () => Date.now() + 86_400_000);
  progress(`starting compter on ${HALF} debts, twice`);
  await (await startCompter(halfDir, await freePort())).server.stop();
  const half = await startCompter(halfDir, await freePort());
  await sleep(SETTLE_MS);
  const halfRss = await rss(half.url);
  await half.server.stop();
  rmSync(halfDir, { recursive: true, force: true });

  progress(`writing ${DEBTS} debt definitions into the log`);
  const firstDeadline = Date.now() + LEAD_MS;
  const deadlines = [];
  await writeDefinitions(dataDir, DEBTS, (i) => (deadlines[i] = firstDeadline + Math.floor((i * SPREAD_MS) / DEBTS)));

  progress(`starting compter on ${DEBTS} debts (replaying the whole log, no snapshot yet)`);
  const cold = await startCompter(dataDir, await freePort());
  await cold.server.stop();
  progress(`restarting compter on ${DEBTS} debts (from the snapshot saved at shutdown)`);
  const { server, url, readyMs } = await startCompter(dataDir, await freePort());
  await sleep(Math.min(SETTLE_MS, firstDeadline - Date.now() - 3000));
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
    rssHalfMiB: halfRss / 2 ** 20,
    marginalBytesPerDebt: Math.round((loadedRss - halfRss) / (DEBTS - HALF)),
  };
  printTable([
    { measure: 'debts flipped to overdue', value: `${result.flipped} of ${DEBTS}` },
    {
      measure: 'delay deadline → flip p50 / p99 / max',
      value: `${result.delayP50Ms} / ${result.delayP99Ms} / ${result.delayMaxMs} ms (target p99 ≤ 1000)`,
    },
    { measure: 'ready, first start (replays the whole log)', value: `${result.readyFromLogMs} ms` },
    { measure: 'ready after restart (snapshot + log tail)', value: `${result.readyAfterRestartMs} ms (target ≤ 5000)` },
    { measure: 'memory per debt (RSS delta / debts)', value: `${result.bytesPerDebt} B (target ≤ 2048)` },
    { measure: `memory per debt (marginal, ${HALF} → ${DEBTS} debts)`, value: `${result.marginalBytesPerDebt} B (target ≤ 2048)` },
  ]);
  saveResults('overdue', result);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
