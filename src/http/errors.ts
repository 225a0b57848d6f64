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
  const body = errorBody({ status, code, message, problems }, typeof requestId === 'string' ? requestId : '');
  if (retryAfterSeconds !== undefined) c.header('Retry-After', retryAfterValue(retryAfterSeconds));
  return c.json(body, status);
}

/** How a thrown error is answered: status, code, message, and what else the one error shape carries. */
export interface ErrorAnswer {
  status: ContentfulStatusCode;
  code: string;
  message: string;
  problems?: Problem[];
  retryAfterSeconds?: number;
}

/**
 * The answer to anything thrown while handling a request, or null when it is unexpected (a
 * bug: logged, and answered 500 without internals). Client mistakes get 4xx with every problem
 * listed; nothing a client sends maps to a 5xx.
 */
export function errorAnswer(err: unknown): ErrorAnswer | null {
  if (err instanceof BadRequestError) return { status: 400, code: 'bad_request', message: err.message, problems: err.problems };
  if (err instanceof DomainError) {
    const answer: ErrorAnswer = { status: STATUS_OF[err.code], code: err.code, message: err.message, problems: err.problems };
    if (err.retryAfterSeconds !== undefined) answer.retryAfterSeconds = err.retryAfterSeconds;
    return answer;
  }
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
    return { status, code, message: err.message || 'request refused' };
  }
  // The writer's queue is full or it is shutting down: nothing was made durable; retry.
  if (err instanceof BackpressureError)
    return { status: 503, code: 'unavailable', message: err.message, retryAfterSeconds: err.retryAfterSeconds };
  if (err instanceof WriterClosedError)
    return { status: 503, code: 'unavailable', message: 'compter is shutting down; retry', retryAfterSeconds: 5 };
  return null;
}

/** The answer to an unexpected error: the one shape, no internals. */
export const UNEXPECTED_ANSWER: ErrorAnswer = { status: 500, code: 'internal', message: 'unexpected error; it has been logged' };

/** The one error body for `answer`. */
export function errorBody(answer: ErrorAnswer, requestId: string): ErrorBody {
  const body: ErrorBody = { error: { code: answer.code, message: answer.message, requestId } };
  if (answer.problems && answer.problems.length) body.error.problems = answer.problems;
  return body;
}

/** The one error body for `answer`, as JSON text. */
export function errorBodyText(answer: ErrorAnswer, requestId: string): string {
  return JSON.stringify(errorBody(answer, requestId));
}

/** The Retry-After header value for an answer that carries one. */
export function retryAfterValue(seconds: number): string {
  return String(Math.max(1, Math.ceil(seconds)));
}

/**
 * Maps anything thrown by a route to the one error shape (`errorAnswer`); an unexpected error
 * is passed to `onUnexpected` and answered 500.
 */
export function toErrorResponse(err: unknown, c: Context, onUnexpected: (err: unknown) => void): Response {
  const answer = errorAnswer(err);
  if (!answer) onUnexpected(err);
  const { status, code, message, problems, retryAfterSeconds } = answer ?? UNEXPECTED_ANSWER;
  return errorResponse(c, status, code, message, problems, retryAfterSeconds);
}
