import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { BadRequestError, errorAnswer, errorBodyText, retryAfterValue, UNEXPECTED_ANSWER } from './errors.js';
import { requestIdOf } from './request-id.js';

/*
 * Lanes: handlers in front of the app that answer one hot route straight from Node's request
 * and response (docs/architecture.md, "Lanes"). The app builds a web Request, a context and a
 * Response for every request and runs five middlewares; for a ping that was half of its CPU.
 * A lane takes only requests it answers exactly as the app would (same status, headers, body,
 * metrics and error shape: test/http/lanes.test.ts runs the route suites through both), and
 * leaves every other one, untouched, to the app.
 */

/** Answers the request and returns true, or returns false without touching it. */
export type Lane = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * Runs a lane's answer, which handles its own errors; anything that still escapes (a bug) is
 * logged and the connection closed, so no request can end the process with an unhandled
 * rejection.
 */
export function answering(logger: Logger, req: IncomingMessage, res: ServerResponse, answer: Promise<void>): void {
  answer.catch((err: unknown) => {
    logger.error({ err, path: (req.url ?? '').split('?')[0]!.slice(0, 200) }, 'unexpected error in a lane');
    res.destroy();
  });
}

/** The Node request listener: the lanes in order, then the app's own listener. */
export function withLanes(lanes: readonly Lane[], app: (req: IncomingMessage, res: ServerResponse) => unknown): RequestListener {
  if (lanes.length === 0) return (req, res) => void app(req, res);
  return (req, res) => {
    for (const lane of lanes) if (lane(req, res)) return;
    void app(req, res);
  };
}

const NO_QUERY = (): undefined => undefined;

/**
 * A query string's parameters as the app reads them (first value wins, a name without `=` is
 * ''), for query strings that need no decoding: a lane leaves any URL with `%` or `+` to the app.
 */
export function plainQuery(search: string): (name: string) => string | undefined {
  if (search === '') return NO_QUERY;
  let params: Map<string, string> | null = null;
  return (name) => {
    if (!params) {
      params = new Map();
      for (const part of search.split('&')) {
        const eq = part.indexOf('=');
        const key = eq === -1 ? part : part.slice(0, eq);
        if (key !== '' && !params.has(key)) params.set(key, eq === -1 ? '' : part.slice(eq + 1));
      }
    }
    return params.get(name);
  };
}

/**
 * Answers `err` in the one error shape with `headers` (the route's own) and returns the status.
 * An unexpected error is logged, as the app's onError does, and answered 500.
 */
export function writeError(
  req: IncomingMessage,
  res: ServerResponse,
  err: unknown,
  headers: readonly string[],
  logger: Logger,
  isBodyLeft: boolean,
): number {
  const requestId = requestIdOf(headerOf(req, 'x-request-id'));
  let answer = errorAnswer(err);
  if (!answer) {
    logger.error({ err, requestId, path: (req.url ?? '').split('?')[0]!.slice(0, 200) }, 'unexpected error');
    answer = UNEXPECTED_ANSWER;
  }
  // Failed after its answer began (a socket error while writing): nothing more can be said on it.
  if (res.headersSent) {
    res.destroy();
    return answer.status;
  }
  const body = errorBodyText(answer, requestId);
  const isHead = req.method === 'HEAD';
  // As the app answers HEAD: the headers of the error without its length.
  const all = isHead
    ? [...headers, 'content-type', 'application/json']
    : [...headers, 'content-type', 'application/json', 'content-length', String(Buffer.byteLength(body))];
  if (answer.retryAfterSeconds !== undefined) all.push('retry-after', retryAfterValue(answer.retryAfterSeconds));
  // A body still on the wire would be read as the next request on this connection.
  if (isBodyLeft) all.push('connection', 'close');
  res.writeHead(answer.status, all);
  res.end(isHead ? undefined : body);
  return answer.status;
}

/** A request header's value as the app reads it (repeats joined by ", "). */
export function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Characters whose meaning in a URL needs decoding (or a fragment): a lane leaves such URLs to the app. */
export const NEEDS_DECODING = /[%+#]/;

/** Whether the request declares a body that is not empty. */
export function hasBody(req: IncomingMessage): boolean {
  const declared = req.headers['content-length'];
  return (declared !== undefined && declared !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/**
 * The whole body of a request framed by Content-Length (Node's parser delivers no more than it
 * says; a lane takes only small ones). A body cut short is a 400 no client will read.
 */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let isDone = false;
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => {
      isDone = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
    req.once('close', () => {
      if (!isDone) reject(new BadRequestError('the request body ended before its Content-Length'));
    });
  });
}
