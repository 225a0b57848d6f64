import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';
import { mulberry32 } from '../support/fuzz.js';
import { BODY_LIMITS } from '../../src/http/request-limits.js';

let c: TestCompter;
let key: string;
let projectId: string;

beforeAll(async () => {
  c = await startTestCompter({ now: '2026-11-20T12:00:00Z' });
  const info = (await c.json('GET', '/v1/ping-key')).body;
  key = info.pingKey;
  projectId = info.sentryProjectId;
});
afterAll(async () => {
  await c.cleanup();
});

const line = (value: unknown) => JSON.stringify(value);

/** An envelope as the SDKs serialize it: header line, then item header + payload lines. */
function envelope(items: { header?: Record<string, unknown>; type: string; payload: unknown }[], header: unknown = {}): string {
  return [
    line(header),
    ...items.flatMap((i) => [line({ type: i.type, ...i.header }), typeof i.payload === 'string' ? i.payload : line(i.payload)]),
  ].join('\n');
}

async function post(
  body: string | Uint8Array,
  {
    query = `?sentry_key=${key}&sentry_version=7`,
    headers = {},
    id = projectId,
  }: { query?: string; headers?: Record<string, string>; id?: string } = {},
) {
  const res = await c.request(`/api/${id}/envelope/${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-sentry-envelope', ...headers },
    body: body as string,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

async function debt(id: string) {
  return (await c.json('GET', `/v1/debts/${id}`)).body;
}

async function payments(id: string): Promise<any[]> {
  const events = (await c.json('GET', `/v1/debts/${id}/events?limit=100`)).body.events;
  return events.filter((e: any) => e.type === 'payment').reverse();
}

const every5 = { schedule: { type: 'crontab', value: '*/5 * * * *' }, checkin_margin: 2, max_runtime: 10 };

describe('GET /v1/ping-key for Sentry', () => {
  it('answers a numeric sentryProjectId and a DSN with the key as its public key', async () => {
    const info = (await c.json('GET', '/v1/ping-key')).body;
    expect(info.sentryProjectId).toMatch(/^\d+$/);
    expect(info.sentryDsn).toBe(`http://${info.pingKey}@localhost/${info.sentryProjectId}`);
    // Sentry's SDKs take only word characters as the DSN's public key.
    expect(info.pingKey).toMatch(/^\w+$/);
  });
});

describe('POST /api/{sentryProjectId}/envelope/', () => {
  it('gzip body with X-Sentry-Auth: the check-in upserts the debt from monitor_config', async () => {
    const body = envelope([
      {
        type: 'check_in',
        payload: {
          check_in_id: '0f1e2d3c4b5a69788796a5b4c3d2e1f0',
          monitor_slug: 'gz-job',
          status: 'in_progress',
          environment: 'production',
          monitor_config: { ...every5, timezone: 'Europe/Copenhagen', failure_issue_threshold: 2, recovery_threshold: 3 },
        },
      },
    ]);
    const res = await post(gzipSync(body), {
      query: '',
      headers: { 'content-encoding': 'gzip', 'x-sentry-auth': `Sentry sentry_version=7, sentry_client=test/1.0, sentry_key=${key}` },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(await debt('gz-job')).toMatchObject({
      schedule: { cron: '*/5 * * * *', tz: 'Europe/Copenhagen' },
      grace: 120,
      maxRuntime: 600,
      failuresBeforeAlert: 2,
      successesBeforeRecovery: 3,
      status: 'running',
    });
    const [start] = await payments('gz-job');
    expect(start).toMatchObject({ kind: 'start', runId: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0' });
  });

  it('deflate bodies are read too', async () => {
    const body = envelope([{ type: 'check_in', payload: { monitor_slug: 'deflated', status: 'ok', monitor_config: every5 } }]);
    expect((await post(deflateSync(body), { headers: { 'content-encoding': 'deflate' } })).status).toBe(201);
    expect((await debt('deflated')).payments).toBe(1);
  });

  it('several items in one envelope: check-ins in order, an event and a client report dropped, the duration kept', async () => {
    const run = 'aaaaaaaabbbbccccddddeeeeeeeeeeee';
    const attachment = 'line one\nline two';
    const body = [
      line({ event_id: '9ec79c33ec9942ab8353589fcb2e04dc', sent_at: '2026-11-20T12:00:00Z' }),
      line({ type: 'event', length: 0 }),
      '',
      line({ type: 'check_in' }),
      line({ check_in_id: run, monitor_slug: 'multi', status: 'in_progress', monitor_config: every5 }),
      line({ type: 'attachment', length: Buffer.byteLength(attachment), filename: 'log.txt' }),
      attachment,
      line({ type: 'check_in' }),
      line({ check_in_id: run, monitor_slug: 'multi', status: 'ok', duration: 42.5, environment: 'staging' }),
      line({ type: 'client_report' }),
      line({ timestamp: 1, discarded_events: [] }),
    ].join('\n');
    const res = await post(body);
    expect(res).toMatchObject({ status: 201, body: { id: '9ec79c33ec9942ab8353589fcb2e04dc' } });
    const paid = await payments('multi');
    expect(paid.map((p) => p.kind)).toEqual(['start', 'success']);
    expect(paid[1]).toMatchObject({ runId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', durationSeconds: 42.5 });
    expect(paid[1].attributes.environment).toBe('staging');
    expect(await debt('multi')).toMatchObject({ status: 'up', lastDurationSeconds: 42.5 });
  });

  it('an envelope with no check-in (an error event) is accepted with 200 and creates nothing', async () => {
    const before = (await c.json('GET', '/v1/debts')).body;
    const res = await post(envelope([{ type: 'event', payload: { message: 'boom', level: 'error' } }], { event_id: 'abc' }));
    expect(res).toMatchObject({ status: 200, body: { id: 'abc' } });
    expect((await c.json('GET', '/v1/debts')).body).toEqual(before);
  });

  it('a wrong key, or the right key for another project id: 401 and nothing created', async () => {
    const body = envelope([{ type: 'check_in', payload: { monitor_slug: 'intruder', status: 'ok', monitor_config: every5 } }]);
    const wrong = await post(body, { query: '?sentry_key=00000000000000000000000000000000' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('unauthorized');
    expect((await post(body, { id: '999' })).status).toBe(401);
    expect((await post(body, { query: '' })).status).toBe(401);
    expect((await c.json('GET', '/v1/debts/intruder')).status).toBe(404);
  });

  it('the key may come from the envelope header dsn (tunnelled SDKs)', async () => {
    const body = envelope([{ type: 'check_in', payload: { monitor_slug: 'tunnelled', status: 'ok', monitor_config: every5 } }], {
      dsn: `http://${key}@example.org/${projectId}`,
    });
    expect((await post(body, { query: '' })).status).toBe(201);
  });

  it('corrupt or truncated gzip: 400 in the one error shape, nothing created', async () => {
    const body = envelope([{ type: 'check_in', payload: { monitor_slug: 'corrupt', status: 'ok', monitor_config: every5 } }]);
    const zipped = gzipSync(body);
    const truncated = await post(zipped.subarray(0, zipped.length - 10), { headers: { 'content-encoding': 'gzip' } });
    expect(truncated.status).toBe(400);
    expect(truncated.body.error).toMatchObject({ code: 'bad_request' });
    const garbage = await post(new Uint8Array([0x1f, 0x8b, 1, 2, 3, 4, 5]), { headers: { 'content-encoding': 'gzip' } });
    expect(garbage.status).toBe(400);
    expect((await post(body, { headers: { 'content-encoding': 'zstd' } })).status).toBe(400);
    expect((await c.json('GET', '/v1/debts/corrupt')).status).toBe(404);
  });

  it('an item length that lies: 400, and no check-in of the envelope is recorded', async () => {
    const first = line({ monitor_slug: 'liar', status: 'in_progress', monitor_config: every5 });
    const second = line({ monitor_slug: 'liar', status: 'ok' });
    const short = [line({}), line({ type: 'check_in', length: first.length - 5 }), first, line({ type: 'check_in' }), second].join('\n');
    const shortRes = await post(short);
    expect(shortRes.status).toBe(400);
    expect(shortRes.body.error.problems[0]).toMatchObject({ path: 'items[0].length' });
    const long = [line({}), line({ type: 'check_in', length: first.length + 500 }), first].join('\n');
    expect((await post(long)).status).toBe(400);
    expect((await c.json('GET', '/v1/debts/liar')).status).toBe(404);
  });

  it('malformed check-ins are listed together (400) and nothing of the envelope is recorded', async () => {
    const body = envelope([
      { type: 'check_in', payload: { monitor_slug: 'valid-one', status: 'ok', monitor_config: every5 } },
      { type: 'check_in', payload: { monitor_slug: 'Bad Slug', status: 'done' } },
      { type: 'check_in', payload: '{not json' },
      { type: 'check_in', payload: { monitor_slug: 'x', status: 'ok', check_in_id: 'nope' } },
    ]);
    const res = await post(body);
    expect(res.status).toBe(400);
    const paths = res.body.error.problems.map((p: any) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['items[1].monitor_slug', 'items[1].status', 'items[2]', 'items[3].check_in_id']));
    expect((await c.json('GET', '/v1/debts/valid-one')).status).toBe(404);
    expect((await post('not an envelope')).status).toBe(400);
  });

  it('a check-in for an unknown monitor without monitor_config: 404 saying how to create it', async () => {
    const res = await post(envelope([{ type: 'check_in', payload: { monitor_slug: 'never-configured', status: 'ok' } }]));
    expect(res.status).toBe(404);
    expect(res.body.error.message).toContain('monitor_config');
  });

  it('a bad crontab or zone in monitor_config: 422, nothing recorded', async () => {
    const res = await post(
      envelope([
        {
          type: 'check_in',
          payload: {
            monitor_slug: 'bad-cron',
            status: 'ok',
            monitor_config: { schedule: { type: 'crontab', value: '61 * * * *' }, timezone: 'Mars/Base' },
          },
        },
      ]),
    );
    expect(res.status).toBe(422);
    expect(res.body.error.problems.length).toBe(2);
    expect((await c.json('GET', '/v1/debts/bad-cron')).status).toBe(404);
  });

  it('interval schedules: minutes as a fixed every, months and years as calendar months', async () => {
    const interval = (slug: string, value: number, unit: string) =>
      envelope([
        {
          type: 'check_in',
          payload: { monitor_slug: slug, status: 'ok', monitor_config: { schedule: { type: 'interval', value, unit } } },
        },
      ]);
    expect((await post(interval('every-10m', 10, 'minute'))).status).toBe(201);
    expect((await debt('every-10m')).schedule).toEqual({ every: 600 });
    expect((await post(interval('monthly', 1, 'month'))).status).toBe(201);
    const monthly = await debt('monthly');
    expect(monthly.schedule).toEqual({ every: '1mo' });
    // Paid at 2026-11-20T12:00Z: the next is due a calendar month later, plus Sentry's default 1 min margin.
    expect(monthly).toMatchObject({ grace: 60, maxRuntime: 1800, nextDeadline: '2026-12-20T12:01:00.000Z' });
    expect((await post(interval('yearly', 1, 'year'))).status).toBe(201);
    expect((await debt('yearly')).nextDeadline).toBe('2027-11-20T12:01:00.000Z');
  });

  it('CORS preflight answers like Sentry for browser SDKs', async () => {
    const res = await c.request(`/api/${projectId}/envelope/`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toContain('content-type');
    // Without the trailing slash too, as Sentry serves it.
    const bare = await c.request(`/api/${projectId}/envelope?sentry_key=${key}`, { method: 'POST', body: '{}' });
    expect(bare.status).toBe(200);
    expect(bare.headers.get('access-control-allow-origin')).toBe('*');
    expect(
      (
        await c.request(`/api/${projectId}/envelope`, { method: 'OPTIONS', headers: { 'access-control-request-method': 'POST' } })
      ).headers.get('access-control-allow-methods'),
    ).toContain('POST');
  });

  it('an ok sent while the in_progress that creates its monitor is still being made durable: recorded after it, not 404', async () => {
    const run = '33333333333333333333333333333333';
    const start = envelope([
      { type: 'check_in', payload: { check_in_id: run, monitor_slug: 'racing', status: 'in_progress', monitor_config: every5 } },
    ]);
    const end = envelope([{ type: 'check_in', payload: { check_in_id: run, monitor_slug: 'racing', status: 'ok', duration: 0.01 } }]);
    // Not awaited in between, as withMonitor sends a fast job's two check-ins.
    const [first, second] = await Promise.all([post(start), post(end)]);
    expect([first.status, second.status]).toEqual([201, 200]);
    expect((await payments('racing')).map((p) => p.kind)).toEqual(['start', 'success']);
    expect((await debt('racing')).status).toBe('up');
  });

  it('an ok without check_in_id closes the latest open run', async () => {
    const start = envelope([
      {
        type: 'check_in',
        payload: {
          check_in_id: '11111111111111111111111111111111',
          monitor_slug: 'latest-run',
          status: 'in_progress',
          monitor_config: every5,
        },
      },
    ]);
    expect((await post(start)).status).toBe(201);
    c.clock.advance(3000);
    expect((await post(envelope([{ type: 'check_in', payload: { monitor_slug: 'latest-run', status: 'ok' } }]))).status).toBe(200);
    const paid = await payments('latest-run');
    expect(paid[1]).toMatchObject({ kind: 'success', runId: '11111111-1111-1111-1111-111111111111', durationSeconds: 3 });
  });

  describe('check-in status on a */5 monitor', () => {
    const checkIn = (slug: string, status: string, extra: Record<string, unknown> = {}) =>
      post(envelope([{ type: 'check_in', payload: { monitor_slug: slug, status, ...extra } }]));

    it('recovery_threshold: an error makes the debt failed, and it is up again only after that many ok check-ins', async () => {
      const config = { ...every5, recovery_threshold: 2 };
      c.clock.set(Date.parse('2026-11-21T10:00:00Z'));
      expect((await checkIn('recovering', 'ok', { monitor_config: config })).status).toBe(201);
      c.clock.set(Date.parse('2026-11-21T10:05:30Z'));
      expect((await checkIn('recovering', 'error', { monitor_config: config })).status).toBe(200);
      expect((await debt('recovering')).status).toBe('failed');
      c.clock.set(Date.parse('2026-11-21T10:10:30Z'));
      await checkIn('recovering', 'ok', { monitor_config: config });
      expect((await debt('recovering')).status).toBe('failed');
      c.clock.set(Date.parse('2026-11-21T10:15:30Z'));
      await checkIn('recovering', 'ok', { monitor_config: config });
      expect((await debt('recovering')).status).toBe('up');
    });

    it('an error after an ok in the same window makes the debt failed', async () => {
      c.clock.set(Date.parse('2026-11-22T10:00:00Z'));
      expect((await checkIn('ok-then-error', 'ok', { monitor_config: every5 })).status).toBe(201);
      c.clock.set(Date.parse('2026-11-22T10:05:10Z'));
      await checkIn('ok-then-error', 'ok');
      expect((await debt('ok-then-error')).status).toBe('up');
      c.clock.set(Date.parse('2026-11-22T10:05:40Z'));
      await checkIn('ok-then-error', 'error');
      expect((await debt('ok-then-error')).status).toBe('failed');
    });
  });
});

describe('envelope limits, as on the other ping routes', () => {
  it("a body over the payment routes' hard cap: 413; an envelope that inflates past it: 413; nothing recorded", async () => {
    const filler = 'x'.repeat(BODY_LIMITS.hardCap);
    const big = envelope([
      { type: 'check_in', payload: { monitor_slug: 'too-big', status: 'ok', monitor_config: every5 } },
      { type: 'event', payload: { message: filler } },
    ]);
    expect((await post(big)).status).toBe(413);
    const bomb = gzipSync(envelope([{ type: 'event', payload: { message: 'y'.repeat(BODY_LIMITS.hardCap + 1024) } }]));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const res = await post(bomb, { headers: { 'content-encoding': 'gzip' } });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('too_large');
    expect((await c.json('GET', '/v1/debts/too-big')).status).toBe(404);
  });

  it("over the project's rate limit: 429 with Retry-After and Sentry's X-Sentry-Rate-Limits", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'compter-sentry-limits-'));
    const configFile = join(dir, 'compter.yaml');
    await writeFile(configFile, 'limits:\n  default: { burstPerMinute: 2, perDay: 1000 }\n');
    const limited = await startTestCompter({ now: '2026-11-20T12:00:00Z', env: { COMPTER_CONFIG: configFile } });
    try {
      const info = (await limited.json('GET', '/v1/ping-key')).body;
      const body = envelope([{ type: 'check_in', payload: { monitor_slug: 'limited', status: 'ok', monitor_config: every5 } }]);
      const send = () => limited.request(`/api/${info.sentryProjectId}/envelope/?sentry_key=${info.pingKey}`, { method: 'POST', body });
      const statuses: number[] = [];
      let refused: Response | undefined;
      for (let i = 0; i < 4; i++) {
        const res = await send();
        statuses.push(res.status);
        if (res.status === 429) refused = res;
      }
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
      expect(statuses.filter((s) => s < 300).length).toBeLessThanOrEqual(2);
      expect(refused!.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(refused!.headers.get('x-sentry-rate-limits')).toBe(`${refused!.headers.get('retry-after')}::organization`);
      expect(refused!.headers.get('access-control-allow-origin')).toBe('*');
    } finally {
      await limited.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a declared ping key that is not a DSN public key', () => {
  it('GET /v1/ping-key puts a derived key in sentryDsn, and envelopes with it reach the project', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'compter-sentry-keys-'));
    const configFile = join(dir, 'compter.yaml');
    await writeFile(configFile, 'pingKeys:\n  default: 8QhDkq1vY0cJr4m2Zt6p-x\n');
    const declared = await startTestCompter({ now: '2026-11-20T12:00:00Z', env: { COMPTER_CONFIG: configFile } });
    try {
      const info = (await declared.json('GET', '/v1/ping-key')).body;
      expect(info.pingKey).toBe('8QhDkq1vY0cJr4m2Zt6p-x');
      const publicKey = /^http:\/\/(\w+)@/.exec(info.sentryDsn)![1]!;
      expect(publicKey).toMatch(/^[0-9a-f]{32}$/);
      const body = envelope([{ type: 'check_in', payload: { monitor_slug: 'derived', status: 'ok', monitor_config: every5 } }]);
      const res = await declared.request(`/api/1/envelope/?sentry_key=${publicKey}`, { method: 'POST', body });
      expect(res.status).toBe(201);
      expect((await declared.json('GET', '/v1/debts/derived')).body.payments).toBe(1);
    } finally {
      await declared.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('mutated envelopes', () => {
  it('never answer 5xx: random byte flips, cuts and insertions of plain and gzip envelopes', async () => {
    const random = mulberry32(17);
    const valid = Buffer.from(
      [
        line({ event_id: 'e1', sdk: { name: 'sentry.javascript.node', version: '11.12.0' } }),
        line({ type: 'session', length: 0 }),
        '',
        line({ type: 'check_in' }),
        line({
          check_in_id: '22222222222222222222222222222222',
          monitor_slug: 'fuzzed',
          status: 'ok',
          duration: 1.5,
          monitor_config: every5,
        }),
        line({ type: 'attachment', length: 3 }),
        'a\nb',
      ].join('\n'),
    );
    const statuses = new Map<number, number>();
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.from(valid);
      const mutated: number[] = [...bytes];
      for (let n = 1 + Math.floor(random() * 4); n > 0; n--) {
        const at = Math.floor(random() * mutated.length);
        const what = random();
        if (what < 0.4) mutated[at] = Math.floor(random() * 256);
        else if (what < 0.7) mutated.splice(at, 1 + Math.floor(random() * 8));
        else
          mutated.splice(
            at,
            0,
            ...'{}[]\n"9-'
              .split('')
              .map((ch) => ch.charCodeAt(0))
              .slice(0, 1 + Math.floor(random() * 3)),
          );
      }
      const body = Uint8Array.from(mutated);
      const gzip = i % 3 === 0;
      const res = await post(gzip ? gzipSync(body) : body, gzip ? { headers: { 'content-encoding': 'gzip' } } : {});
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status, `mutation ${i}: ${JSON.stringify(Buffer.from(body).toString('latin1'))}`).toBeLessThan(500);
    }
    // The mutations reach both the parser's refusals and the recorded check-ins.
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect([...statuses.keys()].some((s) => s < 300)).toBe(true);
  });
});
