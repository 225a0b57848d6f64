import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';

/** The ping details healthchecks clients rely on: big bodies, CORS, caching, trailing slashes. */

const HARD_CAP = 256 * 1024;
const KEPT = 10 * 1024;

let c: TestCompter;
let pingKey: string;

beforeAll(async () => {
  c = await startTestCompter({ env: { COMPTER_BODY_HARD_CAP_BYTES: String(HARD_CAP) } });
  pingKey = (await c.json('GET', '/v1/ping-key')).body.pingKey;
});
afterAll(async () => {
  await c.cleanup();
});

const METHODS = ['GET', 'POST', 'HEAD'] as const;

let counter = 0;
/** A fresh debt, and its two ping URL bases: by ping id (uuid) and by ping key and slug. */
async function newDebt(): Promise<{ id: string; forms: [string, string][] }> {
  const id = `hc-${++counter}`;
  const res = await c.json('PUT', `/v1/debts/${id}`, { schedule: { every: '1h' } });
  expect(res.status).toBe(201);
  return {
    id,
    forms: [
      ['uuid', `/ping/${res.body.pingId}`],
      ['slug', `/ping/${pingKey}/${id}`],
    ],
  };
}

async function payments(id: string): Promise<any[]> {
  const events = (await c.json('GET', `/v1/debts/${id}/events?limit=100`)).body.events;
  return events.filter((e: any) => e.type === 'payment').reverse();
}

function chunked(bytes: number, chunkBytes = 16 * 1024): { body: ReadableStream<Uint8Array>; sentBytes: () => number } {
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const chunk = new Uint8Array(Math.min(chunkBytes, bytes - sent)).fill(0x61);
      sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  return { body, sentBytes: () => sent };
}

describe('a large ping body is cut to Ping-Body-Limit and the ping counts', () => {
  for (const form of ['uuid', 'slug']) {
    it(`POST ${form}: a 200 KiB log → 200 OK, the first 10240 bytes kept`, async () => {
      const debt = await newDebt();
      const url = debt.forms.find(([name]) => name === form)![1];
      const log = Array.from({ length: 5000 }, (_, i) => `line ${String(i).padStart(5, '0')} of the job log, with é and 😀\n`).join('');
      expect(Buffer.byteLength(log)).toBeGreaterThan(200 * 1024);
      const res = await c.request(`${url}/fail`, { method: 'POST', body: log });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('OK');
      expect(res.headers.get('ping-body-limit')).toBe(String(KEPT));
      const [paid] = await payments(debt.id);
      expect(paid.kind).toBe('fail');
      const kept: string = paid.attributes.message;
      expect(log.startsWith(kept)).toBe(true);
      expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(KEPT);
      expect(Buffer.byteLength(kept)).toBeGreaterThan(KEPT - 4);
    });

    it(`POST ${form}: a chunked body over the hard cap → 413, and the ping is still recorded`, async () => {
      const debt = await newDebt();
      const url = debt.forms.find(([name]) => name === form)![1];
      const stream = chunked(HARD_CAP * 4);
      const res = await c.request(`${url}/start`, { method: 'POST', body: stream.body, duplex: 'half' });
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ error: { code: 'too_large', message: expect.stringMatching(/recorded/) } });
      expect(res.headers.get('connection')).toBe('close');
      // Called in process, the app stops pulling the body at the cap. Over a socket Node's server
      // reads and drops the rest of a body its handler left, so the client sends it all.
      if (c.transport === 'app') expect(stream.sentBytes()).toBeLessThan(HARD_CAP * 4);
      const [paid] = await payments(debt.id);
      expect(paid.kind).toBe('start');
      expect(paid.attributes.message).toBe('a'.repeat(KEPT));
    });

    it(`POST ${form}: a Content-Length over the hard cap → 413 without reading, the ping recorded`, async () => {
      const debt = await newDebt();
      const url = debt.forms.find(([name]) => name === form)![1];
      const body = 'x'.repeat(HARD_CAP + 1);
      const res = await c.request(url, { method: 'POST', body, headers: { 'content-length': String(body.length) } });
      expect(res.status).toBe(413);
      const [paid] = await payments(debt.id);
      expect(paid.kind).toBe('success');
      expect(paid.attributes.message).toBeUndefined();
    });
  }

  it('the JSON payment route cuts its message the same way, and refuses only past the hard cap', async () => {
    const debt = await newDebt();
    const message = 'ü'.repeat(100 * 1024);
    const res = await c.json('POST', `/v1/debts/${debt.id}/payments`, { kind: 'fail', message });
    expect(res.status).toBe(200);
    const [paid] = await payments(debt.id);
    expect(paid.attributes.message).toBe('ü'.repeat(KEPT / 2));
    const over = await c.json('POST', `/v1/debts/${debt.id}/payments`, { kind: 'log', message: 'x'.repeat(HARD_CAP) });
    expect(over.status).toBe(413);
    expect(await payments(debt.id)).toHaveLength(1);
  });
});

describe('CORS: ping URLs allow any origin, the management API none by default', () => {
  for (const method of METHODS) {
    it(`${method} uuid and slug forms answer Access-Control-Allow-Origin: *`, async () => {
      const debt = await newDebt();
      for (const [, url] of debt.forms) {
        const res = await c.request(url, { method, headers: { origin: 'https://status.example' } });
        expect(res.status).toBe(200);
        expect(res.headers.get('access-control-allow-origin')).toBe('*');
      }
      expect(await payments(debt.id)).toHaveLength(2);
    });
  }

  it('a preflight OPTIONS on a ping URL (both forms, with and without slash) → 204 with the CORS headers, nothing recorded', async () => {
    const debt = await newDebt();
    for (const [, url] of debt.forms) {
      for (const path of [url, `${url}/`, `${url}/start`, `${url}/start/`]) {
        const res = await c.request(path, {
          method: 'OPTIONS',
          headers: {
            origin: 'https://status.example',
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'content-type',
          },
        });
        expect(res.status, path).toBe(204);
        expect(res.headers.get('access-control-allow-origin')).toBe('*');
        expect(res.headers.get('access-control-allow-methods')).toMatch(/POST/);
        expect(res.headers.get('access-control-allow-headers')).toBe('content-type');
      }
    }
    expect(await payments(debt.id)).toHaveLength(0);
  });

  it('Sentry check-ins allow any origin too, preflight included', async () => {
    const url = `/api/default/cron/hc-sentry/${pingKey}/`;
    const preflight = await c.request(url, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    const res = await c.request(url, {
      method: 'POST',
      headers: { origin: 'https://app.example', 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'ok', monitor_config: { schedule: { type: 'crontab', value: '0 * * * *' } } }),
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('error answers of ping URLs carry the header too (a browser can read the 404)', async () => {
    const res = await c.request('/ping/00000000-0000-4000-8000-000000000000', { headers: { origin: 'https://status.example' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('the management API sends no CORS headers and refuses preflights by default', async () => {
    const res = await c.request('/v1/debts', { headers: { origin: 'https://status.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await c.request('/v1/debts', {
      method: 'OPTIONS',
      headers: { origin: 'https://status.example', 'access-control-request-method': 'GET' },
    });
    expect(preflight.status).not.toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('COMPTER_CORS_ORIGINS lists the origins the management API allows', async () => {
    const allowed = await startTestCompter({ env: { COMPTER_CORS_ORIGINS: 'https://status.example, https://ops.example' } });
    try {
      const res = await allowed.request('/v1/debts', { headers: { origin: 'https://ops.example' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('https://ops.example');
      expect(res.headers.get('vary')).toMatch(/Origin/);
      const other = await allowed.request('/v1/debts', { headers: { origin: 'https://evil.example' } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      const preflight = await allowed.request('/v1/debts/x', {
        method: 'OPTIONS',
        headers: {
          origin: 'https://status.example',
          'access-control-request-method': 'PUT',
          'access-control-request-headers': 'authorization',
        },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://status.example');
      expect(preflight.headers.get('access-control-allow-methods')).toMatch(/PUT/);
    } finally {
      await allowed.cleanup();
    }
  });
});

describe('ping answers carry Cache-Control: no-cache', () => {
  for (const method of METHODS) {
    it(`${method} uuid and slug forms`, async () => {
      const debt = await newDebt();
      for (const [, url] of debt.forms) {
        const res = await c.request(`${url}/0`, { method });
        expect(res.status).toBe(200);
        expect(res.headers.get('cache-control')).toBe('no-cache');
      }
    });
  }
});

const ACTIONS: [string, string, number | undefined][] = [
  ['', 'success', undefined],
  ['/start', 'start', undefined],
  ['/fail', 'fail', undefined],
  ['/log', 'log', undefined],
  ['/0', 'success', 0],
  ['/3', 'fail', 3],
];

describe('a trailing slash works like the URL without it', () => {
  for (const method of METHODS) {
    for (const [suffix, kind, exitCode] of ACTIONS) {
      it(`${method} uuid and slug forms${suffix}/ → OK, a ${kind} payment`, async () => {
        const debt = await newDebt();
        for (const [form, url] of debt.forms) {
          const res = await c.request(`${url}${suffix}/`, { method });
          expect(res.status, form).toBe(200);
          expect(await res.text()).toBe(method === 'HEAD' ? '' : 'OK');
        }
        const paid = await payments(debt.id);
        expect(paid.map((p) => [p.kind, p.attributes.exitCode])).toEqual([
          [kind, exitCode],
          [kind, exitCode],
        ]);
      });
    }
  }

  it('?create=1 on a slug URL with a trailing slash creates the debt', async () => {
    const res = await c.request(`/ping/${pingKey}/hc-created/?create=1&every=1h`);
    expect(res.status).toBe(201);
    expect((await c.json('GET', '/v1/debts/hc-created')).status).toBe(200);
  });
});
