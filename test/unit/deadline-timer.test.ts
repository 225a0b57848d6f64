import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/domain/time/clock.js';
import { DeadlineTimer } from '../../src/engine/deadline-timer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('DeadlineTimer', () => {
  it('fires once the earliest wake-up is due and hands out due keys earliest first', async () => {
    const fired: string[][] = [];
    const timer: DeadlineTimer = new DeadlineTimer(systemClock, () => fired.push(timer.popDue(Date.now())));
    timer.start();
    const now = Date.now();
    timer.schedule('later', now + 40);
    timer.schedule('sooner', now + 20);
    timer.schedule('never', null);
    await sleep(120);
    expect(fired.flat()).toEqual(['sooner', 'later']);
    timer.stop();
  });

  it('re-arms when a key moves earlier, and a replaced wake-up does not fire twice', async () => {
    const fired: string[] = [];
    const timer: DeadlineTimer = new DeadlineTimer(systemClock, () => fired.push(...timer.popDue(Date.now())));
    timer.start();
    timer.schedule('a', Date.now() + 10_000);
    timer.schedule('a', Date.now() + 15);
    await sleep(80);
    expect(fired).toEqual(['a']);
    timer.stop();
  });

  it('does not fire while stopped, and keeps what was scheduled for the next start', async () => {
    const fired: string[] = [];
    const timer: DeadlineTimer = new DeadlineTimer(systemClock, () => fired.push(...timer.popDue(Date.now())));
    timer.schedule('x', Date.now() + 10);
    await sleep(40);
    expect(fired).toEqual([]);
    expect(timer.isRunning).toBe(false);
    timer.start();
    await sleep(40);
    expect(fired).toEqual(['x']);
    timer.stop();
  });
});
