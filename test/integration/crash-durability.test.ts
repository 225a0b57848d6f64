import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCompterProcess } from '../support/compter-process.js';

let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'compter-crash-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const DEBTS = 8;
const CONCURRENCY = 32;

describe('kill -9 of a running compter (DuckDB)', () => {
  it('loses no acknowledged payment', { timeout: 120_000 }, async () => {
    const first = await startCompterProcess({ COMPTER_DATA_DIR: dataDir });
    for (let d = 0; d < DEBTS; d++) {
      const res = await fetch(`${first.url}/v1/debts/crash-${d}`, {
        method: 'PUT',
        body: JSON.stringify({ schedule: { every: '1h' } }),
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(201);
    }
    const acknowledged = new Map<string, Set<string>>();
    let sent = 0;
    let isKilled = false;
    // Each worker pays with unique messages until the process dies under it.
    const worker = async (w: number) => {
      for (let i = 0; !isKilled; i++) {
        const debt = `crash-${(w + i) % DEBTS}`;
        const message = `w${w}-${i}`;
        sent++;
        try {
          const res = await fetch(`${first.url}/v1/debts/${debt}/payments`, {
            method: 'POST',
            body: JSON.stringify({ kind: 'log', message }),
            headers: { 'content-type': 'application/json' },
          });
          if (res.status === 200) {
            if (!acknowledged.has(debt)) acknowledged.set(debt, new Set());
            acknowledged.get(debt)!.add(message);
          }
        } catch {
          return; // connection refused or reset: the process is gone
        }
      }
    };
    const workers = Array.from({ length: CONCURRENCY }, (_, w) => worker(w));
    // Kill mid-stream once enough payments were acknowledged (a count, not a time: CI is slow).
    const until = Date.now() + 60_000;
    const acked = () => [...acknowledged.values()].reduce((n, s) => n + s.size, 0);
    while (acked() < 300 && Date.now() < until) await delay(20);
    isKilled = true;
    await first.kill9();
    await Promise.all(workers);
    const ackedTotal = [...acknowledged.values()].reduce((n, s) => n + s.size, 0);
    expect(ackedTotal).toBeGreaterThanOrEqual(300);

    const second = await startCompterProcess({ COMPTER_DATA_DIR: dataDir });
    try {
      let stored = 0;
      for (const [debt, messages] of acknowledged) {
        const res = await fetch(`${second.url}/v1/debts/${debt}/events?limit=1000`);
        const events = ((await res.json()) as { events: { type: string; attributes: { message?: string } }[] }).events;
        const found = new Set(events.filter((e) => e.type === 'payment').map((e) => e.attributes.message));
        const missing = [...messages].filter((m) => !found.has(m));
        expect(missing, `acknowledged but lost on ${debt}`).toEqual([]);
        stored += found.size;
        const debtRes = (await (await fetch(`${second.url}/v1/debts/${debt}`)).json()) as { payments: number };
        expect(debtRes.payments).toBeGreaterThanOrEqual(messages.size);
      }
      expect(stored).toBeGreaterThanOrEqual(ackedTotal);
      expect(sent).toBeGreaterThanOrEqual(ackedTotal);
    } finally {
      await second.stop();
    }
  });
});
