// The DuckDB half of bench/restart.mjs: builds the same log as the ClickHouse generator there
// (one `debt.defined` per debt, then `payment` rows of kind `success` spread over the debts,
// compter's event-id layout), directly in a DuckDB file whose schema compter's own migration
// created. Rows are made inside DuckDB with INSERT ... SELECT: no JS per row. They select from
// a temp table of numbers filled from range(), not from range() itself, which DuckDB runs on
// one thread: a table scan is split over every core.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { normalizeDebtInput } from '../dist/src/domain/debts/debt-definition.js';
import { DuckDbEventStore } from '../dist/src/store/duckdb/duckdb-store.js';
import { progress } from './lib.mjs';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const sqlString = (s) => `'${s.replaceAll("'", "''")}'`;

// Every two-character Crockford base32 string, in order: one list lookup gives 10 bits of an
// id, so an id is 13 lookups (DuckDB folds the constant list once per query).
const PAIRS = `[${Array.from(ALPHABET)
  .flatMap((a) => Array.from(ALPHABET, (b) => sqlString(a + b)))
  .join(', ')}]`;

/** SQL for compter's 26-character event id (ULID layout) of epoch ms `ms` and sequence `n` (BIGINT expressions). */
export function eventIdSql(ms, n) {
  const pair = (value, index) => `${PAIRS}[(((${value}) >> ${10 * index}) & 1023) + 1]`;
  const time = Array.from({ length: 5 }, (_, i) => pair(ms, 4 - i));
  const seq = Array.from({ length: 8 }, (_, i) => pair(n, 7 - i));
  return `concat(${[...time, ...seq].join(', ')})`;
}

/** SQL for the `debt.defined` attributes of debt `bench-<d>`: the normalized definition. */
function definitionSql(d) {
  const { definition } = normalizeDebtInput({}, { id: 'xdebtidx', project: 'default', pingId: 'xpingidx' });
  const text = JSON.stringify({ definition });
  const parts = text
    .split(/(xdebtidx|xpingidx)/)
    .map((p) => (p === 'xdebtidx' ? `concat('bench-', ${d})` : p === 'xpingidx' ? 'uuid()::VARCHAR' : sqlString(p)));
  return `concat(${parts.join(', ')})`;
}

const timestamp = (ms) => `make_timestamp((${ms}) * 1000)`;
const EVENT_COLUMNS =
  'event_id, project, type, debt, application, job, slo, ts, ingested_at, kind, status, run_id, host, business_date, duration_ms, lateness_ms, attributes';
const NUMBERS = 'bench_numbers';

/**
 * Payments `firstSeq` ... `firstSeq + count - 1`: event k of this insert is at
 * `baseMs + k / eventsPerMs` ms and pays debt `(firstSeq + k) % debts`; same columns and
 * attributes as the ClickHouse generator.
 */
function paymentsSql({ debts, firstSeq, count, baseMs, eventsPerMs = 1 }) {
  const ms = `(${baseMs}::BIGINT + range // ${eventsPerMs})`;
  const seq = `(${firstSeq}::BIGINT + range)`;
  return `INSERT INTO events (${EVENT_COLUMNS})
SELECT ${eventIdSql(ms, seq)}, 'default', 'payment', concat('bench-', ${seq} % ${debts}), '', '', '',
  ${timestamp(ms)}, ${timestamp(ms)}, 'success', '', '', 'batch-07', '', NULL, NULL,
  concat('{"occurrenceAt":null,"message":"run ', ${seq}, ' ok"}')
FROM ${NUMBERS} WHERE range < ${count}`;
}

/** A temp table `bench_numbers(range)` holding 0 ... count - 1. */
async function createNumbers(db, count) {
  await db.run(`CREATE OR REPLACE TEMP TABLE ${NUMBERS} AS SELECT range FROM range(${count})`);
}

/** Opens the file with DuckDB directly (compter must not be running on it). */
async function withConnection(path, fn) {
  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  try {
    return await fn(connection);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Where the log's generated events sit in time, so both phases agree. */
export function duckDbLogLayout({ debts, events }) {
  const defsBase = Date.now() - events - debts - 3_600_000;
  return { debts, events, defsBase, paymentsBase: defsBase + debts, chunk: 2_500_000 };
}

/**
 * Phase 1: creates `path` with compter's schema (its own migration), the `debts` definitions
 * and the *last* `prefix` payments of the log (by default one per debt), so a replay of it
 * leaves every debt with its final last success and status.
 */
export async function createDuckDbLog(path, layout, prefix) {
  const { debts, events, defsBase, paymentsBase, chunk } = layout;
  const store = await DuckDbEventStore.open(path);
  await store.migrate();
  await store.close();
  return withConnection(path, async (db) => {
    progress(`duckdb: generating ${debts} debt.defined events and the last ${prefix} payments`);
    await createNumbers(db, Math.max(debts, prefix, Math.min(chunk, events - prefix)));
    const ms = `(${defsBase}::BIGINT + range)`;
    await db.run(`INSERT INTO events (${EVENT_COLUMNS})
SELECT ${eventIdSql(ms, 'range')}, 'default', 'debt.defined', concat('bench-', range), '', '', '',
  ${timestamp(ms)}, ${timestamp(ms)}, '', '', '', '', '', NULL, NULL, ${definitionSql('range')}
FROM ${NUMBERS} WHERE range < ${debts}`);
    const first = events - prefix;
    await db.run(paymentsSql({ debts, firstSeq: debts + first, count: prefix, baseMs: paymentsBase + first }));
    await db.run('CHECKPOINT');
  });
}

/**
 * Phase 2: the other `events - prefix` payments, all before phase 1's. One statement per chunk
 * keeps each transaction's undo and WAL bounded; DuckDB keeps rows in insertion order, so they
 * land in event-id order after what phase 1 (and compter) wrote.
 */
export async function fillDuckDbLog(path, layout, prefix) {
  const { debts, events, paymentsBase, chunk } = layout;
  const total = events - prefix;
  return withConnection(path, async (db) => {
    await createNumbers(db, Math.min(chunk, total));
    for (let done = 0; done < total; done += chunk) {
      const count = Math.min(chunk, total - done);
      progress(`duckdb: generating payments ${done + count}/${total}`);
      await db.run(paymentsSql({ debts, firstSeq: debts + done, count, baseMs: paymentsBase + done }));
    }
    await db.run('CHECKPOINT');
  });
}

/** Count of stored events and the file's size in MiB. */
export async function duckDbLogSize(path) {
  const rows = await withConnection(path, async (db) => Number((await db.runAndReadAll('SELECT count(*) FROM events')).getRows()[0][0]));
  return { rows, fileMiB: statSync(path).size / 2 ** 20 };
}

/**
 * Moves the `snapshots` rows aside (compter loads only snapshots listed there), or puts them
 * back. The chunks stay: compter prunes them only when it saves a snapshot.
 */
export async function hideSnapshots(path) {
  await withConnection(path, (db) => db.run('CREATE TABLE bench_hidden_snapshots AS SELECT * FROM snapshots; DELETE FROM snapshots'));
}
export async function unhideSnapshots(path, restore) {
  await withConnection(path, (db) =>
    db.run(`${restore ? 'INSERT INTO snapshots SELECT * FROM bench_hidden_snapshots; ' : ''}DROP TABLE bench_hidden_snapshots`),
  );
}

/**
 * Appends `count` payments after everything in the log (compter's own events included), 100
 * per ms; returns the epoch ms of the last one, which must be in the past before compter starts.
 */
export async function appendDuckDbTail(path, { debts, firstSeq, count }) {
  return withConnection(path, async (db) => {
    const lastMs = Number((await db.runAndReadAll('SELECT epoch_ms(max(ts)) FROM events')).getRows()[0][0]);
    await createNumbers(db, count);
    await db.run(paymentsSql({ debts, firstSeq, count, baseMs: lastMs + 1, eventsPerMs: 100 }));
    await db.run('CHECKPOINT');
    return lastMs + 1 + Math.ceil(count / 100);
  });
}

/**
 * The DuckDB measurement: the same three starts as the ClickHouse one, on COMPTER_STORE=duckdb.
 *
 * A full replay of 10M events from DuckDB takes minutes (about 200 s on a busy 2-core machine;
 * reading rows through the node API is most of it), more than this bench can spend, so the
 * no-snapshot start is capped at `noSnapshotTimeoutS`. The snapshot for the other two starts is then still one compter saved
 * at shutdown, made in two phases: the log first holds the definitions and the last payment
 * of each debt (phase 1); compter replays that (`prefix` row) and saves its snapshot; then
 * the other payments are inserted before it (phase 2) and the snapshot is hidden for the
 * capped no-snapshot start. That snapshot has every debt's final state except its payment
 * counters (1 instead of events/debts), so it is the same size as one after a full replay,
 * and the log it sits on is the full one. If the no-snapshot start does finish within the
 * cap, its own snapshot is used instead.
 *
 * `startCompter(timeoutMs, env)` is restart.mjs's: spawns `compter serve`, measures ready.
 */
export async function runDuckDb({ debts, events, tail, noSnapshotTimeoutS, dataDir, startCompter }) {
  const started = performance.now();
  const path = join(dataDir, 'compter.duckdb');
  const env = { COMPTER_STORE: 'duckdb', COMPTER_DATA_DIR: dataDir };
  const layout = duckDbLogLayout({ debts, events });
  const prefix = Math.min(debts, events);
  const pick = (r) => ({
    readyMs: r.readyMs,
    internalReadyMs: r.internalReadyMs,
    phasesMs: r.phasesMs,
    replayed: r.replayed,
    fromSnapshot: r.fromSnapshot,
    debts: r.debts,
    rssMiB: r.rssMiB,
  });
  const out = { debts, events };

  let t = performance.now();
  await createDuckDbLog(path, layout, prefix);
  const phase1Seconds = (performance.now() - t) / 1000;
  progress(`duckdb: starting compter on the ${debts} definitions + ${prefix} payments (no snapshot)`);
  const first = await startCompter(120_000, env);
  if (first.readyMs === null) throw new Error(`compter on DuckDB did not replay ${debts + prefix} events within 120 s`);
  await first.stop();
  out.prefix = { events: debts + prefix, ...pick(first) };
  await hideSnapshots(path);

  t = performance.now();
  await fillDuckDbLog(path, layout, prefix);
  const { rows, fileMiB } = await duckDbLogSize(path);
  out.generatedSeconds = phase1Seconds + (performance.now() - t) / 1000;
  out.rows = rows;
  out.fileMiB = fileMiB;

  progress(
    `duckdb: generated ${rows} events (${fileMiB.toFixed(0)} MiB) in ${out.generatedSeconds.toFixed(0)} s; starting compter without a snapshot (limit ${noSnapshotTimeoutS} s)`,
  );
  const cold = await startCompter(noSnapshotTimeoutS * 1000, env);
  if (cold.readyMs === null) {
    out.noSnapshot = { readyMs: null, note: `not ready within ${noSnapshotTimeoutS} s (killed)` };
    out.snapshotSource = `saved at shutdown after replaying the definitions + the last payment of each debt (${debts + prefix} events); the other ${events - prefix} payments were inserted before it`;
    await unhideSnapshots(path, true);
  } else {
    const stop = await cold.stop();
    out.noSnapshot = { ...pick(cold), stopMs: stop.ms };
    out.snapshotSource = 'saved at shutdown after the full replay';
    await unhideSnapshots(path, false);
  }

  progress('duckdb: restart with the snapshot');
  const warm = await startCompter(120_000, env);
  if (warm.readyMs === null) throw new Error('compter on DuckDB did not start from its snapshot within 120 s');
  await warm.stop();
  out.snapshot = pick(warm);

  progress(`duckdb: adding a tail of ${tail} events after the snapshot`);
  const tailEndMs = await appendDuckDbTail(path, { debts, firstSeq: debts + events, count: tail });
  while (Date.now() <= tailEndMs + 1) await new Promise((r) => setTimeout(r, 50));
  const withTail = await startCompter(120_000, env);
  if (withTail.readyMs === null) throw new Error('compter on DuckDB did not start from its snapshot + tail within 120 s');
  await withTail.stop();
  out.snapshotAndTail = pick(withTail);
  out.seconds = (performance.now() - started) / 1000;
  return out;
}
