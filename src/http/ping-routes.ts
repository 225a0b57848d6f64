import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { z } from 'zod';
import type { Clock } from '../domain/time/clock.js';
import { MESSAGE_LIMIT_BYTES } from '../domain/debts/payment.js';
import type { DebtEngine } from '../engine/debt-engine.js';
import type { AppEnv } from './env.js';
import { errorResponse } from './errors.js';
import { readPingBody } from './ping-body.js';
import {
  PING_BODY_LIMIT_HEADER,
  PING_BODY_LIMIT_VALUE,
  PING_ROUTE_PATHS,
  pingTarget,
  recordPing,
  type PingKeyLookup,
} from './ping-request.js';
import { BODY_LIMITS } from './request-limits.js';
import { withRules } from './route-rules.js';
import { errorResponses } from './schemas.js';

/**
 * healthchecks.io-compatible ping URLs (ping-request.ts has the forms), so existing cron lines
 * switch to compter by changing the host. This is the hottest route in the product: the
 * handlers parse the path by hand (no schema pass, no debt JSON rendered) and answer the two
 * bytes "OK", and a served process answers most pings before they reach the app at all
 * (ping-lane.ts). The same URLs are documented in the OpenAPI document from zod schemas below.
 */

/** Rules of every ping URL: the ping id or key authenticates, the resolved project is charged, browsers may ping. */
const PING_RULES = { scope: 'none', body: 'ping', rateLimit: 'route', cors: 'any' } as const;

/**
 * Registers the ping URLs (GET, POST; HEAD is answered as GET without a body; OPTIONS for
 * browsers' preflight), each with and without a trailing slash. A body over `hardCapBytes`
 * is not read, and the ping still counts when the URL says what it is.
 */
export function registerPingRoutes(
  app: OpenAPIHono<AppEnv>,
  engine: DebtEngine,
  clock: Clock,
  pingKeys: PingKeyLookup,
  hardCapBytes: number = BODY_LIMITS.hardCap,
): void {
  const handle = async (c: Context<AppEnv>): Promise<Response> => {
    c.header(PING_BODY_LIMIT_HEADER, PING_BODY_LIMIT_VALUE);
    // A proxy must forward every ping rather than answer a cached OK.
    c.header('Cache-Control', 'no-cache');
    const { first, second, third } = c.req.param() as { first: string; second?: string; third?: string };
    const segments = third !== undefined ? [first, second!, third] : second !== undefined ? [first, second] : [first];
    const target = pingTarget(engine, pingKeys, segments);
    const { isCreated, isOverCap } = await recordPing(engine, clock, target, {
      method: c.req.method,
      query: (name) => c.req.query(name),
      readBody: () => readPingBody(c.req.raw, MESSAGE_LIMIT_BYTES, hardCapBytes),
      charge: (project) => c.get('rateLimit')?.(project),
    });
    if (isOverCap) {
      // The rest of the body is still on the wire: do not reuse the connection.
      c.header('Connection', 'close');
      return errorResponse(c, 413, 'too_large', `request body exceeds ${hardCapBytes} bytes; the ping was recorded without the rest of it`);
    }
    return c.text('OK', isCreated ? 201 : 200);
  };

  const handler = withRules(handle, PING_RULES);
  const preflight = withRules((c: Context<AppEnv>) => c.body(null, 204), PING_RULES);
  for (const path of PING_ROUTE_PATHS) {
    // healthchecks accepts the trailing slash on every ping URL; scripts written for it use both.
    for (const form of [path, `${path}/`]) {
      app.on(['GET', 'POST'], form, handler);
      app.on('OPTIONS', form, preflight);
    }
  }

  documentPingRoutes(app);
}

const pingQuery = z.object({
  rid: z
    .string()
    .optional()
    .describe('run id pairing a start with its end (duration = end − start): a UUID, or 1–128 printable ASCII characters'),
  create: z.enum(['1', 'true']).optional().describe('key form only: create the debt when it does not exist (201)'),
  every: z.string().optional().describe('with create=1: interval schedule, e.g. 1h'),
  cron: z.string().optional().describe('with create=1: cron schedule, e.g. 0 2 * * *'),
  tz: z.string().optional().describe('with create=1 and cron: IANA time zone'),
  grace: z.string().optional().describe('with create=1: grace, e.g. 15m (default 5m; 1h when no schedule is given)'),
});

const okResponse = (description: string) => ({
  description: `${description}. Header Ping-Body-Limit: 10240 (request body bytes kept as the message)`,
  content: { 'text/plain': { schema: z.string().describe('OK') } },
});

const pingResponses = {
  200: okResponse('recorded'),
  201: okResponse('recorded; ?create=1 created the debt (the body is still OK)'),
  400: errorResponses[400],
  404: errorResponses[404],
  422: errorResponses[422],
};

const bodySchema = {
  content: { 'text/plain': { schema: z.string().describe('kept as the payment message, truncated to 10 KiB') } },
  required: false,
};

function documentPingRoutes(app: OpenAPIHono<AppEnv>): void {
  const pingId = z.string().describe("the debt's pingId (a UUID)");
  const variants = [
    { path: '/ping/{pingId}', summary: 'Ping: success', params: z.object({ pingId }) },
    {
      path: '/ping/{first}/{second}',
      summary: 'Ping: /{pingId}/start|fail|log|{exit 0-255}, or /{pingKey}/{debtId} (success)',
      params: z.object({
        first: z.string().describe('a pingId (UUID) or the project ping key'),
        second: z.string().describe('after a pingId: start, fail, log or an exit code 0–255; after a ping key: the debt id'),
      }),
    },
    {
      path: '/ping/{pingKey}/{debtId}/{action}',
      summary: 'Ping by project ping key and debt id: start, fail, log or an exit code 0–255',
      params: z.object({
        pingKey: z.string().describe('the project ping key (GET /v1/ping-key)'),
        debtId: z.string(),
        action: z.string().describe('start, fail, log or an exit code 0–255'),
      }),
    },
  ];
  for (const v of variants) {
    for (const method of ['get', 'post', 'head'] as const) {
      app.openAPIRegistry.registerPath({
        method,
        path: v.path,
        summary: v.summary,
        tags: ['pings'],
        request:
          method === 'post'
            ? { params: v.params as never, query: pingQuery as never, body: bodySchema }
            : { params: v.params as never, query: pingQuery as never },
        responses: pingResponses,
      });
    }
  }
}
