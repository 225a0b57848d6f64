import { describe, expect, it } from 'vitest';
import {
  RateLimiter,
  sharedCountsOf,
  windowStart,
  WINDOW_MS,
  WINDOW_NAMES,
  type WindowCount,
  type WindowName,
} from '../../src/domain/rate-limits.js';
import type { LimitsConfig } from '../../src/domain/tokens.js';
import { seededRandom } from '../support/seed.js';

/*
 * The counting logic of several instances sharing one counter table, on a simulated clock: a
 * table in memory, instances reading it every `intervalMs` at their own phase and writing with
 * a latency, and clients sending requests at chosen instants. No timers, no store: the same
 * steps as engine/rate-limit-sync.ts (read, applyShared, write what changed; a share granted
 * between readings written at once).
 */

const MINUTE = 60_000;
const DAY = 86_400_000;
const T0 = Date.parse('2026-11-20T12:00:00Z');

interface StoredRow extends WindowCount {
  instance: string;
}

/** The counter table: one row per (project, window, start, instance); counts never go down. */
class Table {
  readonly rows = new Map<string, StoredRow>();

  write(instance: string, rows: readonly WindowCount[]): void {
    for (const r of rows) {
      const key = `${r.project}/${r.window}/${r.windowStart}/${instance}`;
      const old = this.rows.get(key);
      this.rows.set(key, { ...r, instance, count: Math.max(old?.count ?? 0, r.count), reserved: Math.max(r.reserved, r.count) });
    }
  }

  read(now: number): StoredRow[] {
    const wanted = new Set(
      WINDOW_NAMES.flatMap((w) => [windowStart(now, WINDOW_MS[w]), windowStart(now, WINDOW_MS[w]) - WINDOW_MS[w]].map((s) => `${w}/${s}`)),
    );
    return [...this.rows.values()].filter((r) => wanted.has(`${r.window}/${r.windowStart}`));
  }
}

/** A discrete-event simulation: callbacks run in time order (ties in the order scheduled), from a binary heap. */
class Simulation {
  private readonly heap: { at: number; seq: number; run: () => void }[] = [];
  private seq = 0;
  now = T0;

  at(at: number, run: () => void): void {
    const heap = this.heap;
    heap.push({ at, seq: this.seq++, run });
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!this.isBefore(i, parent)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  runUntil(end: number): void {
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!.at <= end) {
      const next = heap[0]!;
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        for (let i = 0; ;) {
          const [l, r] = [2 * i + 1, 2 * i + 2];
          let min = i;
          if (l < heap.length && this.isBefore(l, min)) min = l;
          if (r < heap.length && this.isBefore(r, min)) min = r;
          if (min === i) break;
          [heap[i], heap[min]] = [heap[min]!, heap[i]!];
          i = min;
        }
      }
      this.now = next.at;
      next.run();
    }
    this.now = end;
  }

  private isBefore(i: number, j: number): boolean {
    const [a, b] = [this.heap[i]!, this.heap[j]!];
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
}

interface InstanceOptions {
  /** Offset of its readings within the interval, ms. */
  phaseMs: number;
  /** From a write being sent to the others seeing it, ms. */
  writeLatencyMs: number;
  intervalMs?: number;
}

/** One instance: a limiter synced with the table as engine/rate-limit-sync.ts does. */
class Instance {
  readonly limiter: RateLimiter;
  accepted = 0;
  readonly refusals: { at: number; retryAfterSeconds: number; window: WindowName }[] = [];
  private isRunning = true;

  constructor(
    readonly id: string,
    limits: LimitsConfig,
    private readonly sim: Simulation,
    private readonly table: Table,
    private readonly peers: () => Instance[],
    private readonly options: InstanceOptions,
  ) {
    this.limiter = new RateLimiter(limits);
    this.limiter.onGrant = () => this.write();
    const interval = options.intervalMs ?? 500;
    const tick = (at: number) =>
      sim.at(at, () => {
        if (!this.isRunning) return;
        this.read();
        this.write();
        tick(at + interval);
      });
    tick(T0 + options.phaseMs);
  }

  read(): void {
    const now = this.sim.now;
    const live = new Set(
      this.peers()
        .filter((p) => p !== this && p.isRunning)
        .map((p) => p.id),
    );
    const others = this.table
      .read(now)
      .filter((r) => r.instance !== this.id)
      .map((r) => ({ ...r, isLive: live.has(r.instance) }));
    const interval = this.options.intervalMs ?? 500;
    this.limiter.applyShared(
      sharedCountsOf(others, { instances: 1 + live.size, nextReadAt: now + interval, expiresAt: now + 10 * interval }),
      now,
    );
  }

  write(): void {
    const rows = this.limiter.unwritten();
    if (rows.length === 0) return;
    this.limiter.markWritten(rows);
    this.sim.at(this.sim.now + this.options.writeLatencyMs, () => this.table.write(this.id, rows));
  }

  request(project = 'p'): boolean {
    const decision = this.limiter.take(project, this.sim.now);
    if (decision.allowed) this.accepted++;
    else this.refusals.push({ at: this.sim.now, retryAfterSeconds: decision.retryAfterSeconds, window: decision.window });
    return decision.allowed;
  }

  stop(): void {
    this.limiter.releaseAll();
    this.write();
    this.isRunning = false;
  }
}

function cluster(n: number, limits: LimitsConfig, options: (i: number) => InstanceOptions): { sim: Simulation; instances: Instance[] } {
  const sim = new Simulation();
  const table = new Table();
  const instances: Instance[] = [];
  for (let i = 0; i < n; i++) instances.push(new Instance(`i${i}`, limits, sim, table, () => instances, options(i)));
  return { sim, instances };
}

describe('rate limits shared by several instances', () => {
  // A store write takes milliseconds, more than the 3 ms between two requests here: the
  // instances' first shares are granted before either sees the other's. With writes seen at
  // once (latency 0) the second may see the first's share and take half of what it left, so
  // the pair reaches 3/4 of the limit until the next readings; only the upper bound holds then.
  it('two instances, 100 requests alternating as fast as they come: the limit of 60, not 120 (any phases, any latency)', () => {
    for (const phaseB of [0, 1, 37, 250, 499])
      for (const latency of [0, 5, 20, 120])
        for (const startAt of [0, 3, 260, 740]) {
          const { sim, instances } = cluster(2, { default: { burstPerMinute: 60 } }, (i) => ({
            phaseMs: i === 0 ? 0 : phaseB,
            writeLatencyMs: latency,
          }));
          // Both know each other before the traffic starts, as two running instances do.
          sim.runUntil(T0 + 2000 + startAt);
          for (let i = 0; i < 100; i++) {
            sim.at(sim.now + i * 3, () => instances[i % 2]!.request());
          }
          sim.runUntil(sim.now + 400);
          const accepted = instances[0]!.accepted + instances[1]!.accepted;
          const where = `phase ${phaseB}, latency ${latency}, start +${startAt}`;
          expect(accepted, where).toBeLessThanOrEqual(66);
          expect(accepted, where).toBeGreaterThanOrEqual(latency > 0 ? 54 : 45);
        }
  });

  it('refused for its share only: Retry-After is the wait for the next reading, and that reading grants more', () => {
    const { sim, instances } = cluster(2, { default: { burstPerMinute: 60 } }, (i) => ({ phaseMs: i * 250, writeLatencyMs: 5 }));
    const [a] = instances as [Instance, Instance];
    sim.runUntil(T0 + 2000 + 100);
    // Alone busy on A: its first share is half the limit.
    let accepted = 0;
    while (a.request()) accepted++;
    expect(accepted).toBe(30);
    expect(a.refusals.at(-1)).toMatchObject({ window: 'burst', retryAfterSeconds: 1 });
    // A's next reading (at +500) grants half of what is left, and so on: 30, 45, 53, 57, ...
    const after = [] as number[];
    for (let k = 1; k <= 4; k++) {
      sim.runUntil(T0 + 2000 + k * 500 + 1);
      while (a.request()) accepted++;
      after.push(accepted);
    }
    expect(after).toEqual([45, 53, 57, 59]);
    // Once the limit itself is reached, Retry-After is the window's own wait, not the next reading.
    sim.runUntil(T0 + 2000 + 5 * 500 + 1);
    while (a.request()) accepted++;
    expect(accepted).toBe(60);
    // Now 12:00:04.5, 60 counted in the minute of 12:00: one more fits once they weigh 59, at 12:01:01.
    expect(a.refusals.at(-1)).toMatchObject({ window: 'burst', retryAfterSeconds: 57 });
  });

  it('a client spread over N instances gets the limit within 10 %, whatever the mix (seeded)', () => {
    const { random, note } = seededRandom('shared rate limits');
    let worst = 0;
    for (let round = 0; round < 60; round++) {
      const n = 2 + Math.floor(random() * 4);
      const limit = 20 + Math.floor(random() * 480);
      const { sim, instances } = cluster(n, { default: { burstPerMinute: limit } }, () => ({
        phaseMs: Math.floor(random() * 500),
        writeLatencyMs: Math.floor(random() * 30),
      }));
      sim.runUntil(T0 + 2000);
      // Each instance gets its own rate (some idle), bursts starting at random moments.
      const perMinute = new Map<number, number>();
      const count = (at: number) => perMinute.set(windowStart(at, MINUTE), (perMinute.get(windowStart(at, MINUTE)) ?? 0) + 1);
      for (const instance of instances) {
        const gapMs = random() < 0.3 ? 0 : 1 + Math.floor(random() * 200);
        if (gapMs === 0) continue;
        for (let at = T0 + 2000 + Math.floor(random() * 1000); at < T0 + 4 * MINUTE; at += gapMs)
          sim.at(at, () => {
            if (instance.request()) count(at);
          });
      }
      sim.runUntil(T0 + 4 * MINUTE);
      for (const [start, accepted] of perMinute) {
        worst = Math.max(worst, accepted / limit);
        expect(
          accepted,
          `${note} round ${round}: ${n} instances, limit ${limit}, minute ${new Date(start).toISOString()}`,
        ).toBeLessThanOrEqual(Math.floor(limit * 1.1) + n);
      }
    }
    // And the limit is reached: some minutes come within 10 % of it.
    expect(worst).toBeGreaterThan(0.9);
  });

  it('one busy client on one of several instances still reaches 90 % of the limit within a minute', () => {
    for (const n of [2, 3, 5]) {
      const { sim, instances } = cluster(n, { default: { burstPerMinute: 600 } }, (i) => ({ phaseMs: i * 97, writeLatencyMs: 5 }));
      sim.runUntil(T0 + MINUTE);
      const busy = instances[n - 1]!;
      for (let at = T0 + MINUTE; at < T0 + 2 * MINUTE; at += 10) sim.at(at, () => busy.request());
      sim.runUntil(T0 + 2 * MINUTE - 1);
      expect(busy.accepted, `${n} instances`).toBeGreaterThanOrEqual(540);
      expect(busy.accepted, `${n} instances`).toBeLessThanOrEqual(600);
    }
  });

  it('an idle instance gives its reservation back; a stopped one keeps only what it counted', () => {
    const { sim, instances } = cluster(2, { default: { burstPerMinute: 60 } }, (i) => ({ phaseMs: i * 250, writeLatencyMs: 1 }));
    const [a, b] = instances as [Instance, Instance];
    sim.runUntil(T0 + 2000 + 10);
    for (let i = 0; i < 10; i++) expect(a.request()).toBe(true);
    // A's share was 30; idle through its next reading, it keeps 10 and lets the other 20 go.
    sim.runUntil(T0 + 3000 + 300);
    let onB = 0;
    while (b.request()) onB++;
    // Left: 60 − 10 = 50, B's first share half of it.
    expect(onB).toBe(25);
    a.stop();
    sim.runUntil(T0 + 3000 + 800);
    // B alone now: a stopped instance no longer divides the limit.
    while (b.request()) onB++;
    expect(a.accepted + onB).toBe(60);
  });

  it('a restart restores what the instance counted: 40 of 50 a day, 10 more after it', () => {
    const limits = { default: { perDay: 50 } };
    const table = new Table();
    const before = new RateLimiter(limits);
    for (let i = 0; i < 40; i++) expect(before.take('beta', T0 + i).allowed).toBe(true);
    table.write('a', before.unwritten());
    const after = new RateLimiter(limits);
    after.restore(
      table.read(T0 + 5000).filter((r) => r.instance === 'a'),
      T0 + 5000,
    );
    let accepted = 0;
    for (let i = 0; i < 40; i++) if (after.take('beta', T0 + 5000 + i).allowed) accepted++;
    expect(accepted).toBe(10);
    // What it writes next is the whole day's count, not only what it counted since.
    expect(after.unwritten().filter((r) => r.window === 'day')).toEqual([expect.objectContaining({ project: 'beta', count: 50 })]);
  });

  it('alone, with or without a reading, it decides exactly as a limiter without a store (seeded)', () => {
    const { random, note } = seededRandom('lone shared limiter');
    for (let round = 0; round < 100; round++) {
      const limits = { default: { burstPerMinute: 1 + Math.floor(random() * 20), perDay: 1 + Math.floor(random() * 200) } };
      const plain = new RateLimiter(limits);
      const shared = new RateLimiter(limits);
      const table = new Table();
      let now = T0 + Math.floor(random() * DAY);
      for (let step = 0; step < 80; step++) {
        now += Math.floor(random() * (random() < 0.1 ? DAY / 3 : 10_000));
        if (random() < 0.3) {
          shared.applyShared(sharedCountsOf([], { instances: 1, nextReadAt: now + 500, expiresAt: now + 5000 }), now);
          const rows = shared.unwritten();
          table.write('me', rows);
          shared.markWritten(rows);
        }
        expect(shared.take('p', now), `${note} round ${round} step ${step}`).toEqual(plain.take('p', now));
      }
    }
  });

  it('a stopped instance’s counts still count, live ones’ shares too, and a reading too old makes an instance count alone', () => {
    const limits = { default: { burstPerMinute: 10 } };
    const limiter = new RateLimiter(limits);
    const start = windowStart(T0, MINUTE);
    const rows = [
      { project: 'p', window: 'burst' as const, windowStart: start, count: 4, reserved: 9, instance: 'gone', isLive: false },
      { project: 'p', window: 'burst' as const, windowStart: start, count: 1, reserved: 3, instance: 'peer', isLive: true },
    ];
    const reading = sharedCountsOf(rows, { instances: 2, nextReadAt: T0 + 500, expiresAt: T0 + 5000 });
    expect(reading.others.get('p')?.burst.get(start)).toEqual({ counted: 5, spent: 7 });
    limiter.applyShared(reading, T0);
    // 10 − 4 counted − 3 reserved = 3 free, half of it (rounded up) this instance's share.
    expect([1, 2, 3].map(() => limiter.take('p', T0 + 10).allowed)).toEqual([true, true, false]);
    // Over its share (the others' leave no more), not over what was counted: wait for the next reading.
    expect(limiter.take('p', T0 + 20)).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    // Ten readings missed: the instance counts alone, its 2 and the 5 the others counted.
    expect([1, 2, 3, 4].map((i) => limiter.take('p', T0 + 5000 + i).allowed)).toEqual([true, true, true, false]);
  });

  it('writes only what changed, and the final count of a window that ended after the last write', () => {
    const limiter = new RateLimiter({ default: { burstPerMinute: 100 } });
    const start = windowStart(T0, MINUTE);
    expect(limiter.unwritten()).toEqual([]);
    limiter.take('p', T0);
    const first = limiter.unwritten();
    expect(first).toEqual([
      { project: 'p', window: 'burst', windowStart: start, count: 1, reserved: 100 },
      { project: 'p', window: 'day', windowStart: windowStart(T0, DAY), count: 1, reserved: 1 },
    ]);
    limiter.markWritten(first);
    expect(limiter.unwritten()).toEqual([]);
    limiter.take('p', T0 + 59_000);
    limiter.take('p', T0 + 61_000);
    const rows = limiter.unwritten().filter((r) => r.window === 'burst');
    expect(rows).toEqual([
      { project: 'p', window: 'burst', windowStart: start, count: 2, reserved: 2 },
      { project: 'p', window: 'burst', windowStart: start + MINUTE, count: 1, reserved: expect.any(Number) },
    ]);
  });
});
