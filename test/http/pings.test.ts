import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';
import { testToken, writeTokenConfig } from '../support/tokens.js';

let c: TestCompter;
let pingKey: string;

beforeAll(async () => {
  c = await startTestCompter({ now: '2026-11-20T12:00:00Z' });
  const res = await c.json('GET', '/v1/ping-key');
  expect(res.status).toBe(200);
  pingKey = res.body.pingKey;
});
afterAll(async () => {
  await c.cleanup();
});

const METHODS = ['GET', 'POST', 'HEAD'] as const;
type Method = (typeof METHODS)[number];

async function ping(method: Method, path: string, body?: string): Promise<{ status: number; text: string; headers: Headers }> {
  const init: RequestInit = { method };
  if (body !== undefined) init.body = body;
  const res = await c.request(path, init);
  return { status: res.status, text: await res.text(), headers: res.headers };
}

let debtCounter = 0;
/** A fresh debt (every 1h) for one case; returns its id and pingId. */
async function newDebt(prefix: string): Promise<{ id: string; pingId: string }> {
  const id = `${prefix}-${++debtCounter}`;
  const res = await c.json('PUT', `/v1/debts/${id}`, { schedule: { every: '1h' } });
  expect(res.status).toBe(201);
  return { id, pingId: res.body.pingId };
}

async function payments(id: string, project = 'default'): Promise<any[]> {
  const events =
    project === 'default'
      ? (await c.json('GET', `/v1/debts/${id}/events?limit=100`)).body.events
      : (await c.engine.events(project, id, 100)).map((e) => ({ ...e, attributes: e.attributes }));
  return events.filter((e: any) => e.type === 'payment').reverse();
}

function expectErrorShape(body: any, code: string) {
  const parsed = typeof body === 'string' ? JSON.parse(body) : body;
  expect(parsed).toMatchObject({ error: { code, message: expect.any(String), requestId: expect.any(String) } });
}

/** Path suffix → the payment it must record. */
const ACTIONS: [string, string, number | undefined][] = [
  ['', 'success', undefined],
  ['/start', 'start', undefined],
  ['/fail', 'fail', undefined],
  ['/log', 'log', undefined],
  ['/0', 'success', 0],
  ['/7', 'fail', 7],
  ['/255', 'fail', 255],
];

describe('ping URLs: every form × method × action', () => {
  for (const method of METHODS) {
    for (const [suffix, kind, exitCode] of ACTIONS) {
      it(`${method} /ping/{pingId}${suffix} → OK, a ${kind} payment`, async () => {
        const debt = await newDebt('pid');
        const res = await ping(method, `/ping/${debt.pingId}${suffix}`);
        expect(res.status).toBe(200);
        expect(res.text).toBe(method === 'HEAD' ? '' : 'OK');
        expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
        expect(res.headers.get('ping-body-limit')).toBe('10240');
        const paid = await payments(debt.id);
        expect(paid).toHaveLength(1);
        expect(paid[0].kind).toBe(kind);
        expect(paid[0].attributes.exitCode).toBe(exitCode);
      });

      it(`${method} /ping/{pingKey}/{debtId}${suffix} → OK, a ${kind} payment`, async () => {
        const debt = await newDebt('key');
        const res = await ping(method, `/ping/${pingKey}/${debt.id}${suffix}`);
        expect(res.status).toBe(200);
        expect(res.text).toBe(method === 'HEAD' ? '' : 'OK');
        expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
        expect(res.headers.get('ping-body-limit')).toBe('10240');
        const paid = await payments(debt.id);
        expect(paid).toHaveLength(1);
        expect(paid[0].kind).toBe(kind);
        expect(paid[0].attributes.exitCode).toBe(exitCode);
      });
    }
  }

  it('a ping id is accepted in upper case too', async () => {
    const debt = await newDebt('upper');
    expect((await ping('GET', `/ping/${debt.pingId.toUpperCase()}`)).status).toBe(200);
    expect(await payments(debt.id)).toHaveLength(1);
  });

  it('pings change the debt: a start makes it running, an exit code > 0 makes it failed', async () => {
    const debt = await newDebt('status');
    await ping('GET', `/ping/${debt.pingId}/start`);
    expect((await c.json('GET', `/v1/debts/${debt.id}`)).body.status).toBe('running');
    await ping('GET', `/ping/${debt.pingId}/3`);
    expect((await c.json('GET', `/v1/debts/${debt.id}`)).body.status).toBe('failed');
    await ping('GET', `/ping/${debt.pingId}`);
    expect((await c.json('GET', `/v1/debts/${debt.id}`)).body.status).toBe('up');
  });
});

describe('ping errors', () => {
  const unknownUuid = '0b6f3b5e-3c2a-4f4e-9d1e-2a8f5c7d9e10';
  const cases: [string, () => Promise<string>, number, string][] = [
    ['unknown pingId', async () => `/ping/${unknownUuid}`, 404, 'not_found'],
    ['unknown pingId /start', async () => `/ping/${unknownUuid}/start`, 404, 'not_found'],
    ['unknown pingId /0', async () => `/ping/${unknownUuid}/0`, 404, 'not_found'],
    ['a lone segment that is not a UUID', async () => '/ping/not-a-uuid', 404, 'not_found'],
    ['unknown action after a pingId', async () => `/ping/${(await newDebt('err')).pingId}/bogus`, 404, 'not_found'],
    ['negative exit code', async () => `/ping/${(await newDebt('err')).pingId}/-1`, 404, 'not_found'],
    ['three segments after a pingId', async () => `/ping/${(await newDebt('err')).pingId}/x/start`, 404, 'not_found'],
    ['exit code 256 (pingId)', async () => `/ping/${(await newDebt('err')).pingId}/256`, 400, 'bad_request'],
    ['exit code 1000 (pingId)', async () => `/ping/${(await newDebt('err')).pingId}/1000`, 400, 'bad_request'],
    ['exit code 256 (key)', async () => `/ping/${pingKey}/${(await newDebt('err')).id}/256`, 400, 'bad_request'],
    ['exit code 99999999999 (key)', async () => `/ping/${pingKey}/${(await newDebt('err')).id}/99999999999`, 400, 'bad_request'],
    ['unknown action (key)', async () => `/ping/${pingKey}/${(await newDebt('err')).id}/bogus`, 404, 'not_found'],
    ['unknown ping key', async () => `/ping/AAAAAAAAAAAAAAAAAAAAAAAA/${(await newDebt('err')).id}`, 404, 'not_found'],
    ['unknown ping key /start', async () => `/ping/AAAAAAAAAAAAAAAAAAAAAAAA/${(await newDebt('err')).id}/start`, 404, 'not_found'],
    ['unknown debt (key, no create=1)', async () => `/ping/${pingKey}/never-defined`, 404, 'not_found'],
    ['unknown debt with a schedule but no create=1', async () => `/ping/${pingKey}/never-defined-2?every=1h`, 404, 'not_found'],
    ['a debt id that breaks the id rule', async () => `/ping/${pingKey}/Not_Valid`, 400, 'bad_request'],
    ['rid with a space (pingId)', async () => `/ping/${(await newDebt('err')).pingId}/start?rid=has%20space`, 400, 'bad_request'],
    ['empty rid (pingId)', async () => `/ping/${(await newDebt('err')).pingId}?rid=`, 400, 'bad_request'],
    [
      'rid of 129 characters (key)',
      async () => `/ping/${pingKey}/${(await newDebt('err')).id}/start?rid=${'r'.repeat(129)}`,
      400,
      'bad_request',
    ],
    [
      'rid with non-ASCII characters (key)',
      async () => `/ping/${pingKey}/${(await newDebt('err')).id}/0?rid=%C3%A9t%C3%A9`,
      400,
      'bad_request',
    ],
  ];
  for (const method of METHODS) {
    for (const [name, path, status, code] of cases) {
      it(`${method} ${name} → ${status}`, async () => {
        const res = await ping(method, await path());
        expect(res.status).toBe(status);
        if (method !== 'HEAD') expectErrorShape(res.text, code);
      });
    }
  }

  it('errors record nothing', async () => {
    const debt = await newDebt('nothing');
    await ping('GET', `/ping/${debt.pingId}/256`);
    await ping('GET', `/ping/${debt.pingId}/start?rid=a%20b`);
    await ping('POST', `/ping/${pingKey}/${debt.id}/300`, 'body');
    expect(await payments(debt.id)).toHaveLength(0);
  });

  it('the 404 for an unknown debt says how to create it', async () => {
    const res = await c.json('GET', `/ping/${pingKey}/ghost-debt`);
    expect(res.body.error.message).toMatch(/create=1/);
  });
});

describe('run ids (?rid=)', () => {
  it('pairs start and end by rid, measuring each run start → end, even when runs overlap', async () => {
    const debt = await newDebt('rid');
    const runA = '5f0c1c3e-8a63-4bde-9a39-2f2ea3f1a001';
    const runB = 'batch-2026-11-20';
    expect((await ping('GET', `/ping/${debt.pingId}/start?rid=${runA}`)).status).toBe(200);
    c.clock.advance(10_000);
    expect((await ping('POST', `/ping/${pingKey}/${debt.id}/start?rid=${runB}`)).status).toBe(200);
    c.clock.advance(60_000);
    expect((await ping('HEAD', `/ping/${debt.pingId}/0?rid=${runA}`)).status).toBe(200);
    c.clock.advance(30_000);
    expect((await ping('GET', `/ping/${pingKey}/${debt.id}/fail?rid=${runB}`)).status).toBe(200);
    const paid = await payments(debt.id);
    expect(paid.map((p) => [p.kind, p.runId, p.durationSeconds])).toEqual([
      ['start', runA, null],
      ['start', runB, null],
      ['success', runA, 70],
      ['fail', runB, 90],
    ]);
  });

  it('a UUID rid pairs whatever its case (healthchecks compares UUIDs)', async () => {
    const debt = await newDebt('rid-case');
    const rid = 'A3C1E0B2-1111-4222-8333-944455556666';
    await ping('GET', `/ping/${debt.pingId}/start?rid=${rid}`);
    c.clock.advance(5_000);
    await ping('GET', `/ping/${debt.pingId}?rid=${rid.toLowerCase()}`);
    const got = await c.json('GET', `/v1/debts/${debt.id}`);
    expect(got.body).toMatchObject({ status: 'up', lastDurationSeconds: 5 });
  });

  /** A debt every 1h whose runs time out after 10 minutes. */
  async function limitedDebt(prefix: string): Promise<{ id: string; pingId: string }> {
    const id = `${prefix}-${++debtCounter}`;
    const res = await c.json('PUT', `/v1/debts/${id}`, { schedule: { every: '1h' }, maxRuntime: '10m' });
    expect(res.status).toBe(201);
    return { id, pingId: res.body.pingId };
  }

  async function statusAfterRuntimeLimit(id: string): Promise<{ status: string; timedOut: number }> {
    c.clock.advance(11 * 60_000);
    await c.engine.tick();
    const debt = (await c.json('GET', `/v1/debts/${id}`)).body;
    const events = (await c.json('GET', `/v1/debts/${id}/events?limit=100`)).body.events;
    return { status: debt.status, timedOut: events.filter((e: any) => e.type === 'run.timed_out').length };
  }

  it('a plain ping after /start?rid= ends the run, as in healthchecks (a script that forgot the rid)', async () => {
    const debt = await limitedDebt('forgot-rid');
    await ping('GET', `/ping/${debt.pingId}/start?rid=r-forgot`);
    c.clock.advance(5_000);
    await ping('GET', `/ping/${debt.pingId}`);
    const got = (await c.json('GET', `/v1/debts/${debt.id}`)).body;
    // Not paired with the start, so not timed: healthchecks leaves last_duration empty too.
    expect(got).toMatchObject({ status: 'up', lastDurationSeconds: null });
    expect(await statusAfterRuntimeLimit(debt.id)).toEqual({ status: 'up', timedOut: 0 });
  });

  it('a plain /fail after /start?rid= is one failure, never a second one when the run would time out', async () => {
    const debt = await limitedDebt('forgot-rid-fail');
    await ping('GET', `/ping/${debt.pingId}/start?rid=r-forgot`);
    await ping('GET', `/ping/${debt.pingId}/fail`);
    expect((await c.json('GET', `/v1/debts/${debt.id}`)).body.status).toBe('failed');
    expect(await statusAfterRuntimeLimit(debt.id)).toEqual({ status: 'failed', timedOut: 0 });
  });

  it('an end with a rid ends only its own run; a plain end ends only the plain start when there is one', async () => {
    const debt = await limitedDebt('own-run');
    await ping('GET', `/ping/${debt.pingId}/start?rid=r-a`);
    await ping('GET', `/ping/${debt.pingId}/start?rid=r-b`);
    await ping('GET', `/ping/${debt.pingId}?rid=r-a`);
    expect((await c.json('GET', `/v1/debts/${debt.id}`)).body.status).toBe('running');
    await ping('GET', `/ping/${debt.pingId}/start`);
    await ping('GET', `/ping/${debt.pingId}`);
    expect((await c.json('GET', `/v1/debts/${debt.id}`)).body.status).toBe('running');
    // r-b never ended: it still times out.
    expect((await statusAfterRuntimeLimit(debt.id)).timedOut).toBe(1);
  });

  it("an untimed end empties the last duration instead of keeping an older run's, as healthchecks does", async () => {
    const debt = await newDebt('untimed-after-timed');
    await ping('GET', `/ping/${debt.pingId}/start`);
    c.clock.advance(7_000);
    await ping('GET', `/ping/${debt.pingId}`);
    expect((await c.json('GET', `/v1/debts/${debt.id}`)).body.lastDurationSeconds).toBe(7);
    const series = `compter_debt_last_duration_seconds{project="default",debt="${debt.id}"}`;
    expect(await (await c.request('/metrics')).text()).toContain(`${series} 7\n`);
    c.clock.advance(60_000);
    await ping('GET', `/ping/${debt.pingId}`);
    expect((await c.json('GET', `/v1/debts/${debt.id}`)).body.lastDurationSeconds).toBeNull();
    expect(await (await c.request('/metrics')).text()).not.toContain(series);
    await ping('GET', `/ping/${debt.pingId}/start`);
    c.clock.advance(3_000);
    await ping('GET', `/ping/${debt.pingId}/fail`);
    expect((await c.json('GET', `/v1/debts/${debt.id}`)).body.lastDurationSeconds).toBe(3);
    await ping('GET', `/ping/${debt.pingId}/fail`);
    expect((await c.json('GET', `/v1/debts/${debt.id}`)).body.lastDurationSeconds).toBeNull();
  });

  it('without rid, /start then /0 is still timed (the one anonymous run)', async () => {
    const debt = await newDebt('norid');
    await ping('GET', `/ping/${debt.pingId}/start`);
    c.clock.advance(42_000);
    await ping('GET', `/ping/${debt.pingId}/0`);
    expect((await c.json('GET', `/v1/debts/${debt.id}`)).body.lastDurationSeconds).toBe(42);
  });
});

describe('ping bodies', () => {
  it('a POST body is kept as the message', async () => {
    const debt = await newDebt('body');
    const res = await ping('POST', `/ping/${debt.pingId}/fail`, 'disk full\nat line 3');
    expect(res.status).toBe(200);
    const [paid] = await payments(debt.id);
    expect(paid.attributes.message).toBe('disk full\nat line 3');
  });

  it('bodies over 10 KiB are truncated to 10240 bytes on a character boundary, and the limit is announced', async () => {
    const debt = await newDebt('big-body');
    const res = await ping('POST', `/ping/${pingKey}/${debt.id}/log`, 'é'.repeat(6000));
    expect(res.status).toBe(200);
    expect(res.headers.get('ping-body-limit')).toBe('10240');
    const [paid] = await payments(debt.id);
    expect(Buffer.byteLength(paid.attributes.message)).toBe(10240);
    expect(paid.attributes.message).toBe('é'.repeat(5120));
  });

  it('GET and an empty POST keep no message', async () => {
    const debt = await newDebt('no-body');
    await ping('GET', `/ping/${debt.pingId}`);
    await ping('POST', `/ping/${debt.pingId}`, '');
    const paid = await payments(debt.id);
    expect(paid).toHaveLength(2);
    for (const p of paid) expect(p.attributes.message).toBeUndefined();
  });
});

describe('?create=1 (key form) vivifies the debt', () => {
  for (const method of METHODS) {
    it(`${method} with every/grace: 201 OK, then 200`, async () => {
      const id = `viv-every-${method.toLowerCase()}`;
      const first = await ping(method, `/ping/${pingKey}/${id}?create=1&every=1h&grace=5m`);
      expect(first.status).toBe(201);
      expect(first.text).toBe(method === 'HEAD' ? '' : 'OK');
      const debt = await c.json('GET', `/v1/debts/${id}`);
      expect(debt.body).toMatchObject({ id, schedule: { every: 3600 }, grace: 300, payments: 1, status: 'up' });
      const second = await ping(method, `/ping/${pingKey}/${id}?create=1&every=1h`);
      expect(second.status).toBe(200);
      expect((await c.json('GET', `/v1/debts/${id}`)).body.payments).toBe(2);
    });
  }

  it('with cron/tz/grace on /start: the run begins in the new debt', async () => {
    const res = await ping('GET', `/ping/${pingKey}/viv-cron/start?create=1&cron=0+2+*+*+*&tz=Europe/Copenhagen&grace=15m&rid=r-1`);
    expect(res.status).toBe(201);
    const debt = await c.json('GET', '/v1/debts/viv-cron');
    expect(debt.body).toMatchObject({ schedule: { cron: '0 2 * * *', tz: 'Europe/Copenhagen' }, grace: 900, status: 'running' });
  });

  it('without schedule parameters: healthchecks defaults (every 1 day, grace 1 hour)', async () => {
    const res = await ping('POST', `/ping/${pingKey}/viv-default?create=1`, 'first run');
    expect(res.status).toBe(201);
    const debt = await c.json('GET', '/v1/debts/viv-default');
    expect(debt.body).toMatchObject({ schedule: { every: 86400 }, grace: 3600, payments: 1 });
  });

  it('create=1 does not change an existing debt', async () => {
    const debt = await newDebt('viv-existing');
    const res = await ping('GET', `/ping/${pingKey}/${debt.id}?create=1&every=5m`);
    expect(res.status).toBe(200);
    expect((await c.json('GET', `/v1/debts/${debt.id}`)).body.schedule).toEqual({ every: 3600 });
  });

  it('an invalid schedule is 422 with the problem, and creates nothing', async () => {
    const res = await c.json('GET', `/ping/${pingKey}/viv-bad?create=1&cron=bogus`);
    expect(res.status).toBe(422);
    expect(res.body.error.problems[0].path).toBe('schedule.cron');
    expect((await c.json('GET', '/v1/debts/viv-bad')).status).toBe(404);
  });

  it('the pingId form cannot vivify: an unknown ping id stays 404', async () => {
    const res = await ping('GET', '/ping/0b6f3b5e-3c2a-4f4e-9d1e-2a8f5c7d9e11?create=1&every=1h');
    expect(res.status).toBe(404);
  });
});

describe('GET /v1/ping-key and the OpenAPI document', () => {
  it('the key is URL-safe, ≥ 22 characters, stable, and names URL templates', async () => {
    const first = await c.json('GET', '/v1/ping-key');
    const second = await c.json('GET', '/v1/ping-key');
    expect(first.body.pingKey).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(second.body.pingKey).toBe(first.body.pingKey);
    expect(first.body).toMatchObject({
      project: 'default',
      source: 'generated',
      pingUrl: `/ping/${first.body.pingKey}/{debtId}`,
      sentryUrl: `/api/default/cron/{debtId}/${first.body.pingKey}/`,
    });
  });

  it('documents every ping URL with GET, POST and HEAD, and the ping key route', async () => {
    const doc = await c.json('GET', '/openapi.json');
    for (const path of ['/ping/{pingId}', '/ping/{first}/{second}', '/ping/{pingKey}/{debtId}/{action}']) {
      expect(Object.keys(doc.body.paths[path] ?? {}).sort()).toEqual(['get', 'head', 'post']);
    }
    expect(doc.body.paths['/v1/ping-key']?.get).toBeDefined();
    expect(doc.body.paths['/api/{project}/cron/{debtId}/{key}/']?.post).toBeDefined();
  });
});

describe('ping keys: generated once and kept in the log; declared keys in compter.yaml', () => {
  it('a generated key survives a restart and keeps working', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'compter-pingkey-'));
    try {
      const a = await startTestCompter({ dataDir });
      const key = (await a.json('GET', '/v1/ping-key')).body.pingKey;
      expect((await a.request(`/ping/${key}/kept?create=1&every=1h`)).status).toBe(201);
      const events = await a.store.query({ project: 'default', types: ['ping_key.generated'], limit: 10, order: 'asc' });
      expect(events.map((e) => e.type === 'ping_key.generated' && e.attributes.pingKey)).toEqual([key]);
      await a.close();
      const b = await startTestCompter({ dataDir });
      expect((await b.json('GET', '/v1/ping-key')).body.pingKey).toBe(key);
      expect((await b.request(`/ping/${key}/kept`)).status).toBe(200);
      expect((await b.json('GET', '/v1/debts/kept')).body.payments).toBe(2);
      await b.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('a key declared in compter.yaml wins, retires the generated one, and resolves to its project', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'compter-pingkey-'));
    const configFile = join(dataDir, 'compter.yaml');
    const defaultKey = 'default-key-0123456789abcdef';
    const alphaKey = 'alpha_key-0123456789ABCDEF';
    try {
      const a = await startTestCompter({ dataDir });
      const generated = (await a.json('GET', '/v1/ping-key')).body.pingKey;
      await a.close();
      await writeFile(configFile, `pingKeys:\n  default: ${defaultKey}\n  alpha: ${alphaKey}\n`);
      const b = await startTestCompter({ dataDir, env: { COMPTER_CONFIG: configFile } });
      try {
        expect((await b.json('GET', '/v1/ping-key')).body).toMatchObject({ pingKey: defaultKey, source: 'config' });
        expect((await b.request(`/ping/${generated}/x?create=1`)).status).toBe(404);
        expect((await b.request(`/ping/${defaultKey}/in-default?create=1&every=1h`)).status).toBe(201);
        // The key decides the project: this debt lands in alpha, not in the caller's default.
        expect((await b.request(`/ping/${alphaKey}/in-alpha/start?create=1&every=1h`)).status).toBe(201);
        expect(b.engine.get('alpha', 'in-alpha').status).toBe('running');
        expect((await b.json('GET', '/v1/debts/in-alpha')).status).toBe(404);
        // A ping id also carries its project.
        const pingId = b.engine.get('alpha', 'in-alpha').pingId;
        expect((await b.request(`/ping/${pingId}/0`)).status).toBe(200);
        expect(b.engine.get('alpha', 'in-alpha')).toMatchObject({ status: 'up', payments: 2 });
      } finally {
        await b.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('check-config refuses short, UUID-shaped and shared ping keys', () => {
    expect(parseConfig('pingKeys:\n  default: 0123456789abcdefABCDEF\n').problems).toEqual([]);
    const bad = parseConfig(
      [
        'pingKeys:',
        '  a: short',
        '  b: 0b6f3b5e-3c2a-4f4e-9d1e-2a8f5c7d9e10',
        '  c: same-key-0123456789abcdef',
        '  d: same-key-0123456789abcdef',
        '  Bad: fine-key-0123456789abcdefg',
      ].join('\n'),
    );
    expect(bad.config).toBeUndefined();
    expect(bad.problems.map((p) => p.path).sort()).toEqual(['pingKeys.Bad', 'pingKeys.a', 'pingKeys.b', 'pingKeys.d']);
  });
});

describe('pings with tokens and rate limits configured', () => {
  it('ping URLs need no bearer token; the key names the project; pings count against that project’s limit', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'compter-pingauth-'));
    const configFile = join(dataDir, 'compter.yaml');
    const alpha = testToken('alpha-reader', 'alpha', ['read', 'write']);
    await writeTokenConfig(configFile, [alpha], 'limits:\n  default: { burstPerMinute: 3 }\n');
    const t = await startTestCompter({ dataDir, env: { COMPTER_CONFIG: configFile } });
    try {
      const auth = { authorization: `Bearer ${alpha.secret}` };
      expect((await t.request('/v1/ping-key')).status).toBe(401);
      const keyRes = await t.request('/v1/ping-key', { headers: auth });
      const key = (await keyRes.json()) as { project: string; pingKey: string };
      expect(key.project).toBe('alpha');
      // No Authorization header: the key is the credential.
      expect((await t.request(`/ping/${key.pingKey}/nightly?create=1&every=1h`)).status).toBe(201);
      expect(t.engine.get('alpha', 'nightly').payments).toBe(1);
      const pingId = t.engine.get('alpha', 'nightly').pingId;
      expect((await t.request(`/ping/${pingId}/start`)).status).toBe(200);
      // Three requests of alpha this minute (the ping-key read and two pings): the next ping is refused.
      const limited = await t.request(`/ping/${pingId}/0`);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(t.engine.get('alpha', 'nightly').payments).toBe(2);
    } finally {
      await t.cleanup();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('a fail always counts, also after the occurrence was paid (healthchecks /fail, Sentry error)', () => {
  const FIVE_MIN = 5 * 60_000;
  let f: TestCompter;
  let fKey: string;
  let fDir: string;
  // Replay from the log alone (no snapshot), so the restart test checks the fold.
  const env = { COMPTER_SNAPSHOT_EVERY_EVENTS: '0' };
  beforeAll(async () => {
    fDir = await mkdtemp(join(tmpdir(), 'compter-fail-counts-'));
    f = await startTestCompter({ now: '2026-11-20T11:59:00Z', dataDir: fDir, env });
    fKey = (await f.json('GET', '/v1/ping-key')).body.pingKey;
  });
  afterAll(async () => {
    await f.cleanup();
    await rm(fDir, { recursive: true, force: true });
  });

  /** Defines a debt due every 5 minutes and moves the clock 30 s into its first window; returns that slot. */
  async function fiveMinutely(id: string, extra: Record<string, unknown> = {}): Promise<{ pingId: string; slotAt: number }> {
    const res = await f.json('PUT', `/v1/debts/${id}`, { schedule: { cron: '*/5 * * * *', tz: 'UTC' }, grace: '1m', ...extra });
    expect(res.status).toBe(201);
    const slotAt = Math.floor(f.clock.now() / FIVE_MIN) * FIVE_MIN + FIVE_MIN;
    f.clock.set(slotAt + 30_000);
    return { pingId: res.body.pingId, slotAt };
  }
  /** The debt's JSON plus its extra runs counter, as /metrics exports it. */
  const debt = async (id: string) => {
    const body = (await f.json('GET', `/v1/debts/${id}`)).body;
    const metrics = await (await f.request('/metrics')).text();
    const line = metrics.split('\n').find((l) => l.startsWith(`compter_debt_extra_runs_total{project="default",debt="${id}"} `));
    return { ...body, extraRuns: line === undefined ? undefined : Number(line.split(' ')[1]) };
  };
  const ledger = async (id: string, slotAt: number) => {
    const range = `from=${new Date(slotAt).toISOString()}&to=${new Date(slotAt).toISOString()}`;
    return (await f.json('GET', `/v1/debts/${id}/occurrences?${range}`)).body.occurrences;
  };

  it('/start, /0, then /3 in the same window: failed, the occurrence stays paid, the ledger shows the failed extra run', async () => {
    const { pingId, slotAt } = await fiveMinutely('paid-then-failed');
    expect((await f.request(`/ping/${pingId}/start`)).status).toBe(200);
    f.clock.advance(10_000);
    expect((await f.request(`/ping/${pingId}/0`)).status).toBe(200);
    expect(await debt('paid-then-failed')).toMatchObject({ status: 'up', extraRuns: 0 });
    f.clock.advance(20_000);
    expect((await f.request(`/ping/${pingId}/3`)).status).toBe(200);
    expect(await debt('paid-then-failed')).toMatchObject({ status: 'failed', extraRuns: 1 });
    expect(await ledger('paid-then-failed', slotAt)).toMatchObject([
      {
        scheduledAt: new Date(slotAt).toISOString(),
        outcome: 'paid',
        durationSeconds: 10,
        extraRuns: [{ endedAt: new Date(slotAt + 60_000).toISOString(), kind: 'fail', runId: null, durationSeconds: null }],
      },
    ]);
    const events = (await f.json('GET', '/v1/debts/paid-then-failed/events?limit=50')).body.events;
    const fail = events.find((e: any) => e.type === 'payment' && e.kind === 'fail');
    expect(fail.attributes).toMatchObject({ exitCode: 3, isExtraRun: true, occurrenceAt: slotAt });
    expect(events.filter((e: any) => e.type === 'occurrence.closed').map((e: any) => e.status)).toEqual(['paid']);
    const metrics = await (await f.request('/metrics')).text();
    expect(metrics).toContain('compter_debt_extra_runs_total{project="default",debt="paid-then-failed"} 1');
    expect(metrics).toContain('compter_occurrences_total{project="default",debt="paid-then-failed",outcome="paid"} 1');
    expect(metrics).not.toContain('compter_occurrences_total{project="default",debt="paid-then-failed",outcome="failed"}');
    expect(metrics).toContain('compter_debt_status{project="default",debt="paid-then-failed",status="failed"} 1');
  });

  it('every door counts a fail after a success: /fail, kind fail, a non-zero exit code, the key form, a Sentry error', async () => {
    const doors: [string, (id: string, pingId: string) => Promise<Response>][] = [
      ['door-fail', (_id, pingId) => f.request(`/ping/${pingId}/fail`)],
      ['door-kind', (id) => f.request(`/v1/debts/${id}/payments`, jsonPost({ kind: 'fail' }))],
      ['door-exit', (id) => f.request(`/v1/debts/${id}/payments`, jsonPost({ exitCode: 2 }))],
      ['door-key', (id) => f.request(`/ping/${fKey}/${id}/1`)],
      ['door-sentry', (id) => f.request(`/api/default/cron/${id}/${fKey}/`, jsonPost({ status: 'error' }))],
    ];
    for (const [id, sendFail] of doors) {
      const { pingId, slotAt } = await fiveMinutely(id);
      expect((await f.request(`/ping/${pingId}`)).status, id).toBe(200);
      expect((await debt(id)).status, id).toBe('up');
      expect((await sendFail(id, pingId)).status, id).toBeLessThan(300);
      expect(await debt(id), id).toMatchObject({ status: 'failed', extraRuns: 1 });
      expect((await ledger(id, slotAt))[0], id).toMatchObject({ outcome: 'paid', extraRuns: [{ kind: 'fail' }] });
    }
  });

  it('failed until a later success, which recovers; that success in the paid window is a successful extra run', async () => {
    const { pingId, slotAt } = await fiveMinutely('fail-then-recover');
    await f.request(`/ping/${pingId}`);
    await f.request(`/ping/${pingId}/fail`);
    expect((await debt('fail-then-recover')).status).toBe('failed');
    await f.request(`/ping/${pingId}`);
    expect(await debt('fail-then-recover')).toMatchObject({ status: 'up', extraRuns: 2 });
    const [occ] = await ledger('fail-then-recover', slotAt);
    expect(occ.outcome).toBe('paid');
    expect(occ.extraRuns.map((r: any) => r.kind)).toEqual(['fail', 'success']);
  });

  it('failuresBeforeAlert counts consecutive failed runs, not occurrences', async () => {
    const { pingId } = await fiveMinutely('two-runs', { failuresBeforeAlert: 2 });
    await f.request(`/ping/${pingId}/fail`);
    expect((await debt('two-runs')).status).not.toBe('failed');
    // A second failed run in the same window (already closed failed) makes two in a row.
    await f.request(`/ping/${pingId}/fail`);
    expect((await debt('two-runs')).status).toBe('failed');
    await f.request(`/ping/${pingId}`);
    expect((await debt('two-runs')).status).toBe('up');
    await f.request(`/ping/${pingId}/fail`);
    expect((await debt('two-runs')).status).toBe('up');
  });

  it('a restart replays the log into the same state', async () => {
    const ids = ['paid-then-failed', 'door-sentry', 'fail-then-recover', 'two-runs'];
    // Let the live timer catch up to now first, as start-up replay does.
    await f.engine.tick();
    const live = await Promise.all(ids.map(debt));
    const now = new Date(f.clock.now()).toISOString();
    await f.close();
    f = await startTestCompter({ now, dataDir: fDir, env });
    expect(f.rebuilt.fromSnapshot).toBe(false);
    for (const [i, id] of ids.entries()) {
      const { status, extraRuns, payments, lastSuccess } = live[i];
      expect(await debt(id), id).toMatchObject({ status, extraRuns, payments, lastSuccess });
    }
  });
});

function jsonPost(body: unknown): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
