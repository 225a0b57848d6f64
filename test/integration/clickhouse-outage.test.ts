import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClickHouse, type ClickHouseServer } from '../support/clickhouse-server.js';
import { startCompterProcess, type CompterProcess } from '../support/compter-process.js';
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
 * compter on a real clickhouse-server, which is SIGKILLed in the middle of a load and started
 * again: every acknowledged payment must end up in ClickHouse exactly once (deduplicated by
 * event id), drained in order from the local spool, and the API's counts must match.
 */

let clickhouse: ClickHouseServer;
const dirs = new TempDirs('compter-outage-');

beforeAll(async () => {
  clickhouse = await startClickHouse();
});

afterAll(async () => {
  await clickhouse?.stop();
  await dirs.removeAll();
});

async function readyz(url: string): Promise<{ status: number; body: { status: string; detail?: string } }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; detail?: string } };
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

async function paymentCounts(url: string, debts: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const id of debts) out.set(id, ((await (await fetch(`${url}/v1/debts/${id}`)).json()) as { payments: number }).payments);
  return out;
}

const DEBTS = Array.from({ length: 6 }, (_, i) => `outage-${i}`);

describe('ClickHouse stopped during a load and restarted', () => {
  it('acknowledges into the spool, drains it in order, and stores every acknowledged payment once', { timeout: 180_000 }, async () => {
    const database = freshDatabase();
    const dataDir = await dirs.make();
    const inspector = new ClickHouseInspector(clickhouse.url, database);
    let compter: CompterProcess | undefined = await startCompterProcess(clickhouseEnv(clickhouse.url, database, dataDir));
    try {
      expect((await readyz(compter.url)).body.status).toBe('ok');
      await defineDebts(compter.url, DEBTS);
      const load = new PaymentLoad(compter.url, DEBTS);
      load.start(12);
      await load.waitForAcknowledged(200);

      await clickhouse.kill();
      const killedAt = Date.now();
      const ackedAtKill = load.acknowledgedCount;
      // Keep paying through the outage; compter must keep acknowledging from its spool. How soon it
      // notices depends on the insert timeout and the machine's load: wait for it, generously.
      let during = await readyz(compter.url);
      await waitUntil('compter to report spooling', async () => (during = await readyz(compter!.url)).body.status === 'spooling', 30_000);
      const spoolingSeenAt = Date.now();
      expect(during.status).toBe(200);
      expect(during.body.detail).toMatch(/spooled/);
      expect(await spoolEvents(compter.url)).toBeGreaterThan(0);
      await waitUntil('100 payments acknowledged during the outage', async () => load.acknowledgedCount - ackedAtKill > 100, 60_000);
      // At least a few seconds of outage, so the age below measures waiting, not rounding.
      await sleep(Math.max(0, spoolingSeenAt + 4_000 - Date.now()));
      expect(await spoolEvents(compter.url)).toBeGreaterThan(0);
      // What CompterSpooling watches: the oldest waiting event has waited since before compter
      // reported spooling, and (give or take the batch in flight) not from before the kill.
      const waitedAtLeastS = (Date.now() - spoolingSeenAt) / 1000;
      const age = metricValue(await (await fetch(`${compter.url}/metrics`)).text(), 'compter_spool_oldest_event_age_seconds')!;
      const sinceKillS = (Date.now() - killedAt) / 1000;
      expect(age).toBeGreaterThanOrEqual(waitedAtLeastS - 0.5);
      expect(age).toBeLessThan(sinceKillS + 5);

      await clickhouse.start();
      await sleep(1_500); // the load goes on while the spool drains
      await load.stop();
      await waitUntil('the spool to drain', async () => (await spoolEvents(compter!.url)) === 0, 60_000);
      expect((await readyz(compter.url)).body.status).toBe('ok');
      expect(metricValue(await (await fetch(`${compter.url}/metrics`)).text(), 'compter_spool_oldest_event_age_seconds')).toBe(0);

      expect(load.refusals).toEqual([]);
      const stored = await inspector.idsPerMessage();
      const { missing, duplicated } = compareWithStored(load.acknowledged, stored);
      expect(missing, 'acknowledged but not in ClickHouse').toEqual([]);
      expect(duplicated, 'one payment stored under two event ids').toEqual([]);
      const counts = await inspector.paymentCounts();
      expect(counts.ids).toBe(load.acknowledgedCount);

      // The API counts what was acknowledged, before and after a restart that rebuilds from ClickHouse.
      const expected = new Map(DEBTS.map((d) => [d, load.acknowledged.get(d)?.size ?? 0]));
      expect(await paymentCounts(compter.url, DEBTS)).toEqual(expected);
      const metrics = await (await fetch(`${compter.url}/metrics`)).text();
      expect(metricValue(metrics, 'compter_event_store_errors_total')).toBeGreaterThan(0);
      expect(metricValue(metrics, 'compter_events_appended_total')).toBeGreaterThanOrEqual(load.acknowledgedCount);
      expect(await compter.stop()).toBe(0);
      compter = await startCompterProcess(clickhouseEnv(clickhouse.url, database, dataDir));
      expect(await paymentCounts(compter.url, DEBTS)).toEqual(expected);
    } finally {
      await compter?.stop();
      await inspector.close();
    }
  });
});
