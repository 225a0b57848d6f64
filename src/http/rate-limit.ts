import type { MiddlewareHandler } from 'hono';
import type { Clock } from '../domain/time/clock.js';
import { DomainError } from '../domain/problems.js';
import type { RateLimiter, WindowName } from '../domain/rate-limits.js';
import type { AppEnv } from './env.js';
import { rulesOf } from './route-rules.js';

// The counting itself is pure and lives in the domain; shared counts are kept by engine/rate-limit-sync.ts.
export { RateLimiter, type RateDecision, type WindowName } from '../domain/rate-limits.js';

/**
 * A function that counts one request of a project against its rate limits and throws
 * `rate_limited` (429 with Retry-After) when it is over one; `onRefused` hears each refusal.
 */
export function projectCharger(
  limiter: RateLimiter,
  clock: Clock,
  onRefused: (project: string, window: WindowName) => void,
): (project: string) => void {
  return (project) => {
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
  const charge = projectCharger(limiter, clock, onRefused);
  return async (c, next) => {
    c.set('rateLimit', charge);
    if (c.get('principal') && rulesOf(c).rateLimit === 'project') charge(c.get('project'));
    await next();
  };
}
