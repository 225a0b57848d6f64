import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';

let c: TestCompter;

beforeAll(async () => {
  c = await startTestCompter({ now: '2026-11-20T12:00:00Z' });
  expect((await c.json('PUT', '/v1/calendars/dk', { tz: 'Europe/Copenhagen', holidays: { country: 'DK' } })).status).toBe(201);
});
afterAll(async () => {
  await c.cleanup();
});

const paths = (body: any): string[] => (body.error.problems ?? []).map((p: any) => p.path).sort();
const billing = { rrule: 'FREQ=MONTHLY;BYMONTHDAY=1', at: '06:00', tz: 'Europe/Copenhagen', calendar: 'dk' };
const firstHalfOf2027 = 'from=2026-12-15T00:00:00Z&to=2027-06-30T00:00:00Z';

async function occurrences(id: string, query = firstHalfOf2027): Promise<string[][]> {
  const res = await c.json('GET', `/v1/debts/${id}/occurrences?${query}`);
  expect(res.status).toBe(200);
  return res.body.occurrences.map((o: any) => [o.businessDate, o.scheduledAt, o.outcome]);
}

describe('roll on an rrule with a calendar (the 2027 Danish billing run)', () => {
  it('roll next lists Monday 4 January and Monday 3 May as upcoming occurrences', async () => {
    const res = await c.json('PUT', '/v1/debts/billing-next', { schedule: { ...billing, roll: 'next' }, grace: '1h' });
    expect(res.status).toBe(201);
    expect(res.body.schedule).toEqual({ ...billing, roll: 'next' });
    expect(await occurrences('billing-next')).toEqual([
      // 1 January is New Year's Day.
      ['2027-01-04', '2027-01-04T05:00:00.000Z', 'upcoming'],
      ['2027-02-01', '2027-02-01T05:00:00.000Z', 'upcoming'],
      ['2027-03-01', '2027-03-01T05:00:00.000Z', 'upcoming'],
      ['2027-04-01', '2027-04-01T04:00:00.000Z', 'upcoming'],
      // 1 May is a Saturday.
      ['2027-05-03', '2027-05-03T04:00:00.000Z', 'upcoming'],
      ['2027-06-01', '2027-06-01T04:00:00.000Z', 'upcoming'],
    ]);
    expect((await c.json('GET', '/v1/debts/billing-next')).body.schedule.roll).toBe('next');
  });

  it("pages on 4 January: nothing falls due on New Year's Day, the rolled run is overdue after its grace", async () => {
    const own = await startTestCompter({ now: '2026-12-20T12:00:00Z' });
    try {
      await own.json('PUT', '/v1/calendars/dk', { tz: 'Europe/Copenhagen', holidays: { country: 'DK' } });
      await own.json('PUT', '/v1/debts/billing', { schedule: { ...billing, roll: 'next' }, grace: '1h' });
      own.clock.set(Date.parse('2027-01-01T12:00:00Z'));
      await own.engine.tick();
      const quiet = (await own.json('GET', '/v1/debts/billing')).body;
      expect(quiet.status).toBe('new');
      expect(quiet.nextDeadline).toBe('2027-01-04T06:00:00.000Z');
      own.clock.set(Date.parse('2027-01-04T06:00:01Z'));
      await own.engine.tick();
      expect((await own.json('GET', '/v1/debts/billing')).body.status).toBe('overdue');
    } finally {
      await own.cleanup();
    }
  });

  it('a payment naming 4 January pays the rolled occurrence; naming 1 January is refused', async () => {
    const own = await startTestCompter({ now: '2026-12-20T12:00:00Z' });
    try {
      await own.json('PUT', '/v1/calendars/dk', { tz: 'Europe/Copenhagen', holidays: { country: 'DK' } });
      await own.json('PUT', '/v1/debts/billing', { schedule: { ...billing, roll: 'next' }, grace: '1h' });
      own.clock.set(Date.parse('2027-01-04T05:30:00Z'));
      const holiday = await own.json('POST', '/v1/debts/billing/payments', { kind: 'success', businessDate: '2027-01-01' });
      expect(holiday.status).toBe(422);
      expect(paths(holiday.body)).toEqual(['businessDate']);
      const paid = await own.json('POST', '/v1/debts/billing/payments', { kind: 'success', businessDate: '2027-01-04' });
      expect(paid.status).toBe(200);
      const occ = await own.json('GET', '/v1/debts/billing/occurrences?from=2027-01-04T00:00:00Z&to=2027-01-04T23:00:00Z');
      expect(occ.body.occurrences.map((o: any) => [o.businessDate, o.outcome])).toEqual([['2027-01-04', 'paid']]);
    } finally {
      await own.cleanup();
    }
  });

  it('roll previous lists 31 December and Friday 30 April; without roll both months are skipped', async () => {
    expect((await c.json('PUT', '/v1/debts/billing-previous', { schedule: { ...billing, roll: 'previous' } })).status).toBe(201);
    expect((await occurrences('billing-previous')).map(([date]) => date)).toEqual([
      '2026-12-31',
      '2027-02-01',
      '2027-03-01',
      '2027-04-01',
      '2027-04-30',
      '2027-06-01',
    ]);
    expect((await c.json('PUT', '/v1/debts/billing-skip', { schedule: billing })).status).toBe(201);
    expect((await occurrences('billing-skip')).map(([date]) => date)).toEqual(['2027-02-01', '2027-03-01', '2027-04-01', '2027-06-01']);
  });

  it('a daily business-day job with roll next does not double up after a holiday', async () => {
    const daily = { rrule: 'FREQ=DAILY', at: '06:00', tz: 'Europe/Copenhagen', calendar: 'dk', roll: 'next' };
    expect((await c.json('PUT', '/v1/debts/daily-next', { schedule: daily })).status).toBe(201);
    const dates = (await occurrences('daily-next', 'from=2026-12-30T00:00:00Z&to=2027-01-06T00:00:00Z')).map(([date]) => date);
    expect(dates).toEqual(['2026-12-30', '2026-12-31', '2027-01-04', '2027-01-05']);
  });
});

describe('businessDay: the n-th business day of each month', () => {
  it('1st business day: 4 January and 3 May 2027', async () => {
    const schedule = { businessDay: 1, at: '06:00', tz: 'Europe/Copenhagen', calendar: 'dk' };
    const res = await c.json('PUT', '/v1/debts/first-business-day', { schedule });
    expect(res.status).toBe(201);
    expect(res.body.schedule).toEqual(schedule);
    expect((await occurrences('first-business-day')).map(([date, at]) => [date, at])).toEqual([
      ['2027-01-04', '2027-01-04T05:00:00.000Z'],
      ['2027-02-01', '2027-02-01T05:00:00.000Z'],
      ['2027-03-01', '2027-03-01T05:00:00.000Z'],
      ['2027-04-01', '2027-04-01T04:00:00.000Z'],
      ['2027-05-03', '2027-05-03T04:00:00.000Z'],
      ['2027-06-01', '2027-06-01T04:00:00.000Z'],
    ]);
  });

  it('3rd and last business days; 23 in a month of 20 business days is its last', async () => {
    for (const [id, businessDay] of [
      ['third-business-day', 3],
      ['last-business-day', -1],
      ['twenty-third-business-day', 23],
    ] as const) {
      const res = await c.json('PUT', `/v1/debts/${id}`, {
        schedule: { businessDay, at: '06:00', tz: 'Europe/Copenhagen', calendar: 'dk' },
      });
      expect(res.status).toBe(201);
    }
    const window = 'from=2027-01-01T00:00:00Z&to=2027-02-28T23:00:00Z';
    expect((await occurrences('third-business-day', window)).map(([date]) => date)).toEqual(['2027-01-06', '2027-02-03']);
    expect((await occurrences('last-business-day', window)).map(([date]) => date)).toEqual(['2027-01-29', '2027-02-26']);
    expect((await occurrences('twenty-third-business-day', window)).map(([date]) => date)).toEqual(['2027-01-29', '2027-02-26']);
  });

  it('vivifies from a payment whose JSON schedule is a businessDay', async () => {
    const res = await c.json('POST', '/v1/debts/vivid-business-day/payments', {
      schedule: { businessDay: -1, at: '18:00', tz: 'Europe/Copenhagen', calendar: 'dk' },
    });
    expect(res.status).toBe(201);
    expect(res.body.schedule).toEqual({ businessDay: -1, at: '18:00', tz: 'Europe/Copenhagen', calendar: 'dk' });
    expect((await occurrences('vivid-business-day', 'from=2026-11-20T12:00:00Z&to=2026-12-31T23:00:00Z')).map(([d]) => d)).toEqual([
      '2026-11-30',
      '2026-12-31',
    ]);
  });
});

describe('refusals', () => {
  it('422 naming schedule.roll for an unknown roll, a roll without a calendar and a roll on cron', async () => {
    for (const schedule of [
      { ...billing, roll: 'forward' },
      { rrule: 'FREQ=DAILY', at: '06:00', tz: 'UTC', roll: 'next' },
      { cron: '0 6 1 * *', tz: 'UTC', roll: 'next' },
    ]) {
      const res = await c.json('PUT', '/v1/debts/refused', { schedule });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('invalid');
      expect(paths(res.body)).toEqual(['schedule.roll']);
    }
    const unknown = await c.json('PUT', '/v1/debts/refused', { schedule: { ...billing, roll: 'forward' } });
    expect(unknown.body.error.problems[0].message).toContain('"next" or "previous"');
    expect((await c.json('GET', '/v1/debts/refused')).status).toBe(404);
  });

  it('422 for businessDay 0, ±24 or 2.5, without a calendar or with an unknown one; 400 for a string', async () => {
    for (const businessDay of [0, 24, -24, 2.5]) {
      const res = await c.json('PUT', '/v1/debts/refused', { schedule: { businessDay, at: '06:00', tz: 'UTC', calendar: 'dk' } });
      expect(res.status).toBe(422);
      expect(paths(res.body)).toEqual(['schedule.businessDay']);
    }
    const noCalendar = await c.json('PUT', '/v1/debts/refused', { schedule: { businessDay: 1, at: '06:00', tz: 'UTC' } });
    expect(noCalendar.status).toBe(422);
    expect(paths(noCalendar.body)).toEqual(['schedule.calendar']);
    const unknownCalendar = await c.json('PUT', '/v1/debts/refused', { schedule: { businessDay: 1, calendar: 'nowhere' } });
    expect(unknownCalendar.status).toBe(422);
    expect(paths(unknownCalendar.body)).toEqual(['schedule.calendar']);
    const both = await c.json('PUT', '/v1/debts/refused', { schedule: { businessDay: 1, rrule: 'FREQ=DAILY', calendar: 'dk' } });
    expect(both.status).toBe(422);
    expect(paths(both.body)).toEqual(['schedule']);
    const mistyped = await c.json('PUT', '/v1/debts/refused', { schedule: { businessDay: '1', calendar: 'dk' } });
    expect(mistyped.status).toBe(400);
    expect((await c.json('GET', '/v1/debts/refused')).status).toBe(404);
  });

  it('a vivifying payment with a bad roll is refused and creates nothing', async () => {
    const res = await c.json('POST', '/v1/debts/vivid-refused/payments', { schedule: { ...billing, roll: 'sideways' } });
    expect(res.status).toBe(422);
    expect(paths(res.body)).toEqual(['schedule.roll']);
    expect((await c.json('GET', '/v1/debts/vivid-refused')).status).toBe(404);
  });
});

describe('the OpenAPI document and compter.yaml', () => {
  it('documents roll and businessDay on the debt schedule', async () => {
    const doc = (await c.json('GET', '/openapi.json')).body;
    const text = JSON.stringify(doc.paths['/v1/debts/{id}'].put.requestBody);
    expect(text).toContain('"roll"');
    expect(text).toContain('"businessDay"');
  });

  it('accepts both in compter.yaml and refuses a bad roll with its path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'compter-business-day-'));
    try {
      const yaml = `
calendars:
  - { id: dk, tz: Europe/Copenhagen, holidays: { country: DK } }
debts:
  - id: billing
    schedule: { rrule: "FREQ=MONTHLY;BYMONTHDAY=1", at: "06:00", tz: Europe/Copenhagen, calendar: dk, roll: next }
  - id: close-books
    schedule: { businessDay: 3, at: "06:00", tz: Europe/Copenhagen, calendar: dk }
`;
      await writeFile(join(dir, 'compter.yaml'), yaml);
      const fromFile = await startTestCompter({ now: '2026-12-15T00:00:00Z', env: { COMPTER_CONFIG: join(dir, 'compter.yaml') } });
      try {
        const billingNext = await fromFile.json('GET', '/v1/debts/billing/occurrences?from=2026-12-15T00:00:00Z&to=2027-01-31T00:00:00Z');
        expect(billingNext.body.occurrences.map((o: any) => o.businessDate)).toEqual(['2027-01-04']);
        const third = await fromFile.json('GET', '/v1/debts/close-books/occurrences?from=2026-12-15T00:00:00Z&to=2027-01-31T00:00:00Z');
        expect(third.body.occurrences.map((o: any) => o.businessDate)).toEqual(['2027-01-06']);
      } finally {
        await fromFile.cleanup();
      }
      const bad = parseConfig(yaml.replace('roll: next', 'roll: later'));
      expect(bad.problems.map((p) => p.path)).toEqual(['debts[0].schedule.roll']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('an SLO due on the 3rd business day of each month', () => {
  const closeBooks = {
    application: 'ledger',
    calendar: 'dk',
    businessDay: 3,
    jobs: [{ job: 'close-books', expectedStart: '08:00', expectedEnd: '18:00' }],
    slack: '1h',
  };

  it('has rows on 6 January and 5 May 2027 only; every other date is not_scheduled', async () => {
    const res = await c.json('PUT', '/v1/slos/close-books', closeBooks);
    expect(res.status).toBe(201);
    expect(res.body.businessDay).toBe(3);
    const january = (await c.json('GET', '/v1/slos/close-books/performance?from=2027-01-01&to=2027-01-08')).body.rows;
    expect(january.map((r: any) => [r.businessDate, r.status, r.expectedEnd])).toEqual([
      ['2027-01-01', 'not_scheduled', null],
      ['2027-01-02', 'not_scheduled', null],
      ['2027-01-03', 'not_scheduled', null],
      ['2027-01-04', 'not_scheduled', null],
      ['2027-01-05', 'not_scheduled', null],
      ['2027-01-06', 'pending', '2027-01-06T17:00:00.000Z'],
      ['2027-01-07', 'not_scheduled', null],
      ['2027-01-08', 'not_scheduled', null],
    ]);
    const may = (await c.json('GET', '/v1/slos/close-books/performance?from=2027-05-01&to=2027-05-31')).body.rows;
    expect(may.filter((r: any) => r.status !== 'not_scheduled').map((r: any) => [r.businessDate, r.expectedEnd])).toEqual([
      ['2027-05-05', '2027-05-05T16:00:00.000Z'],
    ]);
  });

  it('closes the row on_time when the job succeeds that day', async () => {
    const own = await startTestCompter({ now: '2027-01-05T12:00:00Z' });
    try {
      await own.json('PUT', '/v1/calendars/dk', { tz: 'Europe/Copenhagen', holidays: { country: 'DK' } });
      expect((await own.json('PUT', '/v1/slos/close-books', closeBooks)).status).toBe(201);
      own.clock.set(Date.parse('2027-01-06T15:00:00Z'));
      const report = { application: 'ledger', job: 'close-books', businessDate: '2027-01-06', runId: 'r-1' };
      expect((await own.json('POST', '/v1/job-status', { ...report, status: 'start', time: '2027-01-06T08:00:00Z' })).status).toBe(200);
      expect((await own.json('POST', '/v1/job-status', { ...report, status: 'succeed', time: '2027-01-06T15:00:00Z' })).status).toBe(200);
      const rows = (await own.json('GET', '/v1/slos/close-books/performance?from=2027-01-06&to=2027-01-06')).body.rows;
      expect(rows.map((r: any) => [r.businessDate, r.status])).toEqual([['2027-01-06', 'on_time']]);
    } finally {
      await own.cleanup();
    }
  });

  it('refuses businessDay 0 and 24 with 422 naming businessDay', async () => {
    for (const businessDay of [0, 24]) {
      const res = await c.json('PUT', '/v1/slos/close-books-bad', { ...closeBooks, businessDay });
      expect(res.status).toBe(422);
      expect(paths(res.body)).toEqual(['businessDay']);
    }
  });
});
