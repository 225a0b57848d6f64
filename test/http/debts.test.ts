import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';

let c: TestCompter;

beforeAll(async () => {
  c = await startTestCompter({ now: '2026-11-20T12:00:00Z' });
});
afterAll(async () => {
  await c.cleanup();
});

function expectErrorShape(body: any, code?: string) {
  expect(body).toMatchObject({ error: { code: expect.any(String), message: expect.any(String), requestId: expect.any(String) } });
  if (code) expect(body.error.code).toBe(code);
}

describe('seed-compatible /debts', () => {
  it('PUT /debts creates a debt with a generated id; GET and POST pay it; GET /debts lists it', async () => {
    const created = await c.json('PUT', '/debts');
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.body).toMatchObject({ payments: 0, status: 'new', schedule: null });
    expect(created.body.created).toBe('2026-11-20T12:00:00.000Z');
    const paid = await c.json('POST', `/debts/${id}`);
    expect(paid.status).toBe(200);
    expect(paid.body.payments).toBe(1);
    expect(paid.body.lastSuccess).toBe('2026-11-20T12:00:00.000Z');
    const got = await c.json('GET', `/debts/${id}`);
    expect(got.body.payments).toBe(1);
    const list = await c.json('GET', '/debts');
    expect(list.body.map((d: any) => d.id)).toContain(id);
  });

  it('PUT /debts takes an optional definition', async () => {
    const created = await c.json('PUT', '/debts', { id: 'seed-with-body', schedule: { every: '1h' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'seed-with-body', schedule: { every: 3600 }, nextDeadline: '2026-11-20T13:05:00.000Z' });
  });

  it('GET /debts/{unknown} is 404 in the one error shape', async () => {
    const res = await c.json('GET', '/debts/nope');
    expect(res.status).toBe(404);
    expectErrorShape(res.body, 'not_found');
  });
});

describe('v1 debts', () => {
  it('PUT creates (201) then replaces (200) and keeps the pingId', async () => {
    const def = {
      name: 'Invoice billing',
      schedule: { cron: '0 2 * * *', tz: 'Europe/Copenhagen' },
      grace: '15m',
      labels: { team: 'billing' },
    };
    const first = await c.json('PUT', '/v1/debts/nightly-billing', def);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      id: 'nightly-billing',
      name: 'Invoice billing',
      project: 'default',
      grace: 900,
      status: 'new',
      labels: { team: 'billing' },
    });
    // 02:00 Copenhagen (UTC+1 in November) is 01:00Z; the next one after 12:00Z on the 20th is the 21st.
    expect(first.body.nextDeadline).toBe('2026-11-21T01:15:00.000Z');
    const second = await c.json('PUT', '/v1/debts/nightly-billing', { ...def, grace: '30m' });
    expect(second.status).toBe(200);
    expect(second.body.grace).toBe(1800);
    expect(second.body.pingId).toBe(first.body.pingId);
  });

  it('GET lists the project’s debts', async () => {
    const res = await c.json('GET', '/v1/debts');
    expect(res.status).toBe(200);
    expect(res.body.debts.map((d: any) => d.id)).toContain('nightly-billing');
  });

  it('records payments of every kind and reports the run', async () => {
    await c.json('PUT', '/v1/debts/pay-kinds', { schedule: { every: '1h' }, stages: ['a'] });
    const start = await c.json('POST', '/v1/debts/pay-kinds/payments', { kind: 'start', runId: 'r-1', host: 'batch-07' });
    expect(start.status).toBe(200);
    expect(start.body.status).toBe('running');
    expect(start.body.currentOccurrence).toMatchObject({ outcome: 'running', runId: 'r-1' });
    await c.json('POST', '/v1/debts/pay-kinds/payments', { kind: 'stage', stage: 'a', runId: 'r-1' });
    await c.json('POST', '/v1/debts/pay-kinds/payments', { kind: 'log', message: 'halfway' });
    c.clock.advance(90_000);
    const done = await c.json('POST', '/v1/debts/pay-kinds/payments', { kind: 'success', runId: 'r-1' });
    expect(done.body).toMatchObject({ status: 'up', payments: 4, lastDurationSeconds: 90 });
    const events = await c.json('GET', '/v1/debts/pay-kinds/events?limit=50');
    const types = events.body.events.map((e: any) => `${e.type}:${e.kind || e.status}`);
    expect(types).toContain('occurrence.closed:paid');
    expect(types.filter((x: string) => x.startsWith('payment:'))).toEqual([
      'payment:success',
      'payment:log',
      'payment:stage',
      'payment:start',
    ]);
  });

  it('a duration the client measured wins over the gap between the arrival of start and end', async () => {
    await c.json('PUT', '/v1/debts/measured', { schedule: { every: '1h' } });
    await c.json('POST', '/v1/debts/measured/payments', { kind: 'start', runId: 'm-1' });
    c.clock.advance(990);
    const done = await c.json('POST', '/v1/debts/measured/payments', { kind: 'success', runId: 'm-1', durationSeconds: 1.04 });
    expect(done.body).toMatchObject({ status: 'up', lastDurationSeconds: 1.04 });
    await c.json('POST', '/v1/debts/measured/payments', { kind: 'start', runId: 'm-2' });
    c.clock.advance(3_000);
    await c.json('POST', '/v1/debts/measured/payments', { kind: 'fail', runId: 'm-2', durationSeconds: 2.5 });
    await c.json('POST', '/v1/debts/measured/payments', { kind: 'start', runId: 'm-3' });
    c.clock.advance(7_000);
    // Without a measured duration the recorded start is the only source.
    await c.json('POST', '/v1/debts/measured/payments', { kind: 'success', runId: 'm-3' });
    const events = (await c.json('GET', '/v1/debts/measured/events?limit=50')).body.events;
    const ends = events.filter((e: any) => e.type === 'payment' && e.kind !== 'start').reverse();
    expect(ends.map((e: any) => [e.runId, e.kind, e.durationSeconds])).toEqual([
      ['m-1', 'success', 1.04],
      ['m-2', 'fail', 2.5],
      ['m-3', 'success', 7],
    ]);
    const closed = events.filter((e: any) => e.type === 'occurrence.closed').reverse();
    expect(closed[0]).toMatchObject({ status: 'paid', runId: 'm-1', durationSeconds: 1.04 });
  });

  it('Prefer: return=minimal records the payment and answers 204 without the debt (201 when it created it)', async () => {
    await c.json('PUT', '/v1/debts/minimal', { schedule: { every: '1h' } });
    const pay = (body: unknown, prefer: string, path = '/v1/debts/minimal/payments') =>
      c.request(path, { method: 'POST', headers: { 'content-type': 'application/json', prefer }, body: JSON.stringify(body) });
    const res = await pay({ kind: 'success', runId: 'min-1' }, 'return=minimal');
    expect(res.status).toBe(204);
    expect(res.headers.get('preference-applied')).toBe('return=minimal');
    expect(await res.text()).toBe('');
    expect((await c.json('GET', '/v1/debts/minimal')).body).toMatchObject({ payments: 1, status: 'up' });
    const created = await pay({ schedule: { every: '1d' } }, 'respond-async, return=minimal', '/v1/debts/minimal-new/payments');
    expect(created.status).toBe(201);
    expect(await created.text()).toBe('');
    expect((await c.json('GET', '/v1/debts/minimal-new')).body.payments).toBe(1);
    // Any other preference gets the debt, as without the header.
    const full = await pay({}, 'return=representation');
    expect(full.status).toBe(200);
    expect(full.headers.get('preference-applied')).toBeNull();
    expect(await full.json()).toMatchObject({ id: 'minimal', payments: 2 });
    // An error is the same error whatever the preference.
    const bad = await pay({ kind: 7 }, 'return=minimal');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('bad_request');
  });

  it('an exit code turns a success into a fail', async () => {
    await c.json('PUT', '/v1/debts/exit-code', { schedule: { every: '1h' } });
    const res = await c.json('POST', '/v1/debts/exit-code/payments', { exitCode: 3 });
    expect(res.body.status).toBe('failed');
  });

  it('pause and resume', async () => {
    await c.json('PUT', '/v1/debts/pausable', { schedule: { every: '1m' }, grace: 0 });
    const paused = await c.json('POST', '/v1/debts/pausable/pause');
    expect(paused.body).toMatchObject({ status: 'paused', paused: true, nextDeadline: null });
    const resumed = await c.json('POST', '/v1/debts/pausable/resume');
    expect(resumed.body.paused).toBe(false);
    expect(resumed.body.status).not.toBe('paused');
  });

  it('occurrences: closed, current and upcoming across the DST change', async () => {
    await c.json('PUT', '/v1/debts/dst-daily', { schedule: { cron: '30 2 * * *', tz: 'America/New_York' }, grace: '10m' });
    const res = await c.json('GET', '/v1/debts/dst-daily/occurrences?from=2027-03-13T00:00:00Z&to=2027-03-16T00:00:00Z');
    expect(res.status).toBe(200);
    expect(res.body.occurrences.map((o: any) => [o.scheduledAt, o.outcome])).toEqual([
      ['2027-03-13T07:30:00.000Z', 'upcoming'],
      ['2027-03-14T07:00:00.000Z', 'upcoming'], // 02:30 does not exist on the 14th: 03:00 EDT
      ['2027-03-15T06:30:00.000Z', 'upcoming'],
    ]);
  });

  it('occurrences show closed outcomes with lateness once time passes', async () => {
    await c.json('PUT', '/v1/debts/hourly', { schedule: { cron: '0 * * * *', tz: 'UTC' }, grace: '5m' });
    c.clock.set(Date.parse('2026-11-20T13:02:00Z'));
    await c.json('POST', '/v1/debts/hourly/payments', {});
    c.clock.set(Date.parse('2026-11-20T15:00:30Z'));
    await c.engine.tick();
    const res = await c.json('GET', '/v1/debts/hourly/occurrences?from=2026-11-20T13:00:00Z&to=2026-11-20T16:00:00Z');
    const rows = res.body.occurrences.map((o: any) => [o.scheduledAt, o.outcome, o.latenessSeconds]);
    expect(rows[0]).toEqual(['2026-11-20T13:00:00.000Z', 'paid', -180]);
    expect(rows[1]).toEqual(['2026-11-20T14:00:00.000Z', 'missed', null]);
    expect(rows[2]).toEqual(['2026-11-20T15:00:00.000Z', 'pending', null]);
    expect(rows[3]).toEqual(['2026-11-20T16:00:00.000Z', 'upcoming', null]);
  });

  it('DELETE removes the debt (204) and then it is 404', async () => {
    await c.json('PUT', '/v1/debts/doomed', {});
    expect((await c.json('DELETE', '/v1/debts/doomed')).status).toBe(204);
    expect((await c.json('GET', '/v1/debts/doomed')).status).toBe(404);
    expect((await c.json('DELETE', '/v1/debts/doomed')).status).toBe(404);
  });
});

describe('vivifying debts from payments', () => {
  it('201 with a query schedule, then 200', async () => {
    const first = await c.json('POST', '/v1/debts/vivid/payments?every=1h&grace=5m', {});
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ id: 'vivid', schedule: { every: 3600 }, grace: 300, payments: 1, status: 'up' });
    const second = await c.json('POST', '/v1/debts/vivid/payments', {});
    expect(second.status).toBe(200);
    expect(second.body.payments).toBe(2);
  });

  it('201 with a JSON schedule', async () => {
    const res = await c.json('POST', '/v1/debts/vivid-json/payments', { schedule: { cron: '*/5 * * * *', tz: 'UTC' } });
    expect(res.status).toBe(201);
    expect(res.body.schedule).toEqual({ cron: '*/5 * * * *', tz: 'UTC' });
  });

  it('404 without a schedule, saying how to vivify', async () => {
    const res = await c.json('POST', '/v1/debts/ghost/payments', {});
    expect(res.status).toBe(404);
    expectErrorShape(res.body, 'not_found');
    expect(res.body.error.message).toMatch(/every=1h/);
  });

  it('422 for a vivify schedule that is invalid', async () => {
    const res = await c.json('POST', '/v1/debts/ghost2/payments?cron=bogus', {});
    expect(res.status).toBe(422);
    expect(res.body.error.problems[0].path).toBe('schedule.cron');
  });
});

describe('every payment door vivifies the same way', () => {
  it('seed POST /debts/{id}?every=1h: 201 creating the debt, then 200; 404 with the how-to without a schedule', async () => {
    const first = await c.json('POST', '/debts/seed-vivid?every=1h&grace=5m');
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ id: 'seed-vivid', schedule: { every: 3600 }, grace: 300, payments: 1, status: 'up' });
    const second = await c.json('POST', '/debts/seed-vivid');
    expect(second.status).toBe(200);
    expect(second.body.payments).toBe(2);
    const ghost = await c.json('POST', '/debts/seed-ghost');
    expect(ghost.status).toBe(404);
    expectErrorShape(ghost.body, 'not_found');
    expect(ghost.body.error.message).toMatch(/every=1h/);
    expect((await c.json('GET', '/debts/seed-ghost')).status).toBe(404);
  });

  it('seed POST /debts/{id}?cron=…&tz=…: 201 with that schedule; an invalid one is 422 and creates nothing', async () => {
    const res = await c.json('POST', '/debts/seed-cron?cron=*/5+*+*+*+*&tz=UTC');
    expect(res.status).toBe(201);
    expect(res.body.schedule).toEqual({ cron: '*/5 * * * *', tz: 'UTC' });
    const bad = await c.json('POST', '/debts/seed-bad?cron=bogus');
    expect(bad.status).toBe(422);
    expect(bad.body.error.problems[0].path).toBe('schedule.cron');
    expect((await c.json('GET', '/debts/seed-bad')).status).toBe(404);
  });

  it('v1 payments, ping key URL with create=1 and a Sentry check-in with monitor_config: created by the first, paid by the next', async () => {
    const pingKey = (await c.json('GET', '/v1/ping-key')).body.pingKey as string;
    const doors: [string, () => Promise<Response>, number, number][] = [
      ['v1', () => c.request('/v1/debts/door-v1/payments?every=1h', { method: 'POST' }), 201, 200],
      ['ping', () => c.request(`/ping/${pingKey}/door-ping?create=1&every=1h`), 201, 200],
      [
        'sentry',
        () =>
          c.request(`/api/default/cron/door-sentry/${pingKey}/`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ status: 'ok', monitor_config: { schedule: { type: 'interval', value: 1, unit: 'hour' } } }),
          }),
        // Sentry's ingestion endpoint answers 202 whether or not the monitor was created.
        202,
        202,
      ],
    ];
    for (const [door, send, firstStatus, laterStatus] of doors) {
      expect((await send()).status, door).toBe(firstStatus);
      expect((await send()).status, door).toBe(laterStatus);
      const debt = await c.json('GET', `/v1/debts/door-${door}`);
      expect(debt.status, door).toBe(200);
      expect(debt.body, door).toMatchObject({ schedule: { every: 3600 }, payments: 2, status: 'up' });
    }
  });

  it('without a schedule every door is 404, says how to create the debt, and creates nothing', async () => {
    const pingKey = (await c.json('GET', '/v1/ping-key')).body.pingKey as string;
    const doors: [string, () => Promise<Response>, RegExp][] = [
      ['seed', () => c.request('/debts/none-seed', { method: 'POST' }), /every=1h/],
      ['v1', () => c.request('/v1/debts/none-v1/payments', { method: 'POST' }), /every=1h/],
      ['ping', () => c.request(`/ping/${pingKey}/none-ping?every=1h`), /create=1/],
      ['sentry', () => c.request(`/api/default/cron/none-sentry/${pingKey}/?status=ok`), /monitor_config/],
    ];
    for (const [door, send, howTo] of doors) {
      const res = await send();
      expect(res.status, door).toBe(404);
      const body: any = await res.json();
      expectErrorShape(body, 'not_found');
      expect(body.error.message, door).toMatch(howTo);
      expect((await c.json('GET', `/v1/debts/none-${door}`)).status, door).toBe(404);
    }
  });
});

describe('bad input never gets a 5xx', () => {
  const cases: [string, string, unknown, number, string?][] = [
    ['bad id', '/v1/debts/UPPER', {}, 400, 'path.id'],
    ['id too long', `/v1/debts/${'a'.repeat(200)}`, {}, 400, 'path.id'],
    ['unknown field', '/v1/debts/x1', { bogus: 1 }, 400],
    ['wrong type', '/v1/debts/x2', { grace: true }, 400, 'grace'],
    ['bad cron', '/v1/debts/x3', { schedule: { cron: '61 * * * *' } }, 422, 'schedule.cron'],
    ['bad tz', '/v1/debts/x4', { schedule: { cron: '0 2 * * *', tz: 'Mars/Olympus' } }, 422, 'schedule.tz'],
    ['bad duration', '/v1/debts/x5', { grace: 'soon' }, 422, 'grace'],
    ['two schedule kinds', '/v1/debts/x6', { schedule: { every: '1h', cron: '0 * * * *' } }, 422, 'schedule'],
    ['every below 1s', '/v1/debts/x7', { schedule: { every: '0s' } }, 422, 'schedule.every'],
    ['bad deadline', '/v1/debts/x8', { schedule: { deadline: 'tomorrow' } }, 422, 'schedule.deadline'],
    ['body id mismatch', '/v1/debts/x9', { id: 'other' }, 422, 'id'],
  ];
  for (const [name, path, body, status, problemPath] of cases) {
    it(`PUT ${name} → ${status}`, async () => {
      const res = await c.json('PUT', path, body);
      expect(res.status).toBe(status);
      expectErrorShape(res.body);
      if (problemPath) expect(res.body.error.problems.map((p: any) => p.path)).toContain(problemPath);
    });
  }

  it('lists every problem at once', async () => {
    const res = await c.json('PUT', '/v1/debts/many', { grace: 'soon', maxRuntime: 'never', schedule: { cron: 'x', tz: 'Nowhere' } });
    expect(res.status).toBe(422);
    expect(res.body.error.problems.map((p: any) => p.path).sort()).toEqual(['grace', 'maxRuntime', 'schedule.cron', 'schedule.tz']);
  });

  it('malformed JSON → 400', async () => {
    const res = await c.json('PUT', '/v1/debts/bad-json', '{"schedule": ');
    expect(res.status).toBe(400);
    expectErrorShape(res.body, 'bad_request');
  });

  it('oversize body → 413', async () => {
    const res = await c.json('PUT', '/v1/debts/big', { name: 'x'.repeat(2 * 1024 * 1024) });
    expect(res.status).toBe(413);
    expectErrorShape(res.body, 'too_large');
  });

  it('payment problems → 422 listing each', async () => {
    await c.json('PUT', '/v1/debts/pay-bad', { schedule: { every: '1h' } });
    const res = await c.json('POST', '/v1/debts/pay-bad/payments', {
      kind: 'stage',
      exitCode: 300,
      at: '2030-01-01T00:00:00Z',
      businessDate: '2026-02-30',
      runId: 'has space',
    });
    expect(res.status).toBe(422);
    expect(res.body.error.problems.map((p: any) => p.path).sort()).toEqual(['at', 'businessDate', 'exitCode', 'runId', 'stage']);
  });

  it('unknown payment kind → 400', async () => {
    const res = await c.json('POST', '/v1/debts/pay-bad/payments', { kind: 'maybe' });
    expect(res.status).toBe(400);
  });

  it('bad occurrence range → 422', async () => {
    await c.json('PUT', '/v1/debts/ranges', { schedule: { every: '1h' } });
    expect((await c.json('GET', '/v1/debts/ranges/occurrences?from=yesterday')).status).toBe(422);
    expect((await c.json('GET', '/v1/debts/ranges/occurrences?from=2026-01-01&to=2025-01-01')).status).toBe(422);
    expect((await c.json('GET', '/v1/debts/ranges/occurrences?from=2020-01-01&to=2026-01-01')).status).toBe(422);
  });

  it('bad events limit: not a number → 400, out of range → 422', async () => {
    expect((await c.json('GET', '/v1/debts/ranges/events?limit=0')).status).toBe(422);
    expect((await c.json('GET', '/v1/debts/ranges/events?limit=abc')).status).toBe(400);
  });

  it('unknown route → 404 in the one shape', async () => {
    const res = await c.json('GET', '/v2/nothing');
    expect(res.status).toBe(404);
    expectErrorShape(res.body, 'not_found');
  });
});

describe('ops', () => {
  it('healthz and readyz', async () => {
    expect((await c.json('GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await c.json('GET', '/readyz')).body).toMatchObject({ status: 'ok', store: 'duckdb' });
  });

  it('openapi.json documents the routes from the validating schemas', async () => {
    const res = await c.json('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const paths = Object.keys(res.body.paths);
    for (const p of [
      '/debts',
      '/debts/{id}',
      '/v1/debts',
      '/v1/debts/{id}',
      '/v1/debts/{id}/payments',
      '/v1/debts/{id}/occurrences',
      '/v1/debts/{id}/events',
      '/v1/debts/{id}/pause',
      '/healthz',
      '/readyz',
      '/metrics',
    ]) {
      expect(paths).toContain(p);
    }
    const payments = res.body.paths['/v1/debts/{id}/payments'].post;
    expect(Object.keys(payments.responses)).toEqual(expect.arrayContaining(['200', '201', '204']));
    expect(payments.parameters).toContainEqual(expect.objectContaining({ in: 'header', name: 'prefer' }));
    const put = res.body.paths['/v1/debts/{id}'].put;
    const schema = put.requestBody.content['application/json'].schema;
    expect(JSON.stringify(schema)).toContain('failuresBeforeAlert');
  });

  it('/metrics exports per-debt series', async () => {
    const res = await c.request('/metrics');
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/compter_debt_status\{project="default",debt="nightly-billing",status="new"\} 1/);
    expect(text).toMatch(/compter_debt_deadline_timestamp_seconds\{project="default",debt="nightly-billing"\} 1795224600/);
    expect(text).toContain('compter_build_info');
    expect(text).toMatch(/compter_http_requests_total\{route="\/v1\/debts\/:id",code="201"\}/);
  });
});
