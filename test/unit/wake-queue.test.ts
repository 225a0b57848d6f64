import { describe, expect, it } from 'vitest';
import { WakeQueue } from '../../src/engine/wake-queue.js';
import { dateOfEpochDay } from '../../src/domain/time/civil-date.js';
import { debtKey } from '../../src/domain/debts/debt-key.js';
import { deadlineTimeline } from '../../src/domain/time/timeline.js';

describe('wake queue', () => {
  it('pops keys earliest first, each at its latest schedule', () => {
    const q = new WakeQueue();
    const ats = [50, 10, 40, 30, 20, 60, 0, 70];
    ats.forEach((at, i) => q.schedule(`k${i}`, at));
    q.schedule('k0', 5); // moved earlier
    q.schedule('k5', null); // cancelled
    q.remove('k7');
    expect(q.size).toBe(6);
    expect(q.peekAt()).toBe(0);
    expect(q.popDueAt(45)).toEqual([
      { key: 'k6', at: 0 },
      { key: 'k0', at: 5 },
      { key: 'k1', at: 10 },
      { key: 'k4', at: 20 },
      { key: 'k3', at: 30 },
      { key: 'k2', at: 40 },
    ]);
    expect(q.size).toBe(0);
    expect(q.peekAt()).toBeNull();
  });

  it('wakes a key once however often it is rescheduled, to the same or alternating instants', () => {
    const q = new WakeQueue();
    for (let i = 0; i < 10_000; i++) q.schedule('busy', i % 2 === 0 ? 100 : 200);
    for (let i = 0; i < 1000; i++) q.schedule('same', 150);
    q.schedule('other', 120);
    expect(q.popDueAt(1000)).toEqual([
      { key: 'other', at: 120 },
      { key: 'same', at: 150 },
      { key: 'busy', at: 200 },
    ]);
    // Nothing stale surfaces later either.
    expect(q.popDueAt(10_000)).toEqual([]);
    expect(q.peekAt()).toBeNull();
  });

  it('a key removed and scheduled again at the same instant wakes once', () => {
    const q = new WakeQueue();
    q.schedule('a', 10);
    q.remove('a');
    q.schedule('a', 10);
    expect(q.popDue(10)).toEqual(['a']);
    expect(q.popDue(10)).toEqual([]);
  });

  it('stays in order against a sorted reference under random schedules', () => {
    const q = new WakeQueue();
    const expected = new Map<string, number>();
    let seed = 7;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let i = 0; i < 5000; i++) {
      const key = `k${random(300)}`;
      const at = random(10) === 0 ? null : 1e12 + random(1000) * 1000;
      q.schedule(key, at);
      if (at === null) expected.delete(key);
      else expected.set(key, at);
    }
    const popped = q.popDueAt(Infinity);
    const want = [...expected].map(([key, at]) => ({ key, at })).sort((a, b) => a.at - b.at);
    expect(popped.map((p) => p.at)).toEqual(want.map((w) => w.at));
    expect(new Map(popped.map((p) => [p.key, p.at]))).toEqual(expected);
  });
});

describe('what every debt holds alike', () => {
  it('a one-off deadline is its own slot, read and serialised as a plain slot', () => {
    const timeline = deadlineTimeline(Date.UTC(2026, 11, 5, 9));
    const a = timeline.after(0)!;
    expect(a).toEqual({ at: Date.UTC(2026, 11, 5, 9), businessDate: '2026-12-05' });
    expect(timeline.atOrBefore(Date.UTC(2026, 11, 5, 9))).toBe(a);
    expect(timeline.after(Date.UTC(2026, 11, 5, 9))).toBeNull();
    // Cached dates come back the same, including after many other days.
    for (let day = 0; day < 10_000; day++) dateOfEpochDay(day);
    expect(dateOfEpochDay(20_427)).toBe('2025-12-05');
    expect(JSON.parse(JSON.stringify(a))).toEqual({ at: Date.UTC(2026, 11, 5, 9), businessDate: '2026-12-05' });
  });

  it('a debt key is project NUL id', () => {
    expect(debtKey('p', 'nightly')).toBe('p\u0000nightly');
    expect(debtKey('p', 'nightly')).toBe(debtKey('p', 'nightly'));
    expect(debtKey('q', 'nightly')).not.toBe(debtKey('p', 'nightly'));
  });
});
