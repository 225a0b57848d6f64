import type { Context, Handler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Scope } from '../domain/tokens.js';

/**
 * The rules a route declares next to its handler (docs/semantics.md, "Route rules"): who may
 * call it, how big its body may be, and who counts it against a rate limit. The middleware in
 * front of every route reads them from the matched route, so the route and its rules can never
 * disagree.
 */

/** `none`: no bearer token (probes, /metrics with its own token, ping URLs authenticated by the id or key they carry). */
export type RouteScope = Scope | 'none';

/**
 * How a route's body is bounded:
 * - `none`: a body is not expected; it is bounded like a definition and never read.
 * - `definition`: debts, calendars, SLOs; 1 MiB by default (`bodyLimitBytes` of the app).
 * - `batch`: a job-status batch, 2 MiB (or the definition limit when larger).
 * - `payment`: JSON carrying a `message`; accepted up to the hard cap, the message cut to its limit.
 * - `ping`: text read by the route itself: the first Ping-Body-Limit bytes are kept, and a body over
 *   the hard cap does not stop the ping from counting.
 */
export type BodyClass = 'none' | 'definition' | 'batch' | 'payment' | 'ping';

/**
 * Who charges the request against a project's rate limit:
 * - `project`: the middleware, against the token's project, before the route runs.
 * - `route`: the route, once it has resolved the project from the URL (ping id, ping key).
 * - `none`: never (probes and metrics must answer when a project is over its budget).
 */
export type RateLimitClass = 'project' | 'route' | 'none';

/** Which browser origins may call the route: `any` (ping URLs, like healthchecks) or the configured list. */
export type CorsClass = 'any' | 'configured';

export interface RouteRules {
  scope: RouteScope;
  body: BodyClass;
  rateLimit: RateLimitClass;
  cors: CorsClass;
}

/** What a route leaves out: a management route counted against the token's project. */
export const DEFAULT_RULES = { body: 'definition', rateLimit: 'project', cors: 'configured' } as const satisfies Omit<RouteRules, 'scope'>;

const rulesByHandler = new WeakMap<Handler, RouteRules>();

/** Attaches `rules` to `handler` (returned as is) so the middleware finds them on the matched route. */
export function withRules<H extends Handler>(handler: H, rules: Partial<RouteRules> & { scope: RouteScope }): H {
  rulesByHandler.set(handler, { ...DEFAULT_RULES, ...rules });
  return handler;
}

/**
 * The rules of the route a request matched. A request no route matches gets the management
 * default (`read` for GET and HEAD, `write` otherwise), so an unknown path reveals nothing to a
 * caller without a token.
 */
export function rulesOf(c: Context): RouteRules {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const rules = rulesByHandler.get(routes[i]!.handler);
    if (rules) return rules;
  }
  return { ...DEFAULT_RULES, scope: c.req.method === 'GET' || c.req.method === 'HEAD' ? 'read' : 'write' };
}
