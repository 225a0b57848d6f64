import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';
import { call, testToken, writeTokenConfig } from '../support/tokens.js';

const ping = testToken('rules-ping', 'rules', ['ping']);
const read = testToken('rules-read', 'rules', ['read']);
const write = testToken('rules-write', 'rules', ['write']);

let dir: string;
let c: TestCompter;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'compter-rules-'));
  await writeTokenConfig(join(dir, 'compter.yaml'), [ping, read, write]);
  c = await startTestCompter({ env: { COMPTER_CONFIG: join(dir, 'compter.yaml') } });
});
afterAll(async () => {
  await c.cleanup();
  await rm(dir, { recursive: true, force: true });
});

const isAuthError = (status: number) => status === 401 || status === 403;

// The scope each route declares, read back through the app: the least token that gets past
// authentication. Every route here would answer 401/403 if its declared scope were wrong.
const SCOPES: [string, string, 'none' | 'ping' | 'read' | 'write'][] = [
  ['GET', '/v1/debts', 'read'],
  ['HEAD', '/v1/debts/x', 'read'],
  ['POST', '/v1/debts/x/payments', 'ping'],
  ['POST', '/debts/x', 'ping'],
  ['POST', '/v1/job-status', 'ping'],
  ['POST', '/v1/debts/x/pause', 'write'],
  ['POST', '/v1/debts/x/payments/extra', 'write'],
  ['PUT', '/v1/debts/x', 'write'],
  ['PUT', '/debts', 'write'],
  ['DELETE', '/v1/slos/x', 'write'],
  ['PATCH', '/v1/debts/x', 'write'],
  ['GET', '/healthz', 'none'],
  ['GET', '/readyz', 'none'],
  ['GET', '/openapi.json', 'none'],
  ['GET', '/metrics', 'none'],
  ['GET', '/ping/abc', 'none'],
  ['GET', '/ping/key/debt/start', 'none'],
  ['GET', '/api/1/cron/debt/key/', 'none'],
  ['GET', '/healthz/x', 'read'],
  ['GET', '/pingx', 'read'],
];

describe('route rules', () => {
  for (const [method, path, scope] of SCOPES) {
    it(`${method} ${path} needs ${scope === 'none' ? 'no token' : `scope ${scope}`}`, async () => {
      const body = method === 'GET' || method === 'HEAD' || method === 'DELETE' ? undefined : {};
      const anonymous = await call(c, method, path, null, body);
      if (scope === 'none') return expect(isAuthError(anonymous.status)).toBe(false);
      expect(anonymous.status).toBe(401);
      const least = { ping, read, write }[scope];
      expect(isAuthError((await call(c, method, path, least, body)).status)).toBe(false);
      const lesser = scope === 'ping' ? read : ping;
      expect((await call(c, method, path, lesser, body)).status).toBe(403);
    });
  }
});
