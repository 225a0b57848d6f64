import type { MiddlewareHandler } from 'hono';

/**
 * A server span per HTTP request (@hono/otel), named by the matched route pattern. Loaded on
 * the first request, so a compter without tracing never loads the module; add it only when
 * `isTracingActive()`.
 */
export function tracingMiddleware(serviceVersion: string): MiddlewareHandler {
  let loaded: Promise<MiddlewareHandler> | null = null;
  return async (c, next) => {
    loaded ??= import('@hono/otel').then((m) =>
      m.httpInstrumentationMiddleware({ serviceName: 'compter', serviceVersion, captureActiveRequests: false }),
    );
    return (await loaded)(c, next);
  };
}
