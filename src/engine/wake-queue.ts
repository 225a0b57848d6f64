/**
 * Earliest-deadline-first queue of entity wake-ups. Each key has at most one live entry:
 * rescheduling bumps the key's version and the old heap entry is skipped when popped, so a
 * change never has to search the heap (the "re-check before acting" rule).
 */
export class WakeQueue {
  private heap: { at: number; key: string; version: number }[] = [];
  private versions = new Map<string, number>();
  private liveAt = new Map<string, number>();

  /** Number of keys with a pending wake-up. */
  get size(): number {
    return this.liveAt.size;
  }

  /** Schedules `key` to wake at `at` (replacing any earlier schedule), or cancels it when null. */
  schedule(key: string, at: number | null): void {
    const version = (this.versions.get(key) ?? 0) + 1;
    this.versions.set(key, version);
    if (at === null) {
      this.liveAt.delete(key);
      return;
    }
    this.liveAt.set(key, at);
    this.push({ at, key, version });
    // Stale entries accumulate when keys are rescheduled often; rebuild when they dominate.
    if (this.heap.length > 64 && this.heap.length > 4 * this.liveAt.size) this.compact();
  }

  /** Forgets `key` entirely. */
  remove(key: string): void {
    this.versions.delete(key);
    this.liveAt.delete(key);
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
      this.liveAt.delete(top.key);
      due.push({ key: top.key, at: top.at });
    }
  }

  private isLive(entry: { key: string; version: number }): boolean {
    return this.versions.get(entry.key) === entry.version && this.liveAt.has(entry.key);
  }

  private dropStale(): void {
    while (this.heap.length > 0 && !this.isLive(this.heap[0]!)) this.pop();
  }

  private compact(): void {
    this.heap = this.heap.filter((e) => this.isLive(e));
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private push(entry: { at: number; key: string; version: number }): void {
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
