import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { routePath } from 'hono/route';
import type { Logger } from 'pino';
import type { Clock } from './domain/time/clock.js';
import type { DebtEngine } from './engine/debt-engine.js';
import type { SloEngine } from './engine/slo-engine.js';
import { registerCalendarRoutes } from './http/calendar-routes.js';
import { registerJobStatusRoutes } from './http/job-status-routes.js';
import { registerSloRoutes } from './http/slo-routes.js';
import { registerMaintenanceRoutes } from './http/maintenance-routes.js';
import type { MaintenanceWindows } from './engine/maintenance-windows.js';
import { registerTrendRoutes, type TrendReader } from './http/trend-routes.js';
import { authenticate, TokenRegistry } from './http/auth.js';
import { cors } from './http/cors.js';
import { registerDebtRoutes } from './http/debt-routes.js';
import type { AppEnv } from './http/env.js';
import { errorResponse, toErrorResponse } from './http/errors.js';
import { registerOpsRoutes, type Readiness } from './http/ops-routes.js';
import { rateLimit, RateLimiter } from './http/rate-limit.js';
import { requestLimits } from './http/request-limits.js';
import { requestIdOf } from './http/request-id.js';
import { registerSeedRoutes } from './http/seed-routes.js';
import { registerPingKeyRoutes } from './http/ping-key-routes.js';
import { registerPingRoutes } from './http/ping-routes.js';
import { registerSentryRoutes } from './http/sentry-routes.js';
import { registerSentryEnvelopeRoutes } from './http/sentry-envelope-routes.js';
import type { PingKeys } from './engine/ping-keys.js';
import { SentryCheckIns } from './engine/sentry-check-ins.js';
import type { CompterMetrics } from './metrics/registry.js';
import { registerConsoleRoutes } from './console/console-routes.js';
import { tracingMiddleware } from './tracing/http-middleware.js';
import { isTracingActive } from './tracing/tracing.js';
import type { Lane } from './http/lane.js';
import { pingLane } from './http/ping-lane.js';
import { paymentLane } from './http/payment-lane.js';

export interface AppDeps {
  engine: DebtEngine;
  /** Calendars, job status and SLOs (their routes are served when given). */
  slos?: SloEngine;
  /** Slowdown trends (`/v1/trends/*` are served when given). */
  trends?: TrendReader;
  clock: Clock;
  logger: Logger;
  metrics: CompterMetrics;
  readiness: () => Promise<Readiness>;
  version: string;
  /** Largest request body accepted on definition routes, bytes (default 1 MiB). */
  bodyLimitBytes?: number;
  /** Largest body a ping or payment route reads, bytes (default 10 MiB); a ping keeps only its first 10 KiB. */
  hardCapBodyBytes?: number;
  /** Browser origins the management API answers with CORS headers; none by default (ping URLs allow any). */
  corsOrigins?: readonly string[];
  /** Configured tokens; none (the default) runs open, everything acting for project `default`. */
  tokens?: TokenRegistry;
  /** Per-project rate limits; none by default. */
  limiter?: RateLimiter;
  /** Bearer token required on /metrics, when set. */
  metricsToken?: string;
  /** Project ping keys (key-form ping URLs, Sentry-style check-ins, GET /v1/ping-key). */
  pingKeys?: PingKeys;
  /** The external base URL people reach compter at (COMPTER_PUBLIC_URL); links stay relative without it. */
  publicUrl?: string;
  /** Maintenance windows (`/v1/maintenance` is served when given). */
  maintenance?: MaintenanceWindows;
}

/** Builds the HTTP application: middleware, the one onError, every route. Never listens. */
export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  // Outermost, so a request's span covers everything below; only when the SDK runs (tracing/).
  if (isTracingActive()) app.use('*', tracingMiddleware(deps.version));
  const { metrics, logger } = deps;

  app.use('*', async (c, next) => {
    const start = performance.now();
    c.set('requestId', requestIdOf(c.req.header('x-request-id')));
    c.set('project', 'default');
    await next();
    // The matched pattern, never the raw path, keeps the label set bounded.
    // Hono types a middleware's context with an `any` input, which the route path never reads.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-argument
    const route = safeRoutePath(c);
    metrics.httpRequests.inc({ route, code: String(c.res.status) });
    metrics.httpRequestDuration.observe({ route }, (performance.now() - start) / 1000);
  });

  // Size limits first (cheap, no body read when Content-Length says), then who is asking, then
  // whether their project has budget left: unauthenticated requests never spend a project's.
  app.use('*', requestLimits({ definitionBodyBytes: deps.bodyLimitBytes, hardCapBodyBytes: deps.hardCapBodyBytes }));
  app.use('*', cors(deps.corsOrigins));
  app.use('*', authenticate(deps.tokens ?? new TokenRegistry()));
  app.use(
    '*',
    rateLimit(deps.limiter ?? new RateLimiter(), deps.clock, (project) => metrics.rateLimited.inc({ project })),
  );

  registerOpsRoutes(app, deps);
  registerSeedRoutes(app, deps.engine, deps.clock);
  registerDebtRoutes(app, deps.engine, deps.clock);
  if (deps.slos) {
    registerCalendarRoutes(app, deps.slos);
    registerJobStatusRoutes(app, deps.slos, deps.clock);
    registerSloRoutes(app, deps.slos);
  }
  if (deps.trends) registerTrendRoutes(app, deps.trends);
  if (deps.maintenance) registerMaintenanceRoutes(app, deps.maintenance);
  const pingKeys = deps.pingKeys ?? { resolve: () => undefined };
  registerPingRoutes(app, deps.engine, deps.clock, pingKeys, deps.hardCapBodyBytes);
  registerSentryRoutes(app, deps.engine, deps.clock, pingKeys);
  registerSentryEnvelopeRoutes(app, new SentryCheckIns(deps.engine, deps.clock), deps.pingKeys ?? { resolveSentryKey: () => undefined });
  if (deps.pingKeys) registerPingKeyRoutes(app, deps.pingKeys);
  registerConsoleRoutes(app, {
    engine: deps.engine,
    ...(deps.slos ? { slos: deps.slos } : {}),
    ...(deps.trends ? { trends: deps.trends } : {}),
    tokens: deps.tokens ?? new TokenRegistry(),
    clock: deps.clock,
    version: deps.version,
    ...(deps.publicUrl ? { publicUrl: deps.publicUrl } : {}),
  });

  app.notFound((c) => errorResponse(c, 404, 'not_found', `no route for ${c.req.method} ${c.req.path.slice(0, 200)}`));
  app.onError((err, c) =>
    toErrorResponse(err, c, (unexpected) =>
      logger.error({ err: unexpected, requestId: c.get('requestId'), path: c.req.path.slice(0, 200) }, 'unexpected error'),
    ),
  );
  return app;
}

/**
 * The lanes a served process puts in front of the app (http/lane.ts): ping URLs and JSON
 * payments. None while tracing runs: a lane makes no spans, so every request then goes through
 * the app.
 */
export function createLanes(deps: AppDeps): Lane[] {
  if (isTracingActive()) return [];
  const shared = {
    engine: deps.engine,
    clock: deps.clock,
    limiter: deps.limiter ?? new RateLimiter(),
    metrics: deps.metrics,
    logger: deps.logger,
    hardCapBodyBytes: deps.hardCapBodyBytes,
  };
  return [
    pingLane({ ...shared, pingKeys: deps.pingKeys ?? { resolve: () => undefined } }),
    paymentLane({ ...shared, tokens: deps.tokens ?? new TokenRegistry() }),
  ];
}

function safeRoutePath(c: Context<AppEnv>): string {
  try {
    const path = routePath(c);
    return path === '/*' || path === '*' ? 'unmatched' : path;
  } catch {
    return 'unmatched';
  }
}
