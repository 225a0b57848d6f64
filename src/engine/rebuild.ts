import type { Logger } from 'pino';
import type { EventStore } from '../store/event-store.js';
import { timeOfEventId } from '../domain/event-id.js';
import type { Projection } from './projection.js';

const SNAPSHOT_VERSION = 2;
const ITEMS_PER_CHUNK = 2000;

/** The id of the last event every projection has seen; snapshots record it. */
export class LogPosition {
  lastEventId: string | null = null;

  /** Notes an event applied (replayed or newly made). */
  note(eventId: string): void {
    if (this.lastEventId === null || eventId > this.lastEventId) this.lastEventId = eventId;
  }

  /**
   * Ids this instance made itself and has applied already, kept only while a log tail runs
   * (engine/log-tail.ts), which skips them and forgets them once they are out of its window.
   */
  readonly made = new Set<string>();
  tracksMade = false;

  /** Notes an event this instance made (and applied) itself. */
  noteMade(eventId: string): void {
    if (this.tracksMade) this.made.add(eventId);
    this.note(eventId);
  }
}

/**
 * Rebuilds every projection: the latest snapshot, then one scan of the log after it. Never
 * replays all history when a snapshot exists. `witness` (the log tail) learns what it covered.
 */
export async function rebuildProjections(
  store: EventStore,
  projections: Projection[],
  position: LogPosition,
  logger: Logger,
  witness?: { noteSnapshot(eventId: string): void; noteReplayed(eventId: string): void },
): Promise<{ replayed: number; fromSnapshot: boolean }> {
  const started = performance.now();
  const snapshot = await store.loadLatestSnapshot();
  if (snapshot) {
    const bySection = new Map(projections.map((p) => [p.section, p]));
    for (const chunk of snapshot.chunks) {
      const parsed = JSON.parse(chunk) as { version: number; section: string; items: unknown[] };
      if (parsed.version !== SNAPSHOT_VERSION)
        throw new Error(`unsupported snapshot version ${parsed.version}; remove it to rebuild from the log`);
      bySection.get(parsed.section)?.restoreItems(parsed.items);
    }
    position.note(snapshot.upToEventId);
    witness?.noteSnapshot(snapshot.upToEventId);
  }
  const snapshotMs = performance.now() - started;
  let replayed = 0;
  for await (const page of store.scan(position.lastEventId, 10_000)) {
    for (const event of page) {
      for (const p of projections) p.applyLogEvent(event);
      position.note(event.eventId);
      witness?.noteReplayed(event.eventId);
    }
    replayed += page.length;
  }
  const replayMs = performance.now() - started - snapshotMs;
  // Read before any projection begins: beginning writes events, which move the position.
  const lastRunAt = position.lastEventId === null ? null : timeOfEventId(position.lastEventId);
  for (const p of projections) await p.begin(lastRunAt);
  const ms = (t: number) => Math.round(t);
  logger.info(
    {
      replayed,
      fromSnapshot: Boolean(snapshot),
      snapshotMs: ms(snapshotMs),
      replayMs: ms(replayMs),
      beginMs: ms(performance.now() - started - snapshotMs - replayMs),
    },
    'projections rebuilt from the event log',
  );
  return { replayed, fromSnapshot: Boolean(snapshot) };
}

/** Every projection's state as snapshot chunks. */
export function snapshotChunks(projections: Projection[]): string[] {
  const chunks: string[] = [];
  for (const p of projections) {
    const items = p.snapshotItems();
    for (let i = 0; i < items.length; i += ITEMS_PER_CHUNK) {
      chunks.push(JSON.stringify({ version: SNAPSHOT_VERSION, section: p.section, items: items.slice(i, i + ITEMS_PER_CHUNK) }));
    }
  }
  return chunks;
}
