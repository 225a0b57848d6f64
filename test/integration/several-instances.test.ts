import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClickHouse, type ClickHouseServer } from '../support/clickhouse-server.js';
import { startCompterProcess, type CompterProcess } from '../support/compter-process.js';
import { startPrometheus } from '../support/monitoring.js';
import {
  clickhouseEnv,
  ClickHouseInspector,
  compareWithStored,
  defineDebts,
  freshDatabase,
  PaymentLoad,
  TempDirs,
} from '../support/payment-load.js';

/*
 * Several real compter processes on one real clickhouse-server: each serves everything and
 * learns what the others wrote from the shared log within 2 s (docs/semantics.md, "Several
 * instances"); a killed instance catches up; an instance started while ClickHouse is down
 * accepts writes and learns the rest once it returns.
 */

let clickhouse: ClickHouseServer;
const dirs = new TempDirs('compter-instances-');
const running: CompterProcess[] = [];

beforeAll(async () => {
  clickhouse = await startClickHouse();
});

afterAll(async () => {
  for (const p of running) await p.stop().catch(() => undefined);
  await clickhouse?.stop();
  await dirs.removeAll();
});

async function start(database: string, dataDir: string): Promise<CompterProcess> {
  const p = await startCompterProcess(clickhouseEnv(clickhouse.url, database, dataDir, { COMPTER_TAIL_INTERVAL_MS: '200' }));
  running.push(p);
  return p;
}

interface DebtJson {
  id: string;
  payments: number;
  status: string;
  lastDurationSeconds: number | null;
}

async function getDebt(url: string, id: string): Promise<{ status: number; body: DebtJson }> {
  const res = await fetch(`${url}/v1/debts/${id}`);
  return { status: res.status, body: (await res.json()) as DebtJson };
}

async function pay(url: string, id: string, body: Record<string, unknown>): Promise<number> {
  const res = await fetch(`${url}/v1/debts/${id}/payments`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  await res.text();
  return res.status;
}

/** Polls until `check` holds; returns how long it took, ms; throws after `timeoutMs`. */
async function within(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(50);
  }
  return Date.now() - started;
}

async function paymentsOn(url: string, ids: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const id of ids) out.set(id, (await getDebt(url, id)).body.payments);
  return out;
}

describe('several instances on one ClickHouse', () => {
  it('a debt defined on A is read on B within 2 s, and a run paid on B is seen alike on A', { timeout: 120_000 }, async () => {
    const database = freshDatabase();
    const a = await start(database, await dirs.make());
    const b = await start(database, await dirs.make());
    expect((await getDebt(b.url, 'nightly')).status).toBe(404);
    await defineDebts(a.url, ['nightly']);
    const seenMs = await within('B knows the debt defined on A', 2000, async () => (await getDebt(b.url, 'nightly')).status === 200);
    expect(seenMs).toBeLessThan(2000);

    expect(await pay(b.url, 'nightly', { kind: 'start', runId: 'r1' })).toBe(200);
    await sleep(1200);
    expect(await pay(b.url, 'nightly', { kind: 'success', runId: 'r1' })).toBe(200);
    const onB = (await getDebt(b.url, 'nightly')).body;
    expect(onB.payments).toBe(2);
    expect(onB.status).toBe('up');
    expect(onB.lastDurationSeconds).toBeGreaterThanOrEqual(1);
    await within('A agrees with B', 2000, async () => {
      const onA = (await getDebt(a.url, 'nightly')).body;
      return onA.payments === onB.payments && onA.status === onB.status && onA.lastDurationSeconds === onB.lastDurationSeconds;
    });

    // A deletion travels too.
    expect((await fetch(`${a.url}/v1/debts/nightly`, { method: 'DELETE' })).status).toBe(204);
    await within('B forgets the debt deleted on A', 2000, async () => (await getDebt(b.url, 'nightly')).status === 404);
  });

  it('a maintenance window defined on A excuses the late SLO row on B as well, metrics included', { timeout: 120_000 }, async () => {
    const database = freshDatabase();
    const a = await start(database, await dirs.make());
    const b = await start(database, await dirs.make());
    // Today's row, due half an hour ago in the calendar's zone (a zone where it is not near
    // midnight, so the row is today's whatever the hour of the run).
    const now = Date.now();
    const tz = new Date(now).getUTCHours() < 2 ? 'Etc/GMT-6' : 'UTC';
    const offsetMs = tz === 'UTC' ? 0 : 6 * 3_600_000;
    const hhmm = (t: number) => new Date(t + offsetMs).toISOString().slice(11, 16);
    const put = async (url: string, path: string, body: unknown) =>
      (await fetch(`${url}${path}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).status;
    expect(await put(a.url, '/v1/calendars/every-day', { tz, weekdays: [0, 1, 2, 3, 4, 5, 6] })).toBe(201);
    const slo = {
      application: 'deposits',
      calendar: 'every-day',
      jobs: [{ job: 'load', expectedStart: hhmm(now - 3_600_000), expectedEnd: hhmm(now - 1_800_000) }],
      slack: '20h',
    };
    expect(await put(a.url, '/v1/slos/nightly', slo)).toBe(201);
    // Its job started today and has not finished: the row is today's, past its deadline.
    const started = await fetch(`${a.url}/v1/job-status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        application: 'deposits',
        job: 'load',
        status: 'start',
        time: new Date(now - 3_000_000).toISOString(),
        businessDate: new Date(now + offsetMs).toISOString().slice(0, 10),
        runId: 'r-1',
      }),
    });
    expect(started.status).toBeLessThan(300);
    const status = async (url: string) => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return /^compter_slo_status\{[^}]*slo="nightly"[^}]*status="(\w+)"\} 1$/m.exec(text)?.[1];
    };
    await within('B shows the row late', 5000, async () => (await status(b.url)) === 'late');
    const window = {
      match: { slos: ['nightly'] },
      from: new Date(now - 7_200_000).toISOString(),
      to: new Date(now + 3_600_000).toISOString(),
    };
    expect(await put(a.url, '/v1/maintenance/upgrade', { ...window, reason: 'upgrade' })).toBe(201);
    expect(await status(a.url)).toBe('excused');
    await within('B excuses the row too', 3000, async () => (await status(b.url)) === 'excused');
  });

  it('kill -9 A under load: B takes every ping, A restarts and catches up, nothing lost or doubled', { timeout: 180_000 }, async () => {
    const database = freshDatabase();
    const debts = Array.from({ length: 4 }, (_, i) => `load-${i}`);
    const aDir = await dirs.make();
    let a = await start(database, aDir);
    const b = await start(database, await dirs.make());
    const inspector = new ClickHouseInspector(clickhouse.url, database);
    try {
      await defineDebts(a.url, debts);
      await within('B knows every debt', 2000, async () => (await getDebt(b.url, debts.at(-1)!)).status === 200);
      const onA = new PaymentLoad(a.url, debts, 'a-');
      const onB = new PaymentLoad(b.url, debts, 'b-');
      onA.start(4);
      onB.start(4);
      await onA.waitForAcknowledged(150);
      await a.kill9();
      const bAtKill = onB.acknowledgedCount;
      await sleep(1500);
      expect(onB.acknowledgedCount - bAtKill).toBeGreaterThan(50);
      await onA.stop();
      a = await start(database, aDir);
      await sleep(1000);
      await onB.stop();
      expect(onB.refusals).toEqual([]);

      const acknowledged = new Map<string, Set<string>>();
      for (const load of [onA, onB])
        for (const [debt, messages] of load.acknowledged) acknowledged.set(debt, new Set([...(acknowledged.get(debt) ?? []), ...messages]));
      // Every acknowledged payment reaches ClickHouse, under exactly one id.
      await within('ClickHouse holds every acknowledged payment', 20_000, async () => {
        return compareWithStored(acknowledged, await inspector.idsPerMessage()).missing.length === 0;
      });
      const stored = await inspector.idsPerMessage();
      const { duplicated } = compareWithStored(acknowledged, stored);
      expect(duplicated).toEqual([]);
      expect([...stored.values()].filter((n) => n !== 1)).toEqual([]);
      // Stored but never acknowledged: only requests A had in flight when it was killed.
      const acknowledgedMessages = new Set([...acknowledged.values()].flatMap((m) => [...m]));
      const unacknowledged = [...stored.keys()].filter((m) => !acknowledgedMessages.has(m));
      expect(unacknowledged.every((m) => m.startsWith('a-'))).toBe(true);
      expect(unacknowledged.length).toBeLessThanOrEqual(4);
      const perDebt = await inspector.rows<{ debt: string; n: string }>(
        `SELECT debt, uniqExact(event_id) AS n FROM ${database}.events WHERE type = 'payment' GROUP BY debt`,
      );
      const expected = new Map(debts.map((d) => [d, Number(perDebt.find((r) => r.debt === d)?.n ?? 0)]));
      // Both instances count exactly those, once each.
      const agree = async (url: string) => JSON.stringify([...(await paymentsOn(url, debts))]) === JSON.stringify([...expected]);
      await within('B counts every payment once', 5000, () => agree(b.url));
      await within('the restarted A counts every payment once', 5000, () => agree(a.url));
    } finally {
      await inspector.close();
    }
  });

  it('C starts while ClickHouse is down, accepts, and once it is back all three agree', { timeout: 180_000 }, async () => {
    const database = freshDatabase();
    const a = await start(database, await dirs.make());
    const b = await start(database, await dirs.make());
    await defineDebts(a.url, ['before-outage']);
    await within('B knows the debt', 2000, async () => (await getDebt(b.url, 'before-outage')).status === 200);
    expect(await pay(b.url, 'before-outage', { kind: 'success' })).toBe(200);
    await clickhouse.kill();
    try {
      // An empty data directory and no ClickHouse: C still starts, says so, and accepts.
      const c = await start(database, await dirs.make());
      const ready = await fetch(`${c.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(((await ready.json()) as { status: string }).status).toBe('spooling');
      await defineDebts(c.url, ['during-outage']);
      expect(await pay(c.url, 'during-outage', { kind: 'success' })).toBe(200);
      expect(await pay(a.url, 'before-outage', { kind: 'log' })).toBe(200);
      await clickhouse.start();

      const ids = ['before-outage', 'during-outage'];
      const expected = JSON.stringify([
        ['before-outage', 2],
        ['during-outage', 1],
      ]);
      for (const p of [a, b, c]) {
        await within(`${p.url} agrees with the others`, 30_000, async () => {
          const known = await Promise.all(ids.map(async (id) => (await getDebt(p.url, id)).status));
          return known.every((s) => s === 200) && JSON.stringify([...(await paymentsOn(p.url, ids))]) === expected;
        });
      }
      const readyAgain = await within('C is ok', 30_000, async () => {
        const r = await fetch(`${c.url}/readyz`);
        return ((await r.json()) as { status: string }).status === 'ok';
      });
      expect(readyAgain).toBeGreaterThanOrEqual(0);
    } finally {
      await clickhouse.start().catch(() => undefined);
    }
  });

  it('a real Prometheus scraping two instances raises one CompterDebtOverdue for the debt', { timeout: 120_000 }, async () => {
    const database = freshDatabase();
    const a = await start(database, await dirs.make());
    const b = await start(database, await dirs.make());
    const prometheus = await startPrometheus({ compterTarget: [new URL(a.url).host, new URL(b.url).host] });
    try {
      // Due 2 s after creation, no grace: overdue on both instances 2 s from now.
      const created = await fetch(`${a.url}/v1/debts/unpaid`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ schedule: { every: '2s' }, grace: 0 }),
      });
      expect(created.status).toBe(201);
      const series = async (expr: string) => ((await prometheus.query(expr)).data?.result as unknown[] | undefined)?.length ?? 0;
      await within(
        'both instances export the debt as overdue',
        30_000,
        async () => (await series('compter_debt_overdue{debt="unpaid"} == 1')) === 2,
      );
      await within(
        'the alert fires',
        30_000,
        async () => (await series('ALERTS{alertname="CompterDebtOverdue",debt="unpaid",alertstate="firing"}')) > 0,
      );
      // Evaluated again over a few seconds: still one alert, never one per instance.
      for (let i = 0; i < 3; i++) {
        expect(await series('ALERTS{alertname="CompterDebtOverdue",debt="unpaid"}')).toBe(1);
        await sleep(1000);
      }
      // Both timers moved the debt to overdue and closed its missed occurrences: the log holds
      // each of those facts once, under one id.
      const inspector = new ClickHouseInspector(clickhouse.url, database);
      try {
        const facts = await inspector.rows<{ type: string; status: string; ids: string }>(
          `SELECT type, status, uniqExact(event_id) AS ids FROM ${database}.events
           WHERE debt = 'unpaid' AND type IN ('debt.status_changed', 'occurrence.closed') GROUP BY type, status`,
        );
        const idsOf = (type: string, status: string) => Number(facts.find((f) => f.type === type && f.status === status)?.ids ?? 0);
        expect(idsOf('debt.status_changed', 'overdue')).toBe(1);
        const missed = idsOf('occurrence.closed', 'missed');
        expect(missed).toBeGreaterThan(0);
        const [distinct] = await inspector.rows<{ closings: string }>(
          `SELECT count() AS closings FROM (SELECT DISTINCT attributes FROM ${database}.events
           WHERE debt = 'unpaid' AND type = 'occurrence.closed' AND status = 'missed')`,
        );
        expect(missed).toBe(Number(distinct!.closings));
      } finally {
        await inspector.close();
      }
    } finally {
      await prometheus.stop();
    }
  });
});
