import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { debtInputSchema } from '../domain/debts/debt-definition.js';
import type { LogEvent } from '../domain/event.js';
import { paymentInputSchema, parseInstant } from '../domain/debts/payment.js';
import { DomainError } from '../domain/problems.js';
import type { Clock } from '../domain/time/clock.js';
import type { DebtEngine } from '../engine/debt-engine.js';
import { debtJsonSchema, iso, occurrenceJsonSchema, type DebtJson } from '../engine/debt-view.js';
import type { AppEnv } from './env.js';
import { paymentFrom, vivifyFrom } from './payment-input.js';
import { defineResourceRoutes } from './resource-routes.js';
import { defineRoute, type RouteSpec, type Validated } from './route.js';
import { errorResponses, queryNumber, eventSchema, idParams, jsonResponse, vivifyQuery } from './schemas.js';

const DAY_MS = 86_400_000;
/** The widest occurrence range one request may ask for. */
const MAX_RANGE_MS = 400 * DAY_MS;

const rangeQuery = z.object({ from: z.string().max(64).optional(), to: z.string().max(64).optional() });
const limitQuery = z.object({ limit: queryNumber(z.number().int().min(1).max(1000)).optional() });

/** An event as the API shows it: instants ISO 8601, durations in seconds. */
export function eventJson(e: LogEvent) {
  return {
    eventId: e.eventId,
    type: e.type,
    ts: iso(e.ts)!,
    ingestedAt: iso(e.ingestedAt)!,
    kind: e.kind,
    status: e.status,
    runId: e.runId,
    host: e.host,
    businessDate: e.businessDate,
    durationSeconds: e.durationMs === null ? null : e.durationMs / 1000,
    latenessSeconds: e.latenessMs === null ? null : e.latenessMs / 1000,
    attributes: e.attributes,
  };
}

/**
 * `Prefer: return=minimal` (RFC 7240) on a payment: the client does not read the debt, so it is
 * not rendered, and the answer is `204` (`201` with no body when the payment created the debt)
 * with `Preference-Applied: return=minimal`. `compter exec` sends it. Any other preference, or
 * none, gets the debt as JSON.
 */
export function prefersMinimal(header: string | undefined): boolean {
  if (header === undefined || !/minimal/i.test(header)) return false;
  return header.split(',').some((preference) => {
    const [name = '', value = ''] = (preference.split(';')[0] ?? '').split('=');
    return name.trim().toLowerCase() === 'return' && unquoted(value.trim()).toLowerCase() === 'minimal';
  });
}

function unquoted(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}

/** The header a minimal payment answer carries. */
export const PREFERENCE_APPLIED = 'return=minimal';

const preferHeaders = z.object({
  prefer: z
    .string()
    .optional()
    .describe('`return=minimal`: answer 204 (or 201 when the debt was created) without the debt; what `compter exec` sends'),
});

/** `POST /v1/debts/{id}/payments`: what it takes and answers (served by the app and the payment lane). */
export const PAYMENT_ROUTE = {
  method: 'post',
  path: '/v1/debts/:id/payments',
  scope: 'ping',
  bodyLimit: 'payment',
  summary: 'Pay a debt (start, stage, success, fail, log); vivifies an unknown debt given a schedule',
  tags: ['debts'],
  params: idParams,
  query: vivifyQuery,
  body: paymentInputSchema,
  headers: preferHeaders,
  responses: {
    200: jsonResponse('recorded', debtJsonSchema),
    201: jsonResponse('debt created by this payment (no body with `Prefer: return=minimal`)', debtJsonSchema),
    204: { description: 'recorded, with `Prefer: return=minimal`: no body' },
    ...errorResponses,
  },
} as const satisfies RouteSpec<typeof idParams, typeof vivifyQuery, typeof paymentInputSchema>;

/**
 * Records a validated payment of `project`'s debt; resolves once durable, with whether it
 * created the debt and, unless `isMinimal` (the client said `Prefer: return=minimal`), the debt.
 */
export async function recordPayment(
  engine: DebtEngine,
  clock: Clock,
  project: string,
  { params, query, body }: Validated<z.infer<typeof idParams>, z.infer<typeof vivifyQuery>, z.infer<typeof paymentInputSchema> | undefined>,
  isMinimal = false,
): Promise<{ debt: DebtJson | null; created: boolean }> {
  const { schedule, grace, ...fields } = body ?? {};
  const payment = paymentFrom(fields, clock.now());
  const vivify = vivifyFrom(query, { schedule, grace });
  if (isMinimal) return { debt: null, ...(await engine.payQuietly(project, params.id, payment, vivify)) };
  return engine.pay(project, params.id, payment, vivify);
}

function instantParam(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = parseInstant(value) ?? (/^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : null);
  if (ms === null || !Number.isFinite(ms))
    throw new DomainError('invalid', `${name} must be an ISO 8601 instant or date`, [
      { path: `query.${name}`, message: 'must be an ISO 8601 instant (with zone) or a date YYYY-MM-DD' },
    ]);
  return ms;
}

/** The v1 debt routes (README, API). */
export function registerDebtRoutes(app: OpenAPIHono<AppEnv>, engine: DebtEngine, clock: Clock): void {
  const tags = ['debts'];
  defineResourceRoutes(app, {
    path: '/v1/debts',
    tags,
    noun: 'a debt',
    json: debtJsonSchema,
    input: debtInputSchema,
    // Every field of a debt is optional: an absent body defines a debt that only counts payments.
    emptyBody: () => ({}),
    list: { key: 'debts', summary: 'List debts', run: (project) => engine.list(project) },
    define: async (project, id, input) => {
      const { debt, created } = await engine.define(project, id, input);
      return { json: debt, created };
    },
    get: (project, id) => engine.get(project, id),
    remove: (project, id) => engine.delete(project, id),
  });

  defineRoute(app, PAYMENT_ROUTE, async (c, input) => {
    const isMinimal = prefersMinimal(c.req.header('prefer'));
    const { debt, created } = await recordPayment(engine, clock, c.get('project'), input, isMinimal);
    if (debt === null) return c.body(null, created ? 201 : 204, { 'Preference-Applied': PREFERENCE_APPLIED });
    return c.json(debt, created ? 201 : 200);
  });

  for (const action of ['pause', 'resume'] as const) {
    defineRoute(
      app,
      {
        method: 'post',
        path: `/v1/debts/:id/${action}`,
        scope: 'write',
        summary: `${action === 'pause' ? 'Pause' : 'Resume'} a debt`,
        tags,
        params: idParams,
        responses: { 200: jsonResponse('the debt', debtJsonSchema), ...errorResponses },
      },
      async (c, { params }) => c.json(await engine.setPaused(c.get('project'), params.id, action === 'pause')),
    );
  }

  defineRoute(
    app,
    {
      method: 'get',
      path: '/v1/debts/:id/occurrences',
      scope: 'read',
      summary: 'Closed, current and upcoming occurrences with a scheduled time in [from, to]',
      tags,
      params: idParams,
      query: rangeQuery,
      responses: { 200: jsonResponse('occurrences', z.object({ occurrences: z.array(occurrenceJsonSchema) })), ...errorResponses },
    },
    async (c, { params, query }) => {
      const now = clock.now();
      const from = instantParam(query.from, 'from', now - 7 * DAY_MS);
      const to = instantParam(query.to, 'to', now + 7 * DAY_MS);
      if (to < from) throw new DomainError('invalid', 'to is before from', [{ path: 'query.to', message: 'must not be before from' }]);
      if (to - from > MAX_RANGE_MS)
        throw new DomainError('invalid', 'range too wide', [{ path: 'query.to', message: 'the range may span at most 400 days' }]);
      return c.json({ occurrences: await engine.occurrences(c.get('project'), params.id, from, to) });
    },
  );

  defineRoute(
    app,
    {
      method: 'get',
      path: '/v1/debts/:id/events',
      scope: 'read',
      summary: "A debt's most recent events, newest first",
      tags,
      params: idParams,
      query: limitQuery,
      responses: { 200: jsonResponse('events', z.object({ events: z.array(eventSchema) })), ...errorResponses },
    },
    async (c, { params, query }) => {
      const events = await engine.events(c.get('project'), params.id, query.limit ?? 100);
      return c.json({ events: events.map(eventJson) });
    },
  );
}
