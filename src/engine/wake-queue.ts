interface WakeEntry {
  at: number;
  key: string;
}

/**
 * Earliest-deadline-first queue of entity wake-ups. Each key has at most one live entry, the
 * one `live` maps it to: rescheduling replaces it and the old heap entry is skipped when
 * popped, so a change never has to search the heap (the "re-check before acting" rule).
 */
export class WakeQueue {
  private heap: WakeEntry[] = [];
  private live = new Map<string, WakeEntry>();

  /** Number of keys with a pending wake-up. */
  get size(): number {
    return this.live.size;
  }

  /** Schedules `key` to wake at `at` (replacing any earlier schedule), or cancels it when null. */
  schedule(key: string, at: number | null): void {
    if (at === null) {
      this.live.delete(key);
      return;
    }
    const entry = { at, key };
    this.live.set(key, entry);
    this.push(entry);
    // Stale entries accumulate when keys are rescheduled often; rebuild when they dominate.
    if (this.heap.length > 64 && this.heap.length > 4 * this.live.size) this.compact();
  }

  /** Forgets `key` entirely. */
  remove(key: string): void {
    this.live.delete(key);
  }

  /** The earliest live wake-up time, or null. */
  peekAt(): number | null {
    this.dropStale();
    return this.heap[0]?.at ?? null;
  }

  /** Removes and returns every key due at or before `now`, earliest first. */
  popDue(now: number): string[] {
    return this.popDueAt(now).map((due) => due.key);
  }

  /** Like popDue, with the instant each key was due at. */
  popDueAt(now: number): { key: string; at: number }[] {
    const due: { key: string; at: number }[] = [];
    for (;;) {
      this.dropStale();
      const top = this.heap[0];
      if (!top || top.at > now) return due;
      this.pop();
      this.live.delete(top.key);
      due.push({ key: top.key, at: top.at });
    }
  }

  private isLive(entry: WakeEntry): boolean {
    return this.live.get(entry.key) === entry;
  }

  private dropStale(): void {
    while (this.heap.length > 0 && !this.isLive(this.heap[0]!)) this.pop();
  }

  private compact(): void {
    this.heap = this.heap.filter((e) => this.isLive(e));
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private push(entry: WakeEntry): void {
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.at <= h[i]!.at) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    this.siftDown(0);
  }

  private siftDown(start: number): void {
    const h = this.heap;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]!.at < h[m]!.at) m = l;
      if (r < h.length && h[r]!.at < h[m]!.at) m = r;
      if (m === i) return;
      [h[m], h[i]] = [h[i]!, h[m]!];
      i = m;
    }
  }
}
