import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Clock } from '../domain/time/clock.js';
import { MESSAGE_LIMIT_BYTES, truncateUtf8 } from '../domain/debts/payment.js';
import type { RateLimiter } from '../domain/rate-limits.js';
import type { DebtEngine } from '../engine/debt-engine.js';
import type { CompterMetrics } from '../metrics/registry.js';
import { answering, hasBody, NEEDS_DECODING, plainQuery, readBody, writeError, type Lane } from './lane.js';
import { PING_BODY_LIMIT_VALUE, PING_ROUTE_PATHS, pingTarget, recordPing, type PingKeyLookup } from './ping-request.js';
import { projectCharger } from './rate-limit.js';
import { BODY_LIMITS, MAX_URL_LENGTH } from './request-limits.js';

export interface PingLaneDeps {
  engine: DebtEngine;
  clock: Clock;
  pingKeys: PingKeyLookup;
  limiter: RateLimiter;
  metrics: CompterMetrics;
  logger: Logger;
  /** The app's hard cap on ping bodies (a smaller cap than Ping-Body-Limit leaves more to the app). */
  hardCapBodyBytes?: number | undefined;
}

/** What every ping answer carries, as the ping routes and the CORS middleware set them. */
const PING_HEADERS = ['access-control-allow-origin', '*', 'cache-control', 'no-cache', 'ping-body-limit', PING_BODY_LIMIT_VALUE];
const OK_HEADERS = [...PING_HEADERS, 'content-type', 'text/plain; charset=UTF-8', 'content-length', '2'];
const HEAD_OK_HEADERS = [...PING_HEADERS, 'content-type', 'text/plain; charset=UTF-8'];
/** The app's route labels: the three patterns, then each with its trailing slash. */
const ROUTE_LABELS = [...PING_ROUTE_PATHS, ...PING_ROUTE_PATHS.map((p) => `${p}/`)];

/**
 * The ping lane (lane.ts): answers GET, HEAD and POST on ping URLs (ping-request.ts) straight
 * from Node's request. It leaves to the app what it would answer differently or not at all:
 * percent-encoded URLs, over-long ones, more than three segments, chunked bodies, bodies past
 * Ping-Body-Limit or the hard cap, and GET or HEAD with a body.
 */
export function pingLane(deps: PingLaneDeps): Lane {
  const { engine, clock, pingKeys, metrics, logger } = deps;
  const bodyLimit = Math.min(MESSAGE_LIMIT_BYTES, deps.hardCapBodyBytes ?? BODY_LIMITS.hardCap);
  const charge = projectCharger(deps.limiter, clock, (project) => metrics.rateLimited.inc({ project }));

  const answer = async (req: IncomingMessage, res: ServerResponse, segments: string[], route: string, search: string): Promise<void> => {
    const started = performance.now();
    const method = req.method!;
    let isBodyRead = false;
    let status: number;
    try {
      const target = pingTarget(engine, pingKeys, segments);
      const { isCreated } = await recordPing(engine, clock, target, {
        method,
        query: plainQuery(search),
        readBody: async () => {
          isBodyRead = true;
          // At most Ping-Body-Limit bytes (the lane takes no larger body), kept as the ping keeps it.
          const body = await readBody(req);
          return { text: truncateUtf8(body.toString('utf8'), MESSAGE_LIMIT_BYTES), isOverCap: false };
        },
        charge,
      });
      status = isCreated ? 201 : 200;
      if (method === 'HEAD') {
        res.writeHead(status, HEAD_OK_HEADERS);
        res.end();
      } else {
        res.writeHead(status, OK_HEADERS);
        res.end('OK');
      }
    } catch (err) {
      status = writeError(req, res, err, PING_HEADERS, logger, method === 'POST' && !isBodyRead && hasBody(req));
    }
    metrics.httpRequests.inc({ route, code: String(status) });
    metrics.httpRequestDuration.observe({ route }, (performance.now() - started) / 1000);
  };

  return (req, res) => {
    const url = req.url;
    if (url === undefined || !url.startsWith('/ping/') || url.length > MAX_URL_LENGTH || NEEDS_DECODING.test(url)) return false;
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') return false;
    if (req.headers['transfer-encoding'] !== undefined) return false;
    const declared = req.headers['content-length'];
    if (declared !== undefined && (method !== 'POST' || !(Number(declared) <= bodyLimit))) return false;
    const queryAt = url.indexOf('?');
    const segments = (queryAt === -1 ? url : url.slice(0, queryAt)).slice('/ping/'.length).split('/');
    const isTrailing = segments.length > 1 && segments[segments.length - 1] === '';
    if (isTrailing) segments.pop();
    if (segments.length > 3 || segments.includes('')) return false;
    const route = ROUTE_LABELS[segments.length - 1 + (isTrailing ? 3 : 0)]!;
    answering(logger, req, res, answer(req, res, segments, route, queryAt === -1 ? '' : url.slice(queryAt + 1)));
    return true;
  };
}
