// Where a durable ping's CPU goes, without HTTP: one compter process (DuckDB) pays 1,000 debts
// from 64 concurrent callers of the engine, three ways in the same run:
//   engine only   the commit skipped (the event store's append resolves at once);
//   + journal     the fsynced journal written, its drain into DuckDB skipped;
//   + DuckDB      everything a served ping does after HTTP.
// Each is measured as CPU microseconds per ping, on the JS thread and on all other threads
// (libuv's pool with the journal writes and DuckDB's inserts, DuckDB's own threads, V8's GC
// helpers), from /proc/self/task. Linux only.
// Usage: node bench/ping-cost.mjs [pings per mode]   (build first: npm run build)
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadEnv } from '../dist/src/config.js';
import { createCompter } from '../dist/src/main.js';
import { printTable, progress, saveResults } from './lib.mjs';

const PINGS = Number(process.argv[2] ?? 200_000);
const DEBTS = 1000;
const CALLERS = 64;
const ROUNDS = 5;
const TICKS_PER_SECOND = 100;

/** CPU seconds so far: the JS thread's and every other thread's of this process. */
function threadSeconds() {
  let main = 0;
  let other = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    let stat;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const seconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    if (tid === String(process.pid)) main = seconds;
    else other += seconds;
  }
  return { main, other };
}

async function measure(mode) {
  const dataDir = mkdtempSync(join(tmpdir(), 'ping-cost-'));
  const compter = await createCompter(
    loadEnv({ COMPTER_DATA_DIR: dataDir, COMPTER_LOG_LEVEL: 'silent' }),
    undefined,
    pino({ level: 'silent' }),
  );
  try {
    if (mode === 'engine') compter.store.append = async () => {};
    if (mode === 'journal') compter.store.inner.append = async () => {};
    for (let i = 0; i < DEBTS; i++) await compter.engine.define('default', `b-${i}`, { schedule: { every: '1h' } });
    const pay = async (n) => {
      let next = 0;
      const caller = async () => {
        while (next < n) {
          const i = next++;
          await compter.engine.payQuietly('default', `b-${i % DEBTS}`, { kind: 'success', at: Date.now() });
        }
      };
      await Promise.all(Array.from({ length: CALLERS }, caller));
    };
    await pay(PINGS / ROUNDS); // warm-up
    const rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      progress(`${mode}: round ${r + 1}/${ROUNDS}, ${PINGS / ROUNDS} pings`);
      const before = threadSeconds();
      const started = performance.now();
      await pay(PINGS / ROUNDS);
      // The drain runs behind the acknowledgements: count the store's work for these pings too.
      while (mode === 'duckdb' && compter.store.spooledEvents > 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const after = threadSeconds();
      const perPing = (s) => (s * 1e6) / (PINGS / ROUNDS);
      rounds.push({
        main: perPing(after.main - before.main),
        other: perPing(after.other - before.other),
        wallUs: ((performance.now() - started) * 1000) / (PINGS / ROUNDS),
      });
    }
    const median = (key) => [...rounds.map((r) => r[key])].sort((a, b) => a - b)[Math.floor(ROUNDS / 2)];
    return { main: median('main'), other: median('other'), wallUs: median('wallUs') };
  } finally {
    await compter.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const engine = await measure('engine');
const journal = await measure('journal');
const duckdb = await measure('duckdb');
progress('done\n');
const row = (what, r, base) => ({
  what,
  'JS thread us/ping': r.main.toFixed(1),
  'other threads us/ping': r.other.toFixed(1),
  'total us/ping': (r.main + r.other).toFixed(1),
  'added us/ping': base ? (r.main + r.other - base.main - base.other).toFixed(1) : '',
});
printTable([
  row('engine only (commit skipped)', engine),
  row('+ journal (fsynced)', journal, engine),
  row('+ DuckDB (stored)', duckdb, journal),
]);
console.log(`medians of ${ROUNDS} rounds of ${PINGS / ROUNDS} pings, ${CALLERS} concurrent callers, ${DEBTS} debts`);
saveResults('ping-cost', { measuredAt: new Date().toISOString(), pings: PINGS, callers: CALLERS, debts: DEBTS, engine, journal, duckdb });
