import type { OpenAPIHono } from '@hono/zod-openapi';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { z } from 'zod';
import type { CompterMetrics } from '../metrics/registry.js';
import type { AppEnv } from './env.js';
import { errorResponse } from './errors.js';
import { defineRoute } from './route.js';
import { withRules } from './route-rules.js';
import { jsonResponse } from './schemas.js';
import { metricsBodyToBuffer, writeMetricsBody } from '../metrics/registry.js';

/** What /readyz reports: the event store is reachable (`ok`), degraded but durable (`spooling`), or not. */
const readinessSchema = z.object({ status: z.enum(['ok', 'spooling', 'unavailable']), store: z.string(), detail: z.string().optional() });

export type Readiness = z.infer<typeof readinessSchema>;

/** What the ops routes read: a subset of the app's dependencies. */
export interface OpsDeps {
  metrics: CompterMetrics;
  readiness: () => Promise<Readiness>;
  version: string;
  /** Bearer token required on /metrics, when set. */
  metricsToken?: string | undefined;
}

/** Health, readiness, metrics and the OpenAPI document. */
export function registerOpsRoutes(app: OpenAPIHono<AppEnv>, deps: OpsDeps): void {
  const tags = ['ops'];
  defineRoute(
    app,
    {
      method: 'get',
      path: '/healthz',
      scope: 'none',
      rateLimit: 'none',
      summary: 'The process is up',
      tags,
      responses: { 200: jsonResponse('up', z.object({ status: z.literal('ok') })) },
    },
    (c) => c.json({ status: 'ok' as const }),
  );

  defineRoute(
    app,
    {
      method: 'get',
      path: '/readyz',
      scope: 'none',
      rateLimit: 'none',
      summary: 'The event store is reachable, or events are being spooled durably',
      tags,
      responses: { 200: jsonResponse('ready', readinessSchema), 503: jsonResponse('not ready', readinessSchema) },
    },
    async (c) => {
      const readiness = await deps.readiness();
      return c.json(readiness, readiness.status === 'unavailable' ? 503 : 200);
    },
  );

  defineRoute(
    app,
    {
      method: 'get',
      path: '/metrics',
      scope: 'none',
      rateLimit: 'none',
      summary: 'Prometheus metrics (text format 0.0.4)',
      tags,
      responses: { 200: { description: 'metrics', content: { 'text/plain': { schema: z.string() } } } },
    },
    async (c) => {
      if (deps.metricsToken && c.req.header('authorization') !== `Bearer ${deps.metricsToken}`) {
        return errorResponse(c, 401, 'unauthorized', 'this /metrics requires a bearer token (COMPTER_METRICS_TOKEN)');
      }
      const rendered = await deps.metrics.renderMetrics();
      // On the Node server, write the cached chunks straight to the socket (no copy) and release
      // them once sent; in-process requests (tests) get one joined body.
      const outgoing = (c.env as { outgoing?: Parameters<typeof writeMetricsBody>[0] } | undefined)?.outgoing;
      // Not for HEAD: Hono answers HEAD with a copy of the GET response, which drops the
      // already-sent marker, and the adapter then stalls the keep-alive connection.
      if (outgoing && c.req.method !== 'HEAD') {
        writeMetricsBody(outgoing, rendered);
        return RESPONSE_ALREADY_SENT;
      }
      return c.body(new Uint8Array(metricsBodyToBuffer(rendered)), 200, { 'content-type': rendered.contentType });
    },
  );

  app.get(
    '/openapi.json',
    withRules(
      (c) =>
        c.json(
          app.getOpenAPI31Document({
            openapi: '3.1.0',
            info: { title: 'compter', version: deps.version, description: 'Deadlines for promised work: debts, payments, SLOs, trends.' },
          }),
        ),
      { scope: 'none', rateLimit: 'none' },
    ),
  );
}
