import type { MiddlewareHandler } from 'hono';
import type { Clock } from '../domain/time/clock.js';
import { DomainError } from '../domain/problems.js';
import type { LimitsConfig, WindowLimits } from '../domain/tokens.js';
import type { AppEnv } from './env.js';
import { rulesOf } from './route-rules.js';

/**
 * Per-project rate limits (README, API): a burst window of one minute and a long window of one
 * day. Each window is a sliding-window counter — the count of the current fixed window plus
 * the previous window's count weighted by how much of it the sliding window still covers — so
 * a request costs O(1), a project costs two pairs of numbers, and nothing runs on a timer.
 * Counting is approximate (it assumes the previous window's requests were spread evenly), which
 * the contract allows; unlike a plain fixed window it never lets twice the limit through
 * around a window boundary. Refused requests are not counted, so a job that backs off as told
 * by Retry-After gets through when the window allows.
 */

export type WindowName = 'burst' | 'day';

const WINDOW_MS: Record<WindowName, number> = { burst: 60_000, day: 86_400_000 };
const LIMIT_FIELD: Record<WindowName, keyof WindowLimits> = { burst: 'burstPerMinute', day: 'perDay' };

/** The outcome of one request against a project's limits. */
export type RateDecision = { allowed: true } | { allowed: false; window: WindowName; limit: number; retryAfterSeconds: number };

interface WindowCounter {
  /** Start of the current fixed window, epoch ms (a multiple of the window length). */
  start: number;
  current: number;
  previous: number;
}

interface ProjectCounters {
  burst: WindowCounter;
  day: WindowCounter;
}

/** Counts requests per project and refuses those over a limit. Single-threaded: no locking. */
export class RateLimiter {
  private limits: LimitsConfig = {};
  private anyLimit = false;
  private readonly counters = new Map<string, ProjectCounters>();

  constructor(limits?: LimitsConfig) {
    this.configure(limits);
  }

  /** Replaces the limits (config reload); counts already made are kept. */
  configure(limits: LimitsConfig | undefined): void {
    this.limits = limits ?? {};
    const all = [this.limits.default, ...Object.values(this.limits.projects ?? {})];
    this.anyLimit = all.some((l) => l?.burstPerMinute !== undefined || l?.perDay !== undefined);
  }

  /** The limits that apply to `project`: its own fields, else the default's. */
  limitsFor(project: string): WindowLimits {
    return { ...this.limits.default, ...this.limits.projects?.[project] };
  }

  /** Counts one request of `project` at `now`, or refuses it with the time until it would pass. */
  take(project: string, now: number): RateDecision {
    // Without any limit configured nothing is counted: the ping hot path pays nothing.
    if (!this.anyLimit) return { allowed: true };
    let counters = this.counters.get(project);
    if (!counters) {
      counters = {
        burst: { start: windowStart(now, WINDOW_MS.burst), current: 0, previous: 0 },
        day: { start: windowStart(now, WINDOW_MS.day), current: 0, previous: 0 },
      };
      this.counters.set(project, counters);
    }
    const limits = this.limitsFor(project);
    let refused: { window: WindowName; limit: number; waitMs: number } | null = null;
    for (const name of ['burst', 'day'] as const) {
      const counter = counters[name];
      const windowMs = WINDOW_MS[name];
      const elapsed = roll(counter, now, windowMs);
      const limit = limits[LIMIT_FIELD[name]];
      if (limit === undefined || allows(counter.previous, counter.current, elapsed, windowMs, limit)) continue;
      const waitMs = msUntilAllowed(counter, elapsed, windowMs, limit);
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
}

function windowStart(now: number, windowMs: number): number {
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
function msUntilAllowed(counter: WindowCounter, elapsedMs: number, windowMs: number, limit: number): number {
  const { previous, current } = counter;
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

/**
 * Middleware: counts each request that acts for a project (after authentication, so requests
 * without a valid token never spend a project's budget) and answers 429 with Retry-After when
 * over a limit. Open paths (ping URLs) have no project yet; their routes call
 * `c.get('rateLimit')(project)` once they have resolved it.
 */
export function rateLimit(
  limiter: RateLimiter,
  clock: Clock,
  onRefused: (project: string, window: WindowName) => void,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const charge = (project: string): void => {
      const decision = limiter.take(project, clock.now());
      if (decision.allowed) return;
      onRefused(project, decision.window);
      const what = decision.window === 'burst' ? `${decision.limit} requests per minute` : `${decision.limit} requests per day`;
      throw new DomainError(
        'rate_limited',
        `project "${project}" is over its limit of ${what}; retry after ${decision.retryAfterSeconds}s`,
        [],
        decision.retryAfterSeconds,
      );
    };
    c.set('rateLimit', charge);
    if (c.get('principal') && rulesOf(c).rateLimit === 'project') charge(c.get('project'));
    await next();
  };
}
