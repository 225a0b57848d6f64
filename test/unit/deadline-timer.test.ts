import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/domain/time/clock.js';
import { DeadlineTimer } from '../../src/engine/deadline-timer.js';

// The timer reads the time from its injected clock and sleeps with setTimeout: both are driven
// by the test (a manual clock and fake timers, moved together), so nothing depends on how busy
// the machine is.
const T0 = Date.parse('2026-11-20T12:00:00Z');

describe('DeadlineTimer', () => {
  let clock: ManualClock;
  /** Each call of onDue: the clock's time and the keys popped then. */
  let fired: { at: number; keys: string[] }[];
  let timer: DeadlineTimer;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    clock = new ManualClock(T0);
    fired = [];
    timer = new DeadlineTimer(clock, () => fired.push({ at: clock.now() - T0, keys: timer.popDue(clock.now()) }));
  });

  afterEach(() => {
    timer.stop();
    vi.useRealTimers();
  });

  /** Moves the clock and the timers forward together, one millisecond at a time. */
  function elapse(ms: number): void {
    for (let i = 0; i < ms; i++) {
      clock.advance(1);
      vi.advanceTimersByTime(1);
    }
  }

  it('fires at each earliest wake-up, not before, and never for a key without one', () => {
    timer.start();
    timer.schedule('later', T0 + 40);
    timer.schedule('sooner', T0 + 20);
    timer.schedule('never', null);
    elapse(19);
    expect(fired).toEqual([]);
    elapse(1);
    expect(fired).toEqual([{ at: 20, keys: ['sooner'] }]);
    elapse(19);
    expect(fired).toHaveLength(1);
    elapse(1);
    expect(fired).toEqual([
      { at: 20, keys: ['sooner'] },
      { at: 40, keys: ['later'] },
    ]);
    elapse(10_000);
    expect(fired).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('hands out every due key earliest first when it wakes late (a stalled event loop)', () => {
    timer.start();
    timer.schedule('c', T0 + 30);
    timer.schedule('a', T0 + 10);
    timer.schedule('b', T0 + 20);
    clock.advance(50);
    vi.advanceTimersByTime(10);
    expect(fired).toEqual([{ at: 50, keys: ['a', 'b', 'c'] }]);
  });

  it('re-arms when a key moves earlier, and a replaced wake-up does not fire twice', () => {
    timer.start();
    timer.schedule('a', T0 + 10_000);
    timer.schedule('a', T0 + 15);
    elapse(14);
    expect(fired).toEqual([]);
    elapse(1);
    expect(fired).toEqual([{ at: 15, keys: ['a'] }]);
    elapse(10_000);
    expect(fired).toEqual([{ at: 15, keys: ['a'] }]);
  });

  it('a key moved later is popped only at its new time', () => {
    timer.start();
    timer.schedule('a', T0 + 10);
    timer.schedule('a', T0 + 100);
    elapse(100);
    expect(fired.flatMap((f) => f.keys.map((k) => [f.at, k]))).toEqual([[100, 'a']]);
  });

  it('a forgotten key is never handed out', () => {
    timer.start();
    timer.schedule('gone', T0 + 10);
    timer.schedule('kept', T0 + 20);
    timer.remove('gone');
    elapse(30);
    expect(fired.flatMap((f) => f.keys)).toEqual(['kept']);
  });

  it('does not fire while stopped, and keeps what was scheduled for the next start', () => {
    timer.schedule('x', T0 + 10);
    elapse(40);
    expect(fired).toEqual([]);
    expect(timer.isRunning).toBe(false);
    timer.start();
    vi.advanceTimersByTime(0);
    expect(fired).toEqual([{ at: 40, keys: ['x'] }]);
    timer.stop();
    timer.schedule('y', T0 + 50);
    elapse(20);
    expect(fired).toHaveLength(1);
  });

  it('a wake-up beyond the longest setTimeout wakes early, re-checks, and fires on time', () => {
    const maxSleepMs = 2 ** 31 - 1;
    timer.start();
    timer.schedule('far', T0 + maxSleepMs + 5_000);
    clock.advance(maxSleepMs);
    vi.advanceTimersByTime(maxSleepMs);
    expect(fired).toEqual([{ at: maxSleepMs, keys: [] }]);
    clock.advance(4_999);
    vi.advanceTimersByTime(4_999);
    expect(fired).toHaveLength(1);
    elapse(1);
    expect(fired.at(-1)).toEqual({ at: maxSleepMs + 5_000, keys: ['far'] });
  });
});
