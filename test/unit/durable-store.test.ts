import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { EventIdGenerator } from '../../src/domain/event-id.js';
import { decodeEvent, type StoredEventRow, type LogEvent } from '../../src/domain/event.js';
import { BatchWriter } from '../../src/store/batch-writer.js';
import { DurableEventStore, StoreUnavailableError } from '../../src/store/durable-store.js';
import type { EventQuery, EventStore, Snapshot } from '../../src/store/event-store.js';
import { Spool } from '../../src/store/spool.js';
import { ManualStoreClock } from '../support/manual-store-clock.js';

/** An in-memory store that can be switched down (refuses), hung (never answers) or up. */
class FlakyStore implements EventStore {
  readonly kind = 'clickhouse' as const;
  readonly appended: LogEvent[] = [];
  mode: 'up' | 'down' | 'hang' = 'up';
  attempts = 0;
  refused = 0;
  snapshots: Snapshot[] = [];

  async migrate(): Promise<void> {}

  async append(events: readonly LogEvent[]): Promise<void> {
    this.attempts++;
    if (this.mode === 'down') {
      this.refused++;
      throw new Error('connect ECONNREFUSED');
    }
    if (this.mode === 'hang') return new Promise(() => undefined);
    if (events.some((e) => e.ts < 0)) throw new RangeError('ts must be epoch ms');
    this.appended.push(...events);
  }

  async *scan(): AsyncIterable<LogEvent[]> {
    yield [...this.appended];
  }

  /** What is stored, filtered by project and debt only (enough for these tests), in id order. */
  async query(q: EventQuery): Promise<LogEvent[]> {
    if (this.mode === 'down') throw new Error('connect ECONNREFUSED');
    const rows = this.appended.filter((e) => e.project === q.project && (q.debt === undefined || e.debt === q.debt));
    if (q.order === 'desc') rows.reverse();
    return rows.slice(0, q.limit);
  }

  async saveSnapshot(s: Snapshot): Promise<void> {
    this.snapshots.push(s);
  }

  async loadLatestSnapshot(): Promise<Snapshot | null> {
    return this.snapshots.at(-1) ?? null;
  }

  async ping(): Promise<void> {
    if (this.mode === 'down') throw new Error('connect ECONNREFUSED');
    if (this.mode === 'hang') return new Promise(() => undefined);
  }

  async close(): Promise<void> {}

  /** Distinct ids in first-stored order: what a deduplicating read returns. */
  get distinctIds(): string[] {
    return [...new Set(this.appended.map((e) => e.eventId))];
  }
}

const logger = pino({ level: 'silent' });
const dirs: string[] = [];
const stores: DurableEventStore[] = [];

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'compter-durable-'));
  dirs.push(dir);
  return dir;
}

async function durable(
  inner: FlakyStore,
  options: {
    dir?: string;
    withSpool?: boolean;
    maxBytes?: number;
    timeoutMs?: number;
    retryMs?: number;
    drainIntervalMs?: number;
    clock?: ManualStoreClock;
  } = {},
) {
  const dir = options.dir ?? (await tempDir());
  const spool = options.withSpool === false ? null : (await Spool.open(dir, { maxBytes: options.maxBytes ?? 0, rotateMs: 0 })).spool;
  const errors: unknown[] = [];
  const store = new DurableEventStore(inner, {
    spool,
    logger,
    appendTimeoutMs: options.timeoutMs ?? 1000,
    retryInitialMs: options.retryMs ?? 5,
    retryMaxMs: options.retryMs ?? 20,
    retryAfterSeconds: 7,
    drainBatchEvents: 4,
    snapshotWaitMs: 100,
    drainIntervalMs: options.drainIntervalMs ?? 5,
    hooks: { onStoreError: (err) => errors.push(err) },
    ...(options.clock ? { clock: options.clock } : {}),
  });
  stores.push(store);
  return { store, dir, errors };
}

const ids = new EventIdGenerator();
let n = 0;

function event(overrides: Partial<StoredEventRow> = {}): LogEvent {
  const ts = Date.UTC(2026, 10, 20, 12, 0, 0, n++);
  return decodeEvent({
    eventId: ids.next(ts),
    project: 'p',
    type: 'payment',
    debt: 'd',
    application: '',
    job: '',
    slo: '',
    ts,
    ingestedAt: ts,
    kind: 'log',
    status: '',
    runId: '',
    host: '',
    businessDate: '',
    durationMs: null,
    latenessMs: null,
    attributes: {},
    ...overrides,
  });
}

function batch(size: number): LogEvent[] {
  return Array.from({ length: size }, () => event());
}

/**
 * Polls until `check` holds: the journal's fsyncs and the store's answers take real time. With
 * a manual clock, the store's clock is moved on `stepMs` per poll as well.
 */
async function waitFor(check: () => boolean, ms = 5000, clock?: ManualStoreClock, stepMs = 5): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    if (clock) await clock.advance(stepMs);
    else await new Promise((r) => setTimeout(r, 5));
  }
}

/** `promise`'s outcome, or 'still waiting' if it has not settled after a moment of real time. */
async function settledSoon<T>(promise: Promise<T>, ms = 2000): Promise<T | 'still waiting'> {
  let timer: NodeJS.Timeout | undefined;
  const waiting = new Promise<'still waiting'>((resolve) => (timer = setTimeout(() => resolve('still waiting'), ms)));
  try {
    return await Promise.race([promise, waiting]);
  } finally {
    clearTimeout(timer);
  }
}

describe('DurableEventStore', () => {
  it('acknowledges once journaled and stores the journal in the background', async () => {
    const inner = new FlakyStore();
    const { store, dir } = await durable(inner);
    const a = batch(3);
    await store.append(a);
    await waitFor(() => store.spooledEvents === 0);
    expect(inner.appended).toEqual(a);
    expect(store.state).toBe('ok');
    expect(await store.health()).toEqual({ state: 'ok', spooledEvents: 0 });
    // Fully stored segments are deleted (rotateMs 0 here), a moment after they count as stored.
    const { readdirSync } = await import('node:fs');
    await waitFor(() => readdirSync(dir).filter((f) => f.endsWith('.seg')).length === 0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg'))).toEqual([]);
  });

  it('acknowledges at once while the store hangs, and stores everything after', async () => {
    const inner = new FlakyStore();
    const clock = new ManualStoreClock();
    const { store } = await durable(inner, { timeoutMs: 50, clock });
    inner.mode = 'hang';
    const a = batch(2);
    // No time passes on the store's clock, so the hung append never times out: the
    // acknowledgement cannot be waiting for it.
    expect(await settledSoon(store.append(a))).toBeUndefined();
    await waitFor(() => inner.attempts === 1);
    expect(store.state).toBe('ok');
    await clock.advance(49);
    expect(store.state).toBe('ok');
    await clock.advance(1);
    await waitFor(() => store.state === 'spooling');
    expect(store.spooledEvents).toBe(2);
    // Its ping hangs too, and counts as failed after the timeout.
    const health = store.health();
    await clock.advance(50);
    expect(await settledSoon(health)).toMatchObject({ state: 'spooling' });
    inner.mode = 'up';
    await waitFor(() => store.spooledEvents === 0, 5000, clock);
    expect(inner.distinctIds).toEqual(a.map((e) => e.eventId));
    expect(store.state).toBe('ok');
  });

  it('stores a slowly filling journal in few appends, one per drain interval', async () => {
    const inner = new FlakyStore();
    const clock = new ManualStoreClock();
    const { store } = await durable(inner, { drainIntervalMs: 1000, clock });
    const written = batch(1);
    await store.append(written);
    await waitFor(() => inner.attempts === 1 && clock.pendingTimers === 1);
    for (let i = 0; i < 9; i++) {
      const b = batch(1);
      written.push(...b);
      await store.append(b);
      await clock.advance(10);
    }
    // The first append went at once; the other nine wait for the interval...
    expect(inner.attempts).toBe(1);
    await clock.advance(909);
    expect(inner.attempts).toBe(1);
    // ...and then go together: in chunks of drainBatchEvents = 4, the last one after another interval.
    await waitFor(() => store.spooledEvents === 0, 5000, clock, 100);
    expect(inner.distinctIds).toEqual(written.map((e) => e.eventId));
    expect(inner.attempts).toBe(4);
    // A snapshot does not wait for the interval: no time passes on the clock here.
    await store.append(batch(1));
    expect(await settledSoon(store.saveSnapshot({ upToEventId: 'x', takenAt: 1, chunks: [] }))).toBeUndefined();
    expect(inner.snapshots).toHaveLength(1);
  });

  it('caughtUp: resolves once the store holds everything accepted so far, false while it is down', async () => {
    const inner = new FlakyStore();
    const clock = new ManualStoreClock();
    const { store } = await durable(inner, { drainIntervalMs: 1000, clock });
    const a = batch(1);
    await store.append(a);
    await waitFor(() => inner.appended.length === 1);
    const b = batch(2);
    await store.append(b); // waits for the drain interval...
    expect(await settledSoon(store.caughtUp())).toBe(true); // ...unless a read asks for it (no time passes)
    expect(inner.distinctIds).toEqual([...a, ...b].map((e) => e.eventId));
    inner.mode = 'down';
    await store.append(batch(1));
    const caughtUp = store.caughtUp(50);
    await clock.advance(49);
    expect(await settledSoon(caughtUp, 50)).toBe('still waiting');
    await clock.advance(1);
    expect(await settledSoon(caughtUp)).toBe(false);
  });

  it('stores every append without another one coming after it (no lost wake-up)', async () => {
    const inner = new FlakyStore();
    const { store } = await durable(inner, { drainIntervalMs: 0 });
    for (let i = 0; i < 300; i++) {
      await store.append(batch(1 + (i % 3)));
      // Nothing else is appended until this one is stored: a wake-up lost between the loop
      // finding the journal empty and starting to wait would leave it there.
      await waitFor(() => store.spooledEvents === 0, 2000);
    }
    expect(inner.distinctIds).toHaveLength(600);
  });

  it('reads merge the store with the journal: every acknowledged event is seen, once', async () => {
    const inner = new FlakyStore();
    const { store } = await durable(inner, { timeoutMs: 50 });
    const stored = batch(3);
    await store.append(stored);
    await waitFor(() => store.spooledEvents === 0);
    inner.mode = 'hang';
    const waiting = batch(2);
    const elsewhere = [event({ debt: 'other' })];
    await store.append(waiting);
    await store.append(elsewhere);
    const all = [...stored, ...waiting].map((e) => e.eventId);
    const asc = await store.query({ project: 'p', debt: 'd', limit: 10, order: 'asc' });
    expect(asc.map((e) => e.eventId)).toEqual(all);
    const desc = await store.query({ project: 'p', debt: 'd', limit: 4, order: 'desc' });
    expect(desc.map((e) => e.eventId)).toEqual([...all].reverse().slice(0, 4));
    expect((await store.query({ project: 'p', debt: 'other', limit: 10, order: 'asc' })).map((e) => e.eventId)).toEqual([
      elsewhere[0]!.eventId,
    ]);
    expect(await store.query({ project: 'q', limit: 10, order: 'asc' })).toEqual([]);
    inner.mode = 'up';
    await waitFor(() => store.spooledEvents === 0);
    expect((await store.query({ project: 'p', debt: 'd', limit: 10, order: 'asc' })).map((e) => e.eventId)).toEqual(all);
  });

  it('keeps accepting while the store is down, then stores everything in order', async () => {
    const inner = new FlakyStore();
    const { store, errors } = await durable(inner);
    const before = batch(2);
    await store.append(before);
    await waitFor(() => store.spooledEvents === 0);
    inner.mode = 'down';
    const during = [batch(3), batch(1), batch(5), batch(2)];
    for (const b of during) await store.append(b); // resolves: durable in the journal
    expect(store.spooledEvents).toBe(11);
    await waitFor(() => errors.length > 0);
    expect(store.state).toBe('spooling');
    const health = await store.health();
    expect(health.state).toBe('spooling');
    expect(health.detail).toMatch(/unreachable.*11 events spooled/);
    expect(errors.length).toBeGreaterThan(0);
    await store.saveSnapshot({ upToEventId: 'x', takenAt: 1, chunks: [] }).then(
      () => expect.fail('a snapshot must wait for the journal to be stored'),
      (err: Error) => expect(err.message).toMatch(/spool/),
    );

    inner.mode = 'up';
    // A batch arriving while the journal drains queues behind it, never ahead.
    const after = batch(2);
    await store.append(after);
    // A snapshot waits for the journal to be stored, then goes through.
    await store.saveSnapshot({ upToEventId: 'x', takenAt: 1, chunks: [] });
    expect(inner.snapshots).toHaveLength(1);
    await waitFor(() => store.spooledEvents === 0);
    expect(inner.distinctIds).toEqual([...before, ...during.flat(), ...after].map((e) => e.eventId));
    expect(store.state).toBe('ok');
  });

  it('keeps retrying with backoff while the store stays down', async () => {
    const inner = new FlakyStore();
    const clock = new ManualStoreClock();
    const { store } = await durable(inner, { clock });
    inner.mode = 'down';
    await store.append(batch(1));
    // Backoff from retryInitialMs = 5, doubling, up to retryMaxMs = 20.
    for (const [attempt, waitMs] of [
      [1, 5],
      [2, 10],
      [3, 20],
      [4, 20],
    ] as const) {
      await waitFor(() => inner.attempts === attempt && clock.pendingTimers === 1);
      await clock.advance(waitMs - 1);
      expect(inner.attempts, `attempt ${attempt} waits ${waitMs} ms`).toBe(attempt);
      await clock.advance(1);
    }
    await waitFor(() => inner.attempts === 5);
    inner.mode = 'up';
    await waitFor(() => store.spooledEvents === 0, 5000, clock);
    expect(inner.appended).toHaveLength(1);
  });

  it('oldestWaitingMs: how long the oldest unstored event has waited, 0 once stored', async () => {
    const inner = new FlakyStore();
    const clock = new ManualStoreClock();
    const { store } = await durable(inner, { clock, retryMs: 1000 });
    expect(store.oldestWaitingMs()).toBe(0);
    await store.append(batch(1));
    await waitFor(() => store.spooledEvents === 0);
    expect(store.oldestWaitingMs()).toBe(0);
    inner.mode = 'down';
    await store.append(batch(1));
    await clock.advance(20_000);
    await store.append(batch(2));
    await clock.advance(40_000);
    // The oldest unstored event counts, not the newest.
    expect(store.oldestWaitingMs()).toBe(60_000);
    inner.mode = 'up';
    await waitFor(() => store.spooledEvents === 0, 5000, clock, 100);
    expect(store.oldestWaitingMs()).toBe(0);
  });

  it('does not retry a failing store on every append while it backs off', async () => {
    const inner = new FlakyStore();
    const clock = new ManualStoreClock();
    const { store } = await durable(inner, { retryMs: 1000, clock });
    inner.mode = 'down';
    await store.append(batch(1));
    await waitFor(() => inner.attempts === 1 && clock.pendingTimers === 1);
    for (let i = 0; i < 5; i++) {
      await store.append(batch(1));
      await clock.advance(100);
    }
    expect(inner.attempts).toBe(1);
    expect(store.spooledEvents).toBe(6);
    inner.mode = 'up';
    await clock.advance(499);
    expect(inner.attempts).toBe(1);
    await waitFor(() => store.spooledEvents === 0, 5000, clock);
    expect(inner.distinctIds).toHaveLength(6);
  });

  it('refuses with 503 semantics when the spool cannot take a batch, losing nothing acknowledged', async () => {
    const inner = new FlakyStore();
    const { store, dir } = await durable(inner, { maxBytes: 3000 });
    inner.mode = 'down';
    const acknowledged: LogEvent[] = [];
    let refusal: unknown;
    for (let i = 0; i < 30 && !refusal; i++) {
      const b = batch(2);
      try {
        await store.append(b);
        acknowledged.push(...b);
      } catch (err) {
        refusal = err;
      }
    }
    expect(refusal).toBeInstanceOf(StoreUnavailableError);
    expect((refusal as StoreUnavailableError).code).toBe('unavailable');
    expect((refusal as StoreUnavailableError).retryAfterSeconds).toBe(7);
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(store.state).toBe('failing');
    expect((await store.health()).state).toBe('failing');

    // An unwritable spool directory is refused the same way.
    await rename(dir, `${dir}.aside`);
    dirs.push(`${dir}.aside`);
    await writeFile(dir, 'a file');
    await expect(store.append(batch(1))).rejects.toBeInstanceOf(StoreUnavailableError);
    await rm(dir);
    await rename(`${dir}.aside`, dir);

    inner.mode = 'up';
    await waitFor(() => store.spooledEvents === 0);
    expect(inner.distinctIds).toEqual(acknowledged.map((e) => e.eventId));
    await store.append(batch(1));
    await waitFor(() => store.spooledEvents === 0);
    expect(store.state).toBe('ok');
  });

  it('without a spool refuses a failed append with StoreUnavailableError', async () => {
    const inner = new FlakyStore();
    const { store, errors } = await durable(inner, { withSpool: false });
    inner.mode = 'down';
    await expect(store.append(batch(1))).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(errors).toEqual([]); // the writer counts this one
    expect((await store.health()).state).toBe('failing');
    await expect(store.query({ project: 'p', limit: 1, order: 'asc' })).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('drains a spool left by a previous process before anything reads the log', async () => {
    const dir = await tempDir();
    const leftover = [batch(3), batch(6)];
    const { spool } = await Spool.open(dir);
    for (const b of leftover) await spool.append(b);
    await spool.close();

    const inner = new FlakyStore();
    const { store } = await durable(inner, { dir });
    expect(store.spooledEvents).toBe(9);
    expect(await store.drainNow()).toBe(9);
    expect(inner.distinctIds).toEqual(leftover.flat().map((e) => e.eventId));
    expect(store.spooledEvents).toBe(0);
  });

  it('drainNow throws when the store refuses, keeping the spool', async () => {
    const dir = await tempDir();
    const { spool } = await Spool.open(dir);
    await spool.append(batch(2));
    await spool.close();
    const inner = new FlakyStore();
    inner.mode = 'down';
    const { store } = await durable(inner, { dir });
    await expect(store.drainNow()).rejects.toThrow(/could not drain the spool/);
    expect(store.spooledEvents).toBe(2);
  });

  it('sets aside only the journaled batch the store rejects as invalid, and stores the rest', async () => {
    const inner = new FlakyStore();
    const { store, dir } = await durable(inner);
    inner.mode = 'down';
    const good1 = batch(1);
    const bad = [event({ ts: -1 })];
    const good2 = batch(2);
    for (const b of [good1, bad, good2]) await store.append(b);
    inner.mode = 'up';
    await waitFor(() => store.spooledEvents === 0);
    expect(inner.distinctIds).toEqual([...good1, ...good2].map((e) => e.eventId));
    const { readdir, readFile } = await import('node:fs/promises');
    const rejected = (await readdir(dir)).filter((f) => f.endsWith('.rejected'));
    expect(rejected).toHaveLength(1);
    expect(JSON.parse(await readFile(join(dir, rejected[0]!), 'utf8'))).toEqual(bad);
    const ok = batch(1);
    await store.append(ok);
    await waitFor(() => store.spooledEvents === 0);
    expect(inner.appended.at(-1)).toEqual(ok[0]);
  });

  it('serves a BatchWriter: every write resolves once durable, through an outage', async () => {
    const inner = new FlakyStore();
    const { store } = await durable(inner);
    const writer = new BatchWriter(store, { flushIntervalMs: 0, maxBatchEvents: 3 });
    const written: LogEvent[] = [];
    const write = async (from: number, to: number) => {
      const writes: Promise<void>[] = [];
      for (let i = from; i < to; i++) {
        const b = batch(1 + (i % 3));
        written.push(...b);
        writes.push(writer.write(b));
        if (i % 4 === 0) await new Promise((r) => setImmediate(r));
      }
      await Promise.all(writes);
    };
    await write(0, 10);
    inner.mode = 'down';
    await write(10, 30);
    await waitFor(() => inner.refused > 0);
    inner.mode = 'up';
    await write(30, 40);
    await writer.close();
    await waitFor(() => store.spooledEvents === 0);
    expect(inner.refused).toBeGreaterThan(0);
    expect(inner.distinctIds).toEqual(written.map((e) => e.eventId));
  });
});
