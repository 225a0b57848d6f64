import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { windowStart, WINDOW_MS } from '../../src/domain/rate-limits.js';
import type { EventStore } from '../../src/store/event-store.js';
import { rateCountsOf, type RateCountStore, type StoredWindowCount } from '../../src/store/rate-counts.js';

/** What an adapter's test file hands the counter-table contract. */
export interface RateCountStoreUnderTest {
  /** A store over fresh storage; the suite runs `migrate()` on it and closes it. */
  store: EventStore;
  cleanup: () => Promise<void>;
}

const NOW = Date.parse('2026-11-20T12:34:56Z');
const MINUTE = windowStart(NOW, WINDOW_MS.burst);
const DAY = windowStart(NOW, WINDOW_MS.day);
const CURRENT = [
  { window: 'burst' as const, windowStart: MINUTE },
  { window: 'burst' as const, windowStart: MINUTE - WINDOW_MS.burst },
  { window: 'day' as const, windowStart: DAY },
  { window: 'day' as const, windowStart: DAY - WINDOW_MS.day },
];

function sorted(rows: StoredWindowCount[]): StoredWindowCount[] {
  return [...rows].sort((a, b) =>
    `${a.project}/${a.window}/${a.windowStart}/${a.instance}`.localeCompare(`${b.project}/${b.window}/${b.windowStart}/${b.instance}`),
  );
}

/** The rate limits' counter table (store/rate-counts.ts): what both adapters must do alike. */
export function describeRateCountContract(name: string, open: () => Promise<RateCountStoreUnderTest>): void {
  describe(`rate counter table: ${name}`, () => {
    let harness: RateCountStoreUnderTest | undefined;
    let counts: RateCountStore;

    beforeAll(async () => {
      harness = await open();
      await harness.store.migrate();
      counts = rateCountsOf(harness.store)!;
    });

    afterAll(async () => {
      await harness?.store.close();
      await harness?.cleanup();
    });

    it('gives back each instance’s rows for the windows asked, and only those', async () => {
      const project = 'p-read';
      await counts.writeCounts(
        'a',
        [
          { project, window: 'burst', windowStart: MINUTE, count: 3, reserved: 30 },
          { project, window: 'day', windowStart: DAY, count: 40, reserved: 40 },
          // An older minute: not current, not previous.
          { project, window: 'burst', windowStart: MINUTE - 5 * WINDOW_MS.burst, count: 9, reserved: 9 },
        ],
        NOW,
      );
      await counts.writeCounts('b', [{ project, window: 'burst', windowStart: MINUTE - WINDOW_MS.burst, count: 7, reserved: 7 }], NOW);
      const rows = (await counts.readCounts(CURRENT)).filter((r) => r.project === project);
      expect(sorted(rows)).toEqual(
        sorted([
          { project, window: 'burst', windowStart: MINUTE, instance: 'a', count: 3, reserved: 30 },
          { project, window: 'day', windowStart: DAY, instance: 'a', count: 40, reserved: 40 },
          { project, window: 'burst', windowStart: MINUTE - WINDOW_MS.burst, instance: 'b', count: 7, reserved: 7 },
        ]),
      );
    });

    it('a count never goes down; the latest reservation replaces the one before', async () => {
      const project = 'p-max';
      const row = { project, window: 'burst' as const, windowStart: MINUTE };
      await counts.writeCounts('a', [{ ...row, count: 5, reserved: 30 }], NOW + 1);
      await counts.writeCounts('a', [{ ...row, count: 5, reserved: 5 }], NOW + 2);
      // A late write of an older count (a restart that lost its last write) changes no count.
      await counts.writeCounts('a', [{ ...row, count: 3, reserved: 12 }], NOW + 3);
      const rows = (await counts.readCounts(CURRENT)).filter((r) => r.project === project);
      expect(rows).toEqual([{ ...row, instance: 'a', count: 5, reserved: 12 }]);
    });

    it('keeps project names as written', async () => {
      const project = `it's "quoted" \\ ; DROP TABLE rate_counts; --`;
      await counts.writeCounts('a', [{ project, window: 'day', windowStart: DAY, count: 1, reserved: 2 }], NOW);
      const rows = (await counts.readCounts(CURRENT)).filter((r) => r.project === project);
      expect(rows).toEqual([{ project, window: 'day', windowStart: DAY, instance: 'a', count: 1, reserved: 2 }]);
    });

    it('tells each instance’s latest heartbeat, stopped or not', async () => {
      await counts.beat({ instance: 'beat-a', seenAt: NOW, isStopped: false });
      await counts.beat({ instance: 'beat-a', seenAt: NOW + 5000, isStopped: true });
      await counts.beat({ instance: 'beat-b', seenAt: NOW + 1000, isStopped: true });
      await counts.beat({ instance: 'beat-b', seenAt: NOW + 6000, isStopped: false });
      const beats = (await counts.instances()).filter((b) => b.instance.startsWith('beat-'));
      expect(beats.sort((a, b) => a.instance.localeCompare(b.instance))).toEqual([
        { instance: 'beat-a', seenAt: NOW + 5000, isStopped: true },
        { instance: 'beat-b', seenAt: NOW + 6000, isStopped: false },
      ]);
    });

    it('prunes windows that can no longer be current or previous, and keeps those that can', async () => {
      const project = 'p-prune';
      const old = DAY - 3 * WINDOW_MS.day;
      await counts.writeCounts(
        'a',
        [
          { project, window: 'day', windowStart: old, count: 1, reserved: 1 },
          { project, window: 'burst', windowStart: old + WINDOW_MS.burst, count: 1, reserved: 1 },
          { project, window: 'day', windowStart: DAY - WINDOW_MS.day, count: 2, reserved: 2 },
          { project, window: 'burst', windowStart: MINUTE, count: 3, reserved: 3 },
        ],
        NOW,
      );
      await counts.prune(NOW);
      const oldWindows = [
        { window: 'day' as const, windowStart: old },
        { window: 'burst' as const, windowStart: old + WINDOW_MS.burst },
      ];
      expect((await counts.readCounts(oldWindows)).filter((r) => r.project === project)).toEqual([]);
      const kept = (await counts.readCounts(CURRENT)).filter((r) => r.project === project);
      expect(kept.map((r) => r.count).sort()).toEqual([2, 3]);
    });
  });
}
