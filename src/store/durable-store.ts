import { SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { LogEvent } from '../domain/event.js';
import { DomainError } from '../domain/problems.js';
import type { EventQuery, EventStore, Snapshot } from './event-store.js';
import { entityFilters } from './query-rules.js';
import { SpoolError, type Spool } from './spool.js';
import { systemStoreClock, type StoreClock } from './store-clock.js';

/*
 * The store the BatchWriter appends to: the real adapter behind a local journal (docs/events.md).
 *
 * - The commit point is the spool: a batch is written there and fsynced (about a millisecond
 *   on a local disk), and then it counts as durable and the writers are acknowledged. A
 *   background loop stores the journal in the event store in append order, in batches of up
 *   to `drainBatchEvents`, so one store write serves many acknowledgements and a slow or
 *   unreachable store never slows a ping down. An append that answers after its timeout is
 *   harmless: the chunk is sent again with the same event ids, and reads deduplicate by id.
 * - While the store fails, the loop retries with exponential backoff and the journal keeps
 *   accepting (`spooling` on /readyz). If the spool cannot take a batch (disk full,
 *   unwritable directory, over COMPTER_SPOOL_MAX_BYTES), the batch is refused with
 *   StoreUnavailableError (503 with Retry-After): nothing of it was acknowledged, and nothing
 *   acknowledged before is touched.
 * - Without a spool (COMPTER_SPOOL=off) a batch goes to the store directly and a failed
 *   append is refused the same way.
 * - Reads: the history routes see every acknowledged event: a query merges the store's answer
 *   with the matching events still waiting in the journal's memory. Snapshots wait until the
 *   journal is stored up to the moment they were asked for, so a snapshot never covers events
 *   the log does not hold yet.
 * - A chunk the adapter rejects as invalid (RangeError: compter made an event the store
 *   cannot hold) is retried one record at a time; a record that still fails is set aside in a
 *   `.rejected` file for an operator instead of blocking every later event.
 */

/** Events could not be made durable: neither the store nor the spool took them. */
export class StoreUnavailableError extends DomainError {
  constructor(
    message: string,
    retryAfterSeconds: number,
    override readonly cause?: unknown,
  ) {
    super('unavailable', message, [], retryAfterSeconds);
    this.name = 'StoreUnavailableError';
  }
}

/** `ok`: the journal is being stored. `spooling`: accepted, the store is behind or down. `failing`: refused. */
export type DurabilityState = 'ok' | 'spooling' | 'failing';

/** What /readyz and the logs are told. */
export interface DurabilityHealth {
  state: DurabilityState;
  spooledEvents: number;
  detail?: string;
}

/** Callbacks for self metrics and logs; every one is optional. */
export interface DurableStoreHooks {
  /** A store operation failed without the caller seeing it fail (journal drain, reads). */
  onStoreError?(err: unknown): void;
  /** Journaled events were appended to the store. */
  onDrained?(events: number): void;
}

export interface DurableStoreOptions {
  /** Null: no journal, batches go to the store and failed appends are refused. */
  spool: Spool | null;
  logger: Logger;
  /** Longest wait for one store append (and ping) before it counts as failed; default 5 s. */
  appendTimeoutMs?: number;
  /** Largest store append from the journal; default 5000 events (records are never split). */
  drainBatchEvents?: number;
  /** Drain retry backoff: first and longest wait, ms; defaults 250 and 5000. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Retry-After on refusals; default 5 s. */
  retryAfterSeconds?: number;
  /** Longest wait for the journal to be stored before a snapshot is deferred; default 10 s. */
  snapshotWaitMs?: number;
  /**
   * Shortest time between two store appends from the journal while it holds less than a full
   * batch, ms; default 100. Fewer, larger inserts cost the store (and the CPU the requests
   * share with it) far less; reads see waiting events through the merge either way.
   */
  drainIntervalMs?: number;
  hooks?: DurableStoreHooks;
  /** Timeouts, backoff, pacing and the spool age come from here; the process's clock by default. */
  clock?: StoreClock;
}

const tracer = trace.getTracer('compter');

/** An EventStore whose commit point is a local fsynced journal, stored in the background. */
export class DurableEventStore implements EventStore {
  readonly kind: EventStore['kind'];
  private readonly spool: Spool | null;
  private readonly logger: Logger;
  private readonly appendTimeoutMs: number;
  private readonly drainBatchEvents: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly retryAfterSeconds: number;
  private readonly snapshotWaitMs: number;
  private readonly drainIntervalMs: number;
  private readonly hooks: DurableStoreHooks;
  private readonly clock: StoreClock;
  private lastWriteError: unknown = null;
  /** The last failed store append from the journal; null once one succeeds. */
  private drainError: unknown = null;
  private draining: Promise<void> | null = null;
  /** Ends the loop's wait for work (an append), and its backoff sleep (close only). */
  private wakeIdle: (() => void) | null = null;
  private wakeRequested = false;
  private wakeSleep: (() => void) | null = null;
  private wakePace: (() => void) | null = null;
  private isClosed = false;
  /** Events accepted into the journal and stored from it, counted in the same order. */
  private accepted: number;
  private storedCount = 0;
  private storedWaiters: { target: number; resolve: () => void }[] = [];
  /** When events were accepted: `upTo` accepted events were in by `at` (monotonic ms; at most one mark a second). */
  private acceptedMarks: { upTo: number; at: number }[] = [];
  /** After an invalid chunk: store one record at a time up to this point, to find the bad one. */
  private isolate: { segmentId: number; to: number } | null = null;

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
    this.snapshotWaitMs = options.snapshotWaitMs ?? 10_000;
    this.drainIntervalMs = options.drainIntervalMs ?? 100;
    this.hooks = options.hooks ?? {};
    this.clock = options.clock ?? systemStoreClock;
    // Recovered segments are stored first, so they count as accepted before anything new.
    this.accepted = this.spool?.events ?? 0;
    if (this.accepted > 0) this.acceptedMarks.push({ upTo: this.accepted, at: this.clock.monotonicMs() });
  }

  /** Events accepted into the journal and not yet stored (`compter_spool_events`). */
  get spooledEvents(): number {
    return this.spool?.events ?? 0;
  }

  /**
   * How long the oldest event the store does not hold yet has waited, ms (to the second; 0 when
   * none waits). Normally well under a second: the journal is stored continuously.
   */
  oldestWaitingMs(): number {
    const oldest = this.acceptedMarks[0];
    return oldest ? Math.max(0, this.clock.monotonicMs() - oldest.at) : 0;
  }

  /** The state of the last write and the drain, without asking the store. */
  get state(): DurabilityState {
    if (this.lastWriteError !== null) return 'failing';
    return this.isBehind() ? 'spooling' : 'ok';
  }

  migrate(): Promise<void> {
    return this.inner.migrate();
  }

  /**
   * Resolves once every event is fsynced in the journal (or, without one, in the store);
   * rejects with StoreUnavailableError when it could not be made durable.
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

  private async appendDurably(events: readonly LogEvent[]): Promise<'stored' | 'journaled'> {
    if (!this.spool) {
      try {
        await this.withTimeout(this.inner.append(events), this.appendTimeoutMs, 'event store append');
        this.lastWriteError = null;
        return 'stored';
      } catch (err) {
        if (err instanceof RangeError) throw err;
        this.lastWriteError = err;
        throw new StoreUnavailableError(`the event store did not take the events: ${(err as Error).message}`, this.retryAfterSeconds, err);
      }
    }
    try {
      await this.spool.append(events);
      this.lastWriteError = null;
    } catch (err) {
      this.lastWriteError = err;
      this.logger.error({ err: (err as Error).message, dir: this.spool.dir }, 'the spool refused a batch; answering 503');
      const reason = err instanceof SpoolError ? err.message : String(err);
      throw new StoreUnavailableError(`events cannot be made durable now (${reason})`, this.retryAfterSeconds, err);
    }
    this.accepted += events.length;
    this.markAccepted();
    this.startDraining();
    return 'journaled';
  }

  scan(afterEventId: string | null, pageSize: number): AsyncIterable<LogEvent[]> {
    return this.inner.scan(afterEventId, pageSize);
  }

  /**
   * The store's answer merged with the matching events still in the journal, so every
   * acknowledged event is seen; a store that cannot answer is a 503, not a 500.
   */
  async query(q: EventQuery): Promise<LogEvent[]> {
    // Taken before the store is asked: an event stored meanwhile is in one answer or the other.
    const waiting = this.spool ? [...filterEvents(this.spool.unstored(), q)] : [];
    let stored: LogEvent[];
    try {
      stored = await this.inner.query(q);
    } catch (err) {
      if (err instanceof RangeError) throw err;
      this.hooks.onStoreError?.(err);
      throw new StoreUnavailableError(`the event store cannot be read now: ${(err as Error).message}`, this.retryAfterSeconds, err);
    }
    if (waiting.length === 0) return stored;
    const byId = new Map<string, LogEvent>();
    for (const e of stored) byId.set(e.eventId, e);
    for (const e of waiting) if (!byId.has(e.eventId)) byId.set(e.eventId, e);
    const merged = [...byId.values()].sort((a, b) => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
    if (q.order === 'desc') merged.reverse();
    return merged.slice(0, q.limit);
  }

  /**
   * Resolves true once the store holds every event accepted before the call (a drain waiting
   * for its interval goes at once), false after `ms`. Reads that go to the store alone (the
   * trend queries) call it first, so they see every acknowledged event.
   */
  caughtUp(ms = 2000): Promise<boolean> {
    return this.storedUpTo(this.accepted, ms);
  }

  /** Waits until the journal is stored up to now (deferred, throwing, if it takes too long). */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    if (!(await this.caughtUp(this.snapshotWaitMs))) {
      throw new Error(`snapshot deferred: ${this.spooledEvents} events still wait in the spool`);
    }
    await this.inner.saveSnapshot(snapshot);
  }

  loadLatestSnapshot(): Promise<Snapshot | null> {
    return this.inner.loadLatestSnapshot();
  }

  /** Passes on to an adapter that can give back what start-up filled (DuckDB's buffer pool). */
  async releaseStartupMemory(): Promise<void> {
    await (this.inner as { releaseStartupMemory?: () => Promise<void> }).releaseStartupMemory?.();
  }

  async ping(): Promise<void> {
    await this.withTimeout(this.inner.ping(), this.appendTimeoutMs, 'event store ping');
  }

  /**
   * For /readyz: `ok` when the store answers and keeps up with the journal; `spooling` while
   * writes are accepted into the journal but the store is down or far behind; `failing` when
   * the last write was refused and the store is still out of reach (or the journal is behind).
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
    if (this.lastWriteError !== null && (storeError !== null || this.isBehind())) {
      return { state: 'failing', spooledEvents, detail: `writes are refused: ${(this.lastWriteError as Error).message}` };
    }
    if (storeError === null && !this.isBehind()) return { state: 'ok', spooledEvents };
    if (!this.spool) return { state: 'failing', spooledEvents, detail: `event store unreachable: ${(storeError as Error).message}` };
    const reason = storeError ?? this.drainError;
    const detail =
      reason !== null
        ? `event store unreachable (${(reason as Error).message}); ${spooledEvents} events spooled${where}`
        : `draining ${spooledEvents} spooled events${where}`;
    return { state: 'spooling', spooledEvents, detail };
  }

  /** Starts storing the journal in the background (after a start-up that found the store down). */
  resumeDraining(): void {
    if (this.spool && this.spool.events > 0) this.startDraining();
  }

  /**
   * Stores every journaled event now (start-up, before the rebuild reads the log); throws if
   * the store refuses.
   */
  async drainNow(): Promise<number> {
    let drained = 0;
    while (this.spool) {
      const result = await this.drainNext();
      if (result.isEmpty) break;
      if (result.error !== undefined)
        throw new Error(`could not drain the spool in ${this.spool.dir} to the event store: ${(result.error as Error).message}`);
      drained += result.events;
    }
    return drained;
  }

  /**
   * Shutdown: stops the background loop and makes one last attempt, bounded by `budgetMs`,
   * to store the journal. Whatever stays is stored at the next start.
   */
  async settle(budgetMs = 10_000): Promise<void> {
    if (!this.spool) return;
    this.isClosed = true;
    this.wakeIdle?.();
    this.wakeSleep?.();
    this.wakePace?.();
    await this.draining;
    const deadline = this.clock.monotonicMs() + budgetMs;
    while (this.spool.events > 0 && this.clock.monotonicMs() < deadline) {
      const result = await this.drainNext();
      if (result.isEmpty || result.error !== undefined) break;
    }
    if (this.spool.events > 0)
      this.logger.warn({ events: this.spool.events, dir: this.spool.dir }, 'events left in the spool; they are stored at the next start');
  }

  async close(): Promise<void> {
    this.isClosed = true;
    this.wakeIdle?.();
    this.wakeSleep?.();
    this.wakePace?.();
    await this.draining;
    await this.spool?.close();
    await this.inner.close();
  }

  /** The store failed its last append from the journal, or is more than a few batches behind. */
  private isBehind(): boolean {
    return this.drainError !== null || this.spooledEvents > 2 * this.drainBatchEvents;
  }

  /** Resolves true once `target` accepted events are stored, false after `ms`. */
  private storedUpTo(target: number, ms: number): Promise<boolean> {
    if (!this.spool || this.storedCount >= target) return Promise.resolve(true);
    this.startDraining();
    this.wakePace?.();
    return new Promise((resolve) => {
      const waiter = { target, resolve: () => resolve(true) };
      this.storedWaiters.push(waiter);
      this.clock.after(
        ms,
        () => {
          const index = this.storedWaiters.indexOf(waiter);
          if (index < 0) return;
          this.storedWaiters.splice(index, 1);
          resolve(false);
        },
        { background: true },
      );
    });
  }

  private markAccepted(): void {
    const now = this.clock.monotonicMs();
    const last = this.acceptedMarks[this.acceptedMarks.length - 1];
    // Within a second of the last mark: extend it, so a long outage keeps one mark a second.
    if (last && now - last.at < 1000) last.upTo = this.accepted;
    else this.acceptedMarks.push({ upTo: this.accepted, at: now });
  }

  /** Counts events the journal no longer waits on (stored, or set aside) and wakes waiters. */
  private noteDone(events: number): void {
    this.storedCount += events;
    while (this.acceptedMarks.length > 0 && this.acceptedMarks[0]!.upTo <= this.storedCount) this.acceptedMarks.shift();
    if (this.storedWaiters.length === 0) return;
    const done = this.storedWaiters.filter((w) => w.target <= this.storedCount);
    this.storedWaiters = this.storedWaiters.filter((w) => w.target > this.storedCount);
    for (const w of done) w.resolve();
  }

  private startDraining(): void {
    if (this.draining || this.isClosed) {
      // The loop may be between finding the journal empty and starting to wait: remember.
      this.wakeRequested = true;
      this.wakeIdle?.();
      return;
    }
    this.draining = this.drainLoop().finally(() => {
      this.draining = null;
    });
  }

  /** Stores the journal oldest first as it grows, backing off while the store fails. */
  private async drainLoop(): Promise<void> {
    let delayMs = this.retryInitialMs;
    while (!this.isClosed) {
      let result: { events: number; error?: unknown; isEmpty?: boolean };
      // An append from here on wakes the wait below, even one that lands before it starts.
      this.wakeRequested = false;
      try {
        result = await this.drainNext();
      } catch (err) {
        // Reading or deleting a segment failed: a local disk problem; keep retrying.
        this.logger.error({ err }, 'could not read or remove a spool segment');
        result = { events: 0, error: err };
      }
      if (result.isEmpty) {
        await this.idle();
        continue;
      }
      if (result.error === undefined) {
        delayMs = this.retryInitialMs;
        // Let a batch build up, unless a full one is already waiting (or a snapshot waits).
        if (this.spooledEvents < this.drainBatchEvents && this.storedWaiters.length === 0) await this.pace();
        continue;
      }
      await this.sleep(delayMs);
      delayMs = Math.min(delayMs * 2, this.retryMaxMs);
    }
  }

  /** Appends the oldest unstored chunk of the journal to the store and marks it stored. */
  private async drainNext(): Promise<{ events: number; error?: unknown; isEmpty?: boolean }> {
    const spool = this.spool!;
    const isolating = this.isolate !== null;
    const chunk = await spool.next(isolating ? 1 : this.drainBatchEvents);
    if (!chunk) return { events: 0, isEmpty: true };
    if (this.isolate && (chunk.segmentId !== this.isolate.segmentId || chunk.from >= this.isolate.to)) this.isolate = null;
    try {
      await tracer.startActiveSpan('compter.spool.drain', async (span) => {
        span.setAttribute('compter.store', this.kind);
        span.setAttribute('compter.events', chunk.events.length);
        try {
          await this.withTimeout(this.inner.append(chunk.events, chunk.json), this.appendTimeoutMs, 'event store append');
        } catch (err) {
          failSpan(span, err);
          throw err;
        } finally {
          span.end();
        }
      });
    } catch (err) {
      if (err instanceof RangeError) {
        this.hooks.onStoreError?.(err);
        if (chunk.to - chunk.from > 1) {
          this.isolate = { segmentId: chunk.segmentId, to: chunk.to };
          return { events: 0 };
        }
        const path = await spool.setAside(chunk);
        this.noteDone(chunk.events.length);
        this.logger.error(
          { err: err.message, path, events: chunk.events.length },
          'the event store refuses a journaled batch as invalid; it was set aside',
        );
        return { events: 0 };
      }
      if (this.drainError === null)
        this.logger.warn({ err: (err as Error).message }, 'event store append failed; keeping events in the local spool');
      this.drainError = err;
      this.hooks.onStoreError?.(err);
      return { events: 0, error: err };
    }
    if (this.drainError !== null) this.logger.info('event store answers again; storing the spool');
    this.drainError = null;
    // The store holds them: count them first (snapshots waiting may go), then tidy the spool.
    this.noteDone(chunk.events.length);
    this.hooks.onDrained?.(chunk.events.length);
    await spool.stored(chunk);
    return { events: chunk.events.length };
  }

  /** Waits for the next append (or close). */
  private idle(): Promise<void> {
    if (this.isClosed || this.wakeRequested) return Promise.resolve();
    return new Promise((resolve) => {
      this.wakeIdle = () => {
        this.wakeIdle = null;
        resolve();
      };
    });
  }

  /** Waits `drainIntervalMs`, or less when a snapshot waits for the journal or compter closes. */
  private pace(): Promise<void> {
    return this.drainIntervalMs > 0 ? this.delay(this.drainIntervalMs, 'wakePace') : Promise.resolve();
  }

  /** The retry backoff; only close cuts it short. */
  private sleep(ms: number): Promise<void> {
    return this.delay(ms, 'wakeSleep');
  }

  /** Waits `ms`, or until the function it leaves in `slot` is called. */
  private delay(ms: number, slot: 'wakePace' | 'wakeSleep'): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.clock.after(ms, () => this[slot]?.());
      this[slot] = () => {
        timer.cancel();
        this[slot] = null;
        resolve();
      };
    });
  }

  /** `promise`, or a rejection after `ms` on the store's clock; a late rejection of `promise` is ignored. */
  private withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    if (!(ms > 0)) return promise;
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.after(ms, () => reject(new Error(`${what} timed out after ${ms} ms`)));
      promise.then(
        (value) => {
          timer.cancel();
          resolve(value);
        },
        (err: unknown) => {
          timer.cancel();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }
}

/** The events a query would select, by the same rules the adapters apply in SQL. */
function* filterEvents(events: Iterable<LogEvent>, q: EventQuery): Generator<LogEvent> {
  const types = q.types ? new Set<string>(q.types) : null;
  const filters = entityFilters(q);
  for (const e of events) {
    if (!filters.every(([column, value]) => e[column] === value)) continue;
    if (types && !types.has(e.type)) continue;
    if (q.fromTs !== undefined && e.ts < q.fromTs) continue;
    if (q.toTs !== undefined && e.ts >= q.toTs) continue;
    yield e;
  }
}

function failSpan(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message ?? String(err) });
}
