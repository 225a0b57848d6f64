import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';

let c: TestCompter;
let key: string;

beforeAll(async () => {
  c = await startTestCompter({ now: '2026-11-20T12:00:00Z' });
  key = (await c.json('GET', '/v1/ping-key')).body.pingKey;
});
afterAll(async () => {
  await c.cleanup();
});

const url = (slug: string, query = '', slash = true) => `/api/default/cron/${slug}/${key}${slash ? '/' : ''}${query}`;

async function checkIn(slug: string, body: unknown, slash = true): Promise<{ status: number; text: string }> {
  const res = await c.request(url(slug, '', slash), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

async function payments(id: string): Promise<any[]> {
  const events = (await c.json('GET', `/v1/debts/${id}/events?limit=100`)).body.events;
  return events.filter((e: any) => e.type === 'payment').reverse();
}

const hourly = {
  schedule: { type: 'crontab', value: '0 * * * *' },
  checkin_margin: 5,
  max_runtime: 30,
  timezone: 'Europe/Copenhagen',
  failure_issue_threshold: 2,
};

describe('Sentry-style check-ins', () => {
  it('monitor_config creates the debt; in_progress then ok with check_in_id is one timed run; 202 without a body', async () => {
    const id = '83a7c03ed0a04e1b97e2e3b18d38f244';
    const first = await checkIn('nightly-export', { status: 'in_progress', check_in_id: id, monitor_config: hourly });
    expect(first).toEqual({ status: 202, text: '' });
    const created = await c.json('GET', '/v1/debts/nightly-export');
    expect(created.body).toMatchObject({
      schedule: { cron: '0 * * * *', tz: 'Europe/Copenhagen' },
      grace: 300,
      maxRuntime: 1800,
      failuresBeforeAlert: 2,
      status: 'running',
    });
    c.clock.advance(45_000);
    // The same id, dashed: still the same run.
    const second = await checkIn('nightly-export', {
      status: 'ok',
      check_in_id: '83a7c03e-d0a0-4e1b-97e2-e3b18d38f244',
      monitor_config: hourly,
    });
    expect(second.status).toBe(202);
    const paid = await payments('nightly-export');
    expect(paid.map((p) => [p.kind, p.runId, p.durationSeconds])).toEqual([
      ['start', '83a7c03e-d0a0-4e1b-97e2-e3b18d38f244', null],
      ['success', '83a7c03e-d0a0-4e1b-97e2-e3b18d38f244', 45],
    ]);
    expect((await c.json('GET', '/v1/debts/nightly-export')).body).toMatchObject({ status: 'up', lastDurationSeconds: 45 });
  });

  it('the same monitor_config on every check-in changes nothing; a new one updates the schedule and keeps the rest', async () => {
    await c.json('PUT', '/v1/debts/reports', { name: 'Weekly reports', labels: { team: 'bi' }, schedule: { every: '1h' } });
    await checkIn('reports', { status: 'ok', monitor_config: { schedule: { type: 'interval', value: 2, unit: 'hour' } } });
    const defined = (await c.json('GET', '/v1/debts/reports/events?limit=100')).body.events.filter((e: any) => e.type === 'debt.defined');
    expect(defined).toHaveLength(2);
    await checkIn('reports', { status: 'ok', monitor_config: { schedule: { type: 'interval', value: 2, unit: 'hour' } } });
    const again = (await c.json('GET', '/v1/debts/reports/events?limit=100')).body.events.filter((e: any) => e.type === 'debt.defined');
    expect(again).toHaveLength(2);
    const debt = await c.json('GET', '/v1/debts/reports');
    expect(debt.body).toMatchObject({ name: 'Weekly reports', labels: { team: 'bi' }, schedule: { every: 7200 }, payments: 2 });
  });

  it('query-string check-ins (GET, the curl form of Sentry docs): in_progress then ok without ids pair up', async () => {
    await checkIn('curl-job', { status: 'ok', monitor_config: { schedule: { type: 'interval', value: 1, unit: 'day' } } });
    expect((await c.request(url('curl-job', '?status=in_progress&environment=dev'))).status).toBe(202);
    c.clock.advance(12_000);
    expect((await c.request(url('curl-job', '?status=ok&environment=dev'))).status).toBe(202);
    const debt = await c.json('GET', '/v1/debts/curl-job');
    expect(debt.body).toMatchObject({ status: 'up', lastDurationSeconds: 12, schedule: { every: 86400 } });
    const paid = await payments('curl-job');
    expect(paid.at(-1).attributes.message).toBe('environment: dev');
  });

  it('ok without an id (or with the nil UUID) closes the most recent open run, as Sentry does', async () => {
    await checkIn('latest-run', { status: 'ok', monitor_config: { schedule: { type: 'interval', value: 1, unit: 'hour' } } });
    await checkIn('latest-run', { status: 'in_progress', check_in_id: '11111111-1111-4111-8111-111111111111' });
    c.clock.advance(5_000);
    await checkIn('latest-run', { status: 'in_progress', check_in_id: '22222222-2222-4222-8222-222222222222' });
    c.clock.advance(5_000);
    await checkIn('latest-run', { status: 'ok', check_in_id: '00000000-0000-0000-0000-000000000000' });
    await checkIn('latest-run', { status: 'error' });
    const ends = (await payments('latest-run')).filter((p) => p.kind !== 'start').slice(1);
    expect(ends.map((p) => [p.kind, p.runId, p.durationSeconds])).toEqual([
      ['success', '22222222-2222-4222-8222-222222222222', 5],
      ['fail', '11111111-1111-4111-8111-111111111111', 10],
    ]);
    // Both runs are closed: nothing is left running, and the error after the ok counts.
    expect((await c.json('GET', '/v1/debts/latest-run')).body.status).toBe('failed');
  });

  it('a duration Sentry sends wins over the gap between the in_progress and the ok check-in', async () => {
    const run = '44444444-4444-4444-8444-444444444444';
    await checkIn('sentry-measured', {
      status: 'in_progress',
      check_in_id: run,
      monitor_config: { schedule: { type: 'interval', value: 1, unit: 'hour' } },
    });
    c.clock.advance(45_000);
    await checkIn('sentry-measured', { status: 'ok', check_in_id: run, duration: 46.5 });
    const paid = await payments('sentry-measured');
    expect(paid.map((p) => [p.kind, p.durationSeconds])).toEqual([
      ['start', null],
      ['success', 46.5],
    ]);
    expect((await c.json('GET', '/v1/debts/sentry-measured')).body).toMatchObject({ status: 'up', lastDurationSeconds: 46.5 });
  });

  it('a duration without a seen start is kept as the run length (seconds)', async () => {
    await checkIn('duration-only', {
      status: 'error',
      duration: 12.5,
      monitor_config: { schedule: { type: 'crontab', value: '*/5 * * * *' } },
    });
    const [paid] = await payments('duration-only');
    expect(paid).toMatchObject({ kind: 'fail', durationSeconds: 12.5 });
    expect((await c.json('GET', '/v1/debts/duration-only')).body).toMatchObject({
      lastDurationSeconds: 12.5,
      schedule: { cron: '*/5 * * * *', tz: 'UTC' },
    });
  });

  it('works without the trailing slash too', async () => {
    const res = await checkIn(
      'no-slash',
      { status: 'ok', monitor_config: { schedule: { type: 'interval', value: 10, unit: 'minute' } } },
      false,
    );
    expect(res.status).toBe(202);
    expect((await c.json('GET', '/v1/debts/no-slash')).body.schedule).toEqual({ every: 600 });
  });
});

describe('Sentry-style check-in errors', () => {
  it('unknown key → 404', async () => {
    const res = await c.request('/api/default/cron/any/AAAAAAAAAAAAAAAAAAAAAAAA/?status=ok');
    expect(res.status).toBe(404);
  });

  it('a project that is not the key’s → 404', async () => {
    const res = await c.request(`/api/other/cron/any/${key}/?status=ok`);
    expect(res.status).toBe(404);
  });

  it('monitor_config as the envelope endpoint reads it: month intervals and recovery_threshold', async () => {
    const config = { schedule: { type: 'interval', value: 3, unit: 'month' }, recovery_threshold: 2 };
    expect((await checkIn('quarterly', { status: 'ok', monitor_config: config })).status).toBe(202);
    expect((await c.json('GET', '/v1/debts/quarterly')).body).toMatchObject({ schedule: { every: '3mo' }, successesBeforeRecovery: 2 });
  });

  it('unknown monitor without monitor_config → 404 saying how to create it', async () => {
    const res = await c.json('GET', url('never-configured', '?status=ok'));
    expect(res.status).toBe(404);
    expect(res.body.error.message).toMatch(/monitor_config/);
  });

  const bad: [string, unknown, number, string][] = [
    ['no status', { monitor_config: hourly }, 400, 'status'],
    ['unknown status', { status: 'missed' }, 400, 'status'],
    ['check_in_id not a UUID', { status: 'ok', check_in_id: 'run-1', monitor_config: hourly }, 422, 'check_in_id'],
    ['bad crontab', { status: 'ok', monitor_config: { schedule: { type: 'crontab', value: 'every day' } } }, 422, 'schedule.cron'],
    ['bad timezone', { status: 'ok', monitor_config: { ...hourly, timezone: 'Mars/Olympus' } }, 422, 'schedule.tz'],
    [
      'schedule type unknown',
      { status: 'ok', monitor_config: { schedule: { type: 'weekly', value: 1 } } },
      400,
      'monitor_config.schedule.type',
    ],
  ];
  for (const [name, body, status, path] of bad) {
    it(`${name} → ${status}`, async () => {
      const res = await c.request(url('bad-input'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(status);
      const json = (await res.json()) as any;
      expect(json.error.problems.map((p: any) => p.path)).toContain(path);
      expect((await c.json('GET', '/v1/debts/bad-input')).status).toBe(404);
    });
  }

  it('a monitor slug that breaks the id rule → 400', async () => {
    const res = await c.request(url('Bad_Slug', '?status=ok'));
    expect(res.status).toBe(400);
  });
});
