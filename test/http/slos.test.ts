import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';

let c: TestCompter;

beforeAll(async () => {
  c = await startTestCompter({ now: '2026-11-20T12:00:00Z' });
  expect((await c.json('PUT', '/v1/calendars/every-day', { tz: 'America/New_York', weekdays: [0, 1, 2, 3, 4, 5, 6] })).status).toBe(201);
  expect((await c.json('PUT', '/v1/calendars/london', { tz: 'Europe/London', holidays: { country: 'GB', state: 'ENG' } })).status).toBe(
    201,
  );
});
afterAll(async () => {
  await c.cleanup();
});

const paths = (body: any): string[] => (body.error.problems ?? []).map((p: any) => p.path).sort();
const overdraft = {
  name: 'Overdraft',
  application: 'deposits',
  calendar: 'every-day',
  jobs: [{ job: 'overdraft-calc', expectedStart: '00:30+1d', expectedEnd: '03:00+1d' }],
  slack: '30m',
};

async function metricLines(prefix: string): Promise<string[]> {
  return (await (await c.request('/metrics')).text()).split('\n').filter((l) => l.startsWith(prefix));
}

describe('PUT, GET, DELETE /v1/slos/{id} and GET /v1/slos', () => {
  it('creates (201) and replaces (200); GET and the list show it with its current row', async () => {
    const created = await c.json('PUT', '/v1/slos/overdraft', overdraft);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 'overdraft',
      name: 'Overdraft',
      project: 'default',
      application: 'deposits',
      calendar: 'every-day',
      jobs: [{ application: 'deposits', job: 'overdraft-calc', expectedStart: '00:30+1d', expectedEnd: '03:00+1d' }],
      slack: 1800,
      within: null,
      created: '2026-11-20T12:00:00.000Z',
      status: 'pending',
      deliveries: { on_time: 0, late: 0, missed: 0, failed: 0 },
    });
    // Friday's run is due 03:00 Saturday (08:00Z).
    expect(created.body.current).toMatchObject({
      businessDate: '2026-11-20',
      expectedStart: '2026-11-21T05:30:00.000Z',
      expectedEnd: '2026-11-21T08:00:00.000Z',
      status: 'pending',
    });
    const replaced = await c.json('PUT', '/v1/slos/overdraft', { ...overdraft, slack: '45m' });
    expect(replaced.status).toBe(200);
    expect(replaced.body.slack).toBe(2700);
    expect((await c.json('GET', '/v1/slos/overdraft')).body).toEqual(replaced.body);
    const list = await c.json('GET', '/v1/slos');
    expect(list.status).toBe(200);
    expect(list.body.slos.map((s: any) => s.id)).toContain('overdraft');
    const logged = await c.store.query({ project: 'default', slo: 'overdraft', types: ['slo.defined'], limit: 10, order: 'asc' });
    expect(logged.map((e) => e.type === 'slo.defined' && e.attributes.definition.slackMs)).toEqual([1_800_000, 2_700_000]);
  });

  it('exports every status and every outcome of an SLO, zeros included', async () => {
    const status = await metricLines('compter_slo_status{project="default",slo="overdraft",application="deposits"');
    expect(status).toHaveLength(9);
    expect(status.filter((l) => l.endsWith(' 1'))).toEqual([
      'compter_slo_status{project="default",slo="overdraft",application="deposits",status="pending"} 1',
    ]);
    expect(await metricLines('compter_slo_deliveries_total{project="default",slo="overdraft"')).toEqual([
      'compter_slo_deliveries_total{project="default",slo="overdraft",application="deposits",outcome="on_time"} 0',
      'compter_slo_deliveries_total{project="default",slo="overdraft",application="deposits",outcome="late"} 0',
      'compter_slo_deliveries_total{project="default",slo="overdraft",application="deposits",outcome="missed"} 0',
      'compter_slo_deliveries_total{project="default",slo="overdraft",application="deposits",outcome="failed"} 0',
    ]);
    expect(await metricLines('compter_slo_deadline_timestamp_seconds{project="default",slo="overdraft"')).toEqual([
      `compter_slo_deadline_timestamp_seconds{project="default",slo="overdraft",application="deposits"} ${Date.parse('2026-11-21T08:00:00Z') / 1000}`,
    ]);
  });

  it('400 for a malformed body, listing every problem', async () => {
    const res = await c.json('PUT', '/v1/slos/bad', { application: 5, jobs: [{ job: 'x', expectedEnd: 5, extra: true }], owner: 'me' });
    expect(res.status).toBe(400);
    expect(paths(res.body)).toEqual(['', 'application', 'calendar', 'jobs.0', 'jobs.0.expectedEnd']);
    expect((await c.json('PUT', '/v1/slos/bad', '{')).status).toBe(400);
    expect((await c.json('PUT', '/v1/slos/bad')).status).toBe(400);
  });

  it('422 for a well-formed but wrong SLO, listing every problem', async () => {
    const res = await c.json('PUT', '/v1/slos/bad', {
      id: 'other',
      calendar: 'nowhere',
      jobs: [
        { job: 'a', expectedStart: '04:00', expectedEnd: '03:00' },
        { job: 'b', expectedEnd: '3am' },
      ],
      slack: '-5m',
    });
    expect(res.status).toBe(422);
    expect(paths(res.body)).toEqual([
      'calendar',
      'id',
      'jobs.0.application',
      'jobs.0.expectedStart',
      'jobs.1.application',
      'jobs.1.expectedEnd',
      'slack',
    ]);
    const within = await c.json('PUT', '/v1/slos/bad', {
      application: 'a',
      calendar: 'every-day',
      within: { cron: '10 6 * * 1-5' },
      jobs: [{ job: 'x', expectedEnd: '03:00' }],
    });
    expect(within.status).toBe(422);
    expect(paths(within.body)).toEqual(['jobs.0.expectedEnd', 'within.cron']);
    const empty = await c.json('PUT', '/v1/slos/bad', { application: 'a', calendar: 'every-day', jobs: [] });
    expect(paths(empty.body)).toEqual(['jobs']);
    expect((await c.json('GET', '/v1/slos/bad')).status).toBe(404);
  });

  it('DELETE answers 204, drops the series, keeps the history; then 404', async () => {
    expect((await c.json('PUT', '/v1/slos/short-lived', { ...overdraft, name: 'Short' })).status).toBe(201);
    expect(await metricLines('compter_slo_status{project="default",slo="short-lived"')).toHaveLength(9);
    const res = await c.request('/v1/slos/short-lived', { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect((await c.json('GET', '/v1/slos/short-lived')).status).toBe(404);
    expect((await c.json('GET', '/v1/slos')).body.slos.map((s: any) => s.id)).not.toContain('short-lived');
    expect(await metricLines('compter_slo_status{project="default",slo="short-lived"')).toEqual([]);
    expect((await c.request('/v1/slos/short-lived', { method: 'DELETE' })).status).toBe(404);
    const history = await c.store.query({ project: 'default', slo: 'short-lived', limit: 10, order: 'asc' });
    expect(history.map((e) => e.type)).toEqual(['slo.defined', 'slo.deleted']);
  });
});

describe('GET /v1/slos/{id}/performance', () => {
  it('deadlines across the DST changes of New York: never 24 h added', async () => {
    const rows = (await c.json('GET', '/v1/slos/overdraft/performance?from=2027-03-12&to=2027-03-14')).body.rows;
    expect(rows.map((r: any) => [r.businessDate, r.expectedStart, r.expectedEnd, r.status])).toEqual([
      ['2027-03-12', '2027-03-13T05:30:00.000Z', '2027-03-13T08:00:00.000Z', 'pending'],
      ['2027-03-13', '2027-03-14T05:30:00.000Z', '2027-03-14T07:00:00.000Z', 'pending'],
      ['2027-03-14', '2027-03-15T04:30:00.000Z', '2027-03-15T07:00:00.000Z', 'pending'],
    ]);
    const fall = (await c.json('GET', '/v1/slos/overdraft/performance?from=2027-11-06&to=2027-11-07')).body.rows;
    expect(fall.map((r: any) => r.expectedEnd)).toEqual(['2027-11-07T08:00:00.000Z', '2027-11-08T08:00:00.000Z']);
  });

  it('deadlines across the DST changes of London', async () => {
    expect(
      (
        await c.json('PUT', '/v1/slos/london-close', {
          application: 'ledger',
          calendar: 'london',
          jobs: [{ job: 'close', expectedStart: '00:30', expectedEnd: '01:30' }],
        })
      ).status,
    ).toBe(201);
    // Summer time starts on Easter Sunday 2027; Good Friday and Easter Monday are bank holidays.
    const spring = (await c.json('GET', '/v1/slos/london-close/performance?from=2027-03-25&to=2027-03-30')).body.rows;
    expect(spring.map((r: any) => [r.businessDate, r.expectedStart, r.expectedEnd, r.status])).toEqual([
      ['2027-03-25', '2027-03-25T00:30:00.000Z', '2027-03-25T01:30:00.000Z', 'pending'],
      ['2027-03-26', null, null, 'not_scheduled'],
      ['2027-03-27', null, null, 'not_scheduled'],
      ['2027-03-28', null, null, 'not_scheduled'],
      ['2027-03-29', null, null, 'not_scheduled'],
      ['2027-03-30', '2027-03-29T23:30:00.000Z', '2027-03-30T00:30:00.000Z', 'pending'],
    ]);
    // An every-day calendar in London sees the change day itself: 01:30 does not exist on 28 March.
    expect((await c.json('PUT', '/v1/calendars/london-every-day', { tz: 'Europe/London', weekdays: [0, 1, 2, 3, 4, 5, 6] })).status).toBe(
      201,
    );
    expect(
      (
        await c.json('PUT', '/v1/slos/london-nightly', {
          application: 'ledger',
          calendar: 'london-every-day',
          jobs: [{ job: 'close', expectedEnd: '01:30' }],
        })
      ).status,
    ).toBe(201);
    const change = (await c.json('GET', '/v1/slos/london-nightly/performance?from=2027-03-28&to=2027-03-28')).body.rows;
    expect(change[0].expectedEnd).toBe('2027-03-28T01:00:00.000Z');
    const back = (await c.json('GET', '/v1/slos/london-nightly/performance?from=2027-10-31&to=2027-10-31')).body.rows;
    expect(back[0].expectedEnd).toBe('2027-10-31T00:30:00.000Z');
  });

  it('the week up to today by default; dates before the SLO existed have no rows', async () => {
    const res = await c.json('GET', '/v1/slos/overdraft/performance');
    expect(res.status).toBe(200);
    expect(res.body.rows.map((r: any) => r.businessDate)).toEqual(['2026-11-20']);
  });

  it('422 for a bad range, 404 for an unknown SLO', async () => {
    const backwards = await c.json('GET', '/v1/slos/overdraft/performance?from=2026-12-01&to=2026-11-01');
    expect(backwards.status).toBe(422);
    expect(paths(backwards.body)).toEqual(['query.to']);
    const notDates = await c.json('GET', '/v1/slos/overdraft/performance?from=yesterday&to=2026-02-30');
    expect(notDates.status).toBe(422);
    expect(paths(notDates.body)).toEqual(['query.from', 'query.to']);
    expect((await c.json('GET', '/v1/slos/overdraft/performance?from=2026-01-01&to=2027-12-31')).status).toBe(422);
    expect((await c.json('GET', '/v1/slos/nope/performance')).status).toBe(404);
  });
});

describe('several SLOs may share a job', () => {
  it('one success closes the rows of both; its lateness is against the earliest expectedEnd', async () => {
    const shared = { application: 'cards', calendar: 'every-day' };
    expect((await c.json('PUT', '/v1/slos/cards-early', { ...shared, jobs: [{ job: 'settle', expectedEnd: '10:00' }] })).status).toBe(201);
    expect(
      (
        await c.json('PUT', '/v1/slos/cards-late', {
          ...shared,
          jobs: [
            { job: 'settle', expectedEnd: '11:00' },
            { job: 'report', expectedEnd: '11:30' },
          ],
        })
      ).status,
    ).toBe(201);
    c.clock.set(Date.parse('2026-11-21T15:20:00Z'));
    const res = await c.json('POST', '/v1/job-status', [
      {
        application: 'cards',
        job: 'settle',
        status: 'succeed',
        time: '2026-11-21T10:20:00-05:00',
        businessDate: '2026-11-21',
        runId: 'st-1',
      },
      {
        application: 'cards',
        job: 'report',
        status: 'succeed',
        time: '2026-11-21T10:20:00-05:00',
        businessDate: '2026-11-21',
        runId: 'rp-1',
      },
    ]);
    expect(res.status).toBe(200);
    const early = (await c.json('GET', '/v1/slos/cards-early/performance?from=2026-11-21&to=2026-11-21')).body.rows[0];
    const late = (await c.json('GET', '/v1/slos/cards-late/performance?from=2026-11-21&to=2026-11-21')).body.rows[0];
    expect([early.status, early.latenessSeconds]).toEqual(['late', 1200]);
    expect([late.status, late.latenessSeconds]).toEqual(['on_time', -4200]);
    const [settle] = await c.store.query({ project: 'default', job: 'settle', types: ['job.status'], limit: 10, order: 'asc' });
    expect(settle!.latenessMs).toBe(1_200_000);
  });
});

describe('odd input never gets a 5xx', () => {
  it('on every SLO and calendar route', async () => {
    const requests: [string, string, unknown?][] = [
      ['PUT', '/v1/slos/odd', { application: 'a', calendar: 'every-day', jobs: [{ job: 'j', expectedEnd: '99:99+99d' }] }],
      [
        'PUT',
        '/v1/slos/odd',
        { application: 'a', calendar: 'every-day', within: { cron: 'H * * * *' }, jobs: [{ job: 'j', expectedEnd: '+0m' }] },
      ],
      [
        'PUT',
        '/v1/slos/odd',
        { application: 'a', calendar: 'every-day', within: { cron: '0 0 L * *' }, jobs: [{ job: 'j', expectedEnd: '+0m' }] },
      ],
      [
        'PUT',
        '/v1/slos/odd',
        { application: 'a', calendar: 'every-day', within: { cron: '' }, jobs: [{ job: 'j', expectedEnd: '-99999h' }] },
      ],
      ['PUT', '/v1/slos/odd', { application: 'a', calendar: 'every-day', jobs: [{ job: 'j', expectedEnd: '03:00' }], slack: 1e308 }],
      ['PUT', '/v1/slos/odd', []],
      ['PUT', '/v1/slos/odd', 'null'],
      ['PUT', '/v1/calendars/odd', { tz: 'UTC', holidays: { country: 'US', state: 'NY', region: 'ZZ' } }],
      ['PUT', '/v1/calendars/odd', { tz: 'UTC', extraDates: ['9999-12-31'], newDayAt: '23:59' }],
      ['GET', '/v1/calendars/odd/days?from=9999-12-31'],
      ['GET', '/v1/calendars/odd/days?from=0000-01-01&to=0000-02-01'],
      ['GET', '/v1/slos/overdraft/performance?from=9999-12-01&to=9999-12-31'],
      ['GET', '/v1/slos/overdraft/performance?from=0001-01-01&to=0001-01-31'],
      ['GET', '/v1/slos/overdraft/performance?to=1969-12-31'],
      ['POST', '/v1/job-status', { application: 'deposits', job: 'overdraft-calc', status: 'start', businessDate: '9999-12-31' }],
      ['POST', '/v1/job-status', { application: 'deposits', job: 'overdraft-calc', status: 'start', time: '2000-01-01T00:00:00Z' }],
    ];
    for (const [method, path, body] of requests) {
      const res = await c.json(method, path, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`).toBeLessThan(500);
    }
  });
});

describe('the API document', () => {
  it('lists the calendar, job-status and SLO routes', async () => {
    const doc = (await c.json('GET', '/openapi.json')).body;
    for (const path of [
      '/v1/calendars/{id}',
      '/v1/calendars/{id}/days',
      '/v1/job-status',
      '/v1/slos',
      '/v1/slos/{id}',
      '/v1/slos/{id}/performance',
    ])
      expect(Object.keys(doc.paths)).toContain(path);
    expect(Object.keys(doc.paths['/v1/slos/{id}'])).toEqual(expect.arrayContaining(['put', 'get', 'delete']));
    expect(doc.paths['/v1/job-status'].post.requestBody.content['application/json'].schema.oneOf).toHaveLength(2);
    expect(doc.components.schemas.JobStatus.required).toEqual(['application', 'job', 'status']);
  });
});
