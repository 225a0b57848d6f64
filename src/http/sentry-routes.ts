import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { z } from 'zod';
import type { Clock } from '../domain/time/clock.js';
import type { Payment } from '../domain/debts/payment.js';
import { monitorDefinition, sentryMonitorConfigSchema } from '../domain/debts/sentry-check-in.js';
import { DomainError, ID_PATTERN } from '../domain/problems.js';
import type { DebtEngine } from '../engine/debt-engine.js';
import type { DebtJson } from '../engine/debt-view.js';
import type { AppEnv } from './env.js';
import type { PingKeyLookup } from './ping-request.js';
import { defineRoute, type RawInput } from './route.js';
import type { SortedProblems } from './validation.js';
import { errorResponses } from './schemas.js';

/**
 * Sentry-style cron check-ins (Sentry's HTTP ingestion endpoint), so jobs that report to
 * Sentry Crons switch by changing the URL: `{project}` is the compter project, `{key}` its ping
 * key and `{debtId}` the monitor slug.
 *
 *   status in_progress → start, ok → success, error → fail; check_in_id is the run id
 *   (absent or the nil UUID on ok/error: the most recent open run, as Sentry does);
 *   duration (seconds) is the run length, winning over the check-ins' arrival times; monitor_config creates or updates the debt.
 */

const STATUSES = ['in_progress', 'ok', 'error'] as const;
const CHECK_IN_ID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const NIL_ID = '00000000000000000000000000000000';

const checkInBody = z.object({
  status: z.enum(STATUSES).optional(),
  check_in_id: z.string().max(64).optional(),
  duration: z
    .number()
    .min(0)
    .max(7 * 86_400)
    .nullable()
    .optional()
    .describe('seconds'),
  environment: z.string().max(64).optional(),
  release: z.string().max(256).optional(),
  monitor_slug: z.string().max(128).optional(),
  monitor_config: sentryMonitorConfigSchema.optional(),
});

const checkInQuery = z.object({
  status: z.enum(STATUSES).optional(),
  check_in_id: z.string().max(64).optional(),
  duration: z.coerce
    .number()
    .min(0)
    .max(7 * 86_400)
    .optional(),
  environment: z.string().max(64).optional(),
});

const checkInParams = z.object({
  project: z.string().max(128),
  debtId: z.string().regex(ID_PATTERN, 'must match ^[a-z0-9][a-z0-9._-]{0,127}$'),
  key: z.string().max(256),
});

type CheckInBody = z.infer<typeof checkInBody>;

/** A check_in_id as a run id (lower-case, dashed), 'latest' for the nil UUID, or undefined when absent. */
export function checkInRunId(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!CHECK_IN_ID.test(value))
    throw new DomainError('invalid', 'check_in_id must be a UUID', [{ path: 'check_in_id', message: 'must be a UUID' }]);
  const hex = value.replaceAll('-', '').toLowerCase();
  if (hex === NIL_ID) return 'latest';
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The check-in's rules beyond its schemas, on the raw input: a status from the body or the
 * query, a UUID check_in_id. With the schemas' own
 * problems, one answer lists them all.
 */
function checkInProblems(raw: RawInput, problems: SortedProblems): void {
  const body = isRecord(raw.body) ? raw.body : {};
  if (body.status === undefined && raw.query.status === undefined)
    problems.malformed.push({ path: 'status', message: 'required: in_progress, ok or error' });
  const checkInId = body.check_in_id ?? raw.query.check_in_id;
  if (typeof checkInId === 'string' && checkInId !== '' && !CHECK_IN_ID.test(checkInId))
    problems.invalid.push({ path: 'check_in_id', message: 'must be a UUID' });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function existingDebt(engine: DebtEngine, project: string, id: string): DebtJson | undefined {
  try {
    return engine.get(project, id);
  } catch (err) {
    if (err instanceof DomainError && err.code === 'not_found') return undefined;
    throw err;
  }
}

/** Registers `GET|POST /api/{project}/cron/{debtId}/{key}/` (with or without the trailing slash). */
export function registerSentryRoutes(app: OpenAPIHono<AppEnv>, engine: DebtEngine, clock: Clock, pingKeys: PingKeyLookup): void {
  const checkIn = async (
    c: Context<AppEnv>,
    params: z.infer<typeof checkInParams>,
    query: z.infer<typeof checkInQuery>,
    body: CheckInBody | undefined,
  ): Promise<Response> => {
    const project = pingKeys.resolve(params.key);
    // A key of another project answers like an unknown one: the URL reveals nothing.
    if (project === undefined || project !== params.project) throw new DomainError('not_found', 'no project with this id and key');
    c.get('rateLimit')?.(project);
    // checkInProblems made sure there is one.
    const status = (body?.status ?? query.status)!;
    const checkInId = checkInRunId(body?.check_in_id ?? query.check_in_id);
    const durationSeconds = body?.duration ?? query.duration;
    const environment = body?.environment ?? query.environment;

    if (body?.monitor_config) {
      const input = monitorDefinition(body.monitor_config, existingDebt(engine, project, params.debtId));
      await engine.defineIfChanged(project, params.debtId, input);
    }

    const payment: Payment = { kind: status === 'in_progress' ? 'start' : status === 'ok' ? 'success' : 'fail', at: clock.now() };
    if (status === 'in_progress') {
      if (checkInId !== undefined && checkInId !== 'latest') payment.runId = checkInId;
    } else {
      // Like Sentry: an end without its id (or with the nil id) closes the most recent open run.
      const runId = checkInId === undefined || checkInId === 'latest' ? engine.latestOpenRunId(project, params.debtId) : checkInId;
      if (runId) payment.runId = runId;
      if (durationSeconds != null) payment.durationMs = Math.round(durationSeconds * 1000);
    }
    if (environment) payment.message = `environment: ${environment}`;
    if (environment) payment.environment = environment;
    try {
      await engine.payQuietly(project, params.debtId, payment);
    } catch (err) {
      if (err instanceof DomainError && err.code === 'not_found') {
        throw new DomainError('not_found', `no debt "${params.debtId}"; send a monitor_config with the check-in to create it`);
      }
      throw err;
    }
    // Sentry's ingestion endpoint answers 202 without a body.
    return c.body(null, 202);
  };

  const responses = { 202: { description: 'check-in recorded (no body, as Sentry answers)' }, ...errorResponses };
  for (const path of ['/api/:project/cron/:debtId/:key/', '/api/:project/cron/:debtId/:key']) {
    const note = path.endsWith('/') ? '' : ' (same, without the trailing slash)';
    defineRoute(
      app,
      {
        method: 'post',
        path,
        scope: 'none',
        rateLimit: 'route',
        bodyLimit: 'payment',
        cors: 'any',
        summary: `Sentry-style cron check-in${note}: status, check_in_id, duration, environment, monitor_config`,
        tags: ['pings'],
        params: checkInParams,
        query: checkInQuery,
        body: checkInBody,
        check: checkInProblems,
        responses,
      },
      (c, { params, query, body }) => checkIn(c, params, query, body),
    );
    defineRoute(
      app,
      {
        method: 'get',
        path,
        scope: 'none',
        rateLimit: 'route',
        cors: 'any',
        summary: `Sentry-style cron check-in by query string${note}: ?status=in_progress|ok|error&check_in_id=&duration=&environment=`,
        tags: ['pings'],
        params: checkInParams,
        query: checkInQuery,
        check: checkInProblems,
        responses,
      },
      (c, { params, query }) => checkIn(c, params, query, undefined),
    );
  }
}
