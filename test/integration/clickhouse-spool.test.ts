import { readdir, rename, rm, writeFile } from 'node:fs/promises';

import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClickHouse, type ClickHouseServer } from '../support/clickhouse-server.js';
import { startCompterProcess } from '../support/compter-process.js';
import { clickhouseEnv, ClickHouseInspector, compareWithStored, freshDatabase, metricValue, TempDirs } from '../support/payment-load.js';

/*
 * compter on a real clickhouse-server: 1,000 concurrent payments stored exactly once, and
 * what happens when the spool itself cannot take writes while ClickHouse is down (503 with
 * Retry-After, nothing acknowledged lost).
 */

let clickhouse: ClickHouseServer;
const dirs = new TempDirs('compter-ch-spool-');

beforeAll(async () => {
  clickhouse = await startClickHouse();
});

afterAll(async () => {
  await clickhouse?.stop();
  await dirs.removeAll();
});

async function pay(url: string, debt: string, message: string): Promise<Response> {
  return fetch(`${url}/v1/debts/${debt}/payments`, {
    method: 'POST',
    body: JSON.stringify({ kind: 'log', message }),
    headers: { 'content-type': 'application/json' },
  });
}

async function define(url: string, debt: string): Promise<void> {
  const res = await fetch(`${url}/v1/debts/${debt}`, {
    method: 'PUT',
    body: JSON.stringify({ schedule: { every: '1h' } }),
    headers: { 'content-type': 'application/json' },
  });
  expect(res.status).toBe(201);
}

async function spoolEvents(url: string): Promise<number> {
  return metricValue(await (await fetch(`${url}/metrics`)).text(), 'compter_spool_events') ?? NaN;
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * Pays one at a time until compter refuses one; returns the acknowledged messages and the
 * refusal. Fails the test if no refusal comes within `timeoutMs`.
 */
async function payUntilRefused(url: string, debt: string, prefix: string, timeoutMs: number) {
  const acknowledged = new Set<string>();
  const until = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < until; i++) {
    const message = `${prefix}-${i}`;
    const res = await pay(url, debt, message);
    if (res.status === 200) {
      acknowledged.add(message);
      await res.text();
      continue;
    }
    return {
      acknowledged,
      refusal: {
        status: res.status,
        retryAfter: res.headers.get('retry-after'),
        body: (await res.json()) as { error: { code: string; message: string } },
      },
    };
  }
  throw new Error(`no refusal within ${timeoutMs} ms (${acknowledged.size} acknowledged)`);
}

describe('writes on ClickHouse', () => {
  it('stores 1,000 concurrent payments exactly once', { timeout: 120_000 }, async () => {
    const database = freshDatabase();
    const compter = await startCompterProcess(clickhouseEnv(clickhouse.url, database, await dirs.make()));
    const inspector = new ClickHouseInspector(clickhouse.url, database);
    try {
      const debts = Array.from({ length: 10 }, (_, i) => `many-${i}`);
      for (const d of debts) await define(compter.url, d);
      const answers = await Promise.all(
        Array.from({ length: 1000 }, async (_, i) => {
          const res = await pay(compter.url, debts[i % debts.length]!, `c-${i}`);
          await res.text();
          return res.status;
        }),
      );
      expect(answers.filter((s) => s !== 200)).toEqual([]);
      // Acknowledged from the local journal; ClickHouse holds them once it is stored.
      await waitUntil('the journal to be stored', async () => (await spoolEvents(compter.url)) === 0, 30_000);
      // Physically once: no retry, no duplicate row (not merely deduplicated on read).
      expect(await inspector.paymentCounts()).toEqual({ rows: 1000, ids: 1000 });
      const perMessage = await inspector.idsPerMessage();
      expect(perMessage.size).toBe(1000);
      expect([...perMessage.values()].every((n) => n === 1)).toBe(true);
      for (const d of debts) {
        expect(((await (await fetch(`${compter.url}/v1/debts/${d}`)).json()) as { payments: number }).payments).toBe(100);
      }
      // Group commit: far fewer inserts than requests.
      const metrics = await (await fetch(`${compter.url}/metrics`)).text();
      const flushes = metricValue(metrics, 'compter_event_store_flush_seconds_count')!;
      expect(flushes).toBeGreaterThan(0);
      expect(flushes).toBeLessThan(1000);
    } finally {
      await compter.stop();
      await inspector.close();
    }
  });
});

describe('a spool that cannot take writes while ClickHouse is down', () => {
  it('answers 503 with Retry-After when the spool is full, and loses nothing acknowledged', { timeout: 120_000 }, async () => {
    const database = freshDatabase();
    const compter = await startCompterProcess(
      clickhouseEnv(clickhouse.url, database, await dirs.make(), { COMPTER_SPOOL_MAX_BYTES: String(64 * 1024) }),
    );
    const inspector = new ClickHouseInspector(clickhouse.url, database);
    try {
      await define(compter.url, 'full');
      await clickhouse.kill();
      const { acknowledged, refusal } = await payUntilRefused(compter.url, 'full', 'f', 60_000);
      expect(acknowledged.size).toBeGreaterThan(20);
      expect(refusal.status).toBe(503);
      expect(Number(refusal.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(refusal.body.error.code).toBe('unavailable');
      expect(refusal.body.error.message).toMatch(/spool is full/);
      const ready = await fetch(`${compter.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { status: string }).status).toBe('unavailable');

      await clickhouse.start();
      await waitUntil('the spool to drain', async () => (await spoolEvents(compter.url)) === 0, 60_000);
      const { missing, duplicated } = compareWithStored(new Map([['full', acknowledged]]), await inspector.idsPerMessage());
      expect(missing).toEqual([]);
      expect(duplicated).toEqual([]);
      // Writable again once the store is back.
      expect((await pay(compter.url, 'full', 'after')).status).toBe(200);
      expect(((await (await fetch(`${compter.url}/readyz`)).json()) as { status: string }).status).toBe('ok');
    } finally {
      await compter.stop();
      await inspector.close();
    }
  });

  it(
    'answers 503 with Retry-After when the spool directory is not writable, and loses nothing acknowledged',
    { timeout: 120_000 },
    async () => {
      const database = freshDatabase();
      const dataDir = await dirs.make();
      const spoolDir = join(dataDir, 'my-spool');
      const compter = await startCompterProcess(clickhouseEnv(clickhouse.url, database, dataDir, { COMPTER_SPOOL_DIR: spoolDir }));
      const inspector = new ClickHouseInspector(clickhouse.url, database);
      try {
        await define(compter.url, 'unwritable');
        await waitUntil('the definition to be stored', async () => (await spoolEvents(compter.url)) === 0, 30_000);
        // A first outage fills the spool; it drains when ClickHouse is back.
        await clickhouse.kill();
        const acknowledged = new Set<string>();
        for (let i = 0; i < 20; i++) {
          const res = await pay(compter.url, 'unwritable', `first-${i}`);
          expect(res.status).toBe(200);
          acknowledged.add(`first-${i}`);
        }
        expect(await spoolEvents(compter.url)).toBe(20);
        await clickhouse.start();
        await waitUntil('the spool to drain', async () => (await spoolEvents(compter.url)) === 0, 60_000);
        // Once stored and idle for a few seconds, the journal closes and deletes its segment, so
        // the next write has to create a file in the directory.
        await waitUntil(
          'the stored segment to be deleted',
          async () => (await readdir(spoolDir)).every((f) => !f.endsWith('.seg')),
          30_000,
        );

        // The directory disappears and a file takes its place (this works as root, unlike
        // chmod 000), then ClickHouse goes down again: the next batch has nowhere to go.
        await rename(spoolDir, `${spoolDir}.aside`);
        await writeFile(spoolDir, 'not a directory');
        await clickhouse.kill();
        const { acknowledged: more, refusal } = await payUntilRefused(compter.url, 'unwritable', 'second', 30_000);
        expect(more.size).toBe(0);
        expect(refusal.status).toBe(503);
        expect(Number(refusal.retryAfter)).toBeGreaterThanOrEqual(1);
        expect(refusal.body.error.code).toBe('unavailable');
        expect(refusal.body.error.message).toMatch(/cannot be made durable/);
        const ready = await fetch(`${compter.url}/readyz`);
        expect(ready.status).toBe(503);

        await rm(spoolDir);
        await rename(`${spoolDir}.aside`, spoolDir);
        await clickhouse.start();
        await waitUntil('writes to be accepted again', async () => (await pay(compter.url, 'unwritable', 'third')).status === 200, 60_000);
        const { missing, duplicated } = compareWithStored(new Map([['unwritable', acknowledged]]), await inspector.idsPerMessage());
        expect(missing, 'acknowledged but lost').toEqual([]);
        expect(duplicated).toEqual([]);
      } finally {
        await compter.stop();
        await inspector.close();
      }
    },
  );
});
