import { describe, expect, it, vi } from 'vitest';
import { decodeEvent, type LogEvent } from '../../src/domain/event.js';
import { BackpressureError, BatchWriter, WriterClosedError } from '../../src/store/batch-writer.js';
import type { EventStore } from '../../src/store/event-store.js';
import { ManualStoreClock } from '../support/manual-store-clock.js';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Records every append. In `auto` mode an append succeeds on the next macrotask; in `manual`
 * mode it waits until the test settles `calls[i]`.
 */
class FakeStore implements Pick<EventStore, 'append'> {
  readonly batches: LogEvent[][] = [];
  readonly calls: Deferred[] = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(private readonly mode: 'auto' | 'manual' = 'auto') {}

  async append(events: readonly LogEvent[]): Promise<void> {
    this.batches.push([...events]);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const call = deferred();
    this.calls.push(call);
    if (this.mode === 'auto') setImmediate(call.resolve);
    try {
      await call.promise;
    } finally {
      this.inFlight--;
    }
  }

  get appendedIds(): string[] {
    return this.batches.flat().map((e) => e.eventId);
  }
}

/** Watches a promise without awaiting it, so a test can assert it is still pending. */
function track(promise: Promise<unknown>): { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } {
  const status: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' };
  promise.then(
    () => (status.state = 'resolved'),
    (error: unknown) => {
      status.state = 'rejected';
      status.error = error;
    },
  );
  return status;
}

let nextId = 0;
function events(n: number): LogEvent[] {
  return Array.from({ length: n }, () => {
    const id = String(nextId++).padStart(10, '0');
    return decodeEvent({
      eventId: id,
      project: 'unit',
      type: 'payment',
      debt: 'd1',
      application: '',
      job: '',
      slo: '',
      ts: 0,
      ingestedAt: 0,
      kind: 'success',
      status: '',
      runId: '',
      host: '',
      businessDate: '',
      durationMs: null,
      latenessMs: null,
      attributes: {},
    });
  });
}

/** Lets queued timers, immediates and promise callbacks run. */
async function settle(ms = 20): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

describe('BatchWriter', () => {
  it('serves many concurrent writes with few appends, one at a time', async () => {
    const store = new FakeStore();
    const clock = new ManualStoreClock();
    const writer = new BatchWriter(store, { clock });
    const writes = Array.from({ length: 1000 }, () => events(1));
    const done = Promise.all(writes.map((w) => writer.write(w)));
    await clock.advance(4);
    expect(store.batches.length).toBe(0);
    await clock.advance(1);
    await done;
    expect(store.batches.length).toBe(1);
    expect(store.maxInFlight).toBe(1);
    expect(store.appendedIds).toEqual(writes.flat().map((e) => e.eventId));
  });

  it('forms the next batch while one append is in flight', async () => {
    const store = new FakeStore('manual');
    const writer = new BatchWriter(store, { flushIntervalMs: 0 });
    const first = track(writer.write(events(1)));
    await settle();
    expect(store.batches.length).toBe(1);
    const later = Array.from({ length: 50 }, () => track(writer.write(events(2))));
    await settle();
    expect(store.batches.length).toBe(1);
    expect(writer.stats()).toMatchObject({ queued: 100, inFlight: 1 });

    store.calls[0]!.resolve();
    await settle();
    expect(first.state).toBe('resolved');
    expect(store.batches.map((b) => b.length)).toEqual([1, 100]);
    store.calls[1]!.resolve();
    await settle();
    expect(later.every((w) => w.state === 'resolved')).toBe(true);
  });

  it('resolves a write only after its append resolved', async () => {
    const store = new FakeStore('manual');
    const writer = new BatchWriter(store, { flushIntervalMs: 0 });
    const write = track(writer.write(events(3)));
    await settle();
    expect(store.batches.length).toBe(1);
    expect(write.state).toBe('pending');
    store.calls[0]!.resolve();
    await settle();
    expect(write.state).toBe('resolved');
  });

  it('waits flushIntervalMs after the first queued event, or flushes at once when the batch is full', async () => {
    const clock = new ManualStoreClock();
    const store = new FakeStore('manual');
    const writer = new BatchWriter(store, { flushIntervalMs: 5, maxBatchEvents: 10, clock });
    void writer.write(events(1));
    await clock.advance(3);
    void writer.write(events(1));
    await clock.advance(1);
    expect(store.batches.length).toBe(0);
    await clock.advance(1);
    expect(store.batches.map((b) => b.length)).toEqual([2]);
    store.calls[0]!.resolve();
    await clock.advance(0);

    void writer.write(events(10));
    await clock.advance(0);
    expect(store.batches.map((b) => b.length)).toEqual([2, 10]);
  });

  it('rejects exactly the writers of a failed batch and keeps going', async () => {
    const store = new FakeStore('manual');
    const onError = vi.fn();
    const writer = new BatchWriter(store, { flushIntervalMs: 0, hooks: { onError } });
    const failed = [track(writer.write(events(1))), track(writer.write(events(2)))];
    await settle();
    const next = track(writer.write(events(1)));
    await settle();

    const boom = new Error('disk full');
    store.calls[0]!.reject(boom);
    await settle();
    expect(failed.map((w) => [w.state, w.error])).toEqual([
      ['rejected', boom],
      ['rejected', boom],
    ]);
    expect(next.state).toBe('pending');
    expect(onError).toHaveBeenCalledWith(boom);
    expect(writer.stats().failedBatches).toBe(1);

    store.calls[1]!.resolve();
    await settle();
    expect(next.state).toBe('resolved');
    expect(store.batches.map((b) => b.length)).toEqual([3, 1]);
  });

  it('rejects at once with BackpressureError when the queue would exceed maxQueuedEvents', async () => {
    const store = new FakeStore();
    const writer = new BatchWriter(store, { flushIntervalMs: 60_000, maxBatchEvents: 1000, maxQueuedEvents: 10 });
    const accepted = [writer.write(events(6))];
    const refused = writer.write(events(5));
    await expect(refused).rejects.toBeInstanceOf(BackpressureError);
    accepted.push(writer.write(events(4)));
    expect(writer.stats().queued).toBe(10);
    await expect(writer.write(events(1))).rejects.toThrow(/queue full/);

    await writer.close();
    await Promise.all(accepted);
    expect(store.appendedIds.length).toBe(10);
  });

  it('close() appends everything queued, waits for it, then refuses writes', async () => {
    const store = new FakeStore();
    const writer = new BatchWriter(store, { flushIntervalMs: 60_000, maxBatchEvents: 3 });
    const writes = Array.from({ length: 10 }, () => track(writer.write(events(1))));
    await writer.close();
    expect(writes.every((w) => w.state === 'resolved')).toBe(true);
    expect(store.batches.map((b) => b.length)).toEqual([3, 3, 3, 1]);
    expect(writer.stats()).toMatchObject({ queued: 0, inFlight: 0 });
    await expect(writer.write(events(1))).rejects.toBeInstanceOf(WriterClosedError);
    await writer.close();
  });

  it('splits a big queue at maxBatchEvents without splitting a write', async () => {
    const store = new FakeStore();
    const writer = new BatchWriter(store, { flushIntervalMs: 0, maxBatchEvents: 100 });
    const writes = Array.from({ length: 25 }, () => writer.write(events(10)));
    const oversized = writer.write(events(250));
    await Promise.all([...writes, oversized]);
    expect(store.batches.map((b) => b.length)).toEqual([100, 100, 50, 250]);
  });

  it('reports each successful flush to onFlush, and survives a throwing hook', async () => {
    const store = new FakeStore();
    const flushes: Array<[number, number]> = [];
    const writer = new BatchWriter(store, {
      flushIntervalMs: 0,
      hooks: {
        onFlush: (seconds, count) => {
          flushes.push([seconds, count]);
          throw new Error('broken metrics');
        },
      },
    });
    await writer.write(events(7));
    await writer.write(events(2));
    expect(flushes.map(([, count]) => count)).toEqual([7, 2]);
    expect(flushes.every(([seconds]) => seconds >= 0 && seconds < 5)).toBe(true);
  });

  it('resolves an empty write without appending', async () => {
    const store = new FakeStore();
    const writer = new BatchWriter(store);
    await writer.write([]);
    await writer.close();
    expect(store.batches).toEqual([]);
  });
});
