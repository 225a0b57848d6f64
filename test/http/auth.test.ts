import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';
import { call, testToken, writeTokenConfig, type TestToken } from '../support/tokens.js';

const ping = testToken('alpha-ping', 'alpha', ['ping']);
const read = testToken('alpha-read', 'alpha', ['read']);
const write = testToken('alpha-write', 'alpha', ['write']);
const admin = testToken('alpha-admin', 'alpha', ['admin']);
const betaAdmin = testToken('beta-admin', 'beta', ['admin']);
const betaPing = testToken('beta-ping', 'beta', ['ping']);
const depositsOnly = testToken('alpha-deposits', 'alpha', ['ping'], ['deposits']);
const tokens = [ping, read, write, admin, betaAdmin, betaPing, depositsOnly];

let dir: string;
let configFile: string;
let c: TestCompter;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'compter-auth-'));
  configFile = join(dir, 'compter.yaml');
  await writeTokenConfig(configFile, tokens);
  c = await startTestCompter({ env: { COMPTER_CONFIG: configFile } });
});
afterAll(async () => {
  await c.cleanup();
  await rm(dir, { recursive: true, force: true });
});

function expectError(res: { status: number; body: any }, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.body).toMatchObject({ error: { code, message: expect.any(String), requestId: expect.any(String) } });
}

describe('bearer tokens', () => {
  it('no token → 401 in the one error shape, with WWW-Authenticate', async () => {
    for (const [method, path] of [
      ['GET', '/v1/debts'],
      ['PUT', '/v1/debts/x'],
      ['POST', '/v1/debts/x/payments'],
      ['DELETE', '/v1/debts/x'],
      ['GET', '/debts'],
      ['GET', '/no/such/route'],
    ] as const) {
      const res = await call(c, method, path, null, method === 'GET' || method === 'DELETE' ? undefined : {});
      expectError(res, 401, 'unauthorized');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });

  it('a wrong, malformed or oversized token → 401', async () => {
    const wrong = [
      `Bearer ${admin.secret}x`,
      `Bearer ${admin.secret.slice(0, -1)}`,
      'Bearer cpt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      `Basic ${Buffer.from(`user:${admin.secret}`).toString('base64')}`,
      'Bearer',
      'Bearer ',
      `Bearer ${admin.secret} ${admin.secret}`,
      `${admin.secret}`,
      `Bearer ${'a'.repeat(10_000)}`,
      // The stored hash itself is not a token.
      `Bearer sha256:${'0'.repeat(64)}`,
    ];
    for (const header of wrong) expectError(await call(c, 'GET', '/v1/debts', header), 401, 'unauthorized');
  });

  it('the scheme is case-insensitive and the token works', async () => {
    const res = await call(c, 'GET', '/v1/debts', `bearer ${admin.secret}`);
    expect(res.status).toBe(200);
  });

  it('probes, the API document and /metrics need no token', async () => {
    for (const path of ['/healthz', '/readyz', '/openapi.json', '/metrics']) {
      expect((await call(c, 'GET', path, null)).status).toBe(200);
    }
  });
});

describe('scopes', () => {
  // What each scope may do, written out independently of the implementation.
  const grants: Record<string, string[]> = { ping: ['ping'], read: ['read'], write: ['read', 'write'], admin: ['ping', 'read', 'write'] };
  const routes: [string, string, 'ping' | 'read' | 'write', unknown?][] = [
    ['GET', '/v1/debts', 'read'],
    ['GET', '/v1/debts/scoped', 'read'],
    ['GET', '/v1/debts/scoped/events', 'read'],
    ['GET', '/v1/debts/scoped/occurrences', 'read'],
    ['GET', '/debts', 'read'],
    ['GET', '/debts/scoped', 'read'],
    ['PUT', '/v1/debts/scoped', 'write', { schedule: { every: '1h' } }],
    ['POST', '/v1/debts/scoped/pause', 'write'],
    ['POST', '/v1/debts/scoped/resume', 'write'],
    ['DELETE', '/v1/debts/scoped-deletable', 'write'],
    ['PUT', '/debts', 'write', {}],
    ['POST', '/v1/debts/scoped/payments', 'ping', { kind: 'log' }],
    ['POST', '/debts/scoped', 'ping'],
    ['POST', '/v1/job-status', 'ping', { application: 'deposits', job: 'j', status: 'start', time: '2026-11-20T12:00:00Z' }],
  ];

  beforeAll(async () => {
    expect((await call(c, 'PUT', '/v1/debts/scoped', admin, { schedule: { every: '1h' } })).status).toBe(201);
  });

  for (const token of [ping, read, write, admin]) {
    const scope = token.scopes[0]!;
    it(`a ${scope} token: allowed routes pass, the others answer 403`, async () => {
      for (const [method, path, needs, body] of routes) {
        if (path === '/v1/debts/scoped-deletable') await call(c, 'PUT', path, admin, {});
        const res = await call(c, method, path, token, body);
        if (grants[scope]!.includes(needs)) {
          expect([401, 403], `${scope} ${method} ${path} → ${res.status}`).not.toContain(res.status);
          expect(res.status).toBeLessThan(500);
        } else {
          expectError(res, 403, 'forbidden');
          expect(res.body.error.message).toContain(`"${needs}"`);
        }
      }
    });
  }

  it('a refused write leaves the debt as it was', async () => {
    expect((await call(c, 'DELETE', '/v1/debts/scoped', read)).status).toBe(403);
    expect((await call(c, 'DELETE', '/v1/debts/scoped', ping)).status).toBe(403);
    expect((await call(c, 'GET', '/v1/debts/scoped', read)).status).toBe(200);
  });
});

describe('project isolation', () => {
  let alphaDebt: any;
  beforeAll(async () => {
    const res = await call(c, 'PUT', '/v1/debts/alpha-secret', admin, { name: 'alpha only', schedule: { every: '1h' } });
    expect(res.status).toBe(201);
    alphaDebt = res.body;
    expect(alphaDebt.project).toBe('alpha');
  });

  it("another project's debt answers 404 on read, pay, pause, delete, events and occurrences", async () => {
    const tries: [string, string, TestToken, unknown?][] = [
      ['GET', '/v1/debts/alpha-secret', betaAdmin],
      ['GET', '/debts/alpha-secret', betaAdmin],
      ['GET', '/v1/debts/alpha-secret/events', betaAdmin],
      ['GET', '/v1/debts/alpha-secret/occurrences', betaAdmin],
      ['POST', '/v1/debts/alpha-secret/payments', betaAdmin, {}],
      ['POST', '/v1/debts/alpha-secret/payments', betaPing, { kind: 'fail' }],
      ['POST', '/debts/alpha-secret', betaPing],
      ['POST', '/v1/debts/alpha-secret/pause', betaAdmin],
      ['DELETE', '/v1/debts/alpha-secret', betaAdmin],
    ];
    for (const [method, path, token, body] of tries) {
      const res = await call(c, method, path, token, body);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe('not_found');
      // The answer is the one an id that exists nowhere gets: nothing reveals it exists elsewhere.
      const never = await call(c, method, path.replace('alpha-secret', 'never-existed'), token, body);
      expect(never.status).toBe(404);
      expect(res.body.error.message.replaceAll('alpha-secret', 'ID')).toBe(never.body.error.message.replaceAll('never-existed', 'ID'));
    }
  });

  it("another project's list does not show it", async () => {
    const beta = await call(c, 'GET', '/v1/debts', betaAdmin);
    expect(beta.status).toBe(200);
    expect(beta.body.debts.map((d: any) => d.id)).not.toContain('alpha-secret');
    expect((await call(c, 'GET', '/debts', betaAdmin)).body.map((d: any) => d.id)).not.toContain('alpha-secret');
    const alpha = await call(c, 'GET', '/v1/debts', read);
    expect(alpha.body.debts.map((d: any) => d.id)).toContain('alpha-secret');
    expect(alpha.body.debts.every((d: any) => d.project === 'alpha')).toBe(true);
  });

  it('the same id in another project is a separate debt; the original is untouched', async () => {
    const vivified = await call(c, 'POST', '/v1/debts/alpha-secret/payments?every=1h', betaPing, {});
    expect(vivified.status).toBe(201);
    expect(vivified.body).toMatchObject({ id: 'alpha-secret', project: 'beta', payments: 1 });
    expect(vivified.body.pingId).not.toBe(alphaDebt.pingId);
    const alpha = await call(c, 'GET', '/v1/debts/alpha-secret', read);
    expect(alpha.body).toMatchObject({ project: 'alpha', name: 'alpha only', payments: 0, pingId: alphaDebt.pingId, paused: false });
    const events = await call(c, 'GET', '/v1/debts/alpha-secret/events', read);
    expect(events.body.events.filter((e: any) => e.type === 'payment')).toHaveLength(0);
  });
});

describe('application restriction (job status)', () => {
  const report = (application: string, runId: string) => ({
    application,
    job: 'overdraft-calc',
    status: 'start',
    time: '2026-11-20T11:59:00Z',
    businessDate: '2026-11-20',
    runId,
  });

  it('a ping token restricted to one application reports for it', async () => {
    const res = await call(c, 'POST', '/v1/job-status', depositsOnly, report('deposits', 'r-ok'));
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(1);
  });

  it('…and cannot report for another: 403 naming the item, and nothing of the batch is recorded', async () => {
    const single = await call(c, 'POST', '/v1/job-status', depositsOnly, report('loans', 'r-1'));
    expectError(single, 403, 'forbidden');
    expect(single.body.error.problems).toEqual([{ path: 'application', message: expect.stringContaining('"loans"') }]);

    const batch = await call(c, 'POST', '/v1/job-status', depositsOnly, [
      report('deposits', 'r-2'),
      report('loans', 'r-3'),
      report('deposits', 'r-4'),
    ]);
    expectError(batch, 403, 'forbidden');
    expect(batch.body.error.problems.map((p: any) => p.path)).toEqual(['[1].application']);
    // All or nothing: r-2 was not recorded, so sending it now is new, not a duplicate.
    const again = await call(c, 'POST', '/v1/job-status', depositsOnly, report('deposits', 'r-2'));
    expect(again.body).toMatchObject({ accepted: 1, duplicates: 0 });
  });

  it('an unrestricted ping token of the project may report for any application', async () => {
    expect((await call(c, 'POST', '/v1/job-status', ping, report('loans', 'r-5'))).status).toBe(200);
  });
});

describe('config reload', () => {
  it('a token removed from compter.yaml stops working at the reload; a new one starts', async () => {
    const late = testToken('alpha-late', 'alpha', ['read']);
    expect((await call(c, 'GET', '/v1/debts', read)).status).toBe(200);
    await writeTokenConfig(configFile, [...tokens.filter((t) => t !== read), late]);
    await c.reloadConfig();
    expectError(await call(c, 'GET', '/v1/debts', read), 401, 'unauthorized');
    expect((await call(c, 'GET', '/v1/debts', late)).status).toBe(200);
    await writeTokenConfig(configFile, tokens);
    await c.reloadConfig();
    expect((await call(c, 'GET', '/v1/debts', read)).status).toBe(200);
  });
});

describe('running open (no tokens configured)', () => {
  it('every request acts for project default; a bearer header changes nothing', async () => {
    const open = await startTestCompter();
    try {
      const res = await call(open, 'PUT', '/v1/debts/open-one', `Bearer ${betaAdmin.secret}`, {});
      expect(res.status).toBe(201);
      expect(res.body.project).toBe('default');
      expect((await call(open, 'GET', '/v1/debts/open-one', null)).status).toBe(200);
      expect(open.tokens.size).toBe(0);
    } finally {
      await open.cleanup();
    }
  });
});
