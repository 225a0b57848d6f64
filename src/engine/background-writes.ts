import type { Logger } from 'pino';
import type { LogEvent } from '../domain/event.js';

/**
 * Time-driven events (what start-up catches up on, what the timer derives) are written with
 * no request waiting for them. Reads of the log wait for the ones still in flight: a ledger
 * asked for right after start-up shows the occurrences start-up closed, not a gap where the
 * projection has moved on and the log has not caught up yet.
 */
export class BackgroundWrites {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly sink: { write(events: LogEvent[]): Promise<void> },
    private readonly logger: Logger,
    /** The log line of a failed write. */
    private readonly failure: string,
  ) {}

  /**
   * Writes `events`; never rejects. A failed write is logged, not fatal: time-driven events
   * are derived again from the schedule on the next start.
   */
  write(events: LogEvent[]): Promise<void> {
    const write = this.sink.write(events).catch((err: unknown) => this.logger.error({ err, events: events.length }, this.failure));
    this.inFlight.add(write);
    void write.then(() => this.inFlight.delete(write));
    return write;
  }

  /** Resolves once every write started before the call has ended. */
  settled(): Promise<void> {
    return this.inFlight.size === 0 ? Promise.resolve() : Promise.all(this.inFlight).then(() => undefined);
  }
}
