/** Where the engine and the domain get "now" from: injected, so tests run years in milliseconds. */
export interface Clock {
  /** Current time as epoch milliseconds. */
  now(): number;
}

/** The wall clock of this process. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to (tests, replays). */
export class ManualClock implements Clock {
  constructor(private ms: number) {}
  now(): number {
    return this.ms;
  }
  /** Moves the clock to `ms` (never backwards). */
  set(ms: number): void {
    if (ms < this.ms) throw new Error(`ManualClock cannot go back from ${this.ms} to ${ms}`);
    this.ms = ms;
  }
  /** Moves the clock forward by `ms`. */
  advance(ms: number): void {
    this.ms += ms;
  }
}
