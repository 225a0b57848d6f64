import type { MiddlewareHandler } from 'hono';
import type { Clock } from '../domain/time/clock.js';
import { DomainError } from '../domain/problems.js';
import type { RateLimiter, WindowName } from '../domain/rate-limits.js';
import type { AppEnv } from './env.js';
import { rulesOf } from './route-rules.js';

// The counting itself is pure and lives in the domain; shared counts are kept by engine/rate-limit-sync.ts.
export { RateLimiter, type RateDecision, type WindowName } from '../domain/rate-limits.js';

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
