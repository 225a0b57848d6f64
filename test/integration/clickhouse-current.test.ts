/**
 * The ClickHouse adapter against a current engine (ClickHouse 26.x embedded by chdb, behind the
 * test-only HTTP front in test/support/chdb-front.mjs), beside the Debian 18.16 server the
 * other ClickHouse suites use: the same contract, and the limits only current servers enforce.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventIdGenerator } from '../../src/domain/event-id.js';
import type { LogEvent } from '../../src/domain/event.js';
import { ClickHouseEventStore } from '../../src/store/clickhouse/clickhouse-store.js';
import { sql } from '../../src/store/clickhouse/sql.js';
import { DurableEventStore } from '../../src/store/durable-store.js';
import { Spool } from '../../src/store/spool.js';
import { getSharedChdb, startChdb, type ChdbServer } from '../support/chdb-server.js';
import { getSharedClickHouse } from '../support/clickhouse-server.js';
import { describeEventStoreContract } from '../support/store-contract.js';

let current: ChdbServer;
let admin: ClickHouseClient;
const opened: ClickHouseEventStore[] = [];

beforeAll(async () => {
  current = await getSharedChdb();
  admin = createClient({ url: current.url });
});

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await admin?.close();
});

function openStore(url: string, database: string): ClickHouseEventStore {
  const store = new ClickHouseEventStore({ url, database, requestTimeoutMs: 20_000 });
  opened.push(store);
  return store;
}

const freshDatabase = () => `compter_current_${randomBytes(6).toString('hex')}`;

describe('the current engine', () => {
  it('is a current ClickHouse, not 18.16', () => {
    expect(Number(current.version.split('.')[0])).toBeGreaterThanOrEqual(24);
  });
});

describeEventStoreContract('clickhouse (current engine)', async () => {
  const database = freshDatabase();
  return {
    store: openStore(current.url, database),
    reopen: async () => openStore(current.url, database),
    cleanup: async () => {
      await admin.command({ query: sql`DROP DATABASE IF EXISTS ${sql.ident(database)}`.text });
    },
  };
});

/** One event per month over `months` months: an import of old history touches that many partitions. */
function monthlyEvents(months: number): LogEvent[] {
  const ids = new EventIdGenerator();
  return Array.from({ length: months }, (_, i) => {
    const ts = Date.UTC(2010, i, 15, 12, 0, 0, 5);
    return {
      eventId: ids.next(ts),
      project: 'history-import',
      type: 'job.status',
      debt: '',
      application: 'deposits',
      job: 'overdraft-calc',
      slo: '',
      ts,
      ingestedAt: ts,
      kind: '',
      status: 'succeed',
      runId: `r-${i}`,
      host: '',
      businessDate: new Date(ts).toISOString().slice(0, 10),
      durationMs: 1000 + i,
      latenessMs: null,
      attributes: {},
    } satisfies LogEvent;
  });
}

// Current servers refuse an insert block touching more than 100 partitions (Code 252); the log
// is partitioned by month, so a batch spanning more than 100 months must still be stored.
describe.each([
  { name: 'current engine', url: async () => current.url },
  { name: '18.16', url: async () => (await getSharedClickHouse()).url },
])('a batch spanning 150 months on $name', ({ url }) => {
  it('is stored whole, in one append', async () => {
    const store = openStore(await url(), freshDatabase());
    await store.migrate();
    const events = monthlyEvents(150);
    await store.append(events);
    const back = await store.query({ project: 'history-import', limit: 1000, order: 'asc' });
    expect(back.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
  });
});

// A server whose partition limit an operator set below the adapter's blocks (here 2) must still
// take every batch: the adapter inserts such a block month by month.
describe('a server with a lower partition limit', () => {
  let strict: ChdbServer;
  let dir: string;

  beforeAll(async () => {
    strict = await startChdb({ profile: { max_partitions_per_insert_block: 2 } });
    dir = await mkdtemp(join(tmpdir(), 'compter-current-spool-'));
  });

  afterAll(async () => {
    await strict?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('takes every batch month by month: nothing is lost, set aside or left in the journal', async () => {
    const inner = openStore(strict.url, freshDatabase());
    await inner.migrate();
    const { spool } = await Spool.open(join(dir, 'spool'));
    const store = new DurableEventStore(inner, {
      spool,
      logger: pino({ level: process.env.DEBUG_SPOOL ? 'debug' : 'silent' }),
      retryInitialMs: 20,
      retryMaxMs: 100,
    });
    const events = monthlyEvents(4);
    await store.append(events);
    await store.settle(20_000);
    expect(store.spooledEvents).toBe(0);
    const back = await inner.query({ project: 'history-import', limit: 100, order: 'asc' });
    expect(back.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
    expect((await readdir(join(dir, 'spool'))).filter((f) => f.endsWith('.rejected'))).toEqual([]);
    await store.close();
  });
});
