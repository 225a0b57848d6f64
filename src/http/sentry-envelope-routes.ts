import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate, inflateRaw } from 'node:zlib';
import { z } from 'zod';
import { checkInRunIdOf, sentryCheckInSchema, type SentryCheckIn } from '../domain/debts/sentry-check-in.js';
import { sentryProjectIdOf } from '../domain/debts/sentry-dsn.js';
import { parseEnvelope, publicKeyOfDsn, sentryKeyOfAuthHeader } from '../domain/debts/sentry-envelope.js';
import { DomainError, type Problem } from '../domain/problems.js';
import type { LocatedCheckIn, SentryCheckIns } from '../engine/sentry-check-ins.js';
import type { AppEnv } from './env.js';
import { BadRequestError } from './errors.js';
import { assertJsonShape, assertWellFormedStrings, BODY_LIMITS } from './request-limits.js';
import { defineRoute } from './route.js';
import { errorResponses } from './schemas.js';

/**
 * `POST /api/{sentryProjectId}/envelope/`: the endpoint Sentry's SDKs and sentry-cli send to.
 * `check_in` items are check-ins on the debt named by `monitor_slug`; every other item type is
 * accepted and dropped, so an application that also reports errors to this DSN is unaffected.
 * All check-ins of an envelope are validated before the first is recorded: a 4xx records
 * nothing, a 2xx means every check-in in it is durable. docs/semantics.md, "Sentry Crons".
 */

/** Who may send envelopes: the key in the DSN (query `sentry_key`, `X-Sentry-Auth`, or the envelope's `dsn`). */
export interface SentryKeyLookup {
  resolveSentryKey(publicKey: string): string | undefined;
}

/** A decoded envelope larger than the payment routes' hard cap is refused (413): a small body must not inflate without bound. */
export const MAX_ENVELOPE_BYTES = BODY_LIMITS.hardCap;

const decompressors: Record<string, (body: Buffer, options: { maxOutputLength: number }) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  br: promisify(brotliDecompress),
};
const inflateAsync = promisify(inflate);
const inflateRawAsync = promisify(inflateRaw);

// Sentry exposes these to browser SDKs, which back off by them (the CORS middleware adds the origin).
const EXPOSE_HEADERS = 'x-sentry-error, x-sentry-rate-limits, retry-after';

const envelopeParams = z.object({ sentryProjectId: z.string().regex(/^\d{1,20}$/, 'must be the numeric sentryProjectId') });
const envelopeQuery = z.object({
  sentry_key: z.string().max(256).optional(),
  sentry_version: z.string().max(16).optional(),
  sentry_client: z.string().max(256).optional(),
});

/** The body as bytes, decompressed as Content-Encoding says. */
async function decodedBody(c: Context<AppEnv>): Promise<Buffer> {
  const raw = Buffer.from(await c.req.arrayBuffer());
  const encoding = (c.req.header('content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity' || encoding === '' || raw.length === 0) return raw;
  const options = { maxOutputLength: MAX_ENVELOPE_BYTES };
  try {
    const decompress = decompressors[encoding];
    if (decompress) return await decompress(raw, options);
    if (encoding === 'deflate') {
      // HTTP's deflate is zlib-wrapped, but some clients send a raw deflate stream.
      return await inflateAsync(raw, options).catch(() => inflateRawAsync(raw, options));
    }
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
      throw new DomainError('too_large', `envelope inflates beyond ${MAX_ENVELOPE_BYTES} bytes`);
    throw new BadRequestError(`body is not valid ${encoding} (corrupt or truncated)`, [
      { path: '(body)', message: `not valid ${encoding} data` },
    ]);
  }
  throw new BadRequestError(`unsupported Content-Encoding "${encoding.slice(0, 32)}": send plain, gzip, deflate or br`, [
    { path: 'content-encoding', message: 'must be gzip, deflate, br or absent' },
  ]);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The check-in of one `check_in` item, or the problems with it (paths under `items[i]`). */
function readCheckIn(payload: Uint8Array, index: number, problems: Problem[]): SentryCheckIn | undefined {
  const where = `items[${index}]`;
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    problems.push({ path: where, message: 'check_in payload is not UTF-8' });
    return undefined;
  }
  assertJsonShape(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    problems.push({ path: where, message: 'check_in payload is not valid JSON' });
    return undefined;
  }
  assertWellFormedStrings(value);
  const parsed = sentryCheckInSchema.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push({ path: [where, ...issue.path.map(String)].join('.'), message: issue.message });
    return undefined;
  }
  const runId = checkInRunIdOf(parsed.data.check_in_id);
  if ('problem' in runId) {
    problems.push({ path: `${where}.check_in_id`, message: runId.problem });
    return undefined;
  }
  return parsed.data;
}

/** The project the key belongs to when the URL names that project's id; 401 otherwise (which one, never said). */
function authorize(keys: SentryKeyLookup, key: string | undefined, sentryProjectId: string): string {
  if (key === undefined)
    throw new DomainError('unauthorized', 'missing sentry_key: use the sentryDsn of GET /v1/ping-key (its user part is the key)');
  const project = keys.resolveSentryKey(key);
  if (project === undefined || sentryProjectIdOf(project) !== sentryProjectId)
    throw new DomainError('unauthorized', 'unknown sentry_key for this project id');
  return project;
}

/** Registers the envelope endpoint (with and without the trailing slash; defineRoute answers the CORS preflight). */
export function registerSentryEnvelopeRoutes(app: OpenAPIHono<AppEnv>, checkInsOf: SentryCheckIns, keys: SentryKeyLookup): void {
  app.use('/api/:sentryProjectId/envelope/*', async (c, next) => {
    await next();
    c.res.headers.set('Access-Control-Expose-Headers', EXPOSE_HEADERS);
    const retryAfter = c.res.headers.get('retry-after');
    // Sentry's SDKs back off by this header (all categories), as they would from Sentry itself.
    if (c.res.status === 429 && retryAfter) c.res.headers.set('X-Sentry-Rate-Limits', `${retryAfter}::organization`);
  });

  const receive = async (c: Context<AppEnv>, sentryProjectId: string, queryKey: string | undefined): Promise<Response> => {
    const givenKey = queryKey ?? sentryKeyOfAuthHeader(c.req.header('x-sentry-auth'));
    // A key in the URL or header is checked before the body is read: a wrong one costs nothing.
    let project = givenKey === undefined ? undefined : authorize(keys, givenKey, sentryProjectId);
    const parsed = parseEnvelope(await decodedBody(c));
    if (!parsed.ok)
      throw new BadRequestError(`not a Sentry envelope: ${parsed.path}: ${parsed.message}`, [
        { path: parsed.path, message: parsed.message },
      ]);
    const { envelope } = parsed;
    // Tunnelled envelopes carry their DSN in the header instead.
    project ??= authorize(keys, publicKeyOfDsn(envelope.header.dsn), sentryProjectId);
    c.get('rateLimit')?.(project);

    const problems: Problem[] = [];
    const checkIns: LocatedCheckIn[] = [];
    envelope.items.forEach((item, index) => {
      if (item.type !== 'check_in') return;
      const checkIn = readCheckIn(item.payload, index, problems);
      if (checkIn) checkIns.push({ checkIn, index });
    });
    if (problems.length)
      throw new BadRequestError(`invalid check-in: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, problems);

    const { created } = await checkInsOf.record(project, checkIns);
    // Sentry answers with the envelope's event id; 201 when a check-in created a debt, as every payment door does.
    const eventId = typeof envelope.header.event_id === 'string' ? envelope.header.event_id : undefined;
    return c.json(eventId ? { id: eventId } : {}, created ? 201 : 200);
  };

  for (const path of ['/api/:sentryProjectId/envelope/', '/api/:sentryProjectId/envelope']) {
    const note = path.endsWith('/') ? '' : ' (same, without the trailing slash)';
    defineRoute(
      app,
      {
        method: 'post',
        path,
        // The key in the DSN authenticates; bodies as on the payment routes; browsers from any origin.
        scope: 'none',
        rateLimit: 'route',
        bodyLimit: 'payment',
        cors: 'any',
        summary: `Sentry envelope${note}: check_in items are check-ins; other items are accepted and dropped`,
        tags: ['pings'],
        params: envelopeParams,
        query: envelopeQuery,
        responses: {
          200: { description: 'envelope accepted; its check-ins are durable' },
          201: { description: 'accepted, and a monitor_config created a debt' },
          ...errorResponses,
        },
      },
      (c, { params, query }) => receive(c, params.sentryProjectId, query.sentry_key),
    );
  }
}
