import type { Logger } from 'pino';
import type { BatchWriter } from '../store/batch-writer.js';
import type { EventStore } from '../store/event-store.js';
import { systemStoreClock, type StoreClock, type StoreTimer } from '../store/store-clock.js';
import type { Projection } from './projection.js';
import { snapshotChunks, type LogPosition } from './rebuild.js';

/**
 * Saves the projection to the store every so many appended events and on shutdown, so
 * start-up replays only the tail of the log. A snapshot is taken only while the writer is
 * idle: then every event the projection has applied is already durable.
 */
export class Snapshotter {
  private appendedSince = 0;
  private isSaving = false;
  private timer: StoreTimer | null = null;

  constructor(
    private readonly projections: Projection[],
    private readonly position: LogPosition,
    private readonly store: EventStore,
    private readonly writer: BatchWriter,
    private readonly logger: Logger,
    private readonly everyEvents: number,
    /** `takenAt`, the check interval and the save's duration come from here. */
    private readonly clock: StoreClock = systemStoreClock,
  ) {}

  /** Counts events made durable (wire to the writer's onFlush). */
  noteAppended(count: number): void {
    this.appendedSince += count;
  }

  /** Checks every `intervalMs` whether a snapshot is due. */
  start(intervalMs = 5000): void {
    if (this.everyEvents === 0) return;
    this.stop();
    const check = (): void => {
      this.timer = this.clock.after(intervalMs, check, { background: true });
      if (this.appendedSince >= this.everyEvents) void this.take();
    };
    this.timer = this.clock.after(intervalMs, check, { background: true });
  }

  /** Stops the periodic check; a snapshot being saved still finishes. */
  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** Takes a snapshot now if the writer is idle; returns whether one was saved. */
  async take(): Promise<boolean> {
    if (this.isSaving || this.everyEvents === 0) return false;
    const stats = this.writer.stats();
    if (stats.queued > 0 || stats.inFlight > 0) return false;
    const upToEventId = this.position.lastEventId;
    if (!upToEventId) return false;
    const chunks = snapshotChunks(this.projections);
    this.isSaving = true;
    const appended = this.appendedSince;
    const started = this.clock.monotonicMs();
    try {
      await this.store.saveSnapshot({ upToEventId, takenAt: this.clock.now(), chunks });
      this.appendedSince -= appended;
      this.logger.info({ upToEventId, chunks: chunks.length, ms: Math.round(this.clock.monotonicMs() - started) }, 'snapshot saved');
      return true;
    } catch (err) {
      this.logger.error({ err }, 'could not save a snapshot');
      return false;
    } finally {
      this.isSaving = false;
    }
  }
}
