import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './env.js';
import { rulesOf } from './route-rules.js';

/** How long a browser may cache a preflight answer, seconds (healthchecks sends 600 too). */
const PREFLIGHT_MAX_AGE_SECONDS = 600;
const PING_METHODS = 'GET, POST, HEAD, OPTIONS';
const API_METHODS = 'GET, HEAD, POST, PUT, DELETE, OPTIONS';
const API_HEADERS = 'Authorization, Content-Type';

/**
 * Middleware: CORS by route. Ping URLs allow every origin (`*`), as healthchecks does, so a
 * browser job or a status page can ping; the management API allows only `allowedOrigins`
 * (none by default; `*` allows all). A preflight (`OPTIONS` with Access-Control-Request-Method)
 * is answered here, before authentication: browsers never send a token with it.
 */
export function cors(allowedOrigins: readonly string[] = []): MiddlewareHandler<AppEnv> {
  const allowed = new Set(allowedOrigins);
  return async (c, next) => {
    const rules = rulesOf(c);
    const origin = c.req.header('origin');
    let allowOrigin: string | null = null;
    if (rules.cors === 'any') allowOrigin = '*';
    else if (origin !== undefined && (allowed.has(origin) || allowed.has('*'))) allowOrigin = origin;
    const headers: Record<string, string> = {};
    if (allowOrigin !== null) headers['Access-Control-Allow-Origin'] = allowOrigin;
    // The answer depends on Origin for the configured list: a cache must not share it.
    if (rules.cors === 'configured' && allowed.size > 0) headers['Vary'] = 'Origin';
    if (c.req.method === 'OPTIONS' && c.req.header('access-control-request-method') !== undefined && allowOrigin !== null) {
      return c.body(null, 204, {
        ...headers,
        'Access-Control-Allow-Methods': rules.cors === 'any' ? PING_METHODS : API_METHODS,
        'Access-Control-Allow-Headers': c.req.header('access-control-request-headers') ?? API_HEADERS,
        'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE_SECONDS),
      });
    }
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    await next();
    for (const [name, value] of Object.entries(headers)) {
      if (!c.res.headers.has(name)) setHeader(c, name, value);
    }
  };
}

function setHeader(c: Parameters<MiddlewareHandler<AppEnv>>[0], name: string, value: string): void {
  try {
    c.res.headers.set(name, value);
  } catch {
    // A response with immutable headers: copy it.
    const res = new Response(c.res.body, c.res);
    res.headers.set(name, value);
    c.res = res;
  }
}
