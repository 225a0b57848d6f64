import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCompterProcess } from '../support/compter-process.js';

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'compter-term-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('SIGTERM', () => {
  it('stops accepting, drains the writer, exits 0, and keeps every acknowledged payment', { timeout: 120_000 }, async () => {
    const first = await startCompterProcess({ COMPTER_DATA_DIR: dataDir, COMPTER_LOG_LEVEL: 'info' });
    await fetch(`${first.url}/v1/debts/term`, { method: 'PUT', body: '{"schedule":{"every":"1h"}}' });
    let acknowledged = 0;
    let isStopping = false;
    const worker = async () => {
      while (!isStopping) {
        try {
          const res = await fetch(`${first.url}/v1/debts/term/payments`, { method: 'POST', body: '{"kind":"log"}' });
          if (res.status === 200) acknowledged++;
        } catch {
          return;
        }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    while (acknowledged < 200) await delay(10);
    const exit = first.stop();
    isStopping = true;
    expect(await exit).toBe(0);
    await Promise.all(workers);
    expect(first.output()).toMatch(/"msg":"stopped"/);

    const second = await startCompterProcess({ COMPTER_DATA_DIR: dataDir });
    try {
      const debt = (await (await fetch(`${second.url}/v1/debts/term`)).json()) as { payments: number };
      expect(debt.payments).toBeGreaterThanOrEqual(acknowledged);
    } finally {
      await second.stop();
    }
  });
});
