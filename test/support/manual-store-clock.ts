import type { StoreClock, StoreTimer } from '../../src/store/store-clock.js';

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A StoreClock that moves only when a test says so: `advance` fires the timers that fall due,
 * in time order, letting the I/O and promise callbacks they start run in between.
 */
export class ManualStoreClock implements StoreClock {
  private ms: number;
  private readonly started: number;
  private seq = 0;
  private timers: PendingTimer[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.ms = startMs;
    this.started = startMs;
  }

  now(): number {
    return this.ms;
  }

  monotonicMs(): number {
    return this.ms - this.started;
  }

  after(ms: number, fn: () => void): StoreTimer {
    const timer = { at: this.ms + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return {
      cancel: () => {
        this.timers = this.timers.filter((t) => t !== timer);
      },
    };
  }

  /** Timers set and not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing every timer due on the way (and those they set). */
  async advance(ms: number): Promise<void> {
    const end = this.ms + ms;
    for (;;) {
      await settleIo();
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.ms = Math.max(this.ms, due.at);
      due.fn();
    }
    this.ms = end;
    await settleIo();
  }
}

/** Lets pending promise callbacks and a round of I/O callbacks run, without time passing on the clock. */
export async function settleIo(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}
