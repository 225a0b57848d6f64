import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Projection } from '../../src/engine/projection.js';
import { LogPosition } from '../../src/engine/rebuild.js';
import { Snapshotter } from '../../src/engine/snapshotter.js';
import { BatchWriter } from '../../src/store/batch-writer.js';
import type { EventStore, Snapshot } from '../../src/store/event-store.js';
import { ManualStoreClock } from '../support/manual-store-clock.js';

/** A projection holding a fixed list of items. */
const projection: Projection = {
  section: 'things',
  applyLogEvent: () => undefined,
  snapshotItems: () => [{ id: 1 }, { id: 2 }],
  restoreItems: () => undefined,
  begin: async () => undefined,
};

function setup(everyEvents: number) {
  const saved: Snapshot[] = [];
  const store = {
    append: async () => undefined,
    saveSnapshot: async (s: Snapshot) => {
      saved.push(s);
    },
  } as unknown as EventStore;
  const clock = new ManualStoreClock(Date.UTC(2026, 5, 1));
  const position = new LogPosition();
  position.note('0000000000000000000000000a');
  const snapshotter = new Snapshotter([projection], position, store, new BatchWriter(store), pino({ level: 'silent' }), everyEvents, clock);
  return { saved, clock, snapshotter };
}

describe('Snapshotter', () => {
  it('checks every interval on its clock and saves once enough events were appended, stamped with that clock', async () => {
    const { saved, clock, snapshotter } = setup(100);
    snapshotter.start(1000);
    snapshotter.noteAppended(99);
    await clock.advance(1000);
    expect(saved).toEqual([]);
    snapshotter.noteAppended(1);
    await clock.advance(999);
    expect(saved).toEqual([]);
    await clock.advance(1);
    expect(saved).toHaveLength(1);
    expect(saved[0]).toMatchObject({ upToEventId: '0000000000000000000000000a', takenAt: Date.UTC(2026, 5, 1) + 2000 });
    expect(JSON.parse(saved[0]!.chunks[0]!)).toMatchObject({ section: 'things', items: [{ id: 1 }, { id: 2 }] });
    // The count starts again after a save.
    await clock.advance(1000);
    expect(saved).toHaveLength(1);
    snapshotter.stop();
    snapshotter.noteAppended(100);
    await clock.advance(5000);
    expect(saved).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('never checks when snapshots are off (every 0 events)', async () => {
    const { clock, snapshotter } = setup(0);
    snapshotter.start(1000);
    expect(clock.pendingTimers).toBe(0);
    expect(await snapshotter.take()).toBe(false);
  });
});
