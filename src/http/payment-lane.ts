import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Clock } from '../domain/time/clock.js';
import type { RateLimiter } from '../domain/rate-limits.js';
import { DomainError } from '../domain/problems.js';
import type { DebtEngine } from '../engine/debt-engine.js';
import type { CompterMetrics } from '../metrics/registry.js';
import { principalFor, WWW_AUTHENTICATE, type TokenRegistry } from './auth.js';
import { PAYMENT_ROUTE, PREFERENCE_APPLIED, prefersMinimal, recordPayment } from './debt-routes.js';
import { answering, hasBody, headerOf, NEEDS_DECODING, readBody, writeError, type Lane } from './lane.js';
import { projectCharger } from './rate-limit.js';
import { BODY_LIMITS } from './request-limits.js';
import { parseJsonBody, validateInput } from './route.js';

export interface PaymentLaneDeps {
  engine: DebtEngine;
  clock: Clock;
  tokens: TokenRegistry;
  limiter: RateLimiter;
  metrics: CompterMetrics;
  logger: Logger;
  /** The app's hard cap on payment bodies. */
  hardCapBodyBytes?: number | undefined;
}

/** The largest body the lane reads; a larger payment (a long log as its message) goes to the app. */
const LANE_BODY_BYTES = 64 * 1024;
const ROUTE_LABEL = '/v1/debts/:id/payments';
const PREFIX = '/v1/debts/';
const SUFFIX = '/payments';
const NO_HEADERS: readonly string[] = [];
const UNAUTHORIZED_HEADERS: readonly string[] = WWW_AUTHENTICATE;
const MINIMAL_HEADERS = ['preference-applied', PREFERENCE_APPLIED];

/**
 * The payment lane (lane.ts): answers `POST /v1/debts/{id}/payments`, what SDKs and `compter
 * exec` send, straight from Node's request: the same token check, rate limit, validation
 * (PAYMENT_ROUTE's schemas), payment and debt JSON as the route. It leaves to the app what it
 * would answer differently: a query string (vivify parameters), percent-encoded ids, a browser's
 * request (Origin: CORS), chunked bodies and bodies over 64 KiB.
 */
export function paymentLane(deps: PaymentLaneDeps): Lane {
  const { engine, clock, tokens, metrics, logger } = deps;
  const bodyLimit = Math.min(LANE_BODY_BYTES, deps.hardCapBodyBytes ?? BODY_LIMITS.hardCap);
  const charge = projectCharger(deps.limiter, clock, (project) => metrics.rateLimited.inc({ project }));

  const answer = async (req: IncomingMessage, res: ServerResponse, id: string): Promise<void> => {
    const started = performance.now();
    let isBodyRead = false;
    let errorHeaders = NO_HEADERS;
    let status: number;
    try {
      let project: string;
      try {
        project = principalFor(tokens, headerOf(req, 'authorization'), PAYMENT_ROUTE.scope).project;
      } catch (err) {
        if (err instanceof DomainError && err.code === 'unauthorized') errorHeaders = UNAUTHORIZED_HEADERS;
        throw err;
      }
      charge(project);
      isBodyRead = true;
      const body = parseJsonBody(withoutBom((await readBody(req)).toString('utf8')));
      const input = validateInput(PAYMENT_ROUTE, { params: { id }, query: {}, body });
      const { debt, created } = await recordPayment(engine, clock, project, input, prefersMinimal(headerOf(req, 'prefer')));
      if (debt === null) {
        status = created ? 201 : 204;
        res.writeHead(status, MINIMAL_HEADERS);
        res.end();
      } else {
        const json = JSON.stringify(debt);
        status = created ? 201 : 200;
        res.writeHead(status, ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(json))]);
        res.end(json);
      }
    } catch (err) {
      status = writeError(req, res, err, errorHeaders, logger, !isBodyRead && hasBody(req));
    }
    metrics.httpRequests.inc({ route: ROUTE_LABEL, code: String(status) });
    metrics.httpRequestDuration.observe({ route: ROUTE_LABEL }, (performance.now() - started) / 1000);
  };

  return (req, res) => {
    const url = req.url;
    if (req.method !== 'POST' || url === undefined || !url.startsWith(PREFIX) || !url.endsWith(SUFFIX)) return false;
    const id = url.slice(PREFIX.length, -SUFFIX.length);
    if (id === '' || id.includes('/') || id.includes('?') || NEEDS_DECODING.test(url)) return false;
    if (req.headers['transfer-encoding'] !== undefined || req.headers.origin !== undefined) return false;
    const declared = req.headers['content-length'];
    if (declared === undefined || !(Number(declared) <= bodyLimit)) return false;
    answering(logger, req, res, answer(req, res, id));
    return true;
  };
}

/** The body as the app reads it: its text decoder drops a leading byte-order mark. */
function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
