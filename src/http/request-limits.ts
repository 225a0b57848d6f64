import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AppEnv } from './env.js';
import { BadRequestError, errorResponse } from './errors.js';
import { rulesOf, type BodyClass } from './route-rules.js';

/**
 * How big and how slow a request may be. Every limit is checked before the request reaches a
 * route, so a hostile client is refused with a 4xx before compter spends memory or parsing on it.
 */

const KiB = 1024;
const MiB = 1024 * KiB;

/** Body limits by route class (bytes); a route names its class in its rules (route-rules.ts). */
export const BODY_LIMITS = {
  /** A job-status batch: up to 1000 reports of well under 1 KiB each. */
  batch: 2 * MiB,
  /** Definitions (debts, calendars, SLOs) and anything else. */
  definition: 1 * MiB,
  /**
   * Pings and payments: the default hard cap. Jobs send their log as the body; only the first
   * Ping-Body-Limit bytes are kept, so anything this large is a mistake, not a log.
   */
  hardCap: 10 * MiB,
} as const;

/** The longest request target (path and query) accepted; longer answers 414. */
export const MAX_URL_LENGTH = 8 * KiB;
/** JSON nesting beyond this is refused with 400 before parsing: no schema nests deeper than a few levels. */
export const MAX_JSON_DEPTH = 32;
/** Members of one JSON array or object: a job-status batch has at most 1000. */
export const MAX_JSON_MEMBERS = 10_000;

/** Options for the Node HTTP server (slow clients cannot hold connections open forever). */
export const SERVER_LIMITS = {
  /** Whole request line and headers. Node answers 431 beyond it. */
  maxHeaderSize: 16 * KiB,
  /** The headers must arrive within this. */
  headersTimeout: 10_000,
  /** The whole request, body included, must arrive within this (slowloris). */
  requestTimeout: 30_000,
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeout: 5_000,
  /** How often Node checks the two timeouts above (its default, 30 s, would triple them). */
  connectionsCheckingInterval: 2_000,
} as const;

/** Configurable limits of `requestLimits` (bytes). */
export interface RequestLimitOptions {
  definitionBodyBytes?: number | undefined;
  hardCapBodyBytes?: number | undefined;
}

/** The body limit a route class enforces before the route runs, or null when the route bounds its body itself. */
export function bodyLimitFor(body: BodyClass, options: RequestLimitOptions = {}): number | null {
  const definitionBytes = options.definitionBodyBytes ?? BODY_LIMITS.definition;
  switch (body) {
    case 'ping':
      return null;
    case 'payment':
      return options.hardCapBodyBytes ?? BODY_LIMITS.hardCap;
    case 'batch':
      return Math.max(BODY_LIMITS.batch, definitionBytes);
    case 'definition':
    case 'none':
      return definitionBytes;
  }
}

/** Middleware: refuses over-long URLs (414) and bodies over their route's limit (413). */
export function requestLimits(options: RequestLimitOptions = {}): MiddlewareHandler<AppEnv> {
  const limiters = new Map<number, MiddlewareHandler>();
  const limiterFor = (maxSize: number): MiddlewareHandler => {
    let limiter = limiters.get(maxSize);
    if (!limiter) {
      limiter = bodyLimit({ maxSize, onError: (c) => tooLarge(c, maxSize) });
      limiters.set(maxSize, limiter);
    }
    return limiter;
  };
  return async (c, next) => {
    if (requestTargetLength(c.req.url) > MAX_URL_LENGTH) {
      return errorResponse(c, 414, 'uri_too_long', `request target longer than ${MAX_URL_LENGTH} bytes`);
    }
    const maxSize = c.req.method === 'GET' || c.req.method === 'HEAD' ? null : bodyLimitFor(rulesOf(c).body, options);
    const declared = maxSize === null ? null : declaredLength(c);
    if (maxSize === null) await next();
    else if (declared !== null) {
      // A Content-Length bounds what Node's parser delivers, so the header alone decides, and
      // the body is then read straight from the socket. Hono's limiter would wrap it in a web
      // stream, which costs more than the rest of a payment's handling.
      if (declared > maxSize) return tooLarge(c, maxSize);
      await next();
    } else {
      // The limiter answers an over-size body itself (413) without calling next().
      const refused = await limiterFor(maxSize)(c, next);
      if (refused instanceof Response) c.res = refused;
    }
    // A body the route never read is still on the wire (a DELETE with a body, a refused
    // request): close the connection after this response rather than let it poison the next
    // request on the same keep-alive connection.
    if (hasBody(c.req.raw) && !c.req.raw.bodyUsed) closeAfter(c);
  };
}

function tooLarge(c: Context, maxSize: number): Response {
  // The rest of the body is still on the wire; reusing the connection would make the client's
  // next request on it fail. Close it once the 413 is written.
  c.header('Connection', 'close');
  return errorResponse(c, 413, 'too_large', `request body exceeds ${maxSize} bytes for this route`);
}

/** The body's Content-Length when it is the framing (no Transfer-Encoding), else null. */
function declaredLength(c: Context): number | null {
  if (c.req.header('transfer-encoding') !== undefined) return null;
  const length = c.req.header('content-length');
  if (length === undefined) return null;
  const n = Number(length);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/** Marks the response to close the connection after it is written (the request body was not all read). */
export function closeAfter(c: Context): void {
  try {
    c.res.headers.set('Connection', 'close');
  } catch {
    // A response with immutable headers: copy it.
    const res = new Response(c.res.body, c.res);
    res.headers.set('Connection', 'close');
    c.res = res;
  }
}

function hasBody(request: Request): boolean {
  const length = request.headers.get('content-length');
  return (length !== null && length !== '0') || request.headers.has('transfer-encoding');
}

/** Length of the path and query of an absolute URL. */
function requestTargetLength(url: string): number {
  const slash = url.indexOf('/', url.indexOf('//') + 2);
  return slash < 0 ? 0 : url.length - slash;
}

const STRING_END = /["\\]/g;

/**
 * Why a JSON text is too deep or too wide to parse, or null. One pass over the text, skipping
 * strings; run before JSON.parse so a 1 MiB `[[[[...` never becomes an object graph.
 */
export function jsonShapeProblem(text: string, maxDepth = MAX_JSON_DEPTH, maxMembers = MAX_JSON_MEMBERS): string | null {
  const members: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22) {
      // Jump to the closing quote, stepping over escapes.
      for (;;) {
        STRING_END.lastIndex = i + 1;
        const m = STRING_END.exec(text);
        if (!m) return null; // unterminated: JSON.parse reports it
        i = m.index;
        if (text.charCodeAt(i) === 0x5c) {
          i++;
          continue;
        }
        break;
      }
    } else if (ch === 0x5b || ch === 0x7b) {
      if (members.length >= maxDepth) return `JSON nested deeper than ${maxDepth} levels`;
      members.push(1);
    } else if (ch === 0x5d || ch === 0x7d) {
      members.pop();
    } else if (ch === 0x2c && members.length > 0) {
      if (++members[members.length - 1]! > maxMembers) return `a JSON array or object has more than ${maxMembers} members`;
    }
  }
  return null;
}

/** Throws a 400 when `text` is nested too deep or an array/object is too long. */
export function assertJsonShape(text: string): void {
  const problem = jsonShapeProblem(text);
  if (problem) throw new BadRequestError(`request body refused: ${problem}`, [{ path: '(body)', message: problem }]);
}

/**
 * Throws a 400 naming the first string (value or key) in a parsed JSON body that holds an
 * unpaired UTF-16 surrogate (`"\ud800"`): it has no UTF-8 form, so it could not be stored and
 * read back as sent, and ClickHouse refuses the whole batch it is in.
 */
export function assertWellFormedStrings(value: unknown): void {
  const path = illFormedPath(value, '');
  if (path !== null) {
    const where = path || '(body)';
    throw new BadRequestError(`${where}: contains an unpaired UTF-16 surrogate (not valid Unicode)`, [
      { path: where, message: 'contains an unpaired UTF-16 surrogate (not valid Unicode)' },
    ]);
  }
}

function illFormedPath(value: unknown, path: string): string | null {
  if (typeof value === 'string') return value.isWellFormed() ? null : path;
  if (value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = illFormedPath(value[i], `${path}[${i}]`);
      if (found !== null) return found;
    }
    return null;
  }
  for (const [key, child] of Object.entries(value)) {
    const childPath = path ? `${path}.${key}` : key;
    if (!key.isWellFormed()) return childPath;
    const found = illFormedPath(child, childPath);
    if (found !== null) return found;
  }
  return null;
}
