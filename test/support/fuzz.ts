/**
 * Request fuzzing from an OpenAPI document: a seeded generator of valid-ish requests for each
 * operation, and mutations that make them hostile (wrong types, huge strings, deep JSON, odd
 * Unicode, path tricks, SQL fragments, bad headers). Same seed, same requests.
 */

import { sentryProjectIdOf } from '../../src/domain/debts/sentry-dsn.js';

export { mulberry32 } from './seed.js';

export class Rng {
  constructor(readonly next: () => number) {}
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}

/** One operation of the document. */
export interface Operation {
  method: string;
  /** OpenAPI path template, `/v1/debts/{id}`. */
  path: string;
  params: { name: string; in: 'path' | 'query' | 'header'; schema: any }[];
  jsonBody: any | null;
  textBody: boolean;
}

/** Every operation of an OpenAPI 3.x document. */
export function operationsOf(doc: any): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries<any>(doc.paths ?? {})) {
    for (const [method, op] of Object.entries<any>(item)) {
      if (!['get', 'put', 'post', 'delete', 'head', 'patch'].includes(method)) continue;
      const content = op.requestBody?.content ?? {};
      ops.push({
        method: method.toUpperCase(),
        path,
        params: (op.parameters ?? []).map((p: any) => ({ name: p.name, in: p.in, schema: p.schema ?? {} })),
        jsonBody: content['application/json']?.schema ?? null,
        textBody: content['text/plain'] !== undefined,
      });
    }
  }
  return ops;
}

/** What the generator knows about the running compter, so valid-ish requests hit real things. */
export interface FuzzContext {
  rng: Rng;
  doc: any;
  ids: string[];
  pingIds: string[];
  pingKey: string;
  project: string;
  now: number;
}

const NASTY_STRINGS = [
  "'; DROP TABLE events; --",
  "' OR '1'='1",
  '1); DROP TABLE events; --',
  "\\'",
  '\\',
  '\\\\x00',
  '"',
  '`rm -rf /`',
  '$1',
  '${process.exit()}',
  '{{7*7}}',
  '%s%s%s%n',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\u202eevil\u202c',
  'שלום עולם',
  '👩‍👩‍👧‍👦🏳️‍🌈',
  '\ufeffbom',
  'e\u0301',
  '\u2028\u2029',
  '\r\n\r\nHTTP/1.1 200 OK',
  '<script>alert(1)</script>',
  '../../../../etc/passwd',
  'NaN',
  '-0',
  'null',
  '',
  ' ',
];

const PATH_TRICKS = [
  '..%2f..%2fetc%2fpasswd',
  '%2e%2e',
  '%00',
  'a%00b',
  encodeURIComponent("'; DROP TABLE events; --"),
  '%',
  '%zz',
  '%F0%9F%98%80',
  '%ED%A0%80',
  '%C0%AF',
  '.',
  '..',
  '%20',
  encodeURIComponent('\u202e'),
  'UPPER',
  '-leading-dash',
  'a'.repeat(129),
];

const WRONG_TYPES: unknown[] = [
  0,
  -1,
  1e308,
  0.5,
  -2147483649,
  2 ** 53 + 1,
  true,
  false,
  null,
  [],
  {},
  'string',
  [1, 'a', null],
  { a: { b: [] } },
];

/** A random string of `length` characters from a mix of ASCII, Unicode and control characters. */
export function randomString(rng: Rng, length: number): string {
  const pools = ['abcdefghijklmnopqrstuvwxyz0123456789-._', '\'"\\`;%$\u0000\n\t', 'éßøπжあ漢😀\u202e\u200d', '\ud800\udc00\udfff'];
  let out = '';
  for (let i = 0; i < length; i++) out += rng.pick(pools[rng.chance(0.8) ? 0 : rng.int(1, 3)]!.split(''));
  return out;
}

function hugeString(rng: Rng): string {
  const size = rng.chance(0.3) ? 1024 * 1024 : rng.int(300, 70 * 1024);
  return rng.pick(['x', 'é', "'", '\\', '😀']).repeat(Math.ceil(size / 2));
}

/** JSON nested `depth` levels (arrays or objects). */
export function deepValue(depth: number, asObject: boolean): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = asObject ? { a: value } : [value];
  return value;
}

/** A hostile value of any JSON type. */
export function nastyValue(rng: Rng): unknown {
  const roll = rng.next();
  if (roll < 0.3) return rng.pick(WRONG_TYPES);
  if (roll < 0.6) return rng.pick(NASTY_STRINGS);
  if (roll < 0.7) return hugeString(rng);
  if (roll < 0.8) return deepValue(rng.int(20, rng.chance(0.5) ? 40 : 3000), rng.chance(0.5));
  if (roll < 0.9) return randomString(rng, rng.int(1, 300));
  return rng.pick([
    JSON.parse('{"__proto__":{"polluted":1}}'),
    { constructor: { prototype: { polluted: 1 } } },
    Array(rng.int(1000, 12_000)).fill(0),
  ]);
}

function resolve(doc: any, schema: any): any {
  let s = schema;
  for (let i = 0; s?.$ref && i < 10; i++)
    s = s.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce((n: any, k: string) => n?.[k], doc);
  return s ?? {};
}

const DURATIONS = ['1h', '15m', '90s', '2d', 'PT15M', 60, 3600];

/** A plausible string for a field, from its name. */
function hinted(ctx: FuzzContext, name: string, maxLength: number | undefined): string | undefined {
  const { rng } = ctx;
  const today = new Date(ctx.now).toISOString().slice(0, 10);
  switch (name) {
    case 'id':
    case 'debtId':
    case 'sloId':
    case 'calendar':
      return rng.pick(ctx.ids);
    case 'pingId':
      return ctx.pingIds.length ? rng.pick(ctx.pingIds) : '00000000-0000-4000-8000-000000000000';
    case 'pingKey':
    case 'key':
      return ctx.pingKey;
    case 'first':
      return rng.chance(0.5) && ctx.pingIds.length ? rng.pick(ctx.pingIds) : ctx.pingKey;
    case 'second':
      return rng.pick([...ctx.ids, 'start', 'fail', 'log', '0', '3']);
    case 'action':
      return rng.pick(['start', 'fail', 'log', '0', '1', '255', '256']);
    case 'project':
      return ctx.project;
    case 'sentryProjectId':
      return rng.chance(0.8) ? sentryProjectIdOf(ctx.project) : '1';
    case 'sentry_key':
      return ctx.pingKey;
    case 'tz':
      return rng.pick(['UTC', 'Europe/Copenhagen', 'America/New_York']);
    case 'cron':
      return rng.pick(['0 * * * *', '*/5 * * * *', '0 2 * * *']);
    case 'rrule':
      return rng.pick(['FREQ=DAILY', 'FREQ=MONTHLY;BYMONTHDAY=1']);
    case 'every':
    case 'grace':
    case 'startWithin':
    case 'maxRuntime':
    case 'minRuntime':
    case 'slack':
      return String(rng.pick(DURATIONS));
    case 'at':
      return maxLength !== undefined && maxLength <= 8 ? '06:00' : new Date(ctx.now - rng.int(0, 3600_000)).toISOString();
    case 'time':
    case 'deadline':
      return new Date(ctx.now + rng.int(-3600_000, 3600_000)).toISOString();
    case 'businessDate':
    case 'from':
    case 'to':
      return today;
    case 'runId':
    case 'rid':
    case 'check_in_id':
      return `r-${rng.int(1, 50)}`;
    case 'application':
      return rng.pick(['deposits', 'loans']);
    case 'job':
      return rng.pick(['j1', 'j2']);
    case 'expectedStart':
    case 'expectedEnd':
      return rng.pick(['00:30', '03:00+1d', '+0m']);
    default:
      return undefined;
  }
}

/** A valid-ish value for `schema` (OpenAPI 3.1 JSON Schema). */
export function generate(ctx: FuzzContext, schema: any, name = '', depth = 0): unknown {
  const { rng } = ctx;
  const s = resolve(ctx.doc, schema);
  const alternatives = s.oneOf ?? s.anyOf;
  if (alternatives?.length) return generate(ctx, rng.pick(alternatives), name, depth);
  if (s.allOf?.length) return generate(ctx, s.allOf[0], name, depth);
  if (s.const !== undefined) return s.const;
  if (s.enum?.length) return rng.pick(s.enum);
  let type = s.type;
  if (Array.isArray(type))
    type = rng.pick(type.filter((t: string) => t !== 'null').length ? type.filter((t: string) => t !== 'null') : type);
  if (type === undefined) type = s.properties ? 'object' : s.items ? 'array' : 'string';
  switch (type) {
    case 'string': {
      const hint = hinted(ctx, name, s.maxLength);
      if (hint !== undefined) return hint;
      return randomString(rng, rng.int(s.minLength ?? 1, Math.min(s.maxLength ?? 24, 24)));
    }
    case 'integer':
    case 'number': {
      const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : 0);
      const max = s.maximum ?? Math.max(min, 1000);
      const n = rng.int(Math.max(min, -1e6), Math.min(max, 1e6));
      return name === 'exitCode' ? rng.pick([0, 1, 2, 255]) : n;
    }
    case 'boolean':
      return rng.chance(0.5);
    case 'null':
      return null;
    case 'array': {
      if (depth > 4) return [];
      const count = rng.int(s.minItems ?? 0, Math.min(s.maxItems ?? 3, 3));
      return Array.from({ length: count }, () => generate(ctx, s.items ?? {}, name.replace(/s$/, ''), depth + 1));
    }
    case 'object': {
      if (depth > 4) return {};
      const out: Record<string, unknown> = {};
      const required = new Set<string>(s.required ?? []);
      for (const [key, sub] of Object.entries<any>(s.properties ?? {})) {
        if (required.has(key) || rng.chance(0.4)) out[key] = generate(ctx, sub, key, depth + 1);
      }
      if (s.additionalProperties && typeof s.additionalProperties === 'object' && !s.properties) {
        for (let i = rng.int(0, 2); i > 0; i--)
          out[rng.pick(['team', 'env', 'owner'])] = generate(ctx, s.additionalProperties, '', depth + 1);
      }
      return out;
    }
    default:
      return null;
  }
}

/** Replaces one randomly chosen place in `value` (or a new key) with a hostile value. */
export function mutate(rng: Rng, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || rng.chance(0.15)) return nastyValue(rng);
  const containers: (Record<string, unknown> | unknown[])[] = [];
  const collect = (v: unknown, depth: number) => {
    if (v === null || typeof v !== 'object' || depth > 6) return;
    containers.push(v as Record<string, unknown>);
    for (const child of Object.values(v)) collect(child, depth + 1);
  };
  collect(value, 0);
  const target = rng.pick(containers);
  if (Array.isArray(target)) {
    const index = target.length && rng.chance(0.7) ? rng.int(0, target.length - 1) : target.length;
    target[index] = nastyValue(rng);
  } else {
    const keys = Object.keys(target);
    const key = keys.length && rng.chance(0.8) ? rng.pick(keys) : rng.pick(['extra', '__proto__', 'constructor', randomString(rng, 8)]);
    Object.defineProperty(target, key, { value: nastyValue(rng), enumerable: true, writable: true, configurable: true });
  }
  return value;
}

/** A request as sent: method, path with query, headers, body. */
export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface Credentials {
  valid: string;
  others: string[];
}

const CONTENT_TYPES = [
  'application/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=utf-16',
  'application/xml',
];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];

function garbageAuthorization(rng: Rng): string {
  return rng.pick([
    'Bearer ',
    'Bearer cpt_' + 'A'.repeat(43),
    'Basic dXNlcjpwYXNz',
    'Bearer ' + 'x'.repeat(rng.int(300, 6000)),
    "Bearer ' OR '1'='1",
    'Bearer sha256:' + '0'.repeat(64),
    'bearer\tcpt_tab',
    'Bearer a b c',
  ]);
}

/** One request for `op`: valid-ish, then (often) mutated in body, path, query, method or headers. */
export function buildRequest(ctx: FuzzContext, op: Operation, creds: Credentials): FuzzRequest {
  const { rng } = ctx;
  let method = rng.chance(0.04) ? rng.pick(METHODS) : op.method;
  let path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const param = op.params.find((p) => p.name === name && p.in === 'path');
    const value = rng.chance(0.15)
      ? rng.pick(PATH_TRICKS)
      : encodeURIComponent(String(generate(ctx, param?.schema ?? { type: 'string' }, name)));
    return value;
  });
  if (rng.chance(0.03))
    path = rng.pick([
      `${path}/`,
      `${path}//`,
      path.replace(/\//g, '//'),
      `${path}/..`,
      `${path}%2f..`,
      `/${'a/'.repeat(rng.int(10, 500))}`,
    ]);
  const query = new URLSearchParams();
  for (const p of op.params.filter((q) => q.in === 'query')) {
    if (rng.chance(0.3)) query.append(p.name, String(generate(ctx, p.schema, p.name)));
  }
  if (rng.chance(0.15)) {
    const name =
      rng.chance(0.5) && op.params.some((p) => p.in === 'query')
        ? rng.pick(op.params.filter((p) => p.in === 'query')).name
        : rng.pick(['limit', 'from', 'x', 'every', 'cron']);
    const value = nastyValue(rng);
    query.append(name, typeof value === 'string' ? value.replace(/[\ud800-\udfff]/g, '') : (JSON.stringify(value) ?? 'null'));
  }
  const search = query.toString();
  const headers: Record<string, string> = {};
  const auth = rng.next();
  if (auth < 0.82) headers.authorization = `Bearer ${creds.valid}`;
  else if (auth < 0.9 && creds.others.length) headers.authorization = `Bearer ${rng.pick(creds.others)}`;
  else if (auth < 0.95) headers.authorization = garbageAuthorization(rng);
  if (rng.chance(0.05)) headers['x-request-id'] = rng.pick(['', 'x'.repeat(5000), "'; DROP TABLE events; --", '../../etc']);
  if (rng.chance(0.03)) headers['x-pad'] = 'p'.repeat(rng.int(1000, 12_000));
  let body: string | undefined;
  if (op.jsonBody || op.textBody || (method !== 'GET' && method !== 'HEAD' && rng.chance(0.1))) {
    if (method === 'GET' || method === 'HEAD') method = rng.chance(0.5) ? method : 'POST';
    if (method !== 'GET' && method !== 'HEAD') {
      const value = op.jsonBody ? generate(ctx, op.jsonBody) : op.textBody ? randomString(rng, rng.int(0, 200)) : {};
      const mutated = rng.chance(0.55) ? mutate(rng, value) : value;
      body = typeof mutated === 'string' && op.textBody && !op.jsonBody ? mutated : (JSON.stringify(mutated) ?? 'null');
      if (rng.chance(0.08)) {
        body = rng.pick([
          body.slice(0, rng.int(0, body.length)),
          '',
          'null',
          '1e99999',
          '{"a":1,"a":2}',
          `\ufeff${body}`,
          Buffer.from(Array.from({ length: rng.int(1, 300) }, () => rng.int(0, 255))).toString('latin1'),
          '[' + '{'.repeat(rng.int(1000, 100_000)),
        ]);
      }
      headers['content-type'] = rng.chance(0.85) ? (op.jsonBody ? 'application/json' : 'text/plain') : rng.pick(CONTENT_TYPES);
    }
  }
  const request: FuzzRequest = { method, url: search ? `${path}?${search}` : path, headers };
  if (body !== undefined) request.body = body;
  return request;
}
