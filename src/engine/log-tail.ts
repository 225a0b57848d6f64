import type { Logger } from 'pino';
import type { LogEvent } from '../domain/event.js';
import { eventIdFloor, eventIdTime } from '../domain/event-id.js';
import type { Clock } from '../domain/time/clock.js';
import type { EventStore } from '../store/event-store.js';
import type { Projection } from './projection.js';
import type { LogPosition } from './rebuild.js';

/*
 * How an instance learns what the others wrote to the shared log (docs/semantics.md,
 * "Several instances"). ClickHouse has no sequence to follow, and ids are time-ordered but
 * made by different clocks and stored late through each instance's journal. So every poll
 * reads the ids from (start of the last good poll − overlapMs) on, and a set of the ids seen
 * in that window makes each event apply once. An outage keeps the start where it was, so the
 * first poll after it reads everything the outage held back. Events this instance made are
 * in the log position's `made` set and are skipped. A source that knows who wrote a row and
 * when it was stored (ClickHouse: `origin`, `inserted_at`) lists only other processes' rows
 * stored since the previous poll's server time, less a margin: what is new, not the window.
 */

/**
 * A store that can list ids alone, so a poll fetches only the rows it has not seen. The
 * ClickHouse adapter lists only rows another process wrote, and with `storedSinceSec` only
 * those stored (by the server's clock, `serverNowSec`) since then.
 */
export interface TailSource {
  idsAfter(afterEventId: string, storedSinceSec?: number): Promise<string[]>;
  byIds(ids: readonly string[]): Promise<LogEvent[]>;
  serverNowSec?(): Promise<number>;
}

/**
 * How far before the previous poll's server time a poll reads rows stored: an insert stamped
 * before that poll's read may become visible only after it.
 */
const STORED_MARGIN_SEC = 15;

/** `store` as a TailSource when it is one (the ClickHouse adapter). */
export function tailSourceOf(store: unknown): TailSource | undefined {
  const s = store as Partial<TailSource> | null;
  return typeof s?.idsAfter === 'function' && typeof s.byIds === 'function' ? (s as TailSource) : undefined;
}

/** A projection that can take another instance's event while it runs. */
export interface LiveProjection extends Projection {
  applyRemoteEvent?(event: LogEvent): void;
}

export interface LogTailOptions {
  store: EventStore;
  /** The ClickHouse adapter behind `store`; without it every poll reads whole rows. */
  source?: TailSource;
  projections: LiveProjection[];
  position: LogPosition;
  clock: Clock;
  logger: Logger;
  /** Wait between polls; default 500 ms. */
  intervalMs?: number;
  /** How far before the last good poll each poll reads again; default 60 s. */
  overlapMs?: number;
  /** Null: the first poll reads the whole log (start-up found the store down). */
  fromMs: number | null;
}

/** Polls the shared log and applies what other instances wrote. */
export class LogTail {
  private readonly intervalMs: number;
  private readonly overlapMs: number;
  private fromMs: number | null;
  private readonly seen = new Set<string>();
  /** The server's clock at the last good poll (Unix seconds); null: read the whole overlap. */
  private storedFromSec: number | null = null;
  /** Ids up to this one are in the snapshot start-up restored. */
  private coveredThrough: string | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<void> | null = null;
  private isStopped = false;
  /** Events from other instances applied so far (tests and logs). */
  applied = 0;

  constructor(private readonly options: LogTailOptions) {
    this.intervalMs = options.intervalMs ?? 500;
    this.overlapMs = options.overlapMs ?? 60_000;
    this.fromMs = options.fromMs;
  }

  /** Start-up restored a snapshot holding every event up to `eventId`: the tail skips those. */
  noteSnapshot(eventId: string): void {
    this.coveredThrough = eventId;
  }

  /** Start-up replayed `eventId`: the tail does not apply it again. */
  noteReplayed(eventId: string): void {
    if (this.fromMs === null || eventIdTime(eventId) >= this.fromMs - this.overlapMs) this.seen.add(eventId);
  }

  /** Starts polling. */
  start(): void {
    this.schedule(0);
  }

  /** Stops polling; resolves when a poll under way has ended. */
  async stop(): Promise<void> {
    this.isStopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One poll: reads the window and applies what is new; resolves with how many events it applied. */
  async poll(): Promise<number> {
    const startedMs = this.options.clock.now();
    const after = this.fromMs === null ? null : eventIdFloor(this.fromMs - this.overlapMs);
    let count = 0;
    const { source } = this.options;
    if (after !== null && source) {
      const serverNow = source.serverNowSec ? await source.serverNowSec() : null;
      const since = this.storedFromSec === null ? undefined : this.storedFromSec - STORED_MARGIN_SEC;
      const unseen = (await source.idsAfter(after, since)).filter((id) => this.isNew(id));
      if (unseen.length > 0) count += this.applyAll(await source.byIds(unseen));
      this.storedFromSec = serverNow;
    } else {
      for await (const page of this.options.store.scan(after, 5000)) count += this.applyAll(page);
      this.storedFromSec = null;
    }
    this.fromMs = startedMs;
    this.forgetBefore(startedMs - this.overlapMs);
    this.applied += count;
    return count;
  }

  private isNew(id: string): boolean {
    if (this.seen.has(id) || this.options.position.made.has(id)) return false;
    return this.coveredThrough === null || id > this.coveredThrough;
  }

  /** Applies the events not seen yet, in order; returns how many. */
  private applyAll(events: readonly LogEvent[]): number {
    let count = 0;
    for (const event of events) {
      if (!this.isNew(event.eventId)) continue;
      this.seen.add(event.eventId);
      for (const p of this.options.projections) {
        if (p.applyRemoteEvent) p.applyRemoteEvent(event);
        else p.applyLogEvent(event);
      }
      this.options.position.note(event.eventId);
      count++;
    }
    return count;
  }

  /**
   * Drops ids older than `ms`. A set iterates in insertion order, and ids are made (and seen)
   * in about time order, so the walk stops at the first id still inside the window: a poll
   * costs what it forgets, not what the window holds (at 10k events/s that is 600k ids). An id
   * made out of order (a fact derived for an earlier instant) only stays a little longer.
   */
  private forgetBefore(ms: number): void {
    for (const ids of [this.seen, this.options.position.made]) {
      for (const id of ids) {
        if (eventIdTime(id) >= ms) break;
        ids.delete(id);
      }
    }
  }

  private schedule(ms: number): void {
    if (this.isStopped) return;
    this.timer = setTimeout(() => {
      this.running = this.poll().then(
        (n) => {
          if (n > 0) this.options.logger.debug({ events: n }, 'applied events other instances wrote');
        },
        (err: unknown) => this.options.logger.warn({ err: (err as Error).message }, 'could not read the shared log; retrying'),
      );
      void this.running.then(() => this.schedule(this.intervalMs));
    }, ms);
    this.timer.unref?.();
  }
}
