import type { WindowCount, WindowName } from '../domain/rate-limits.js';
import type { EventStore } from './event-store.js';

/*
 * The counter table behind the rate limits (docs/security.md, "Rate limits"): each instance's
 * absolute count per project and window, and each instance's last sign of life. It is not the
 * event log: a request is not an event, nothing here goes through the journal, and a write
 * that fails is simply made again by the next one (counts are absolute, so rewriting is safe).
 */

/** One instance's count, as stored. */
export interface StoredWindowCount extends WindowCount {
  instance: string;
}

/** An instance's last heartbeat; a graceful stop writes one with `isStopped`. */
export interface InstanceBeat {
  instance: string;
  /** Epoch ms, by the writing instance's clock. */
  seenAt: number;
  isStopped: boolean;
}

/** One fixed window of one kind. */
export interface WindowKey {
  window: WindowName;
  windowStart: number;
}

/** What the rate limits need of a store; both adapters have one. */
export interface RateCountStore {
  /** Stores `instance`'s rows. A row never lowers the count stored for its key; its reservation replaces the stored one. */
  writeCounts(instance: string, rows: readonly WindowCount[], writtenAt: number): Promise<void>;
  /** Every instance's row for each of these windows (at most one per project, window and instance). */
  readCounts(windows: readonly WindowKey[]): Promise<StoredWindowCount[]>;
  beat(beat: InstanceBeat): Promise<void>;
  /** The latest heartbeat of every instance that ever wrote one. */
  instances(): Promise<InstanceBeat[]>;
  /** Drops (best effort) rows of windows that can no longer be current or previous at `now`. */
  prune(now: number): Promise<void>;
}

interface RateCountSource {
  rateCounts(): RateCountStore;
}

function isRateCountSource(store: unknown): store is RateCountSource {
  return typeof (store as Partial<RateCountSource> | null)?.rateCounts === 'function';
}

/**
 * The counter table of `store`'s engine; a wrapper (the journaling store) is looked through to
 * the adapter it holds as `inner`. Null for a store without one.
 */
export function rateCountsOf(store: EventStore): RateCountStore | null {
  if (isRateCountSource(store)) return store.rateCounts();
  const inner = (store as { inner?: unknown }).inner;
  if (inner !== null && typeof inner === 'object' && inner !== store) return rateCountsOf(inner as EventStore);
  return null;
}
