import { SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { LogEvent } from '../domain/event.js';
import { DomainError } from '../domain/problems.js';
import type { EventQuery, EventStore, Snapshot } from './event-store.js';
import { SpoolError, type Spool, type SpoolSegment } from './spool.js';

/*
 * The store the BatchWriter appends to: the real adapter behind a local spool (SPEC §5).
 *
 * - A batch goes to the store (waiting at most `appendTimeoutMs`). If that fails, it is
 *   written to the spool and fsynced, and then it counts as durable: the writers are
 *   acknowledged. A store answer that comes after the timeout is harmless: the spooled copy
 *   is re-sent later with the same event ids, and reads deduplicate by id.
 * - While the spool holds anything, new batches go to the spool too, behind the older ones,
 *   so the store receives every event in the order it was accepted. A background loop drains
 *   the spool oldest segment first, with exponential backoff while the store keeps failing,
 *   and deletes a segment only after all of its events were appended.
 * - If the spool cannot take a batch either (disk full, unwritable directory, over
 *   COMPTER_SPOOL_MAX_BYTES), the batch is refused with StoreUnavailableError (503 with
 *   Retry-After): nothing of it was acknowledged, and nothing acknowledged before is touched.
 * - Without a spool (the embedded DuckDB store, whose failures are local disk failures too) a
 *   failed append is refused the same way.
 * - Reads go to the store only: while events wait in the spool the history routes do not
 *   show them (the projection in memory does count them). Snapshots are refused until the
 *   spool is empty, so a snapshot never covers events the log does not hold yet.
 * - A batch the adapter rejects as invalid (RangeError: compter made an event the store
 *   cannot hold) is never spooled; if one reaches the spool anyway its segment is renamed
 *   `.rejected` and kept for an operator instead of blocking every later event.
 */

/** Events could not be made durable: neither the store nor the spool took them. */
export class StoreUnavailableError extends DomainError {
  constructor(message: string, retryAfterSeconds: number, override readonly cause?: unknown) {
    super('unavailable', message, [], retryAfterSeconds);
    this.name = 'StoreUnavailableError';
  }
}

/** `ok`: writes reach the store. `spooling`: accepted into the spool. `failing`: refused. */
export type DurabilityState = 'ok' | 'spooling' | 'failing';

/** What /readyz and the logs are told. */
export interface DurabilityHealth {
  state: DurabilityState;
  spooledEvents: number;
  detail?: string;
}

/** Callbacks for self metrics and logs; every one is optional. */
export interface DurableStoreHooks {
  /** A store operation failed without the caller seeing it fail (spooled, draining, reads). */
  onStoreError?(err: unknown): void;
  /** A spooled segment was appended to the store and deleted. */
  onDrained?(events: number): void;
}

export interface DurableStoreOptions {
  /** Null: no spool, failed appends are refused. */
  spool: Spool | null;
  logger: Logger;
  /** Longest wait for one store append (and ping) before it counts as failed; default 5 s. */
  appendTimeoutMs?: number;
  /** Largest append while draining; default 5000 events (records are never split). */
  drainBatchEvents?: number;
  /** Drain retry backoff: first and longest wait, ms; defaults 250 and 5000. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Retry-After on refusals; default 5 s. */
  retryAfterSeconds?: number;
  hooks?: DurableStoreHooks;
}

const tracer = trace.getTracer('compter');

/** An EventStore that keeps accepting into a local spool while the real one is down. */
export class DurableEventStore implements EventStore {
  readonly kind: EventStore['kind'];
  private readonly spool: Spool | null;
  private readonly logger: Logger;
  private readonly appendTimeoutMs: number;
  private readonly drainBatchEvents: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly retryAfterSeconds: number;
  private readonly hooks: DurableStoreHooks;
  private lastWriteError: unknown = null;
  private draining: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private isClosed = false;
  /** The segment being drained, kept across retries so it is read from disk once. */
  private current: { segment: SpoolSegment; chunks: LogEvent[][]; next: number } | null = null;

  constructor(
    readonly inner: EventStore,
    options: DurableStoreOptions,
  ) {
    this.kind = inner.kind;
    this.spool = options.spool;
    this.logger = options.logger;
    this.appendTimeoutMs = options.appendTimeoutMs ?? 5000;
    this.drainBatchEvents = options.drainBatchEvents ?? 5000;
    this.retryInitialMs = options.retryInitialMs ?? 250;
    this.retryMaxMs = options.retryMaxMs ?? 5000;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 5;
    this.hooks = options.hooks ?? {};
  }

  /** Events accepted into the spool and not yet stored (`compter_spool_events`). */
  get spooledEvents(): number {
    return this.spool?.events ?? 0;
  }

  /** The state of the last write and the spool, without asking the store. */
  get state(): DurabilityState {
    if (this.lastWriteError !== null) return 'failing';
    return this.spooledEvents > 0 ? 'spooling' : 'ok';
  }

  migrate(): Promise<void> {
    return this.inner.migrate();
  }

  /**
   * Resolves once every event is in the store or fsynced in the spool; rejects with
   * StoreUnavailableError when neither took them.
   */
  append(events: readonly LogEvent[]): Promise<void> {
    return tracer.startActiveSpan('compter.store.append', async (span) => {
      span.setAttribute('compter.store', this.kind);
      span.setAttribute('compter.events', events.length);
      try {
        const outcome = await this.appendDurably(events);
        span.setAttribute('compter.outcome', outcome);
      } catch (err) {
        span.setAttribute('compter.outcome', 'refused');
        failSpan(span, err);
        throw err;
      } finally {
        span.end();
      }
    });
  }

  private async appendDurably(events: readonly LogEvent[]): Promise<'stored' | 'spooled'> {
    if (this.spool && this.spool.events > 0) {
      await this.toSpool(events);
      this.startDraining();
      return 'spooled';
    }
    try {
      await withTimeout(this.inner.append(events), this.appendTimeoutMs, 'event store append');
      this.lastWriteError = null;
      return 'stored';
    } catch (err) {
      if (err instanceof RangeError) throw err;
      if (!this.spool) {
        this.lastWriteError = err;
        throw new StoreUnavailableError(`the event store did not take the events: ${(err as Error).message}`, this.retryAfterSeconds, err);
      }
      // Counted here because the writer never sees this failure: the spool absorbs it.
      this.hooks.onStoreError?.(err);
      if (this.spooledEvents === 0) this.logger.warn({ err: (err as Error).message }, 'event store append failed; spooling events locally');
      await this.toSpool(events);
      this.startDraining();
      return 'spooled';
    }
  }

  private async toSpool(events: readonly LogEvent[]): Promise<void> {
    try {
      await this.spool!.append(events);
      this.lastWriteError = null;
    } catch (err) {
      this.lastWriteError = err;
      this.logger.error({ err: (err as Error).message, dir: this.spool!.dir }, 'the spool refused a batch; answering 503');
      const reason = err instanceof SpoolError ? err.message : String(err);
      throw new StoreUnavailableError(`events cannot be made durable now (${reason})`, this.retryAfterSeconds, err);
    }
  }

  scan(afterEventId: string | null, pageSize: number): AsyncIterable<LogEvent[]> {
    return this.inner.scan(afterEventId, pageSize);
  }

  /** The store's answer; a store that cannot answer is a 503, not a 500. */
  async query(q: EventQuery): Promise<LogEvent[]> {
    try {
      return await this.inner.query(q);
    } catch (err) {
      if (err instanceof RangeError) throw err;
      this.hooks.onStoreError?.(err);
      throw new StoreUnavailableError(`the event store cannot be read now: ${(err as Error).message}`, this.retryAfterSeconds, err);
    }
  }

  /** Refused while the spool holds events: the snapshot would be ahead of the log. */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    if (this.spooledEvents > 0) throw new Error(`snapshot deferred: ${this.spooledEvents} events still wait in the spool`);
    await this.inner.saveSnapshot(snapshot);
  }

  loadLatestSnapshot(): Promise<Snapshot | null> {
    return this.inner.loadLatestSnapshot();
  }

  async ping(): Promise<void> {
    await withTimeout(this.inner.ping(), this.appendTimeoutMs, 'event store ping');
  }

  /**
   * For /readyz: `ok` when the store answers and nothing is spooled; `spooling` while writes
   * are accepted into the spool (store down, or draining); `failing` when the last write was
   * refused and the store is still out of reach (or the spool is not empty).
   */
  async health(): Promise<DurabilityHealth> {
    let storeError: unknown = null;
    try {
      await this.ping();
    } catch (err) {
      storeError = err;
    }
    const spooledEvents = this.spooledEvents;
    const where = this.spool ? ` in ${this.spool.dir}` : '';
    if (this.lastWriteError !== null && (storeError !== null || spooledEvents > 0)) {
      return { state: 'failing', spooledEvents, detail: `writes are refused: ${(this.lastWriteError as Error).message}` };
    }
    if (storeError === null && spooledEvents === 0) return { state: 'ok', spooledEvents };
    if (!this.spool) return { state: 'failing', spooledEvents, detail: `event store unreachable: ${(storeError as Error).message}` };
    const detail =
      storeError !== null
        ? `event store unreachable (${(storeError as Error).message}); ${spooledEvents} events spooled${where}`
        : `draining ${spooledEvents} spooled events${where}`;
    return { state: 'spooling', spooledEvents, detail };
  }

  /**
   * Appends every spooled event to the store now (start-up, before the rebuild reads the log);
   * throws if the store refuses.
   */
  async drainNow(): Promise<number> {
    let drained = 0;
    while (this.spool && this.spool.events > 0) {
      const result = await this.drainOldest();
      if (result.isEmpty) break;
      if (result.error !== undefined) throw new Error(`could not drain the spool in ${this.spool.dir} to the event store: ${(result.error as Error).message}`);
      drained += result.events;
    }
    return drained;
  }

  /**
   * Shutdown: stops the background loop and makes one last attempt, bounded by `budgetMs`,
   * to drain the spool. Whatever stays is drained at the next start.
   */
  async settle(budgetMs = 10_000): Promise<void> {
    if (!this.spool) return;
    this.isClosed = true;
    this.wake?.();
    await this.draining;
    const deadline = Date.now() + budgetMs;
    while (this.spool.events > 0 && Date.now() < deadline) {
      const result = await this.drainOldest();
      if (result.isEmpty || result.error !== undefined) break;
    }
    if (this.spool.events > 0) this.logger.warn({ events: this.spool.events, dir: this.spool.dir }, 'events left in the spool; they are drained at the next start');
  }

  async close(): Promise<void> {
    this.isClosed = true;
    this.wake?.();
    await this.draining;
    await this.spool?.close();
    await this.inner.close();
  }

  private startDraining(): void {
    if (this.draining || this.isClosed) return;
    this.draining = this.drainLoop().finally(() => {
      this.draining = null;
      // A batch spooled between the loop's last check and now must not wait for the next failure.
      if (this.spooledEvents > 0) this.startDraining();
    });
  }

  /** Drains oldest first until the spool is empty, backing off while the store fails. */
  private async drainLoop(): Promise<void> {
    let delayMs = this.retryInitialMs;
    // The store just failed: give it a moment before the first retry.
    await this.sleep(delayMs);
    while (!this.isClosed && this.spooledEvents > 0) {
      let result: { events: number; error?: unknown };
      try {
        result = await this.drainOldest();
      } catch (err) {
        // Reading or deleting a segment failed: a local disk problem; keep retrying.
        this.logger.error({ err }, 'could not read or remove a spool segment');
        result = { events: 0, error: err };
      }
      if (result.error === undefined) {
        delayMs = this.retryInitialMs;
        continue;
      }
      await this.sleep(delayMs);
      delayMs = Math.min(delayMs * 2, this.retryMaxMs);
    }
    if (this.spooledEvents === 0) this.logger.info('spool drained; writing to the event store directly again');
  }

  /** Appends the oldest segment (resuming where a failed try stopped) and deletes it. */
  private async drainOldest(): Promise<{ events: number; error?: unknown; isEmpty?: boolean }> {
    const spool = this.spool!;
    if (!this.current) {
      const segment = await spool.oldest();
      if (!segment) return { events: 0, isEmpty: true };
      this.current = { segment, chunks: chunkBatches(segment.batches, this.drainBatchEvents), next: 0 };
    }
    const current = this.current;
    while (current.next < current.chunks.length) {
      const chunk = current.chunks[current.next]!;
      try {
        await tracer.startActiveSpan('compter.spool.drain', async (span) => {
          span.setAttribute('compter.store', this.kind);
          span.setAttribute('compter.events', chunk.length);
          try {
            await withTimeout(this.inner.append(chunk), this.appendTimeoutMs, 'event store append');
          } catch (err) {
            failSpan(span, err);
            throw err;
          } finally {
            span.end();
          }
        });
      } catch (err) {
        if (err instanceof RangeError) {
          this.current = null;
          const path = await spool.quarantine(current.segment.id);
          this.logger.error({ err: err.message, path }, 'the event store refuses a spooled segment as invalid; it was set aside');
          this.hooks.onStoreError?.(err);
          return { events: 0 };
        }
        this.hooks.onStoreError?.(err);
        return { events: 0, error: err };
      }
      current.next++;
    }
    this.current = null;
    await spool.remove(current.segment.id);
    this.hooks.onDrained?.(current.segment.events);
    return { events: current.segment.events };
  }

  private sleep(ms: number): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }
}

/** Joins consecutive batches into appends of at most `maxEvents` (a batch is never split). */
function chunkBatches(batches: LogEvent[][], maxEvents: number): LogEvent[][] {
  const chunks: LogEvent[][] = [];
  let chunk: LogEvent[] = [];
  for (const batch of batches) {
    if (chunk.length > 0 && chunk.length + batch.length > maxEvents) {
      chunks.push(chunk);
      chunk = [];
    }
    for (const e of batch) chunk.push(e);
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** `promise`, or a rejection after `ms`; a late rejection of `promise` is ignored. */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  if (!(ms > 0)) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

function failSpan(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message ?? String(err) });
}
