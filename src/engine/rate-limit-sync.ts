import type { Logger } from 'pino';
import { sharedCountsOf, windowStart, WINDOW_MS, WINDOW_NAMES, type RateLimiter } from '../domain/rate-limits.js';
import type { Clock } from '../domain/time/clock.js';
import type { RateCountStore, StoredWindowCount, WindowKey } from '../store/rate-counts.js';

/*
 * Keeps the rate limits' counts in the store (docs/security.md, "Rate limits"), so they survive
 * a restart and hold across instances sharing it. Every `intervalMs` while a limit is
 * configured: read every instance's counts of the current and previous windows and who is
 * alive, hand that to the limiter (which grants each busy project its next share and gives
 * idle ones back), then write what changed. A share granted between two readings is written
 * at once. Nothing waits on the store: when it fails, the limiter keeps counting on its own
 * and the next write carries the absolute counts, so all a failed write loses is time.
 */

export interface RateLimitSyncOptions {
  limiter: RateLimiter;
  store: RateCountStore;
  /** This instance's stable id (store/instance-id.ts). */
  instance: string;
  clock: Clock;
  logger: Logger;
  /** Wait between two readings, ms; default 500. */
  intervalMs?: number;
  /** How often an instance says it is alive, ms; default 5 s. */
  heartbeatMs?: number;
  /** An instance not heard from for this long no longer shares the limit, ms; default 15 s. */
  liveMs?: number;
  /** A reading older than this is not shared by: the instance counts alone, ms; default 10 readings. */
  staleMs?: number;
  /** Longest wait for the store at a graceful stop, ms; default 3 s. */
  stopTimeoutMs?: number;
}

const PRUNE_EVERY_MS = 60_000;

/** Reads and writes the shared counts on a timer; `start` before serving, `stop` after. */
export class RateLimitSync {
  private readonly intervalMs: number;
  private readonly heartbeatMs: number;
  private readonly liveMs: number;
  private readonly staleMs: number;
  private readonly stopTimeoutMs: number;
  /** Whether this instance's own stored counts were read back (writes wait for it). */
  private isRestored = false;
  private isStopped = false;
  private isFailing = false;
  private lastBeatAt = -Infinity;
  private lastPruneAt = -Infinity;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Readings and writes, one at a time. */
  private queue: Promise<void> = Promise.resolve();
  private isFlushQueued = false;

  constructor(private readonly options: RateLimitSyncOptions) {
    this.intervalMs = options.intervalMs ?? 500;
    this.heartbeatMs = options.heartbeatMs ?? 5000;
    this.liveMs = options.liveMs ?? 15_000;
    this.staleMs = options.staleMs ?? 10 * this.intervalMs;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 3000;
    options.limiter.onGrant = () => this.flushSoon();
  }

  /** Reads the counts once (unless the store is known to be down), then keeps them in sync. */
  async start(isStoreUp: boolean): Promise<void> {
    if (isStoreUp) await this.sync();
    this.schedule();
  }

  /** One reading and write, in turn with the others; never rejects. */
  sync(): Promise<void> {
    return this.enqueue(() => this.syncOnce());
  }

  /** Stops the timer, gives this instance's reservations back and says it stopped. */
  async stop(): Promise<void> {
    if (this.isStopped) return;
    this.isStopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.options.limiter.onGrant = null;
    const last = this.enqueue(async () => {
      const { limiter, store, instance, clock } = this.options;
      if (!limiter.isLimiting) return;
      if (!this.isRestored) await this.restore();
      limiter.releaseAll();
      await this.flush(clock.now());
      await store.beat({ instance, seenAt: clock.now(), isStopped: true });
    });
    let timeout: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([last, new Promise<void>((resolve) => (timeout = setTimeout(resolve, this.stopTimeoutMs)))]);
    clearTimeout(timeout);
  }

  private schedule(): void {
    if (this.isStopped) return;
    this.timer = setTimeout(() => {
      void this.sync().then(() => this.schedule());
    }, this.intervalMs);
    this.timer.unref();
  }

  private async syncOnce(): Promise<void> {
    const { limiter, store, instance, clock } = this.options;
    // Without a limit nothing is counted, so there is nothing to share; a reload may add one.
    if (!limiter.isLimiting) return;
    if (!this.isRestored) {
      // Announced before the first reading, so the others divide by one more from now on.
      await store.beat({ instance, seenAt: clock.now(), isStopped: false });
      this.lastBeatAt = clock.now();
    }
    const [rows, beats] = await Promise.all([store.readCounts(windowsAt(clock.now())), store.instances()]);
    const readAt = clock.now();
    // The first reading also gives back what this instance counted before a restart.
    if (!this.isRestored) this.restoreFrom(rows, readAt);
    const live = new Set(
      beats.filter((b) => b.instance !== instance && !b.isStopped && b.seenAt >= readAt - this.liveMs).map((b) => b.instance),
    );
    const others = rows.filter((r) => r.instance !== instance).map((r) => ({ ...r, isLive: live.has(r.instance) }));
    limiter.applyShared(
      sharedCountsOf(others, { instances: 1 + live.size, nextReadAt: readAt + this.intervalMs, expiresAt: readAt + this.staleMs }),
      readAt,
    );
    await this.flush(readAt);
    if (readAt - this.lastBeatAt >= this.heartbeatMs) {
      await store.beat({ instance, seenAt: readAt, isStopped: false });
      this.lastBeatAt = readAt;
    }
    if (readAt - this.lastPruneAt >= PRUNE_EVERY_MS) {
      this.lastPruneAt = readAt;
      await store
        .prune(readAt)
        .catch((err: unknown) => this.options.logger.debug({ err: (err as Error).message }, 'rate counts not pruned'));
    }
    if (this.isFailing) this.options.logger.info('the rate-limit counter table answers again; counts are shared');
    this.isFailing = false;
  }

  /** Adds what this instance counted before a restart to what it counted since. */
  private async restore(): Promise<void> {
    const now = this.options.clock.now();
    this.restoreFrom(await this.options.store.readCounts(windowsAt(now)), now);
  }

  private restoreFrom(rows: readonly StoredWindowCount[], now: number): void {
    this.options.limiter.restore(
      rows.filter((r) => r.instance === this.options.instance),
      now,
    );
    this.isRestored = true;
  }

  private async flush(now: number): Promise<void> {
    // Before the own counts are read back a write would store less than the store holds.
    if (!this.isRestored) return;
    const rows = this.options.limiter.unwritten();
    if (rows.length === 0) return;
    await this.options.store.writeCounts(this.options.instance, rows, now);
    this.options.limiter.markWritten(rows);
  }

  /** Writes a share granted between two readings without waiting for the next one. */
  private flushSoon(): void {
    if (this.isFlushQueued || this.isStopped) return;
    this.isFlushQueued = true;
    void this.enqueue(async () => {
      this.isFlushQueued = false;
      await this.flush(this.options.clock.now());
    });
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.queue.then(step).catch((err: unknown) => this.noteFailure(err));
    this.queue = run;
    return run;
  }

  private noteFailure(err: unknown): void {
    // Once per outage: the limiter counts locally meanwhile, and requests never fail for it.
    if (!this.isFailing)
      this.options.logger.warn({ err: (err as Error).message }, 'the rate-limit counter table failed; counting locally until it answers');
    this.isFailing = true;
  }
}

/** The current and previous window of each kind at `now`. */
function windowsAt(now: number): WindowKey[] {
  return WINDOW_NAMES.flatMap((window) => {
    const start = windowStart(now, WINDOW_MS[window]);
    return [
      { window, windowStart: start },
      { window, windowStart: start - WINDOW_MS[window] },
    ];
  });
}
