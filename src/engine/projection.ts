import type { LogEvent } from '../domain/event.js';

/**
 * A part of the in-memory state rebuilt from the log (debts, SLOs). Start-up restores each
 * projection's section of the latest snapshot, then feeds every later event to all of them
 * in one scan, then lets each catch up to "now".
 */
export interface Projection {
  /** Names this projection's snapshot section. */
  readonly section: string;
  /** Folds one logged event in (events of other projections are ignored). */
  applyLogEvent(event: LogEvent): void;
  /** This projection's state as JSON-safe items, for a snapshot. */
  snapshotItems(): unknown[];
  /** Restores items a snapshot held. */
  restoreItems(items: unknown[]): void;
  /**
   * After replay: act on everything time changed while compter was down, start timers.
   * `lastRunAt` is when the log shows compter last ran (its newest event), null for a new log.
   */
  begin(lastRunAt: number | null): Promise<void>;
}
