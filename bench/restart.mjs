// Time to ready after a restart with 100k debts and 10M events (target ≤ 5 s, docs/performance.md), on ClickHouse,
// then on DuckDB (bench/restart-duckdb.mjs: the same log generated in a DuckDB file).
// The log is generated inside ClickHouse with INSERT ... SELECT FROM numbers(): one
// `debt.defined` per debt (a definition as compter normalizes it, without a schedule) and
// `payment` rows of kind `success` spread over the debts, with compter's event-id layout.
// Then `compter serve` is started three times on it:
//   1. no snapshot: the whole log is replayed (what a first start, or a lost snapshot, costs);
//      its graceful stop saves a snapshot;
//   2. with that snapshot and nothing after it;
//   3. with the snapshot and a tail of 1% more events written after it.
// ClickHouse is stopped before the DuckDB part, which caps its no-snapshot start (see there).
// Usage: node bench/restart.mjs [debts] [events] [noSnapshotTimeoutSeconds] [duckdbNoSnapshotTimeoutSeconds]
//   (npm run build first)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizeDebtInput } from '../dist/src/domain/debts/debt-definition.js';
import { ClickHouseEventStore } from '../dist/src/store/clickhouse/clickhouse-store.js';
import { sqlString } from '../dist/src/store/clickhouse/sql.js';
import { clickhouseQuery, startClickHouse } from './clickhouse.mjs';
import { freePort, printTable, progress, root, saveResults } from './lib.mjs';
import { runDuckDb } from './restart-duckdb.mjs';

const DEBTS = Number(process.argv[2] ?? 100_000);
const EVENTS = Number(process.argv[3] ?? 10_000_000);
const NO_SNAPSHOT_TIMEOUT_S = Number(process.argv[4] ?? 1200);
// A full DuckDB replay of 10M events takes minutes here (see restart-duckdb.mjs) and
// `npm run bench` must stay under 10 minutes: by default this start only shows it is long.
const DUCKDB_NO_SNAPSHOT_TIMEOUT_S = Number(process.argv[5] ?? 10);
const TAIL = Math.round(EVENTS / 100);
const database = 'compter_bench_restart';
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** SQL for compter's 26-character event id (ULID layout) of epoch ms `ms` and sequence `n`. */
function eventIdSql(ms, n) {
  // Dividing by a power of two is exact in Float64, so floor() gives the exact digits.
  const digit = (value, power) => `substring(${sqlString(ALPHABET)}, toUInt64(floor(${value} / pow(32, ${power}))) % 32 + 1, 1)`;
  const time = Array.from({ length: 10 }, (_, i) => digit(ms, 9 - i));
  const seq = Array.from({ length: 16 }, (_, i) => digit(n, 15 - i));
  return `concat(${[...time, ...seq].join(', ')})`;
}

/** SQL for the `debt.defined` attributes of debt `bench-<d>`: the normalized definition. */
function definitionSql(d) {
  const { definition } = normalizeDebtInput({}, { id: 'xdebtidx', project: 'default', pingId: 'xpingidx' });
  const text = JSON.stringify({ definition });
  const parts = text
    .split(/(xdebtidx|xpingidx)/)
    .map((p) => (p === 'xdebtidx' ? `concat('bench-', toString(${d}))` : p === 'xpingidx' ? 'toString(generateUUIDv4())' : sqlString(p)));
  return `concat(${parts.join(', ')})`;
}

const COLUMNS =
  'event_id, project, type, debt, application, job, slo, ts, ts_ms, ingested_at, ingested_at_ms, kind, status, run_id, host, business_date, attributes';

function paymentsSql(firstSeq, count, baseMs, eventsPerMs = 1) {
  // Event k (0-based in this insert) is at baseMs + k / eventsPerMs ms and pays debt (firstSeq + k) % DEBTS.
  const ms = `(${baseMs} + intDiv(number, ${eventsPerMs}))`;
  const seq = `(${firstSeq} + number)`;
  return `INSERT INTO ${database}.events (${COLUMNS})
SELECT ${eventIdSql(ms, seq)}, 'default', 'payment', concat('bench-', toString(${seq} % ${DEBTS})), '', '', '',
  toDateTime(intDiv(${ms}, 1000)), ${ms}, toDateTime(intDiv(${ms}, 1000)), ${ms},
  'success', '', '', 'batch-07', '', concat('{"occurrenceAt":null,"message":"run ', toString(${seq}), ' ok"}')
FROM numbers(${count})`;
}

async function generate() {
  const now = Date.now();
  const defsBase = now - EVENTS - DEBTS - 3_600_000;
  const paymentsBase = defsBase + DEBTS;
  const started = performance.now();
  progress(`generating ${DEBTS} debt.defined events in ClickHouse`);
  await clickhouseQuery(
    `${clickhouse.url}/?max_memory_usage=3000000000`,
    `INSERT INTO ${database}.events (${COLUMNS})
SELECT ${eventIdSql(`(${defsBase} + number)`, 'number')}, 'default', 'debt.defined', concat('bench-', toString(number)), '', '', '',
  toDateTime(intDiv(${defsBase} + number, 1000)), ${defsBase} + number, toDateTime(intDiv(${defsBase} + number, 1000)), ${defsBase} + number,
  '', '', '', '', '', ${definitionSql('number')}
FROM numbers(${DEBTS})`,
  );
  const chunk = 2_000_000;
  for (let done = 0; done < EVENTS; done += chunk) {
    const count = Math.min(chunk, EVENTS - done);
    progress(`generating payments ${done + count}/${EVENTS}`);
    await clickhouseQuery(clickhouse.url, paymentsSql(DEBTS + done, count, paymentsBase + done));
  }
  const [rows] = (await clickhouseQuery(clickhouse.url, `SELECT count() FROM ${database}.events FORMAT TSV`))
    .trim()
    .split('\t')
    .map(Number);
  return { rows, seconds: (performance.now() - started) / 1000 };
}

/**
 * Starts `compter serve` with the store's environment `storeEnv`; returns the ms from spawn
 * until /readyz answers 200, and the process (or readyMs null, killed, after `timeoutMs`).
 */
async function startCompter(timeoutMs, storeEnv) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const proc = spawn(process.execPath, [join(root, 'dist', 'src', 'cli', 'main.js'), 'serve'], {
    env: { ...process.env, COMPTER_PORT: String(port), COMPTER_LOG_LEVEL: 'info', ...storeEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (d) => (output += d));
  proc.stderr.on('data', (d) => (output += d));
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  const deadline = started + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`compter exited:\n${output.slice(-3000)}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch {}
    if (performance.now() > deadline) {
      proc.kill('SIGKILL');
      await exited;
      return { readyMs: null, output };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const readyMs = performance.now() - started;
  const lines = output.split('\n').map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      return null;
    }
  });
  const ready = lines.find((l) => l?.msg === 'compter is ready');
  const rebuilt = lines.find((l) => l?.msg === 'projections rebuilt from the event log');
  const rssMiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  const debts = await (await fetch(`${url}/v1/debts`)).json();
  const count = Array.isArray(debts) ? debts.length : (debts.debts?.length ?? NaN);
  return {
    readyMs,
    internalReadyMs: ready?.readyMs ?? null,
    replayed: ready?.replayed ?? null,
    phasesMs: rebuilt ? { snapshot: rebuilt.snapshotMs, replay: rebuilt.replayMs, begin: rebuilt.beginMs } : null,
    fromSnapshot: ready?.fromSnapshot ?? null,
    debts: count,
    rssMiB,
    async stop() {
      const t = performance.now();
      proc.kill('SIGTERM');
      const code = await exited;
      return { code, ms: performance.now() - t };
    },
  };
}

const clickhouse = await startClickHouse();
const dataDir = mkdtempSync(join(tmpdir(), 'compter-bench-restart-'));
const clickhouseEnv = {
  COMPTER_STORE: 'clickhouse',
  COMPTER_CLICKHOUSE_URL: clickhouse.url,
  COMPTER_CLICKHOUSE_DATABASE: database,
  COMPTER_DATA_DIR: dataDir,
};
let results;
try {
  const store = new ClickHouseEventStore({ url: clickhouse.url, database });
  await store.migrate();
  await store.close();
  const generated = await generate();
  progress(
    `generated ${generated.rows} events in ${generated.seconds.toFixed(0)} s; starting compter without a snapshot (limit ${NO_SNAPSHOT_TIMEOUT_S} s)`,
  );

  results = {
    measuredAt: new Date().toISOString(),
    loadAverage: (await import('node:os')).loadavg(),
    debts: DEBTS,
    events: EVENTS,
    generatedSeconds: generated.seconds,
  };
  const cold = await startCompter(NO_SNAPSHOT_TIMEOUT_S * 1000, clickhouseEnv);
  if (cold.readyMs === null) {
    results.noSnapshot = { readyMs: null, note: `not ready within ${NO_SNAPSHOT_TIMEOUT_S} s` };
    throw new Error(`compter did not replay ${EVENTS} events within ${NO_SNAPSHOT_TIMEOUT_S} s; no snapshot to measure`);
  }
  const coldStop = await cold.stop();
  results.noSnapshot = {
    readyMs: cold.readyMs,
    internalReadyMs: cold.internalReadyMs,
    phasesMs: cold.phasesMs,
    replayed: cold.replayed,
    debts: cold.debts,
    rssMiB: cold.rssMiB,
    stopMs: coldStop.ms,
  };

  progress('restart with the snapshot saved at shutdown');
  const warm = await startCompter(120_000, clickhouseEnv);
  await warm.stop();
  results.snapshot = {
    readyMs: warm.readyMs,
    internalReadyMs: warm.internalReadyMs,
    phasesMs: warm.phasesMs,
    replayed: warm.replayed,
    fromSnapshot: warm.fromSnapshot,
    debts: warm.debts,
    rssMiB: warm.rssMiB,
  };

  progress(`adding a tail of ${TAIL} events after the snapshot`);
  // After everything logged so far (compter's own events included), 100 events per ms, and
  // in the past before compter starts: ids stay time-ordered.
  const lastMs = Number((await clickhouseQuery(clickhouse.url, `SELECT max(ts_ms) FROM ${database}.events FORMAT TSV`)).trim());
  await clickhouseQuery(clickhouse.url, paymentsSql(DEBTS + EVENTS, TAIL, lastMs + 1, 100));
  while (Date.now() <= lastMs + 2 + TAIL / 100) await new Promise((r) => setTimeout(r, 50));
  const tail = await startCompter(120_000, clickhouseEnv);
  await tail.stop();
  results.snapshotAndTail = {
    readyMs: tail.readyMs,
    internalReadyMs: tail.internalReadyMs,
    phasesMs: tail.phasesMs,
    replayed: tail.replayed,
    fromSnapshot: tail.fromSnapshot,
    debts: tail.debts,
    rssMiB: tail.rssMiB,
  };
} finally {
  await clickhouse.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

// DuckDB, with ClickHouse stopped so it takes no CPU from these measurements.
const duckDataDir = mkdtempSync(join(tmpdir(), 'compter-bench-restart-duckdb-'));
try {
  results.duckdb = await runDuckDb({
    debts: DEBTS,
    events: EVENTS,
    tail: TAIL,
    noSnapshotTimeoutS: DUCKDB_NO_SNAPSHOT_TIMEOUT_S,
    dataDir: duckDataDir,
    startCompter,
  });
  progress('done\n');

  const duck = results.duckdb;
  const seconds = (ms) => (ms == null ? '-' : (ms / 1000).toFixed(2));
  const row = (name, r) => ({
    start: name,
    'ready s': seconds(r.readyMs),
    'in process s': seconds(r.internalReadyMs),
    'snapshot/replay/begin s': r.phasesMs ? [r.phasesMs.snapshot, r.phasesMs.replay, r.phasesMs.begin].map(seconds).join(' / ') : '-',
    replayed: r.replayed ?? '-',
    debts: r.debts ?? '-',
    'RSS MiB': r.rssMiB?.toFixed(0) ?? '-',
  });
  console.log(`ClickHouse: ${EVENTS} events generated in ${results.generatedSeconds.toFixed(0)} s`);
  printTable([
    row('no snapshot (full replay)', results.noSnapshot),
    row('snapshot', results.snapshot),
    row(`snapshot + ${TAIL} events`, results.snapshotAndTail),
  ]);
  console.log(
    `\nDuckDB: ${duck.rows} events generated in ${duck.generatedSeconds.toFixed(0)} s (${duck.fileMiB.toFixed(0)} MiB file); DuckDB part ${duck.seconds.toFixed(0)} s in all`,
  );
  printTable([
    row(`no snapshot, ${duck.prefix.events} events (prefix)`, duck.prefix),
    duck.noSnapshot.readyMs === null
      ? { ...row('no snapshot (full replay)', duck.noSnapshot), 'ready s': `> ${DUCKDB_NO_SNAPSHOT_TIMEOUT_S}` }
      : row('no snapshot (full replay)', duck.noSnapshot),
    row('snapshot', duck.snapshot),
    row(`snapshot + ${TAIL} events`, duck.snapshotAndTail),
  ]);
  console.log(`snapshot ${duck.snapshotSource}`);
  const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
  const met = (ms) => (ms <= 5000 ? 'met' : 'MISSED');
  console.log(
    `target: ready ≤ 5 s with ${DEBTS} debts and ${EVENTS} events (snapshot: ClickHouse ${s(results.snapshot.readyMs)} ${met(results.snapshot.readyMs)}, DuckDB ${s(duck.snapshot.readyMs)} ${met(duck.snapshot.readyMs)}; snapshot + ${TAIL}: ClickHouse ${s(results.snapshotAndTail.readyMs)}, DuckDB ${s(duck.snapshotAndTail.readyMs)})`,
  );
  saveResults('restart', results);
} finally {
  rmSync(duckDataDir, { recursive: true, force: true });
}
