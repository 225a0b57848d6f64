import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { z } from 'zod';
import type { Clock } from '../domain/time/clock.js';
import { MESSAGE_LIMIT_BYTES, type Payment } from '../domain/debts/payment.js';
import { isUuid } from '../domain/debts/ping-key.js';
import { DomainError, ID_PATTERN } from '../domain/problems.js';
import type { DebtEngine, Vivify } from '../engine/debt-engine.js';
import type { AppEnv } from './env.js';
import { BadRequestError, errorResponse } from './errors.js';
import { readPingBody } from './ping-body.js';
import { BODY_LIMITS } from './request-limits.js';
import { withRules } from './route-rules.js';
import { vivifyFrom } from './payment-input.js';
import { errorResponses } from './schemas.js';

/**
 * healthchecks.io-compatible ping URLs (README, "Pings and `compter exec`"), so existing cron lines switch to compter by
 * changing the host:
 *
 *   /ping/{pingId}[/start|/fail|/log|/{exit 0-255}]
 *   /ping/{pingKey}/{debtId}[/start|/fail|/log|/{exit 0-255}]   (?create=1 vivifies)
 *
 * This is the hottest route in the product, so the handlers parse the path by hand (no schema
 * pass, no debt JSON rendered) and answer the two bytes "OK". The same URLs are documented in
 * the OpenAPI document from zod schemas below.
 */

/** Pings answer with this header (healthchecks' name) so clients know how much body is kept. */
export const PING_BODY_LIMIT_HEADER = 'Ping-Body-Limit';
const BODY_LIMIT_VALUE = String(MESSAGE_LIMIT_BYTES);

/** Finds the project a ping key belongs to (PingKeys). */
export interface PingKeyLookup {
  resolve(pingKey: string): string | undefined;
}

/** What the last path segment asks for. */
interface PingAction {
  kind: Payment['kind'];
  exitCode?: number;
}

const SUCCESS: PingAction = { kind: 'success' };
const ACTIONS: Record<string, PingAction> = { start: { kind: 'start' }, fail: { kind: 'fail' }, log: { kind: 'log' } };
const DIGITS = /^\d+$/;
/** Our payments' run id rule: 1–128 printable ASCII characters, no spaces. */
const RUN_ID = /^[\x21-\x7e]{1,128}$/;
const CREATE_VALUES = new Set(['1', 'true']);
/** What `?create=1` without schedule parameters creates: healthchecks' defaults (period 1 day, grace 1 hour). */
const DEFAULT_VIVIFY: Vivify = { schedule: { every: '1d' }, grace: '1h' };

/** The action a segment names, or null when it names none (404). Exit codes over 255 are a 400. */
function parseAction(segment: string): PingAction | null {
  const named = ACTIONS[segment];
  if (named) return named;
  if (!DIGITS.test(segment)) return null;
  const code = segment.length > 3 ? 256 : Number(segment);
  if (code > 255)
    throw new BadRequestError(`exit code ${segment.slice(0, 16)} is out of range: it must be 0–255`, [
      { path: 'path.exitCode', message: 'must be 0–255' },
    ]);
  return code === 0 ? { kind: 'success', exitCode: 0 } : { kind: 'fail', exitCode: code };
}

/**
 * A run id from `?rid=`: a UUID (healthchecks' rule; lower-cased so either case pairs start and
 * end) or, like our payments' runId, 1–128 printable ASCII characters. Anything else is a 400.
 */
export function parseRunId(rid: string): string {
  if (isUuid(rid)) return rid.toLowerCase();
  if (RUN_ID.test(rid)) return rid;
  throw new BadRequestError('rid must be a UUID or 1–128 printable ASCII characters without spaces', [
    { path: 'query.rid', message: 'must be a UUID or 1–128 printable ASCII characters without spaces' },
  ]);
}

function pingIdNotFound(): DomainError {
  return new DomainError('not_found', 'no debt has this ping id');
}

function pingKeyNotFound(): DomainError {
  return new DomainError('not_found', 'no project has this ping key');
}

function checkDebtId(id: string): void {
  if (!ID_PATTERN.test(id))
    throw new BadRequestError('the debt id in a ping URL must match ^[a-z0-9][a-z0-9._-]{0,127}$', [
      { path: 'path.debtId', message: 'must match ^[a-z0-9][a-z0-9._-]{0,127}$' },
    ]);
}

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
  /** Records the ping and answers OK (201 when `?create=1` created the debt). */
  const pay = async (c: Context<AppEnv>, project: string, debtId: string, action: PingAction, canCreate: boolean): Promise<Response> => {
    c.get('rateLimit')?.(project);
    const payment: Payment = { kind: action.kind, at: clock.now() };
    if (action.exitCode !== undefined) payment.exitCode = action.exitCode;
    const rid = c.req.query('rid');
    if (rid !== undefined) payment.runId = parseRunId(rid);
    let isOverCap = false;
    if (c.req.method === 'POST') {
      const body = await readPingBody(c.req.raw, MESSAGE_LIMIT_BYTES, hardCapBytes);
      if (body.text !== '') payment.message = body.text;
      isOverCap = body.isOverCap;
    }
    const create = canCreate ? c.req.query('create') : undefined;
    const isCreate = create !== undefined && CREATE_VALUES.has(create);
    let created: boolean;
    try {
      ({ created } = await engine.payQuietly(project, debtId, payment, isCreate ? vivifyFromPing(c) : undefined));
    } catch (err) {
      if (err instanceof DomainError && err.code === 'not_found' && canCreate) {
        throw new DomainError(
          'not_found',
          `no debt "${debtId}"; add ?create=1 to create it from this ping ` +
            '(with a schedule: &every=1h, or &cron=0+2+*+*+*&tz=UTC, and &grace=15m; without one: every 1 day, grace 1 hour)',
        );
      }
      throw err;
    }
    if (isOverCap) {
      // The rest of the body is still on the wire: do not reuse the connection.
      c.header('Connection', 'close');
      return errorResponse(c, 413, 'too_large', `request body exceeds ${hardCapBytes} bytes; the ping was recorded without the rest of it`);
    }
    return c.text('OK', created ? 201 : 200);
  };

  const byPingId = (c: Context<AppEnv>, pingId: string, action: PingAction): Promise<Response> => {
    const target = engine.resolvePingId(pingId) ?? (isUuid(pingId) ? engine.resolvePingId(pingId.toLowerCase()) : undefined);
    if (!target) throw pingIdNotFound();
    return pay(c, target.project, target.id, action, false);
  };

  const byPingKey = (c: Context<AppEnv>, pingKey: string, debtId: string, action: PingAction): Promise<Response> => {
    const project = pingKeys.resolve(pingKey);
    if (project === undefined) throw pingKeyNotFound();
    checkDebtId(debtId);
    return pay(c, project, debtId, action, true);
  };

  // A ping id is a UUID and a ping key never looks like one, so the first segment says which form it is.
  const one = (c: Context<AppEnv>): Promise<Response> => {
    const first = c.req.param('first')!;
    if (!isUuid(first)) throw pingIdNotFound();
    return byPingId(c, first, SUCCESS);
  };

  const two = (c: Context<AppEnv>): Promise<Response> => {
    const first = c.req.param('first')!;
    const second = c.req.param('second')!;
    if (isUuid(first)) {
      const action = parseAction(second);
      if (!action)
        throw new DomainError('not_found', `no ping action "${second.slice(0, 32)}": use start, fail, log or an exit code 0–255`);
      return byPingId(c, first, action);
    }
    return byPingKey(c, first, second, SUCCESS);
  };

  const three = (c: Context<AppEnv>): Promise<Response> => {
    const first = c.req.param('first')!;
    if (isUuid(first)) throw new DomainError('not_found', 'no such ping URL: a ping id takes one action segment (/ping/{pingId}/start)');
    const third = c.req.param('third')!;
    const action = parseAction(third);
    if (!action) throw new DomainError('not_found', `no ping action "${third.slice(0, 32)}": use start, fail, log or an exit code 0–255`);
    return byPingKey(c, first, c.req.param('second')!, action);
  };

  const routes: [string, (c: Context<AppEnv>) => Promise<Response>][] = [
    ['/ping/:first', one],
    ['/ping/:first/:second', two],
    ['/ping/:first/:second/:third', three],
  ];
  const preflight = withRules((c: Context<AppEnv>) => c.body(null, 204), PING_RULES);
  for (const [path, handle] of routes) {
    const handler = withRules((c: Context<AppEnv>) => {
      c.header(PING_BODY_LIMIT_HEADER, BODY_LIMIT_VALUE);
      // A proxy must forward every ping rather than answer a cached OK.
      c.header('Cache-Control', 'no-cache');
      return handle(c);
    }, PING_RULES);
    // healthchecks accepts the trailing slash on every ping URL; scripts written for it use both.
    for (const form of [path, `${path}/`]) {
      app.on(['GET', 'POST'], form, handler);
      app.on('OPTIONS', form, preflight);
    }
  }

  documentPingRoutes(app);
}

/** `?create=1` with schedule parameters, or healthchecks' defaults when there are none. */
function vivifyFromPing(c: Context<AppEnv>): Vivify {
  const q = (name: string) => c.req.query(name);
  return vivifyFrom({ every: q('every'), cron: q('cron'), tz: q('tz'), grace: q('grace') }) ?? withGrace(DEFAULT_VIVIFY, q('grace'));
}

function withGrace(vivify: Vivify, grace: string | undefined): Vivify {
  return grace === undefined ? vivify : { ...vivify, grace };
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
