import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClickHouse, type ClickHouseServer } from '../support/clickhouse-server.js';
import { startCompterProcess, type CompterProcess } from '../support/compter-process.js';
import { clickhouseEnv, freshDatabase, TempDirs } from '../support/payment-load.js';

/*
 * Only the chosen store's adapter is loaded: a ClickHouse deployment must not map DuckDB's
 * native library (~70 MB) into the process. Read from /proc/<pid>/maps of a real compter.
 */

let clickhouse: ClickHouseServer;
const dirs = new TempDirs('compter-store-loading-');

beforeAll(async () => {
  clickhouse = await startClickHouse();
});

afterAll(async () => {
  await clickhouse?.stop();
  await dirs.removeAll();
});

/** The shared objects and native addons mapped into `proc`'s address space. */
function mappedFiles(proc: CompterProcess): string[] {
  const maps = readFileSync(`/proc/${proc.proc.pid}/maps`, 'utf8');
  return [...new Set(maps.split('\n').map((l) => l.split(/\s+/).slice(5).join(' ')))].filter((f) => f.startsWith('/'));
}

async function paidOnce(url: string): Promise<number> {
  expect(
    (await fetch(`${url}/v1/debts/loading`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' })).status,
  ).toBeLessThan(300);
  expect((await fetch(`${url}/v1/debts/loading/payments`, { method: 'POST' })).status).toBeLessThan(300);
  return ((await (await fetch(`${url}/v1/debts/loading`)).json()) as { payments: number }).payments;
}

describe('store adapters load lazily', () => {
  it('a ClickHouse compter never loads DuckDB; a DuckDB one does', { timeout: 90_000 }, async () => {
    const onClickHouse = await startCompterProcess(clickhouseEnv(clickhouse.url, freshDatabase('compter_loading'), await dirs.make()));
    try {
      expect(await paidOnce(onClickHouse.url)).toBe(1);
      const files = mappedFiles(onClickHouse);
      expect(files.length).toBeGreaterThan(0);
      expect(files.filter((f) => /duckdb/i.test(f))).toEqual([]);
    } finally {
      await onClickHouse.stop();
    }
    // The same reading finds DuckDB when it is the store, so the check above can fail.
    const onDuckDb = await startCompterProcess({ COMPTER_DATA_DIR: await dirs.make() });
    try {
      expect(await paidOnce(onDuckDb.url)).toBe(1);
      expect(mappedFiles(onDuckDb).filter((f) => /duckdb.*\.node$/i.test(f)).length).toBeGreaterThan(0);
    } finally {
      await onDuckDb.stop();
    }
  });
});
