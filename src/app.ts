import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { routePath } from 'hono/route';
import type { Logger } from 'pino';
import type { Clock } from './domain/clock.js';
import type { DebtEngine } from './engine/debt-engine.js';
import { registerDebtRoutes } from './http/debt-routes.js';
import type { AppEnv } from './http/env.js';
import { errorResponse, toErrorResponse } from './http/errors.js';
import { registerOpsRoutes, type Readiness } from './http/ops-routes.js';
import { registerSeedRoutes } from './http/seed-routes.js';
import type { CompterMetrics } from './metrics/registry.js';

export interface AppDeps {
  engine: DebtEngine;
  clock: Clock;
  logger: Logger;
  metrics: CompterMetrics;
  readiness: () => Promise<Readiness>;
  version: string;
  /** Largest request body accepted, bytes (default 1 MiB). */
  bodyLimitBytes?: number;
  /** Bearer token required on /metrics, when set. */
  metricsToken?: string;
}

const DEFAULT_BODY_LIMIT = 1024 * 1024;

let requestCounter = 0;
const requestPrefix = process.pid.toString(36);

/** Builds the HTTP application: middleware, the one onError, every route. Never listens. */
export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  const { metrics, logger } = deps;

  app.use('*', async (c, next) => {
    const start = performance.now();
    c.set('requestId', c.req.header('x-request-id')?.slice(0, 128) ?? `${requestPrefix}-${(++requestCounter).toString(36)}`);
    c.set('project', 'default');
    await next();
    // The matched pattern, never the raw path, keeps the label set bounded.
    const route = safeRoutePath(c);
    metrics.httpRequests.inc({ route, code: String(c.res.status) });
    metrics.httpRequestDuration.observe({ route }, (performance.now() - start) / 1000);
  });

  app.use(
    '*',
    bodyLimit({
      maxSize: deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT,
      onError: (c) => errorResponse(c, 413, 'too_large', `request body exceeds ${deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT} bytes`),
    }),
  );

  registerOpsRoutes(app, deps);
  registerSeedRoutes(app, deps.engine, deps.clock);
  registerDebtRoutes(app, deps.engine, deps.clock);

  app.notFound((c) => errorResponse(c, 404, 'not_found', `no route for ${c.req.method} ${c.req.path.slice(0, 200)}`));
  app.onError((err, c) =>
    toErrorResponse(err, c, (unexpected) => logger.error({ err: unexpected, requestId: c.get('requestId'), path: c.req.path.slice(0, 200) }, 'unexpected error')),
  );
  return app;
}

function safeRoutePath(c: Parameters<typeof routePath>[0]): string {
  try {
    const path = routePath(c);
    return path === '/*' || path === '*' ? 'unmatched' : path;
  } catch {
    return 'unmatched';
  }
}

