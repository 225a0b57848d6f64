import type { Clock } from '../domain/time/clock.js';
import { WakeQueue } from './wake-queue.js';

/** setTimeout cannot wait longer than 2^31-1 ms; longer sleeps wake early and re-check. */
const MAX_SLEEP_MS = 2 ** 31 - 1;

/**
 * One setTimeout for every entity of a projection: sleeps until the earliest scheduled wake-up,
 * then calls `onDue`, which pops the due keys and re-checks each against its current state.
 * Never polls: an entity whose wake-up moves earlier re-arms the timer, a later one does not.
 */
export class DeadlineTimer {
  private readonly wakes = new WakeQueue();
  private timer: NodeJS.Timeout | null = null;
  private timerAt: number | null = null;
  private isStarted = false;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: () => void,
  ) {}

  /** True between start() and stop(). */
  get isRunning(): boolean {
    return this.isStarted;
  }

  /** Starts sleeping towards the earliest wake-up. */
  start(): void {
    this.isStarted = true;
    this.arm();
  }

  /** Stops the timer; scheduled wake-ups are kept. */
  stop(): void {
    this.isStarted = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = null;
  }

  /** Wakes `key` at `at` (replacing its earlier wake-up), or never when null. */
  schedule(key: string, at: number | null): void {
    this.wakes.schedule(key, at);
    if (!this.isStarted) return;
    const next = this.wakes.peekAt();
    if (next !== null && (this.timerAt === null || next < this.timerAt)) this.arm();
  }

  /** Forgets `key`. */
  remove(key: string): void {
    this.wakes.remove(key);
  }

  /** Removes and returns every key due at or before `now`, earliest first. */
  popDue(now: number): string[] {
    return this.wakes.popDue(now);
  }

  /** Like popDue, with the instant each key was due at (the same on every instance). */
  popDueAt(now: number): { key: string; at: number }[] {
    return this.wakes.popDueAt(now);
  }

  private arm(): void {
    if (!this.isStarted) return;
    if (this.timer) clearTimeout(this.timer);
    const at = this.wakes.peekAt();
    this.timerAt = at;
    if (at === null) {
      this.timer = null;
      return;
    }
    const delay = Math.min(Math.max(0, at - this.clock.now()), MAX_SLEEP_MS);
    this.timer = setTimeout(() => this.fire(), delay);
    this.timer.unref?.();
  }

  private fire(): void {
    this.timer = null;
    this.timerAt = null;
    this.onDue();
    this.arm();
  }
}
