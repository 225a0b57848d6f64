import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BODY_LIMITS, jsonShapeProblem, MAX_JSON_DEPTH, MAX_URL_LENGTH } from '../../src/http/request-limits.js';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';

let c: TestCompter;

beforeAll(async () => {
  c = await startTestCompter();
});
afterAll(async () => {
  await c.cleanup();
});

function nested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

describe('JSON shape limits', () => {
  it('counts nesting outside strings only, escapes included', () => {
    expect(jsonShapeProblem(nested(MAX_JSON_DEPTH))).toBeNull();
    expect(jsonShapeProblem(nested(MAX_JSON_DEPTH + 1))).toMatch(/deeper than 32/);
    expect(jsonShapeProblem(JSON.stringify({ a: '['.repeat(1000) }))).toBeNull();
    expect(jsonShapeProblem(JSON.stringify({ a: '\\"[[[[' + '['.repeat(100) }))).toBeNull();
    expect(jsonShapeProblem(`{"a":"\\\\"}${'['.repeat(40)}`)).toMatch(/deeper/);
    expect(jsonShapeProblem(JSON.stringify(Array(10_000).fill(0)))).toBeNull();
    expect(jsonShapeProblem(JSON.stringify(Array(10_001).fill(0)))).toMatch(/more than 10000 members/);
    expect(jsonShapeProblem(JSON.stringify({ a: Array(10_000).fill('a,b') }))).toBeNull();
  });

  it('deep JSON → 400 before parsing, on every JSON route', async () => {
    for (const [method, path] of [
      ['PUT', '/v1/debts/deep'],
      ['POST', '/v1/debts/deep/payments'],
      ['PUT', '/debts'],
    ] as const) {
      const body = `{"labels":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
      const res = await c.json(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/nested deeper than 32/) });
    }
  });

  it('a huge array → 400', async () => {
    const res = await c.json('PUT', '/v1/debts/wide', JSON.stringify({ stages: Array(20_000).fill('s') }));
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/more than 10000 members/);
  });
});

describe('strings that are not Unicode', () => {
  it('an unpaired surrogate anywhere in a JSON body → 400 naming the field; a paired one is fine', async () => {
    await c.json('PUT', '/v1/debts/surrogates', {});
    const lone = await c.json('POST', '/v1/debts/surrogates/payments', '{"kind":"log","host":"a\\ud800b"}');
    expect(lone.status).toBe(400);
    expect(lone.body.error.problems).toEqual([{ path: 'host', message: expect.stringMatching(/unpaired UTF-16 surrogate/) }]);
    const inKey = await c.json('PUT', '/v1/debts/surrogates', '{"labels":{"\\udc00":"x"}}');
    expect(inKey.status).toBe(400);
    expect(inKey.body.error.problems[0].path).toBe('labels.\udc00');
    const paired = await c.json('POST', '/v1/debts/surrogates/payments', '{"kind":"log","host":"\\ud83d\\ude00"}');
    expect(paired.status).toBe(200);
  });
});

describe('body limits per route', () => {
  it('payments take up to the hard cap, their message cut to 10 KiB; definitions 1 MiB', async () => {
    const payment = (bytes: number) => JSON.stringify({ kind: 'log', message: 'm'.repeat(bytes) });
    await c.json('PUT', '/v1/debts/limits', {});
    expect((await c.json('POST', '/v1/debts/limits/payments', payment(1024 * 1024))).status).toBe(200);
    const events = (await c.json('GET', '/v1/debts/limits/events?limit=1')).body.events;
    expect(events[0].attributes.message).toBe('m'.repeat(10 * 1024));
    const tooBig = await c.json('POST', '/v1/debts/limits/payments', payment(BODY_LIMITS.hardCap));
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error).toMatchObject({ code: 'too_large', message: expect.stringMatching(/10485760 bytes/) });
    // The unread rest of the body must not be taken for the next request on the connection.
    expect(tooBig.headers.get('connection')).toBe('close');
    // A definition may be bigger than 64 KiB (it is refused by its schema here, not by size).
    expect((await c.json('PUT', '/v1/debts/limits', JSON.stringify({ name: 'n'.repeat(200 * 1024) }))).status).toBe(400);
    expect((await c.json('PUT', '/v1/debts/limits', JSON.stringify({ name: 'n'.repeat(BODY_LIMITS.definition) }))).status).toBe(413);
  });

  it('a body the route never reads closes the connection after the answer', async () => {
    const ignored = await c.request('/v1/debts/limits', {
      method: 'DELETE',
      body: 'x'.repeat(1000),
      headers: { 'content-type': 'text/plain', 'content-length': '1000' },
    });
    expect(ignored.status).toBe(204);
    expect(ignored.headers.get('connection')).toBe('close');
    const read = await c.json('POST', '/v1/debts/never/payments', {});
    expect(read.status).toBe(404);
    expect(read.headers.get('connection')).toBeNull();
  });

  it('a chunked body without Content-Length is cut off at the limit too', async () => {
    const chunk = new Uint8Array(16 * 1024).fill(0x61);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 100) return controller.close();
        sent++;
        controller.enqueue(chunk);
      },
    });
    const res = await c.request('/v1/debts/limits', { method: 'PUT', body, duplex: 'half' });
    expect(res.status).toBe(413);
    expect(sent).toBeLessThan(100);
  });
});

describe('URL limits', () => {
  it(`a request target over ${MAX_URL_LENGTH} bytes → 414`, async () => {
    const res = await c.json('GET', `/v1/debts?pad=${'a'.repeat(MAX_URL_LENGTH)}`);
    expect(res.status).toBe(414);
    expect(res.body.error.code).toBe('uri_too_long');
    expect((await c.json('GET', `/v1/debts?pad=${'a'.repeat(MAX_URL_LENGTH - 100)}`)).status).toBe(200);
  });
});

describe('every string a client sends has a bounded length', () => {
  it('each string in each JSON request body schema of /openapi.json has maxLength, an enum or a pattern', async () => {
    const doc = (await c.json('GET', '/openapi.json')).body;
    const unbounded: string[] = [];
    const seen = new Set<unknown>();
    const visit = (schema: any, where: string): void => {
      if (!schema || typeof schema !== 'object' || seen.has(schema)) return;
      seen.add(schema);
      if (schema.$ref) return visit(resolveRef(doc, schema.$ref), where);
      const types = Array.isArray(schema.type) ? schema.type : [schema.type];
      if (
        types.includes('string') &&
        schema.maxLength === undefined &&
        schema.enum === undefined &&
        schema.const === undefined &&
        schema.pattern === undefined
      )
        unbounded.push(where);
      for (const [k, v] of Object.entries(schema.properties ?? {})) visit(v, `${where}.${k}`);
      if (schema.items) visit(schema.items, `${where}[]`);
      if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
        visit(schema.additionalProperties, `${where}{}`);
        if (schema.propertyNames) visit(schema.propertyNames, `${where}{key}`);
      }
      for (const key of ['anyOf', 'oneOf', 'allOf'] as const) for (const s of schema[key] ?? []) visit(s, where);
    };
    let bodies = 0;
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        const schema = op?.requestBody?.content?.['application/json']?.schema;
        if (!schema) continue;
        bodies++;
        visit(schema, `${method.toUpperCase()} ${path}`);
      }
    }
    expect(bodies).toBeGreaterThanOrEqual(3);
    expect(unbounded).toEqual([]);
  });
});

function resolveRef(doc: any, ref: string): unknown {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .reduce((node, key) => node?.[key], doc);
}
