import type { LogEvent } from '../domain/event.js';
import type { EventStore } from './event-store.js';
import { systemStoreClock, type StoreClock } from './store-clock.js';

/*
 * Group commit in front of an EventStore (one flush serves many requests; docs/events.md).
 *
 * - Batch size: a flush takes queued writes, oldest first, up to `maxBatchEvents` events
 *   (default 5000). A write is never split, so its events commit or fail together; one write
 *   larger than the limit goes alone.
 * - Flush interval: a batch is appended `flushIntervalMs` (default 5 ms; 0 = the next turn of
 *   the event loop) after its oldest write was queued, or at once when `maxBatchEvents` are
 *   waiting. At most one append is in flight; writes arriving meanwhile form the next batch,
 *   which is what lets one commit serve many requests.
 * - When full: once more than `maxQueuedEvents` (default 100,000) events would be waiting,
 *   `write` rejects at once with BackpressureError and queues nothing; callers answer 503.
 * - Failure: if an append fails, exactly the writes in that batch reject (they were not
 *   acknowledged), the error is counted and reported, and the next batch proceeds.
 * - close(): refuses new writes, flushes everything already queued, and resolves when the
 *   last append settled. It does not close the store.
 */

/** Thrown by `write` when the queue is full; retry after a moment. */
export class BackpressureError extends Error {
  readonly retryAfterSeconds = 1;
  constructor(queued: number, limit: number) {
    super(`event queue full (${queued} queued, limit ${limit})`);
    this.name = 'BackpressureError';
  }
}

/** Thrown by `write` after `close()` was called. */
export class WriterClosedError extends Error {
  constructor() {
    super('batch writer is closed');
    this.name = 'WriterClosedError';
  }
}

/** Callbacks for self-metrics, so the writer needs no metrics library. */
export interface BatchWriterHooks {
  /** After each successful append: its duration and event count. */
  onFlush?(seconds: number, count: number): void;
  /** After each failed append. */
  onError?(err: unknown): void;
}

/** Limits as described at the top of this file; every field has a default. */
export interface BatchWriterOptions {
  maxBatchEvents?: number;
  flushIntervalMs?: number;
  maxQueuedEvents?: number;
  hooks?: BatchWriterHooks;
  /** The flush interval's clock and timer; the process's clock by default. */
  clock?: StoreClock;
}

/** A point-in-time view for self-metrics and /readyz. */
export interface BatchWriterStats {
  /** Events waiting for a batch. */
  queued: number;
  /** Events in the append now running (0 when idle). */
  inFlight: number;
  /** Appends that failed since start. */
  failedBatches: number;
}

interface PendingWrite {
  events: readonly LogEvent[];
  queuedAt: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Queues writes and appends them to the store in few large batches, one at a time. */
export class BatchWriter {
  private readonly maxBatchEvents: number;
  private readonly flushIntervalMs: number;
  private readonly maxQueuedEvents: number;
  private readonly hooks: BatchWriterHooks;
  private readonly clock: StoreClock;
  private queue: PendingWrite[] = [];
  private queued = 0;
  private inFlight = 0;
  private failedBatches = 0;
  private cancelTimer: (() => void) | null = null;
  private isClosing = false;
  private drained: (() => void) | null = null;
  private closed: Promise<void> | null = null;

  constructor(
    private readonly store: Pick<EventStore, 'append'>,
    options: BatchWriterOptions = {},
  ) {
    this.maxBatchEvents = options.maxBatchEvents ?? 5000;
    this.flushIntervalMs = options.flushIntervalMs ?? 5;
    this.maxQueuedEvents = options.maxQueuedEvents ?? 100_000;
    this.hooks = options.hooks ?? {};
    this.clock = options.clock ?? systemStoreClock;
  }

  /** Resolves once a batch holding all of `events` was appended; rejects if that append failed. */
  write(events: readonly LogEvent[]): Promise<void> {
    if (this.isClosing) return Promise.reject(new WriterClosedError());
    if (events.length === 0) return Promise.resolve();
    if (this.queued + events.length > this.maxQueuedEvents) {
      return Promise.reject(new BackpressureError(this.queued, this.maxQueuedEvents));
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ events, queuedAt: this.clock.monotonicMs(), resolve, reject });
      this.queued += events.length;
      this.schedule();
    });
  }

  /** Events waiting and in flight, and the failed-append count. */
  stats(): BatchWriterStats {
    return { queued: this.queued, inFlight: this.inFlight, failedBatches: this.failedBatches };
  }

  /** Refuses new writes, appends everything queued, and resolves when nothing is pending. */
  close(): Promise<void> {
    if (this.closed) return this.closed;
    this.isClosing = true;
    this.closed = new Promise<void>((resolve) => {
      this.drained = resolve;
    });
    this.schedule();
    return this.closed;
  }

  /** Decides whether to flush now, later (arming the timer), or after the running append. */
  private schedule(): void {
    if (this.inFlight > 0) return;
    if (this.queue.length === 0) {
      this.drained?.();
      return;
    }
    const waitMs = this.flushIntervalMs - (this.clock.monotonicMs() - this.queue[0]!.queuedAt);
    const isDue = this.flushIntervalMs > 0 && waitMs <= 0;
    if (this.isClosing || this.queued >= this.maxBatchEvents || isDue) {
      this.stopTimer();
      void this.flush();
      return;
    }
    if (this.cancelTimer) return;
    const fire = (): void => {
      this.cancelTimer = null;
      if (this.inFlight === 0) void this.flush();
    };
    if (this.flushIntervalMs === 0) {
      const handle = setImmediate(fire);
      this.cancelTimer = () => clearImmediate(handle);
    } else {
      const timer = this.clock.after(waitMs, fire);
      this.cancelTimer = () => timer.cancel();
    }
  }

  private stopTimer(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
  }

  private async flush(): Promise<void> {
    const batch = this.takeBatch();
    const events = batch.length === 1 ? batch[0]!.events : batch.flatMap((w) => w.events);
    this.inFlight = events.length;
    const started = this.clock.monotonicMs();
    try {
      await this.store.append(events);
      notify(() => this.hooks.onFlush?.((this.clock.monotonicMs() - started) / 1000, events.length));
      for (const w of batch) w.resolve();
    } catch (err) {
      this.failedBatches++;
      notify(() => this.hooks.onError?.(err));
      for (const w of batch) w.reject(err);
    } finally {
      this.inFlight = 0;
      this.schedule();
    }
  }

  /** Removes the oldest writes totalling at most `maxBatchEvents` (at least one write). */
  private takeBatch(): PendingWrite[] {
    let count = 0;
    let n = 0;
    while (n < this.queue.length) {
      const size = this.queue[n]!.events.length;
      if (n > 0 && count + size > this.maxBatchEvents) break;
      count += size;
      n++;
    }
    const batch = this.queue.slice(0, n);
    this.queue = this.queue.slice(n);
    this.queued -= count;
    return batch;
  }
}

/** Runs a hook, ignoring its errors: a broken metrics hook must not leave writers waiting. */
function notify(hook: () => void): void {
  try {
    hook();
  } catch {
    // Deliberately ignored; see above.
  }
}
