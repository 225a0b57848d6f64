import { readdir } from 'node:fs/promises';

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCompter } from '../support/app-harness.js';
import { observe, scenario } from '../support/restart-scenario.js';
import { startClickHouse, type ClickHouseServer } from '../support/clickhouse-server.js';
import { startCompterProcess } from '../support/compter-process.js';
import {
  clickhouseEnv,
  ClickHouseInspector,
  compareWithStored,
  defineDebts,
  freshDatabase,
  metricValue,
  PaymentLoad,
  TempDirs,
} from '../support/payment-load.js';

/*
 * Crashes and restarts of compter on a real clickhouse-server: kill -9 under load, kill -9
 * while events wait in the spool, and a graceful restart that must rebuild the same state.
 */

let clickhouse: ClickHouseServer;
const dirs = new TempDirs('compter-ch-crash-');

beforeAll(async () => {
  clickhouse = await startClickHouse();
});

afterAll(async () => {
  await clickhouse?.stop();
  await dirs.removeAll();
});

async function payments(url: string, debt: string): Promise<number> {
  return ((await (await fetch(`${url}/v1/debts/${debt}`)).json()) as { payments: number }).payments;
}

const DEBTS = Array.from({ length: 6 }, (_, i) => `crash-${i}`);

describe('kill -9 of compter on ClickHouse', () => {
  it('loses no acknowledged payment under load', { timeout: 120_000 }, async () => {
    const database = freshDatabase();
    const dataDir = await dirs.make();
    const inspector = new ClickHouseInspector(clickhouse.url, database);
    const first = await startCompterProcess(clickhouseEnv(clickhouse.url, database, dataDir));
    await defineDebts(first.url, DEBTS);
    const load = new PaymentLoad(first.url, DEBTS);
    load.start(24);
    await load.waitForAcknowledged(400);
    await first.kill9();
    await load.stop();

    const second = await startCompterProcess(clickhouseEnv(clickhouse.url, database, dataDir));
    try {
      const { missing, duplicated } = compareWithStored(load.acknowledged, await inspector.idsPerMessage());
      expect(missing, 'acknowledged but lost').toEqual([]);
      expect(duplicated).toEqual([]);
      for (const debt of DEBTS) expect(await payments(second.url, debt)).toBeGreaterThanOrEqual(load.acknowledged.get(debt)?.size ?? 0);
    } finally {
      await second.stop();
      await inspector.close();
    }
  });

  it('drains at start-up what a killed process left in its spool', { timeout: 180_000 }, async () => {
    const database = freshDatabase();
    const dataDir = await dirs.make();
    const inspector = new ClickHouseInspector(clickhouse.url, database);
    const first = await startCompterProcess(clickhouseEnv(clickhouse.url, database, dataDir));
    await defineDebts(first.url, DEBTS);
    const load = new PaymentLoad(first.url, DEBTS);
    load.start(12);
    await load.waitForAcknowledged(100);
    await clickhouse.kill();
    const ackedBeforeOutage = load.acknowledgedCount;
    await load.waitForAcknowledged(ackedBeforeOutage + 200);
    const spooled = metricValue(await (await fetch(`${first.url}/metrics`)).text(), 'compter_spool_events');
    expect(spooled).toBeGreaterThan(0);
    await first.kill9();
    await load.stop();
    const leftBehind = (await readdir(join(dataDir, 'spool'))).filter((f) => f.endsWith('.seg'));
    expect(leftBehind.length).toBeGreaterThan(0);

    await clickhouse.start();
    const second = await startCompterProcess(clickhouseEnv(clickhouse.url, database, dataDir));
    try {
      // Drained before the rebuild: the segments the killed process left are gone (the new
      // process journals its own start) and the projection counts every payment.
      const remaining = (await readdir(join(dataDir, 'spool'))).filter((f) => f.endsWith('.seg'));
      expect(remaining.filter((f) => leftBehind.includes(f))).toEqual([]);
      const { missing, duplicated } = compareWithStored(load.acknowledged, await inspector.idsPerMessage());
      expect(missing, 'acknowledged but lost').toEqual([]);
      expect(duplicated).toEqual([]);
      for (const debt of DEBTS) expect(await payments(second.url, debt)).toBeGreaterThanOrEqual(load.acknowledged.get(debt)?.size ?? 0);
      expect((await (await fetch(`${second.url}/readyz`)).json()) as { status: string }).toMatchObject({ status: 'ok' });
    } finally {
      await second.stop();
      await inspector.close();
    }
  });
});

/** The scenario of test/http/restart.test.ts: schedules, stages, a missed slot, a failure. */

describe('a restart on ClickHouse', () => {
  async function restartMatches(snapshotEvery: string) {
    const dataDir = await dirs.make();
    const env = {
      COMPTER_STORE: 'clickhouse',
      COMPTER_CLICKHOUSE_URL: clickhouse.url,
      COMPTER_CLICKHOUSE_DATABASE: freshDatabase(),
      COMPTER_SNAPSHOT_EVERY_EVENTS: snapshotEvery,
    };
    const first = await startTestCompter({ dataDir, env });
    await scenario(first);
    const before = await observe(first);
    await first.cleanup();
    // The schema is migrated again on this start: harmless.
    const second = await startTestCompter({ dataDir, env, now: '2026-11-20T15:10:00Z' });
    try {
      expect(await observe(second)).toEqual(before);
      expect(before.metrics.length).toBeGreaterThan(20);
      return second.rebuilt;
    } finally {
      await second.cleanup();
    }
  }

  it('reproduces the same debt states and counters from the log alone', { timeout: 60_000 }, async () => {
    expect((await restartMatches('0')).fromSnapshot).toBe(false);
  });

  it('reproduces them from a snapshot without replaying the log', { timeout: 60_000 }, async () => {
    expect(await restartMatches('200000')).toEqual({ replayed: 0, fromSnapshot: true });
  });
});
