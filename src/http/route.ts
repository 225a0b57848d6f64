import type { OpenAPIHono, RouteConfig } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { z } from 'zod';
import { BadRequestError } from './errors.js';
import { sortIssues, throwIfProblems, type SortedProblems } from './validation.js';
import { assertJsonShape, assertWellFormedStrings } from './request-limits.js';
import type { AppEnv } from './env.js';
import {
  DEFAULT_RULES,
  withRules,
  type BodyClass,
  type CorsClass,
  type RateLimitClass,
  type RouteRules,
  type RouteScope,
} from './route-rules.js';

type AnyObject = z.ZodType<Record<string, unknown>>;

/** A route: its documentation and validation come from the same zod schemas. */
export interface RouteSpec<P extends AnyObject, Q extends AnyObject, B extends z.ZodType> {
  method: 'get' | 'post' | 'put' | 'delete' | 'head';
  /** Hono path syntax (`/v1/debts/:id`). */
  path: string;
  summary: string;
  tags: string[];
  params?: P;
  query?: Q;
  body?: B;
  /** Request headers the route reads, for the document only (the handler reads them). */
  headers?: AnyObject;
  /** Body schema only for the document when validation is done by the handler itself. */
  responses: RouteConfig['responses'];
  /** The scope a bearer token needs (`none`: no token). */
  scope: RouteScope;
  /** Default: `definition` with a body schema, `none` without. */
  bodyLimit?: BodyClass;
  /** Default: `project` (the token's project is charged before the handler runs). */
  rateLimit?: RateLimitClass;
  /** Default: `configured` (COMPTER_CORS_ORIGINS). */
  cors?: CorsClass;
  /**
   * Rules across fields the schemas cannot state, run on the raw input even when a schema
   * failed, so one answer lists every problem.
   */
  check?: (raw: RawInput, problems: SortedProblems) => void;
}

/** The request's input before validation: path and query parameters as strings, the parsed JSON body. */
export interface RawInput {
  params: Record<string, string>;
  query: Record<string, string>;
  body: unknown;
}

export interface Validated<P, Q, B> {
  params: P;
  query: Q;
  body: B;
}

/** Reads a JSON body whatever the content type says (curl -d sends form type); empty means absent. */
export async function readJson(c: Context): Promise<unknown> {
  return parseJsonBody(await c.req.text());
}

/** A request body's JSON: undefined when empty, a 400 when too deep, too wide, not JSON or not valid Unicode. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  assertJsonShape(text);
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw new BadRequestError('request body is not valid JSON');
  }
  assertWellFormedStrings(value);
  return value;
}

/** The route's input validated by its schemas and check, or the one 400/422 answer listing every problem. */
export function validateInput<P extends AnyObject, Q extends AnyObject, B extends z.ZodType>(
  spec: Pick<RouteSpec<P, Q, B>, 'params' | 'query' | 'body' | 'check'>,
  raw: RawInput,
): Validated<z.infer<P>, z.infer<Q>, z.infer<B> | undefined> {
  const problems: SortedProblems = { malformed: [], invalid: [] };
  let params: unknown = {};
  let query: unknown = {};
  let body: unknown;
  if (spec.params) {
    const r = spec.params.safeParse(raw.params);
    if (r.success) params = r.data;
    else sortIssues(r.error, 'path', problems);
  }
  if (spec.query) {
    const r = spec.query.safeParse(raw.query);
    if (r.success) query = r.data;
    else sortIssues(r.error, 'query', problems);
  }
  if (spec.body && raw.body !== undefined) {
    const r = spec.body.safeParse(raw.body);
    if (r.success) body = r.data;
    else sortIssues(r.error, '', problems);
  }
  spec.check?.(raw, problems);
  throwIfProblems(problems);
  return { params, query, body } as Validated<z.infer<P>, z.infer<Q>, z.infer<B> | undefined>;
}

/**
 * Registers a route on the app: documents it in the OpenAPI registry and validates params,
 * query and JSON body with the same schemas, listing every problem in one answer (400 or 422 by the rule in validation.ts).
 */
export function defineRoute<P extends AnyObject, Q extends AnyObject, B extends z.ZodType>(
  app: OpenAPIHono<AppEnv>,
  spec: RouteSpec<P, Q, B>,
  handler: (c: Context<AppEnv>, input: Validated<z.infer<P>, z.infer<Q>, z.infer<B> | undefined>) => Response | Promise<Response>,
): void {
  const request: RouteConfig['request'] = {};
  if (spec.params) request.params = spec.params as never;
  if (spec.query) request.query = spec.query as never;
  if (spec.headers) request.headers = spec.headers as never;
  if (spec.body) request.body = { content: { 'application/json': { schema: spec.body as never } }, required: false };
  app.openAPIRegistry.registerPath({
    method: spec.method,
    path: spec.path.replace(/:([A-Za-z]+)(\{[^}]*\})?/g, '{$1}'),
    summary: spec.summary,
    tags: spec.tags,
    request,
    responses: spec.responses,
  });
  const rules: RouteRules = {
    scope: spec.scope,
    body: spec.bodyLimit ?? (spec.body ? 'definition' : 'none'),
    rateLimit: spec.rateLimit ?? DEFAULT_RULES.rateLimit,
    cors: spec.cors ?? DEFAULT_RULES.cors,
  };
  // A route open to every origin answers the browser's preflight too (the CORS middleware
  // answers it; this route only carries the rules there).
  if (rules.cors === 'any')
    app.on(
      'OPTIONS',
      spec.path,
      withRules((c: Context<AppEnv>) => c.body(null, 204), rules),
    );
  app.on(
    spec.method.toUpperCase(),
    spec.path,
    withRules(async (c: Context<AppEnv>) => {
      const raw: RawInput = { params: c.req.param(), query: c.req.query(), body: spec.body ? await readJson(c) : undefined };
      return handler(c, validateInput(spec, raw));
    }, rules),
  );
}
