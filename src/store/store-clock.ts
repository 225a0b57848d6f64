import { systemClock, type Clock } from '../domain/time/clock.js';

/** A timer set with `StoreClock.after`. */
export interface StoreTimer {
  /** Stops the timer; calling it after it fired does nothing. */
  cancel(): void;
}

/**
 * What store/ (spool, journal drain, batch writer) and the snapshotter read the time from and
 * wait on. Injected, like the domain's Clock, so their tests move time themselves instead of
 * waiting for it (test/support/manual-store-clock.ts).
 */
export interface StoreClock extends Clock {
  /**
   * Milliseconds on a clock that never jumps (no NTP step, no DST), for intervals and ages:
   * a wall clock stepping back would otherwise hold a flush or a rotation back by the step.
   */
  monotonicMs(): number;
  /**
   * Calls `fn` once, `ms` from now on this clock. A `background` timer does not keep the
   * process alive on its own (housekeeping); others do, as a wait someone awaits must.
   */
  after(ms: number, fn: () => void, options?: { background?: boolean }): StoreTimer;
}

/** The process's wall clock, monotonic clock and timers. */
export const systemStoreClock: StoreClock = {
  now: () => systemClock.now(),
  monotonicMs: () => performance.now(),
  after(ms, fn, options) {
    const timer = setTimeout(fn, ms);
    if (options?.background) timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
