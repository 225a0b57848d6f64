import type { LimitsConfig, WindowLimits } from './tokens.js';

/**
 * Per-project rate limits (docs/security.md, "Rate limits"): a burst window of one minute and a
 * long window of one day. Each window is a sliding-window counter — the count of the current
 * fixed window plus the previous window's count weighted by how much of it the sliding window
 * still covers — so a request costs O(1), a project costs two pairs of numbers, and nothing
 * runs on a timer. Counting is approximate (it assumes the previous window's requests were
 * spread evenly), which the contract allows; unlike a plain fixed window it never lets twice
 * the limit through around a window boundary. Refused requests are not counted, so a job that
 * backs off as told by Retry-After gets through when the window allows.
 *
 * Several instances sharing a store (engine/rate-limit-sync.ts) each count what they accept
 * and read what the others counted. Between two reads an instance cannot know what the others
 * accept, so it reserves a share: when it starts serving a project in a window, and at every
 * read while it keeps serving it, it may go up to its own count plus ⌈free / N⌉, where free is
 * what the limit leaves after everyone's counts and the others' reservations and N the number
 * of live instances. It publishes that reservation at once, and the others count it as spent.
 * N instances granting at the same moment from the same reading take at most `free` (plus
 * N − 1 for the rounding up) between them, so the sum of the reservations stays within the
 * limit; an instance idle since the last read gives its reservation back. Alone (N = 1) an
 * instance counts exactly as without a store.
 */

export type WindowName = 'burst' | 'day';

export const WINDOW_NAMES = ['burst', 'day'] as const satisfies readonly WindowName[];
export const WINDOW_MS: Readonly<Record<WindowName, number>> = { burst: 60_000, day: 86_400_000 };
const LIMIT_FIELD: Record<WindowName, keyof WindowLimits> = { burst: 'burstPerMinute', day: 'perDay' };

/** The outcome of one request against a project's limits. */
export type RateDecision = { allowed: true } | { allowed: false; window: WindowName; limit: number; retryAfterSeconds: number };

/** One instance's count for one project's window, as the counter table holds it. */
export interface WindowCount {
  project: string;
  window: WindowName;
  /** Start of the fixed window, epoch ms (a multiple of the window's length). */
  windowStart: number;
  /** Requests accepted in it. */
  count: number;
  /** The count it may reach before its next grant (≥ count); equal to count once idle. */
  reserved: number;
}

/** What the other instances counted, summed per project, window and window start. */
export interface OthersCount {
  counted: number;
  /** Counted by stopped instances plus reserved by live ones: what this instance must treat as spent. */
  spent: number;
}

/** The other instances as last read from the store. */
export interface SharedCounts {
  /** Live instances, this one included (≥ 1). */
  instances: number;
  /** When this instance expects its next read: what a refusal for its share tells the client to wait for. */
  nextReadAt: number;
  /** Past this the reading is too old to share by: the instance counts alone until the next one. */
  expiresAt: number;
  /** project → window → window start → the others' counts. */
  others: ReadonlyMap<string, Readonly<Record<WindowName, ReadonlyMap<number, OthersCount>>>>;
}

interface WindowCounter {
  /** Start of the current fixed window, epoch ms (a multiple of the window length). */
  start: number;
  current: number;
  previous: number;
  /** The highest `current` this instance may reach before its next grant while it shares. */
  cap: number;
  /** The last row stored for this window (start, count, reservation), or none yet. */
  written: { start: number; count: number; reserved: number } | null;
}

interface ProjectCounters {
  burst: WindowCounter;
  day: WindowCounter;
  /** A request was tried since the last reading: the next reading grants another share. */
  isActive: boolean;
  /** The caps are a share granted (not a reservation given back): requests may use them. */
  hasShare: boolean;
}

const NO_OTHERS: OthersCount = { counted: 0, spent: 0 };

/** Counts requests per project and refuses those over a limit. Single-threaded: no locking. */
export class RateLimiter {
  private limits: LimitsConfig = {};
  private anyLimit = false;
  private readonly counters = new Map<string, ProjectCounters>();
  private shared: SharedCounts | null = null;
  /** Told when a share was granted between two readings, so it is published without waiting. */
  onGrant: (() => void) | null = null;

  constructor(limits?: LimitsConfig) {
    this.configure(limits);
  }

  /** Replaces the limits (config reload); counts already made are kept. */
  configure(limits: LimitsConfig | undefined): void {
    this.limits = limits ?? {};
    const all = [this.limits.default, ...Object.values(this.limits.projects ?? {})];
    this.anyLimit = all.some((l) => l?.burstPerMinute !== undefined || l?.perDay !== undefined);
  }

  /** Whether any limit is configured: without one nothing is counted, stored or read. */
  get isLimiting(): boolean {
    return this.anyLimit;
  }

  /** The limits that apply to `project`: its own fields, else the default's. */
  limitsFor(project: string): WindowLimits {
    return { ...this.limits.default, ...this.limits.projects?.[project] };
  }

  /** Counts one request of `project` at `now`, or refuses it with the time until it would pass. */
  take(project: string, now: number): RateDecision {
    // Without any limit configured nothing is counted: the ping hot path pays nothing.
    if (!this.anyLimit) return { allowed: true };
    const instances = this.instancesAt(now);
    const counters = this.countersOf(project, now);
    counters.isActive = true;
    const { burst, day } = counters;
    const burstStart = burst.start;
    const dayStart = day.start;
    const burstElapsed = roll(burst, now, WINDOW_MS.burst);
    const dayElapsed = roll(day, now, WINDOW_MS.day);
    if (!counters.hasShare) this.grantBetweenReadings(project, counters, now, instances, WINDOW_NAMES);
    else if (burst.start !== burstStart || day.start !== dayStart)
      this.grantBetweenReadings(project, counters, now, instances, day.start !== dayStart ? WINDOW_NAMES : ['burst']);
    const limits = this.limitsFor(project);
    const others = this.shared?.others.get(project);
    let refused: { window: WindowName; limit: number; waitMs: number } | null = null;
    for (const name of WINDOW_NAMES) {
      const counter = counters[name];
      const windowMs = WINDOW_MS[name];
      const elapsed = name === 'burst' ? burstElapsed : dayElapsed;
      const limit = limits[LIMIT_FIELD[name]];
      if (limit === undefined) continue;
      const theirs = others?.[name];
      const previous = counter.previous + (theirs?.get(counter.start - windowMs)?.counted ?? 0);
      const during = theirs?.get(counter.start) ?? NO_OTHERS;
      const counted = counter.current + during.counted;
      let waitMs: number;
      // Over the limit by what was accepted: the wait is the window's (exact when alone).
      if (!allows(previous, counted, elapsed, windowMs, limit)) waitMs = msUntilAllowed(previous, counted, elapsed, windowMs, limit);
      // Over this instance's share, or over what the others' shares leave: those may be given
      // back, which this instance learns at its next reading.
      else if (
        instances > 1 &&
        (counter.current + 1 > counter.cap || !allows(previous, counter.current + during.spent, elapsed, windowMs, limit))
      )
        waitMs = Math.max(1, this.shared!.nextReadAt - now);
      else continue;
      // Both windows refusing: the request passes only when both allow, so report the later.
      if (!refused || waitMs > refused.waitMs) refused = { window: name, limit, waitMs };
    }
    if (refused)
      return {
        allowed: false,
        window: refused.window,
        limit: refused.limit,
        retryAfterSeconds: Math.max(1, Math.ceil(refused.waitMs / 1000)),
      };
    counters.burst.current++;
    counters.day.current++;
    return { allowed: true };
  }

  /**
   * Takes a fresh reading of the other instances: each project served since the previous
   * reading is granted its next share, each idle one gives its reservation back.
   */
  applyShared(shared: SharedCounts, now: number): void {
    this.shared = shared;
    const instances = this.instancesAt(now);
    for (const [project, counters] of this.counters) {
      for (const name of WINDOW_NAMES) {
        const counter = counters[name];
        roll(counter, now, WINDOW_MS[name]);
        // A share is never taken back while in use: the others already count it as spent.
        counter.cap = counters.isActive ? Math.max(counter.cap, this.capOf(project, counters, name, now, instances)) : counter.current;
      }
      counters.hasShare = counters.isActive;
      counters.isActive = false;
    }
  }

  /** Adds counts this instance stored before a restart (read back at start-up) to its own. */
  restore(rows: readonly WindowCount[], now: number): void {
    for (const row of rows) {
      const counter = this.countersOf(row.project, now)[row.window];
      const windowMs = WINDOW_MS[row.window];
      roll(counter, now, windowMs);
      if (row.windowStart === counter.start) {
        counter.current += row.count;
        counter.cap = Math.max(counter.cap, counter.current);
        // What the store holds for it; the next write adds what was counted here meanwhile.
        counter.written = { start: row.windowStart, count: row.count, reserved: row.count };
      } else if (row.windowStart === counter.start - windowMs) {
        counter.previous += row.count;
      }
    }
  }

  /** Gives every reservation back (a graceful stop): this instance accepts nothing more. */
  releaseAll(): void {
    for (const counters of this.counters.values()) {
      for (const name of WINDOW_NAMES) counters[name].cap = counters[name].current;
      counters.hasShare = false;
    }
  }

  /**
   * The rows that differ from what was last stored: each window's current count and
   * reservation, and a window's final count when it ended after the last write.
   */
  unwritten(): WindowCount[] {
    const rows: WindowCount[] = [];
    for (const [project, counters] of this.counters) {
      for (const name of WINDOW_NAMES) {
        const c = counters[name];
        const reserved = Math.max(c.cap, c.current);
        const w = c.written;
        const previousStart = c.start - WINDOW_MS[name];
        if (c.previous > 0 && (!w || (w.start === previousStart && w.count < c.previous)))
          rows.push({ project, window: name, windowStart: previousStart, count: c.previous, reserved: c.previous });
        if (w?.start === c.start ? w.count === c.current && w.reserved === reserved : c.current === 0 && reserved === 0) continue;
        rows.push({ project, window: name, windowStart: c.start, count: c.current, reserved });
      }
    }
    return rows;
  }

  /** Notes that `rows` (from `unwritten`) are stored. */
  markWritten(rows: readonly WindowCount[]): void {
    for (const row of rows) {
      const counter = this.counters.get(row.project)?.[row.window];
      // In order: a window's final count, then the next window's row.
      if (counter && (!counter.written || row.windowStart >= counter.written.start))
        counter.written = { start: row.windowStart, count: row.count, reserved: row.reserved };
    }
  }

  private countersOf(project: string, now: number): ProjectCounters {
    let counters = this.counters.get(project);
    if (!counters) {
      counters = { burst: newCounter(now, WINDOW_MS.burst), day: newCounter(now, WINDOW_MS.day), isActive: false, hasShare: false };
      this.counters.set(project, counters);
    }
    return counters;
  }

  /** Live instances to share with: 1 without a reading recent enough. */
  private instancesAt(now: number): number {
    return this.shared && now <= this.shared.expiresAt ? this.shared.instances : 1;
  }

  /**
   * A share granted on a request (the first since a reading found the project idle, or the
   * first of a new window); published at once when there are others to tell.
   */
  private grantBetweenReadings(
    project: string,
    counters: ProjectCounters,
    now: number,
    instances: number,
    names: readonly WindowName[],
  ): void {
    for (const name of names) counters[name].cap = Math.max(counters[name].cap, this.capOf(project, counters, name, now, instances));
    counters.hasShare = true;
    if (instances > 1) this.onGrant?.();
  }

  /** This instance's count plus its share of what the limit leaves, ⌈free / N⌉. */
  private capOf(project: string, counters: ProjectCounters, name: WindowName, now: number, instances: number): number {
    const counter = counters[name];
    const limit = this.limitsFor(project)[LIMIT_FIELD[name]];
    if (limit === undefined) return counter.current;
    const windowMs = WINDOW_MS[name];
    const theirs = this.shared?.others.get(project)?.[name];
    const before = theirs?.get(counter.start - windowMs) ?? NO_OTHERS;
    const during = theirs?.get(counter.start) ?? NO_OTHERS;
    const elapsed = Math.max(0, now - counter.start);
    const previous = counter.previous + before.counted;
    const freeScaled = limit * windowMs - previous * (windowMs - elapsed) - (counter.current + during.spent) * windowMs;
    const free = Math.floor(freeScaled / windowMs);
    return counter.current + (free > 0 ? Math.ceil(free / instances) : 0);
  }
}

/**
 * The others' rows summed per project, window and start. A live instance's reservation counts
 * as spent (it may accept up to it before its next write); a stopped one's count is final.
 */
export function sharedCountsOf(rows: readonly (WindowCount & { isLive: boolean })[], reading: Omit<SharedCounts, 'others'>): SharedCounts {
  const others = new Map<string, Record<WindowName, Map<number, OthersCount>>>();
  for (const row of rows) {
    let project = others.get(row.project);
    if (!project) others.set(row.project, (project = { burst: new Map(), day: new Map() }));
    const sum = project[row.window].get(row.windowStart) ?? { counted: 0, spent: 0 };
    sum.counted += row.count;
    sum.spent += row.isLive ? Math.max(row.count, row.reserved) : row.count;
    project[row.window].set(row.windowStart, sum);
  }
  return { ...reading, others };
}

function newCounter(now: number, windowMs: number): WindowCounter {
  return { start: windowStart(now, windowMs), current: 0, previous: 0, cap: 0, written: null };
}

/** The start of the fixed window holding `now`. */
export function windowStart(now: number, windowMs: number): number {
  return now - (((now % windowMs) + windowMs) % windowMs);
}

/** Moves the counter to the window holding `now`; returns ms elapsed in it. */
function roll(counter: WindowCounter, now: number, windowMs: number): number {
  const start = windowStart(now, windowMs);
  // A clock stepped backwards stays in the window it was in rather than forgetting counts.
  if (start < counter.start) return 0;
  if (start !== counter.start) {
    counter.previous = start - counter.start === windowMs ? counter.current : 0;
    counter.current = 0;
    counter.cap = 0;
    counter.start = start;
  }
  return now - start;
}

/**
 * Would one more request fit? The sliding estimate previous·(W−e)/W + current, plus this
 * request, must not exceed the limit; multiplied out by W so the test is exact in integers
 * (the schema caps limits so every product stays below 2^53).
 */
function allows(previous: number, current: number, elapsedMs: number, windowMs: number, limit: number): boolean {
  return previous * (windowMs - elapsedMs) + (current + 1) * windowMs <= limit * windowMs;
}

/** Milliseconds from `elapsedMs` until `allows` holds again, if no other request is counted meanwhile. */
function msUntilAllowed(previous: number, current: number, elapsedMs: number, windowMs: number, limit: number): number {
  if (current + 1 <= limit && previous > 0) {
    // Later in this window the previous window's weight fades: solve for the first ms it fits.
    let at = windowMs - Math.floor(((limit - current - 1) * windowMs) / previous);
    while (at < windowMs && !allows(previous, current, at, windowMs, limit)) at++;
    if (at < windowMs) return Math.max(1, at - elapsedMs);
  }
  // Not within this window: in the next one, this window's count is the fading previous.
  let at = current <= limit - 1 ? 0 : Math.max(0, windowMs - Math.floor(((limit - 1) * windowMs) / current));
  while (at < windowMs && !allows(current, 0, at, windowMs, limit)) at++;
  return windowMs - elapsedMs + at;
}
