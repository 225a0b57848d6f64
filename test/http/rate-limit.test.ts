import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';
import { call, testToken, writeTokenConfig } from '../support/tokens.js';

const alpha = testToken('alpha', 'alpha', ['admin']);
const beta = testToken('beta', 'beta', ['admin']);
const gamma = testToken('gamma', 'gamma', ['admin']);

const limits = `limits:
  default: { burstPerMinute: 3, perDay: 1000 }
  projects:
    beta: { burstPerMinute: 100000 }
    gamma: { burstPerMinute: 1000, perDay: 4 }
`;

let dir: string;
let c: TestCompter;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'compter-ratelimit-'));
  const configFile = join(dir, 'compter.yaml');
  await writeTokenConfig(configFile, [alpha, beta, gamma], limits);
  // 12:00:00 sharp: the minute and day windows' positions are known, so Retry-After is exact.
  c = await startTestCompter({ now: '2026-11-20T12:00:00Z', env: { COMPTER_CONFIG: configFile } });
});
afterAll(async () => {
  await c.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe('per-project rate limits', () => {
  it('over the burst window → 429 with the one error shape and an exact Retry-After', async () => {
    for (let i = 0; i < 3; i++) expect((await call(c, 'GET', '/v1/debts', alpha)).status).toBe(200);
    const refused = await call(c, 'GET', '/v1/debts', alpha);
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({
      error: { code: 'rate_limited', message: expect.stringMatching(/3 requests per minute/), requestId: expect.any(String) },
    });
    // Sliding window: the 3 requests of 12:00 fade out over 12:01; at 12:01:20 they weigh
    // 3 × 40/60 = 2, so a fourth fits. 80 s from now.
    expect(refused.headers.get('retry-after')).toBe('80');
  });

  it('another project is not slowed while one is limited', async () => {
    for (let i = 0; i < 50; i++) expect((await call(c, 'GET', '/v1/debts', beta)).status).toBe(200);
    expect((await call(c, 'PUT', '/v1/debts/beta-one', beta, {})).status).toBe(201);
    expect((await call(c, 'GET', '/v1/debts', alpha)).status).toBe(429);
  });

  it('Retry-After is when the window allows again: one second earlier is still refused', async () => {
    c.clock.advance(79_000);
    const early = await call(c, 'GET', '/v1/debts', alpha);
    expect(early.status).toBe(429);
    expect(early.headers.get('retry-after')).toBe('1');
    c.clock.advance(1000);
    expect((await call(c, 'GET', '/v1/debts', alpha)).status).toBe(200);
    // That one was counted: the window is full again.
    expect((await call(c, 'GET', '/v1/debts', alpha)).status).toBe(429);
  });

  it('requests without a valid token never spend a project’s budget', async () => {
    c.clock.advance(180_000);
    for (let i = 0; i < 20; i++) expect((await call(c, 'GET', '/v1/debts', 'Bearer not-a-token')).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await call(c, 'GET', '/v1/debts', alpha)).status).toBe(200);
  });

  it('over the day window → 429 with Retry-After until the day window allows', async () => {
    for (let i = 0; i < 4; i++) expect((await call(c, 'GET', '/v1/debts', gamma)).status).toBe(200);
    const refused = await call(c, 'GET', '/v1/debts', gamma);
    expect(refused.status).toBe(429);
    expect(refused.body.error.message).toMatch(/4 requests per day/);
    // Now is 12:04:20 on the 20th; the 4 requests of this day weigh 4 × (1 − e/24h) tomorrow
    // and 3 fit at e = 6h: 11h55m40s + 6h = 64,540 s.
    const now = c.clock.now();
    const endOfDay = Date.parse('2026-11-21T00:00:00Z');
    expect(Number(refused.headers.get('retry-after'))).toBe(Math.ceil((endOfDay - now + 6 * 3600_000) / 1000));
  });

  it('every refusal is counted in compter_rate_limited_total{project}', async () => {
    const text = (await call(c, 'GET', '/metrics', null)).body as string;
    expect(text).toMatch(/^compter_rate_limited_total\{project="alpha"\} 4$/m);
    expect(text).toMatch(/^compter_rate_limited_total\{project="gamma"\} 1$/m);
    expect(text).not.toMatch(/compter_rate_limited_total\{project="beta"\}/);
  });

  it('probes and /metrics are never limited', async () => {
    for (let i = 0; i < 10; i++) expect((await call(c, 'GET', '/healthz', null)).status).toBe(200);
  });
});
