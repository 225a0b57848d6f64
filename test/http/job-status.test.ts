import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';

let c: TestCompter;

beforeAll(async () => {
  c = await startTestCompter({ now: '2026-11-24T12:00:00Z' });
  expect(
    (
      await c.json('PUT', '/v1/calendars/us-business', {
        tz: 'America/New_York',
        holidays: { country: 'US', state: 'NY' },
        newDayAt: '06:00',
      })
    ).status,
  ).toBe(201);
  expect(
    (
      await c.json('PUT', '/v1/slos/dss', {
        application: 'deposits',
        calendar: 'us-business',
        jobs: [{ job: 'dss-load', expectedStart: '02:00', expectedEnd: '05:00' }],
      })
    ).status,
  ).toBe(201);
});
afterAll(async () => {
  await c.cleanup();
});

const paths = (body: any): string[] => (body.error.problems ?? []).map((p: any) => p.path).sort();
const post = (body: unknown) => c.json('POST', '/v1/job-status', body);
const logged = (job: string) => c.store.query({ project: 'default', job, types: ['job.status'], limit: 1000, order: 'asc' });

describe('POST /v1/job-status', () => {
  it('takes one object; every status is an event in the log', async () => {
    const res = await post({
      application: 'deposits',
      job: 'one',
      status: 'start',
      time: '2026-11-24T06:55:00-05:00',
      businessDate: '2026-11-24',
      runId: 'one-1',
      host: 'batch-07',
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 1, duplicates: 0 });
    const [event] = await logged('one');
    expect(event).toMatchObject({
      type: 'job.status',
      application: 'deposits',
      job: 'one',
      status: 'start',
      runId: 'one-1',
      host: 'batch-07',
      businessDate: '2026-11-24',
      ts: Date.parse('2026-11-24T11:55:00Z'),
      ingestedAt: Date.parse('2026-11-24T12:00:00Z'),
      durationMs: null,
      latenessMs: null,
    });
  });

  it('takes an array; a time defaults to receipt time; a run’s later reports keep its business date', async () => {
    const res = await post([
      { application: 'deposits', job: 'batch', status: 'start', time: '2026-11-24T11:00:00Z', businessDate: '2026-11-23', runId: 'b-1' },
      { application: 'deposits', job: 'batch', status: 'succeed', runId: 'b-1' },
    ]);
    expect(res.body).toEqual({ accepted: 2, duplicates: 0 });
    const events = await logged('batch');
    expect(events.map((e) => [e.status, e.businessDate, e.ts, e.durationMs])).toEqual([
      ['start', '2026-11-23', Date.parse('2026-11-24T11:00:00Z'), null],
      ['succeed', '2026-11-23', Date.parse('2026-11-24T12:00:00Z'), 3_600_000],
    ]);
    // No SLO includes this job: no lateness.
    expect(events[1]!.latenessMs).toBeNull();
  });

  it('derives a missing business date from the calendar of an SLO that includes the job', async () => {
    // 05:30 local is before the calendar's 06:00 rollover: it belongs to Monday the 23rd.
    const res = await post({
      application: 'deposits',
      job: 'dss-load',
      status: 'succeed',
      time: '2026-11-24T05:30:00-05:00',
      runId: 'derived',
    });
    expect(res.status).toBe(200);
    const [event] = (await logged('dss-load')).filter((e) => e.runId === 'derived');
    expect(event!.businessDate).toBe('2026-11-23');
    // Monday's row was due 05:00 Monday: 24 h 30 min late.
    expect(event!.latenessMs).toBe(Date.parse('2026-11-24T10:30:00Z') - Date.parse('2026-11-23T10:00:00Z'));
    expect(event!.attributes).toEqual({ expectedEnd: Date.parse('2026-11-23T10:00:00Z') });
  });

  it('a resend of an identical status is accepted and not logged again', async () => {
    const status = {
      application: 'deposits',
      job: 'resent',
      status: 'succeed',
      time: '2026-11-24T11:30:00Z',
      businessDate: '2026-11-24',
      runId: 'rs-1',
    };
    expect((await post(status)).body).toEqual({ accepted: 1, duplicates: 0 });
    expect((await post(status)).body).toEqual({ accepted: 0, duplicates: 1 });
    expect(
      (
        await post([
          status,
          { ...status, status: 'start', time: '2026-11-24T11:00:00Z' },
          { ...status, status: 'start', time: '2026-11-24T11:00:00Z' },
        ])
      ).body,
    ).toEqual({ accepted: 1, duplicates: 2 });
    // A status sent without its run's business date is the same report.
    const { businessDate: _businessDate, ...withoutDate } = status;
    expect((await post(withoutDate)).body).toEqual({ accepted: 0, duplicates: 1 });
    expect((await logged('resent')).map((e) => e.status)).toEqual(['succeed', 'start']);
    const metrics = await (await c.request('/metrics')).text();
    expect(metrics).toContain('compter_job_runs_total{project="default",application="deposits",job="resent",status="succeed"} 1\n');
  });

  it('a rerun with a new run id after a failure is normal', async () => {
    const res = await post([
      { application: 'deposits', job: 'rerun', status: 'fail', time: '2026-11-24T10:00:00Z', businessDate: '2026-11-24', runId: 'rr-1' },
      { application: 'deposits', job: 'rerun', status: 'succeed', time: '2026-11-24T11:00:00Z', businessDate: '2026-11-24', runId: 'rr-2' },
    ]);
    expect(res.body).toEqual({ accepted: 2, duplicates: 0 });
    const metrics = await (await c.request('/metrics')).text();
    expect(metrics).toContain('compter_job_runs_total{project="default",application="deposits",job="rerun",status="fail"} 1\n');
    expect(metrics).toContain('compter_job_runs_total{project="default",application="deposits",job="rerun",status="succeed"} 1\n');
  });
});

describe('POST /v1/job-status refusals: 400 malformed, 422 data quality, every problem listed, nothing written', () => {
  it('400: not JSON, not an object or array, an empty array, more than 1000', async () => {
    expect((await post('{"application":')).status).toBe(400);
    const text = await post('"start"');
    expect(text.status).toBe(400);
    expect(text.body.error.code).toBe('bad_request');
    expect((await post([])).status).toBe(400);
    const many = await post(
      Array.from({ length: 1001 }, (_, i) => ({
        application: 'deposits',
        job: 'many',
        status: 'start',
        businessDate: '2026-11-24',
        runId: `m-${i}`,
      })),
    );
    expect(many.status).toBe(400);
    expect(many.body.error.problems[0].message).toMatch(/at most 1000/);
    expect(await logged('many')).toEqual([]);
  });

  it('400: missing and unknown fields and wrong types, each at its item, with the data-quality problems beside them', async () => {
    const res = await post([
      { application: 'deposits', job: 'shape', status: 'start', businessDate: '2026-11-24' },
      { job: 7, status: 'start', colour: 'red' },
      { application: 'deposits', job: 'shape', status: 'done', businessDate: '2026-11-24' },
      'x',
    ]);
    expect(res.status).toBe(400);
    expect(paths(res.body)).toEqual(['[1].application', '[1].colour', '[1].job', '[2].status', '[3]']);
    expect(await logged('shape')).toEqual([]);
  });

  it('422: every data-quality rule in one answer', async () => {
    await post({
      application: 'deposits',
      job: 'owner',
      status: 'start',
      time: '2026-11-24T11:00:00Z',
      businessDate: '2026-11-24',
      runId: 'taken',
    });
    const res = await post([
      { application: 'deposits', job: 'q', status: 'finished', time: '2026-11-24T11:00:00Z', businessDate: '2026-11-24', runId: 'q-0' },
      { application: 'deposits', job: 'q', status: 'start', time: '2026-11-24T11:00:00', businessDate: '2026-11-24', runId: 'q-1' },
      { application: 'deposits', job: 'q', status: 'start', time: '2026-11-24T12:05:01Z', businessDate: '2026-11-24', runId: 'q-2' },
      { application: 'deposits', job: 'q', status: 'start', time: '2026-11-24T11:00:00Z', businessDate: '2026-13-01', runId: 'q-3' },
      { application: 'deposits', job: 'q', status: 'start', time: '2026-11-24T11:00:00Z', businessDate: '2026-11-24', runId: 'taken' },
      { application: 'deposits', job: 'q', status: 'start', time: '2026-11-24T11:00:00Z', businessDate: '2026-11-24', runId: 'q-5' },
      { application: 'cards', job: 'q', status: 'start', time: '2026-11-24T11:00:00Z', businessDate: '2026-11-24', runId: 'q-5' },
      { application: 'deposits', job: 'q', status: 'start', time: '2026-11-24T11:00:00Z', businessDate: '2026-11-24', runId: 'has space' },
      { application: 'deposits', job: 'no-slo', status: 'start', time: '2026-11-24T11:00:00Z', runId: 'q-8' },
      { application: 'deposits', job: 'q', status: 'start', time: '2026-11-24T11:00:00Z', businessDate: '2026-11-24', runId: 'q-ok' },
    ]);
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('invalid');
    expect(paths(res.body)).toEqual([
      '[0].status',
      '[1].time',
      '[2].time',
      '[3].businessDate',
      '[4].runId',
      '[6].runId',
      '[7].runId',
      '[8].businessDate',
    ]);
    const messages = Object.fromEntries(res.body.error.problems.map((p: any) => [p.path, p.message]));
    expect(messages['[0].status']).toMatch(/unknown status "finished"/);
    expect(messages['[1].time']).toMatch(/offset/);
    expect(messages['[2].time']).toMatch(/future/);
    expect(messages['[4].runId']).toMatch(/already belongs to job deposits\/owner/);
    expect(messages['[6].runId']).toMatch(/already belongs to job deposits\/q/);
    expect(messages['[8].businessDate']).toMatch(/required/);
    // All or nothing: the good reports of a refused request are not written either.
    expect(await logged('q')).toEqual([]);
  });

  it('never answers 5xx to odd input', async () => {
    const bodies = [
      'null',
      '[null]',
      '{}',
      '[[]]',
      '{"application":{"a":1}}',
      '[{"application":"a","job":"b","status":"start","time":"9999-99-99T99:99:99Z"}]',
      '[{"application":"a","job":"b","status":"start","businessDate":"2026-11-24","time":"-001000-01-01T00:00:00Z"}]',
      JSON.stringify({ application: 'a'.repeat(500), job: 'b', status: 'start' }),
      '1e999',
    ];
    for (const body of bodies) {
      const res = await post(body);
      expect(res.status, body).toBeGreaterThanOrEqual(400);
      expect(res.status, body).toBeLessThan(500);
    }
  });
});
