import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';

/**
 * One validation rule on every route: 400 when the request is not in the route's format (not
 * JSON, wrong types, unknown fields, unknown enum values), 422 when it is but a value is not
 * acceptable (a negative number, a bad cron, a future time); every problem listed each time.
 */

let c: TestCompter;
let key: string;

beforeAll(async () => {
  c = await startTestCompter({ now: '2026-11-20T12:00:00Z' });
  key = (await c.json('GET', '/v1/ping-key')).body.pingKey;
  expect((await c.json('PUT', '/v1/debts/v', { schedule: { every: '1h' } })).status).toBe(201);
});
afterAll(async () => {
  await c.cleanup();
});

const checkIn = (slug: string, body: unknown) => c.json('POST', `/api/default/cron/${slug}/${key}/`, body);
const paths = (res: { body: any }) => res.body.error.problems.map((p: { path: string }) => p.path).sort();
const hourly = { schedule: { type: 'crontab', value: '0 * * * *' } };

describe('Sentry check-ins follow the rule', () => {
  it('a negative checkin_margin is well-formed but invalid → 422', async () => {
    const res = await checkIn('margin', { status: 'ok', monitor_config: { ...hourly, checkin_margin: -5 } });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('invalid');
    expect(paths(res)).toEqual(['monitor_config.checkin_margin']);
    expect((await c.json('GET', '/v1/debts/margin')).status).toBe(404);
  });

  it('every value problem is listed in one 422', async () => {
    const res = await checkIn('values', {
      status: 'ok',
      check_in_id: 'run-1',
      duration: -1,
      monitor_config: { schedule: { type: 'interval', value: 0, unit: 'month' }, checkin_margin: -5, max_runtime: 0 },
    });
    expect(res.status).toBe(422);
    expect(paths(res)).toEqual([
      'check_in_id',
      'duration',
      'monitor_config.checkin_margin',
      'monitor_config.max_runtime',
      'monitor_config.schedule.value',
    ]);
  });

  it('a missing status with value problems → 400 listing all of them', async () => {
    // Unknown fields are dropped, not refused: Sentry's SDKs send more than compter reads.
    const res = await checkIn('mixed', { check_in_id: 'run-1', monitor_config: { ...hourly, checkin_margin: -5 }, contexts: {} });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('bad_request');
    expect(paths(res)).toEqual(['check_in_id', 'monitor_config.checkin_margin', 'status']);
  });

  it('the query-string form lists every problem too', async () => {
    const res = await c.json('GET', `/api/default/cron/query/${key}/?check_in_id=x&duration=-3`);
    expect(res.status).toBe(400);
    expect(paths(res)).toEqual(['check_in_id', 'query.duration', 'status']);
  });
});

describe('payments follow the rule', () => {
  it('an unknown kind is malformed → 400', async () => {
    const res = await c.json('POST', '/v1/debts/v/payments', { kind: 'done' });
    expect(res.status).toBe(400);
    expect(paths(res)).toEqual(['kind']);
  });

  it('a negative durationSeconds is invalid → 422, with the other value problems', async () => {
    const res = await c.json('POST', '/v1/debts/v/payments', { kind: 'success', durationSeconds: -1 });
    expect(res.status).toBe(422);
    expect(paths(res)).toEqual(['durationSeconds']);
    const future = await c.json('POST', '/v1/debts/v/payments', { kind: 'success', at: '2026-11-21T12:00:00Z', exitCode: 300 });
    expect(future.status).toBe(422);
    expect(paths(future)).toEqual(['at', 'exitCode']);
  });

  it('both kinds at once → 400 listing both', async () => {
    const res = await c.json('POST', '/v1/debts/v/payments', { kind: 'done', durationSeconds: -1, extra: true });
    expect(res.status).toBe(400);
    expect(paths(res)).toEqual(['', 'durationSeconds', 'kind']);
    expect((await c.json('GET', '/v1/debts/v/events')).body.events.filter((e: any) => e.type === 'payment')).toHaveLength(0);
  });
});

describe('definitions and queries follow the rule', () => {
  it('a negative grace → 422, a grace of the wrong type → 400', async () => {
    expect((await c.json('PUT', '/v1/debts/g', { schedule: { every: '1h' }, grace: '-5m' })).status).toBe(422);
    expect((await c.json('PUT', '/v1/debts/g', { schedule: { every: '1h' }, grace: true })).status).toBe(400);
  });

  it('a number out of range in a query → 422, not a number → 400', async () => {
    const zero = await c.json('GET', '/v1/debts/v/events?limit=0');
    expect(zero.status).toBe(422);
    expect(paths(zero)).toEqual(['query.limit']);
    expect((await c.json('GET', '/v1/debts/v/events?limit=')).status).toBe(400);
    expect((await c.json('GET', '/v1/debts/v/events?limit=ten')).status).toBe(400);
  });
});
