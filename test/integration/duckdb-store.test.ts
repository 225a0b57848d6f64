import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeEvent, type LogEvent } from '../../src/domain/event.js';
import { EventIdGenerator } from '../../src/domain/event-id.js';
import { DuckDbEventStore } from '../../src/store/duckdb/duckdb-store.js';
import { seededRandom } from '../support/seed.js';
import { describeEventStoreContract } from '../support/store-contract.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function tempDbPath(): Promise<{ dir: string; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'compter-duckdb-'));
  return { dir, path: join(dir, 'data', 'compter.duckdb') };
}

describeEventStoreContract('duckdb', async () => {
  const { dir, path } = await tempDbPath();
  return {
    store: await DuckDbEventStore.open(path),
    reopen: () => DuckDbEventStore.open(path),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('DuckDbEventStore', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  async function openStore(): Promise<{ store: DuckDbEventStore; path: string }> {
    const { dir, path } = await tempDbPath();
    const store = await DuckDbEventStore.open(path);
    cleanups.push(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    await store.migrate();
    return { store, path };
  }

  /** Runs SQL against the file directly, as an operator or Grafana would; the store must be closed. */
  async function rawSql(path: string, sql: string): Promise<unknown[][]> {
    const instance = await DuckDBInstance.create(path);
    const connection = await instance.connect();
    try {
      return (await connection.runAndReadAll(sql)).getRows();
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  }

  function events(project: string, n: number): LogEvent[] {
    const ids = new EventIdGenerator();
    const now = Date.now();
    return Array.from({ length: n }, (_, i) =>
      decodeEvent({
        eventId: ids.next(now),
        project,
        type: 'payment' as const,
        debt: 'd1',
        application: '',
        job: '',
        slo: '',
        ts: now + i,
        ingestedAt: now + i,
        kind: 'success',
        status: '',
        runId: `r-${i}`,
        host: '',
        businessDate: '',
        durationMs: i,
        latenessMs: null,
        attributes: {},
      }),
    );
  }

  it('gives back the buffer memory a start-up read filled, keeping its memory limit', { timeout: 60_000 }, async () => {
    const { store } = await openStore();
    for (let i = 0; i < 5; i++) await store.append(events('p-memory', 20_000));
    for await (const page of store.scan(null, 50_000)) expect(page.length).toBeGreaterThan(0);
    const used = async () => Number((await store.readRows('SELECT sum(memory_usage_bytes) FROM duckdb_memory()', [], []))[0]![0]);
    const limit = async () => (await store.readRows(`SELECT current_setting('memory_limit')`, [], []))[0]![0];
    const limitBefore = await limit();
    const before = await used();
    await store.releaseStartupMemory();
    expect(await used()).toBeLessThan(Math.max(before / 2, 17 * 1024 * 1024));
    // Put back as read (DuckDB prints it rounded, so 18.8 GiB may come back as 18.7 GiB).
    const after = String(await limit());
    expect(after.replace(/[\d. ]/g, '')).toBe(String(limitBefore).replace(/[\d. ]/g, ''));
    expect(Math.abs(parseFloat(after) / parseFloat(String(limitBefore)) - 1)).toBeLessThan(0.01);
    const more = events('p-memory', 3);
    await store.append(more);
    expect(await store.query({ project: 'p-memory', limit: 3, order: 'desc' })).toEqual([...more].reverse());
  });

  it('records each migration once in schema_migrations', async () => {
    const { store, path } = await openStore();
    await store.migrate();
    await store.close();
    expect(await rawSql(path, 'SELECT version FROM schema_migrations ORDER BY version')).toEqual([[1], [2], [3]]);
  });

  it('collapses a re-sent id on read; the raw table keeps each batch as written', async () => {
    const { store, path } = await openStore();
    const batch = events('p-dedupe', 3);
    await store.append(batch);
    await store.append([batch[0]!, batch[0]!, batch[2]!]);
    expect(await store.query({ project: 'p-dedupe', limit: 10, order: 'asc' })).toEqual(batch);
    await store.close();
    // Repeats inside one batch are dropped; a re-sent batch lands again (no per-append lookup),
    // so hand-written SQL on `events` dedupes by event_id like ClickHouse queries do.
    expect(await rawSql(path, 'SELECT count(*), count(DISTINCT event_id) FROM events')).toEqual([[5n, 3n]]);
    // ts is a plain TIMESTAMP so Grafana-style SQL works without casts.
    const [[day]] = (await rawSql(
      path,
      "SELECT count(DISTINCT event_id) FROM events WHERE ts >= timezone('UTC', now()) - INTERVAL 1 DAY",
    )) as [[bigint]];
    expect(day).toBe(3n);
  });

  it('scans every id once, in order, to the end when copies of ids fill or straddle pages', async () => {
    const { store } = await openStore();
    const batch = events('p-scan-copies', 12);
    await store.append(batch);
    // Re-sent batches land again (no per-append lookup): every id is now stored 3 times, so
    // a page of 5 stored rows holds 2 distinct ids and a copy of one runs into the next page.
    await store.append(batch);
    await store.append(batch.slice(4));
    // One id with more copies than a page holds.
    for (let i = 0; i < 6; i++) await store.append([batch[7]!]);

    for (const pageSize of [1, 2, 5, 7, 100]) {
      const pages = await collectPages(store.scan(null, pageSize));
      for (const page of pages) {
        expect(page.length).toBeGreaterThan(0);
        expect(page.length).toBeLessThanOrEqual(pageSize);
      }
      // A short page is not the end: the scan goes on until nothing is left.
      expect(pages.flat(), `pageSize ${pageSize}`).toEqual(batch);
      const after = (await collectPages(store.scan(batch[3]!.eventId, pageSize))).flat();
      expect(after, `pageSize ${pageSize}, after`).toEqual(batch.slice(4));
    }
  });

  it('rejects a batch with a bad value and stores none of it', async () => {
    const { store } = await openStore();
    const batch = events('p-atomic', 5_000);
    batch[2_500] = decodeEvent({ ...batch[2_500]!, durationMs: Number.NaN });
    await expect(store.append(batch)).rejects.toThrow(/durationMs/);
    // These get past the checks in JS and fail inside DuckDB: the NOT NULL constraint, and an
    // unpaired surrogate JSON cannot carry. Both are RangeErrors: no retry would store them.
    const nullKind = events('p-atomic', 5_000);
    nullKind[4_000] = decodeEvent({ ...nullKind[4_000]!, kind: null as unknown as string });
    await expect(store.append(nullKind)).rejects.toBeInstanceOf(RangeError);
    const surrogate = events('p-atomic', 10);
    surrogate[3] = decodeEvent({ ...surrogate[3]!, attributes: { message: 'lone \ud800 surrogate' } });
    await expect(store.append(surrogate)).rejects.toBeInstanceOf(RangeError);
    expect(await store.query({ project: 'p-atomic', limit: 10, order: 'asc' })).toEqual([]);
    const good = events('p-atomic', 2);
    await store.append(good);
    expect(await store.query({ project: 'p-atomic', limit: 10, order: 'asc' })).toEqual(good);
  });

  it('never loads a snapshot whose chunks are incomplete, and keeps only the newest two', async () => {
    const { store, path } = await openStore();
    for (let i = 1; i <= 4; i++) await store.saveSnapshot({ upToEventId: `id-${i}`, takenAt: i, chunks: [`c${i}a`, `c${i}b`] });
    await store.close();
    expect(await rawSql(path, 'SELECT snapshot_id FROM snapshots ORDER BY snapshot_id')).toEqual([[3n], [4n]]);
    expect(await rawSql(path, 'SELECT DISTINCT snapshot_id FROM snapshot_chunks ORDER BY snapshot_id')).toEqual([[3n], [4n]]);

    // A save cut short: chunks without their row, and a row whose chunks are not all there.
    await rawSql(path, "INSERT INTO snapshot_chunks VALUES (5, 0, 'orphan')");
    await rawSql(path, "INSERT INTO snapshots VALUES (6, 'id-6', TIMESTAMP '2026-01-01', 2)");
    await rawSql(path, "INSERT INTO snapshot_chunks VALUES (6, 0, 'only one of two')");
    const reopened = await DuckDbEventStore.open(path);
    try {
      expect(await reopened.loadLatestSnapshot()).toEqual({ upToEventId: 'id-4', takenAt: 4, chunks: ['c4a', 'c4b'] });
    } finally {
      await reopened.close();
    }
  });

  it('refuses work after close', async () => {
    const { store } = await openStore();
    await store.close();
    await expect(store.ping()).rejects.toThrow(/closed/);
    await expect(store.append(events('p-closed', 1))).rejects.toThrow(/closed/);
  });

  it('keeps every acknowledged batch when the writing process is killed with SIGKILL', { timeout: 60_000 }, async () => {
    const compiled = join(repoRoot, 'dist', 'src', 'store', 'duckdb', 'duckdb-store.js');
    const compiledIds = join(repoRoot, 'dist', 'src', 'domain', 'event-id.js');
    if (!existsSync(compiled) || !existsSync(compiledIds)) {
      throw new Error(`${compiled} is missing: build first (npm run build, or npx tsc -p tsconfig.build.json)`);
    }
    const { dir, path } = await tempDbPath();
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const project = `crash-${randomUUID()}`;
    const script = join(dir, 'writer.mjs');
    await writeFile(
      script,
      `
const [storeUrl, idsUrl, dbPath, project] = process.argv.slice(2);
const { DuckDbEventStore } = await import(storeUrl);
const { EventIdGenerator } = await import(idsUrl);
const store = await DuckDbEventStore.open(dbPath);
await store.migrate();
const ids = new EventIdGenerator();
for (let batchNo = 0; ; batchNo++) {
  const now = Date.now();
  const batch = Array.from({ length: 500 }, (_, i) => ({
    eventId: ids.next(now), project, type: 'payment', debt: 'd' + (i % 7), application: '', job: '',
    slo: '', ts: now, ingestedAt: now, kind: 'success', status: '', runId: 'b' + batchNo, host: '',
    businessDate: '', durationMs: i, latenessMs: null, attributes: { batchNo, i },
  }));
  await store.append(batch);
  // Only after append resolved: this line is the acknowledgement. Pipes are synchronous on Linux.
  process.stdout.write('ack ' + batch[0].eventId + ' ' + batch[batch.length - 1].eventId + '\\n');
}
`,
    );
    const child = spawn(process.execPath, [script, pathToFileURL(compiled).href, pathToFileURL(compiledIds).href, path, project], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));

    const acked: Array<[first: string, last: string]> = [];
    const { random, note } = seededRandom('duckdb kill -9 during appends');
    const killAfter = 20 + Math.floor(random() * 10);
    for await (const line of createInterface({ input: child.stdout })) {
      const [, first, last] = line.split(' ');
      acked.push([first!, last!]);
      if (acked.length === killAfter) child.kill('SIGKILL');
    }
    expect(await exited, stderr).toBe('SIGKILL');
    expect(acked.length, note).toBeGreaterThanOrEqual(killAfter);

    const store = await DuckDbEventStore.open(path);
    try {
      await store.migrate();
      const stored: string[] = [];
      for await (const page of store.scan(null, 5_000)) for (const e of page) stored.push(e.eventId);
      const lastAcked = acked.at(-1)![1];
      // Ids grow across batches, so everything up to the last acknowledged id is exactly the acknowledged batches.
      expect(stored.filter((id) => id <= lastAcked).length, note).toBe(acked.length * 500);
      const have = new Set(stored);
      for (const [first, last] of acked) {
        expect(have.has(first)).toBe(true);
        expect(have.has(last)).toBe(true);
      }
      // A batch committed but not yet acknowledged may be there; a torn one may not.
      expect((stored.length - acked.length * 500) % 500, note).toBe(0);
    } finally {
      await store.close();
    }
  });
});

async function collectPages<T>(pages: AsyncIterable<T[]>): Promise<T[][]> {
  const out: T[][] = [];
  for await (const page of pages) out.push(page);
  return out;
}
