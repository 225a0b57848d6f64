/**
 * Earliest-deadline-first queue of entity wake-ups. Each key has at most one live wake-up, the
 * instant `live` maps it to: rescheduling replaces it, and a heap entry whose instant is no
 * longer its key's live one is skipped when popped, so a change never has to search the heap
 * (the "re-check before acting" rule).
 *
 * The heap is two parallel arrays (keys, and instants as unboxed doubles) rather than an
 * object per entry: at 100k debts that is 16 bytes an entry instead of 64.
 */
export class WakeQueue {
  private keys: string[] = [];
  private ats: number[] = [];
  private live = new Map<string, number>();

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
    // Already due then: its heap entry is there (a pop removes the live instant with it).
    if (this.live.get(key) === at) return;
    this.live.set(key, at);
    this.push(key, at);
    // Stale entries accumulate when keys are rescheduled often; rebuild when they dominate.
    if (this.keys.length > 64 && this.keys.length > 4 * this.live.size) this.compact();
  }

  /** Forgets `key` entirely. */
  remove(key: string): void {
    this.live.delete(key);
  }

  /** The earliest live wake-up time, or null. */
  peekAt(): number | null {
    this.dropStale();
    return this.keys.length > 0 ? this.ats[0]! : null;
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
      if (this.keys.length === 0 || this.ats[0]! > now) return due;
      const key = this.keys[0]!;
      const at = this.ats[0]!;
      this.pop();
      this.live.delete(key);
      due.push({ key, at });
    }
  }

  private isLive(i: number): boolean {
    return this.live.get(this.keys[i]!) === this.ats[i];
  }

  private dropStale(): void {
    while (this.keys.length > 0 && !this.isLive(0)) this.pop();
  }

  /**
   * Keeps one entry per live wake-up. A key rescheduled a → b → a has two entries at a; both
   * look live, so the second is dropped here by key.
   */
  private compact(): void {
    const keys: string[] = [];
    const ats: number[] = [];
    const kept = new Set<string>();
    for (let i = 0; i < this.keys.length; i++) {
      const key = this.keys[i]!;
      if (!this.isLive(i) || kept.has(key)) continue;
      kept.add(key);
      keys.push(key);
      ats.push(this.ats[i]!);
    }
    this.keys = keys;
    this.ats = ats;
    for (let i = (keys.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private push(key: string, at: number): void {
    const { keys, ats } = this;
    let i = keys.length;
    keys.push(key);
    ats.push(at);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (ats[parent]! <= at) break;
      keys[i] = keys[parent]!;
      ats[i] = ats[parent]!;
      i = parent;
    }
    keys[i] = key;
    ats[i] = at;
  }

  private pop(): void {
    const lastKey = this.keys.pop()!;
    const lastAt = this.ats.pop()!;
    if (this.keys.length === 0) return;
    this.keys[0] = lastKey;
    this.ats[0] = lastAt;
    this.siftDown(0);
  }

  private siftDown(start: number): void {
    const { keys, ats } = this;
    const n = keys.length;
    const key = keys[start]!;
    const at = ats[start]!;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const m = r < n && ats[r]! < ats[l]! ? r : l;
      if (ats[m]! >= at) break;
      keys[i] = keys[m]!;
      ats[i] = ats[m]!;
      i = m;
    }
    keys[i] = key;
    ats[i] = at;
  }
}
