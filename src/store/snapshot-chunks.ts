import type { Snapshot } from './event-store.js';

/**
 * The snapshot rules every adapter follows, whatever its SQL: a snapshot is its chunks plus
 * one marker (a row saying how many chunks it has), written after them, so a save cut short
 * leaves chunks without a marker or a marker without all its chunks, and loads skip both.
 */

/** How many complete snapshots survive a save: the newest plus one to fall back on. */
export const SNAPSHOTS_KEPT = 2;

/** A snapshot's marker as an adapter reads it back. */
export interface SnapshotMarker<Id> {
  id: Id;
  upToEventId: string;
  takenAt: number;
  chunkCount: number;
}

/** One stored chunk of a snapshot. */
export interface StoredChunk {
  index: number;
  chunk: string;
}

/**
 * The newest snapshot whose chunks are all there: `markers` newest first, `loadChunks` reads
 * one snapshot's chunks sorted by index (copies allowed).
 */
export async function latestCompleteSnapshot<Id>(
  markers: readonly SnapshotMarker<Id>[],
  loadChunks: (id: Id) => Promise<readonly StoredChunk[]>,
): Promise<Snapshot | null> {
  for (const marker of markers) {
    const chunks = marker.chunkCount === 0 ? [] : orderedChunks(await loadChunks(marker.id), marker.chunkCount);
    if (chunks) return { upToEventId: marker.upToEventId, takenAt: marker.takenAt, chunks };
  }
  return null;
}

/** The chunk texts in index order, or null when one is missing; a retried save may have stored a chunk twice, the first copy wins. */
export function orderedChunks(rows: readonly StoredChunk[], count: number): string[] | null {
  const chunks: string[] = [];
  for (const row of rows) {
    if (row.index === chunks.length) chunks.push(row.chunk);
  }
  return chunks.length === count ? chunks : null;
}

/**
 * The saves to delete after a save: everything older than the oldest of the newest `kept`
 * complete ones. A save newer than those stays (it may still be in progress in another
 * instance), and nothing goes while fewer than `kept` are complete. `saved` is newest first.
 */
export function snapshotsToDrop<Id>(saved: ReadonlyArray<{ id: Id; complete: boolean }>, kept = SNAPSHOTS_KEPT): Id[] {
  let complete = 0;
  for (const [i, s] of saved.entries()) {
    if (s.complete && ++complete === kept) return saved.slice(i + 1).map((old) => old.id);
  }
  return [];
}
