import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DomainError, type DomainErrorCode, type Problem } from '../domain/problems.js';
import { BackpressureError, WriterClosedError } from '../store/batch-writer.js';

/** The one error body (README, "API"). */
export interface ErrorBody {
  error: { code: string; message: string; requestId: string; problems?: Problem[] };
}

const STATUS_OF: Record<DomainErrorCode, ContentfulStatusCode> = {
  invalid: 422,
  not_found: 404,
  conflict: 409,
  gone: 410,
  unauthorized: 401,
  forbidden: 403,
  rate_limited: 429,
  unavailable: 503,
  too_large: 413,
};

/** Malformed input caught before the domain sees it (bad JSON, wrong types): 400. */
export class BadRequestError extends Error {
  constructor(
    message: string,
    readonly problems: Problem[] = [],
  ) {
    super(message);
    this.name = 'BadRequestError';
  }
}

/** Answers with the one error shape. */
export function errorResponse(
  c: Context,
  status: ContentfulStatusCode,
  code: string,
  message: string,
  problems?: Problem[],
  retryAfterSeconds?: number,
): Response {
  const requestId: unknown = c.get('requestId');
  const body: ErrorBody = { error: { code, message, requestId: typeof requestId === 'string' ? requestId : '' } };
  if (problems && problems.length) body.error.problems = problems;
  if (retryAfterSeconds !== undefined) c.header('Retry-After', String(Math.max(1, Math.ceil(retryAfterSeconds))));
  return c.json(body, status);
}

/**
 * Maps anything thrown by a route to the one error shape. Client mistakes get 4xx with every
 * problem listed; an unexpected error is logged and answered 500 without internals.
 */
export function toErrorResponse(err: unknown, c: Context, onUnexpected: (err: unknown) => void): Response {
  if (err instanceof BadRequestError) return errorResponse(c, 400, 'bad_request', err.message, err.problems);
  if (err instanceof DomainError) return errorResponse(c, STATUS_OF[err.code], err.code, err.message, err.problems, err.retryAfterSeconds);
  if (err instanceof HTTPException) {
    const status = err.status;
    const code =
      status === 413
        ? 'too_large'
        : status === 404
          ? 'not_found'
          : status === 401
            ? 'unauthorized'
            : status >= 500
              ? 'unavailable'
              : 'bad_request';
    return errorResponse(c, status, code, err.message || 'request refused');
  }
  // The writer's queue is full or it is shutting down: nothing was made durable; retry.
  if (err instanceof BackpressureError) return errorResponse(c, 503, 'unavailable', err.message, undefined, err.retryAfterSeconds);
  if (err instanceof WriterClosedError) return errorResponse(c, 503, 'unavailable', 'compter is shutting down; retry', undefined, 5);
  onUnexpected(err);
  return errorResponse(c, 500, 'internal', 'unexpected error; it has been logged');
}
