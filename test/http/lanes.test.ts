import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withLanes, type Lane } from '../../src/http/lane.js';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';
import { testToken, writeTokenConfig } from '../support/tokens.js';

/*
 * A lane must answer exactly as the app would. Two compters on the same clock get the same
 * requests: one served by the app alone, one with its lanes in front. Every answer (status,
 * headers, body), the payments recorded and the HTTP metrics must be the same, and the lane
 * must really have taken the requests it claims.
 */

interface Served {
  c: TestCompter;
  base: string;
  /** URLs a lane answered. */
  taken: string[];
  server: Server;
}

async function serve(c: TestCompter, isLaned: boolean): Promise<Served> {
  const taken: string[] = [];
  const spied: Lane[] = c.lanes.map((lane) => (req: IncomingMessage, res: ServerResponse) => {
    const isTaken = lane(req, res);
    if (isTaken) taken.push(req.url!);
    return isTaken;
  });
  const server = createServer(withLanes(isLaned ? spied : [], getRequestListener(c.app.fetch)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { c, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, taken, server };
}

async function close(s: Served): Promise<void> {
  await new Promise<void>((resolve) => {
    s.server.close(() => resolve());
    s.server.closeAllConnections();
  });
  await s.c.cleanup();
}

/**
 * An answer with what may differ between two processes taken out: the date, request ids we did
 * not send, the process's own ping id.
 */
async function normalized(res: Response, ids?: Ids): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const pingId = ids?.pingId ?? '<none>';
  const pingKey = ids?.pingKey ?? '<none>';
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (name === 'date' || name === 'keep-alive' || (name === 'connection' && value === 'keep-alive')) return;
    headers[name] = value;
  });
  const body = (await res.text())
    .replace(/"requestId":"[^"]*-[0-9a-z]+"/, '"requestId":"<generated>"')
    .replaceAll(pingId, '<pingId>')
    .replaceAll(pingId.toUpperCase(), '<PINGID>')
    .replaceAll(pingKey, '<pingKey>')
    .replaceAll(/"pingId":"[0-9a-f-]{36}"/g, '"pingId":"<uuid>"');
  return { status: res.status, headers, body };
}

/** A debt's recorded payments, without ids and receipt times. */
function paymentsOf(c: TestCompter, project: string, id: string): Promise<unknown[]> {
  return c.engine
    .events(project, id, 100)
    .then((events) =>
      events.filter((e) => e.type === 'payment').map(({ kind, runId, attributes, ts }) => ({ kind, runId, attributes, ts })),
    );
}

function httpCounters(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => /^compter_http_requests_total\{route="(\/ping|\/v1\/debts\/:id\/payments")/.test(line))
    .sort();
}

interface Ids {
  pingId: string;
  pingKey: string;
}

type Case = [name: string, request: (ids: Ids) => [path: string, init?: RequestInit]];

const UNKNOWN = '0b6f3b5e-3c2a-4f4e-9d1e-2a8f5c7d9e10';

/** Ping requests a lane takes: successes, every error it answers itself, HEAD and small POST bodies. */
const LANE_CASES: Case[] = [
  ['GET by ping id', ({ pingId }) => [`/ping/${pingId}`]],
  ['HEAD by ping id', ({ pingId }) => [`/ping/${pingId}`, { method: 'HEAD' }]],
  ['POST /fail with a body', ({ pingId }) => [`/ping/${pingId}/fail`, { method: 'POST', body: 'disk full\nline 2 ✓' }]],
  ['POST without a body', ({ pingId }) => [`/ping/${pingId}`, { method: 'POST' }]],
  ['/start with a run id', ({ pingId }) => [`/ping/${pingId}/start?rid=run-1`]],
  ['/0 ending that run', ({ pingId }) => [`/ping/${pingId}/0?rid=run-1&other=x`]],
  ['an upper-case ping id and a trailing slash', ({ pingId }) => [`/ping/${pingId.toUpperCase()}/`]],
  ['/log by key', ({ pingKey }) => [`/ping/${pingKey}/lane-debt/log`]],
  ['an exit code by key, trailing slash', ({ pingKey }) => [`/ping/${pingKey}/lane-debt/7/`]],
  ['?create=1 with a schedule', ({ pingKey }) => [`/ping/${pingKey}/made-by-ping?create=1&every=1h&grace=10m`]],
  ['?create=1 without one, on /start', ({ pingKey }) => [`/ping/${pingKey}/made-by-start/start?create=1`]],
  ['?create=1 with a bad schedule', ({ pingKey }) => [`/ping/${pingKey}/made-badly?create=1&every=soon`]],
  ['an unknown ping id', () => [`/ping/${UNKNOWN}`]],
  ['an unknown ping id, HEAD', () => [`/ping/${UNKNOWN}/start`, { method: 'HEAD' }]],
  ['an unknown ping id with a body left unread', () => [`/ping/${UNKNOWN}/fail`, { method: 'POST', body: 'never read' }]],
  ['a request id of our own', () => [`/ping/${UNKNOWN}`, { headers: { 'x-request-id': 'trace-42' } }]],
  ['a lone segment that is not a UUID', () => ['/ping/not-a-uuid']],
  ['an unknown action', ({ pingId }) => [`/ping/${pingId}/bogus`]],
  ['exit code 256', ({ pingId }) => [`/ping/${pingId}/256`]],
  ['exit code 256, HEAD', ({ pingId }) => [`/ping/${pingId}/256`, { method: 'HEAD' }]],
  ['three segments after a ping id', ({ pingId }) => [`/ping/${pingId}/x/start`]],
  ['an empty rid', ({ pingId }) => [`/ping/${pingId}?rid=`]],
  ['a debt id that breaks the rule', ({ pingKey }) => [`/ping/${pingKey}/Not_Valid`]],
  ['an unknown debt by key', ({ pingKey }) => [`/ping/${pingKey}/never-defined`]],
  ['an unknown ping key', () => ['/ping/AAAAAAAAAAAAAAAAAAAAAAAA/lane-debt']],
];

/** Ping requests a lane leaves to the app. */
const APP_CASES: Case[] = [
  ['a percent-encoded rid', ({ pingId }) => [`/ping/${pingId}/start?rid=has%20space`]],
  ['a + in the query', ({ pingKey }) => [`/ping/${pingKey}/made-by-cron?create=1&cron=0+2+*+*+*&tz=UTC`]],
  ['four segments', ({ pingKey }) => [`/ping/${pingKey}/lane-debt/start/more`]],
  ['an empty segment', ({ pingId }) => [`/ping/${pingId}//start`]],
  ['a chunked body', ({ pingId }) => [`/ping/${pingId}/log`, { method: 'POST', body: chunks('from a stream'), duplex: 'half' }]],
  ['a body past Ping-Body-Limit', ({ pingId }) => [`/ping/${pingId}/log`, { method: 'POST', body: 'x'.repeat(10_241) }]],
  [
    'a browser preflight',
    ({ pingId }) => [
      `/ping/${pingId}`,
      { method: 'OPTIONS', headers: { origin: 'https://x.example', 'access-control-request-method': 'GET' } },
    ],
  ],
];

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  body: typeof body === 'string' ? body : JSON.stringify(body),
  headers: { 'content-type': 'application/json', ...headers },
});

/** JSON payments a lane takes: every kind, the checks of the route, vivifying from the body. */
const PAYMENT_LANE_CASES: Case[] = [
  ['a start with a run id and host', () => ['/v1/debts/lane-debt/payments', json({ kind: 'start', runId: 'r-1', host: 'batch-07' })]],
  [
    'its success with a duration and a message',
    () => ['/v1/debts/lane-debt/payments', json({ kind: 'success', runId: 'r-1', durationSeconds: 12.5, message: 'done ✓' })],
  ],
  ['an empty object', () => ['/v1/debts/lane-debt/payments', json({})]],
  ['no body at all', () => ['/v1/debts/lane-debt/payments', { method: 'POST', headers: { 'content-length': '0' } }]],
  ['JSON after a byte-order mark', () => ['/v1/debts/lane-debt/payments', json('\ufeff{"kind":"log","message":"bom"}')]],
  ['a fail with an exit code', () => ['/v1/debts/lane-debt/payments', json({ kind: 'fail', exitCode: 3 })]],
  ['vivifying from a body schedule', () => ['/v1/debts/paid-into-being/payments', json({ schedule: { every: '1h' }, grace: '5m' })]],
  ['an unknown debt without a schedule', () => ['/v1/debts/never-there/payments', json({})]],
  ['not JSON', () => ['/v1/debts/lane-debt/payments', json('{"kind":')]],
  ['a wrong type', () => ['/v1/debts/lane-debt/payments', json({ kind: 7 })]],
  ['an unknown kind and a bad exit code together', () => ['/v1/debts/lane-debt/payments', json({ kind: 'maybe', exitCode: -4 })]],
  ['an id that breaks the rule', () => ['/v1/debts/Bad_Id/payments', json({})]],
  ['JSON nested too deep', () => ['/v1/debts/lane-debt/payments', json('['.repeat(40) + ']'.repeat(40))]],
  ['an unpaired surrogate', () => ['/v1/debts/lane-debt/payments', json('{"message":"\\ud800"}')]],
  ['a request id of our own on an error', () => ['/v1/debts/lane-debt/payments', json({ kind: 7 }, { 'x-request-id': 'pay-9' })]],
  ['Prefer: return=minimal', () => ['/v1/debts/lane-debt/payments', json({ kind: 'log' }, { prefer: 'return=minimal' })]],
  [
    'return=minimal among other preferences, quoted',
    () => ['/v1/debts/lane-debt/payments', json({}, { prefer: 'handling=strict, return="minimal"; x=1' })],
  ],
  ['Prefer: return=representation', () => ['/v1/debts/lane-debt/payments', json({}, { prefer: 'return=representation' })]],
  [
    'vivifying with Prefer: return=minimal',
    () => ['/v1/debts/minimal-into-being/payments', json({ schedule: { every: '1h' } }, { prefer: 'return=minimal' })],
  ],
  ['Prefer: return=minimal on an error', () => ['/v1/debts/lane-debt/payments', json({ kind: 7 }, { prefer: 'return=minimal' })]],
];

/** JSON payments the lane leaves to the app. */
const PAYMENT_APP_CASES: Case[] = [
  ['vivify parameters in the query', () => ['/v1/debts/paid-by-query/payments?every=1h', json({})]],
  ['a browser (Origin)', () => ['/v1/debts/lane-debt/payments', json({}, { origin: 'https://ops.example' })]],
  ['a chunked body', () => ['/v1/debts/lane-debt/payments', { method: 'POST', body: chunks('{"kind":"log"}'), duplex: 'half' }]],
  ['a percent-encoded id', () => ['/v1/debts/lane%2Ddebt/payments', json({})]],
  ['a body over 64 KiB', () => ['/v1/debts/lane-debt/payments', json({ kind: 'log', message: 'm'.repeat(70_000) })]],
];

function chunks(text: string): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(text));
      controller.close();
    },
  });
}

describe('the ping lane answers exactly as the app does', () => {
  let plain: Served;
  let laned: Served;
  const ids = new Map<Served, Ids>();

  beforeAll(async () => {
    plain = await serve(await startTestCompter({ transport: 'app' }), false);
    laned = await serve(await startTestCompter({ transport: 'app' }), true);
    for (const s of [plain, laned]) {
      const debt = await s.c.json('PUT', '/v1/debts/lane-debt', { schedule: { every: '1h' } });
      const key = await s.c.json('GET', '/v1/ping-key');
      ids.set(s, { pingId: debt.body.pingId, pingKey: key.body.pingKey });
    }
  });
  afterAll(async () => {
    await close(plain);
    await close(laned);
  });

  it.each([...LANE_CASES, ...APP_CASES, ...PAYMENT_LANE_CASES, ...PAYMENT_APP_CASES])('%s', async (_name, request) => {
    const answers = [];
    for (const s of [plain, laned]) {
      const [path, init] = request(ids.get(s)!);
      answers.push(await normalized(await fetch(`${s.base}${path}`, init), ids.get(s)));
    }
    expect(answers[1]).toEqual(answers[0]);
  });

  it('the lane took every request it should, and only those', () => {
    expect(plain.taken).toEqual([]);
    const laneTaken = [...LANE_CASES, ...PAYMENT_LANE_CASES].map(([, request]) => request(ids.get(laned)!)[0]);
    expect(laned.taken).toEqual(laneTaken);
  });

  it('the same payments were recorded, and the same HTTP metrics counted', async () => {
    for (const [project, id] of [
      ['default', 'lane-debt'],
      ['default', 'made-by-ping'],
      ['default', 'made-by-start'],
      ['default', 'made-by-cron'],
      ['default', 'paid-into-being'],
      ['default', 'paid-by-query'],
      ['default', 'minimal-into-being'],
    ]) {
      const recorded = await paymentsOf(laned.c, project!, id!);
      expect(recorded.length).toBeGreaterThan(0);
      expect(recorded).toEqual(await paymentsOf(plain.c, project!, id!));
    }
    const [plainMetrics, lanedMetrics] = await Promise.all([plain, laned].map(async (s) => (await fetch(`${s.base}/metrics`)).text()));
    expect(httpCounters(lanedMetrics!).length).toBeGreaterThan(5);
    expect(httpCounters(lanedMetrics!)).toEqual(httpCounters(plainMetrics!));
  });
});

describe('a client that goes away mid-request', () => {
  it('leaves the lanes answering: a cut body and a dropped wait record nothing half and crash nothing', async () => {
    const s = await serve(await startTestCompter({ transport: 'app' }), true);
    try {
      const { debt } = await s.c.engine.define('default', 'cut', { schedule: { every: '1h' } });
      const { port } = s.server.address() as AddressInfo;
      const send = (text: string, linger: boolean) =>
        new Promise<void>((resolve) => {
          const socket = connect(port, '127.0.0.1', () => {
            socket.write(text);
            if (linger) setTimeout(() => socket.destroy(), 20);
            else socket.destroy();
          });
          socket.on('close', () => resolve());
          socket.on('error', () => resolve());
        });
      // A POST that promises 100 bytes and sends 10, then hangs up.
      await send(`POST /ping/${debt.pingId}/log HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789`, false);
      await send(`POST /v1/debts/cut/payments HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"kind":`, false);
      // A ping whose client leaves before the commit answers.
      await send(`GET /ping/${debt.pingId}/start HTTP/1.1\r\nHost: x\r\n\r\n`, true);
      const res = await fetch(`${s.base}/ping/${debt.pingId}`);
      expect(res.status).toBe(200);
      const kinds = (await paymentsOf(s.c, 'default', 'cut')).map((p) => (p as { kind: string }).kind);
      expect(kinds).not.toContain('log');
      expect(kinds).toContain('success');
    } finally {
      await close(s);
    }
  });
});

describe('the ping lane charges the rate limits as the app does', () => {
  it('the third ping in a minute over a limit of two is a 429 with Retry-After, alike', async () => {
    const answers = [];
    for (const isLaned of [false, true]) {
      const dataDir = await mkdtemp(join(tmpdir(), 'compter-lane-limits-'));
      const configFile = join(dataDir, 'compter.yaml');
      await writeFile(configFile, 'limits:\n  default: { burstPerMinute: 2 }\n');
      const s = await serve(await startTestCompter({ dataDir, env: { COMPTER_CONFIG: configFile }, transport: 'app' }), isLaned);
      try {
        const { pingId } = await definedDebt(s);
        const statuses = [];
        for (let i = 0; i < 3; i++) {
          const res = await fetch(`${s.base}/ping/${pingId}`);
          statuses.push(res.status);
          if (i === 2) answers.push(await normalized(res));
          else await res.text();
        }
        expect(statuses).toEqual([200, 200, 429]);
        expect(s.c.engine.get('default', 'limited').payments).toBe(2);
        expect(s.taken.length).toBe(isLaned ? 3 : 0);
      } finally {
        await close(s);
        await rm(dataDir, { recursive: true, force: true });
      }
    }
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[0]!.headers['retry-after']).toMatch(/^\d+$/);
  });
});

describe('the payment lane checks tokens and limits as the app does', () => {
  it('no token, an unknown one, one without the ping scope, one with it, then over the limit: alike', async () => {
    const pinger = testToken('pinger', 'alpha', ['ping']);
    const reader = testToken('reader', 'alpha', ['read']);
    const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
    const requests: [string, RequestInit][] = [
      ['no token', json({})],
      ['an unknown token', json({}, bearer('cpt_not_a_token_of_ours_xxxxxxxxxxxxxxxxx'))],
      ['a token without the ping scope', json({ kind: 'start' }, bearer(reader.secret))],
      ['a ping token', json({ kind: 'start' }, bearer(pinger.secret))],
      ['a ping token, second payment', json({ kind: 'success' }, bearer(pinger.secret))],
      ['a ping token over the limit of two', json({ kind: 'log' }, bearer(pinger.secret))],
    ];
    const answers: Record<string, unknown>[] = [];
    for (const isLaned of [false, true]) {
      const dataDir = await mkdtemp(join(tmpdir(), 'compter-lane-tokens-'));
      const configFile = join(dataDir, 'compter.yaml');
      await writeTokenConfig(configFile, [pinger, reader], 'limits:\n  default: { burstPerMinute: 2 }\n');
      const s = await serve(await startTestCompter({ dataDir, env: { COMPTER_CONFIG: configFile }, transport: 'app' }), isLaned);
      try {
        await s.c.engine.define('alpha', 'tokened', { schedule: { every: '1h' } });
        const byName: Record<string, unknown> = {};
        for (const [name, init] of requests) byName[name] = await normalized(await fetch(`${s.base}/v1/debts/tokened/payments`, init));
        answers.push(byName);
        expect(s.c.engine.get('alpha', 'tokened').payments).toBe(2);
        expect(s.taken.length).toBe(isLaned ? requests.length : 0);
      } finally {
        await close(s);
        await rm(dataDir, { recursive: true, force: true });
      }
    }
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[0]!['no token']).toMatchObject({ status: 401, headers: { 'www-authenticate': 'Bearer realm="compter"' } });
    expect(answers[0]!['a token without the ping scope']).toMatchObject({ status: 403 });
    expect(answers[0]!['a ping token over the limit of two']).toMatchObject({ status: 429 });
  });
});

/** Defines the debt `limited` straight through the engine (the HTTP route would spend the limit). */
async function definedDebt(s: Served): Promise<{ pingId: string }> {
  const { debt } = await s.c.engine.define('default', 'limited', { schedule: { every: '1h' } });
  return { pingId: debt.pingId };
}
