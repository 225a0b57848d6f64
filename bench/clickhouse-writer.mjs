// Throughput through compter's writer with a real ClickHouse behind it: BatchWriter (group
// commit) → DurableEventStore (the fsynced local journal is the commit point; it is stored in
// ClickHouse in the background) → ClickHouseEventStore, as `compter serve` wires them (with a
// 5 ms flush interval here). Many concurrent producers each write one event at a time, like
// HTTP requests. Then the same with ClickHouse killed (the journal keeps accepting), and how
// fast the backlog is stored once ClickHouse is back; ClickHouse must then hold every
// acknowledged event exactly once.
// Usage: node bench/clickhouse-writer.mjs [seconds] [producers]   (build first: npm run build)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { EventIdGenerator } from '../dist/src/domain/event-id.js';
import { BatchWriter } from '../dist/src/store/batch-writer.js';
import { ClickHouseEventStore } from '../dist/src/store/clickhouse/clickhouse-store.js';
import { DurableEventStore } from '../dist/src/store/durable-store.js';
import { Spool } from '../dist/src/store/spool.js';
import { clickhouseQuery, startClickHouse } from './clickhouse.mjs';
import { printTable, progress, saveResults } from './lib.mjs';

const seconds = Number(process.argv[2] ?? 10);
const producers = Number(process.argv[3] ?? 256);
const outageSeconds = Math.max(2, Math.round(seconds / 2));
const database = 'compter_bench_writer';

const ids = new EventIdGenerator();
let seq = 0;
function event() {
  const ts = Date.now();
  const n = seq++;
  return {
    eventId: ids.next(ts),
    project: 'default',
    type: 'payment',
    debt: `bench-${n % 1000}`,
    application: '',
    job: '',
    slo: '',
    ts,
    ingestedAt: ts,
    kind: 'success',
    status: '',
    runId: '',
    host: 'bench',
    businessDate: '',
    durationMs: 1200,
    latenessMs: null,
    attributes: { occurrenceAt: null, message: `run ${n} ok` },
  };
}

/** `producers` loops writing one event at a time for `ms`; returns acknowledged events. */
async function load(writer, ms) {
  let acked = 0;
  let failed = 0;
  const until = performance.now() + ms;
  await Promise.all(
    Array.from({ length: producers }, async () => {
      while (performance.now() < until) {
        try {
          await writer.write([event()]);
          acked++;
        } catch {
          failed++;
        }
      }
    }),
  );
  return { acked, failed };
}

const clickhouse = await startClickHouse();
const spoolDir = mkdtempSync(join(tmpdir(), 'compter-bench-spool-'));
try {
  const inner = new ClickHouseEventStore({ url: clickhouse.url, database });
  await inner.migrate();
  const { spool } = await Spool.open(spoolDir);
  const flushes = { count: 0, events: 0, seconds: 0 };
  const store = new DurableEventStore(inner, { spool, logger: pino({ level: 'silent' }), appendTimeoutMs: 5000, retryMaxMs: 1000 });
  const writer = new BatchWriter(store, {
    maxBatchEvents: 5000,
    flushIntervalMs: 5,
    hooks: {
      onFlush: (s, n) => {
        flushes.count++;
        flushes.events += n;
        flushes.seconds += s;
      },
    },
  });

  progress(`writer → ClickHouse: ${producers} producers, ${seconds}s`);
  const direct = await load(writer, seconds * 1000);
  const directFlushes = { ...flushes };

  progress(`writer with ClickHouse killed (spool): ${producers} producers, ${outageSeconds}s`);
  await clickhouse.kill();
  Object.assign(flushes, { count: 0, events: 0, seconds: 0 });
  const spooled = await load(writer, outageSeconds * 1000);
  const spooledFlushes = { ...flushes };
  const spoolBytes = spool.bytes;
  const depth = store.spooledEvents;

  progress(`ClickHouse back: draining ${depth} spooled events`);
  const drainStarted = performance.now();
  await clickhouse.start();
  const restartedMs = performance.now() - drainStarted;
  while (store.spooledEvents > 0) await new Promise((r) => setTimeout(r, 20));
  const drainMs = performance.now() - drainStarted - restartedMs;
  await writer.close();
  const [stored, distinct] = (
    await clickhouseQuery(clickhouse.url, `SELECT count(), uniqExact(event_id) FROM ${database}.events FORMAT TSV`)
  )
    .trim()
    .split('\t')
    .map(Number);
  await store.close();
  progress('done\n');

  const rows = [
    {
      path: 'BatchWriter → journal → ClickHouse',
      'events/s': Math.round(direct.acked / seconds),
      acknowledged: direct.acked,
      refused: direct.failed,
      flushes: directFlushes.count,
      'events/flush': Math.round(directFlushes.events / Math.max(1, directFlushes.count)),
      'ms/flush': ((directFlushes.seconds / Math.max(1, directFlushes.count)) * 1000).toFixed(1),
    },
    {
      path: 'BatchWriter → journal (ClickHouse down)',
      'events/s': Math.round(spooled.acked / outageSeconds),
      acknowledged: spooled.acked,
      refused: spooled.failed,
      flushes: spooledFlushes.count,
      'events/flush': Math.round(spooledFlushes.events / Math.max(1, spooledFlushes.count)),
      'ms/flush': ((spooledFlushes.seconds / Math.max(1, spooledFlushes.count)) * 1000).toFixed(1),
    },
  ];
  printTable(rows);
  console.log(
    `spool: ${depth} events, ${(spoolBytes / 1024 / 1024).toFixed(1)} MiB; drained in ${(drainMs / 1000).toFixed(2)} s after ClickHouse answered (${Math.round(depth / (drainMs / 1000))} events/s)`,
  );
  console.log(`ClickHouse holds ${distinct} distinct events in ${stored} rows; acknowledged ${direct.acked + spooled.acked}`);
  if (distinct !== direct.acked + spooled.acked) throw new Error('acknowledged and stored counts differ');
  saveResults('clickhouse-writer', {
    measuredAt: new Date().toISOString(),
    producers,
    seconds,
    direct: {
      eventsPerSecond: direct.acked / seconds,
      acknowledged: direct.acked,
      flushes: directFlushes.count,
      meanFlushMs: (directFlushes.seconds / Math.max(1, directFlushes.count)) * 1000,
    },
    spooled: {
      eventsPerSecond: spooled.acked / outageSeconds,
      acknowledged: spooled.acked,
      seconds: outageSeconds,
      flushes: spooledFlushes.count,
      meanFlushMs: (spooledFlushes.seconds / Math.max(1, spooledFlushes.count)) * 1000,
      spoolBytes,
    },
    drain: { events: depth, seconds: drainMs / 1000, eventsPerSecond: depth / (drainMs / 1000) },
    stored: { rows: stored, distinct },
  });
} finally {
  await clickhouse.stop();
  rmSync(spoolDir, { recursive: true, force: true });
}
