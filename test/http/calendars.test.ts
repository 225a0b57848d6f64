import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';

let c: TestCompter;

beforeAll(async () => {
  c = await startTestCompter({ now: '2026-11-20T12:00:00Z' });
});
afterAll(async () => {
  await c.cleanup();
});

const paths = (body: any): string[] => (body.error.problems ?? []).map((p: any) => p.path).sort();

describe('PUT and GET /v1/calendars/{id}', () => {
  it('creates (201), normalizes, replaces (200) and reads back', async () => {
    const created = await c.json('PUT', '/v1/calendars/us-business', {
      tz: 'America/New_York',
      weekdays: [1, 2, 3, 4, 5],
      holidays: { country: 'us', state: 'ny' },
      excludeDates: ['2026-12-24'],
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: 'us-business',
      project: 'default',
      tz: 'America/New_York',
      weekdays: [1, 2, 3, 4, 5],
      holidays: { country: 'US', state: 'NY', types: ['public'] },
      extraDates: [],
      excludeDates: ['2026-12-24'],
      newDayAt: '00:00',
      created: '2026-11-20T12:00:00.000Z',
      updated: '2026-11-20T12:00:00.000Z',
    });
    const replaced = await c.json('PUT', '/v1/calendars/us-business', {
      id: 'us-business',
      tz: 'America/New_York',
      weekdays: [7, 1, 2, 3, 4, 5],
      holidays: { country: 'US', state: 'NY' },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body.weekdays).toEqual([0, 1, 2, 3, 4, 5]);
    expect(replaced.body.excludeDates).toEqual([]);
    const got = await c.json('GET', '/v1/calendars/us-business');
    expect(got.status).toBe(200);
    expect(got.body).toEqual(replaced.body);
    // Every definition is an event in the log.
    const logged = await c.store.query({ project: 'default', types: ['calendar.defined'], limit: 10, order: 'asc' });
    expect(logged.map((e) => e.type === 'calendar.defined' && [e.attributes.calendar, e.attributes.definition.weekdays])).toEqual([
      ['us-business', [1, 2, 3, 4, 5]],
      ['us-business', [0, 1, 2, 3, 4, 5]],
    ]);
  });

  it('400 for a malformed body, listing every problem', async () => {
    const notJson = await c.json('PUT', '/v1/calendars/bad', '{"tz":');
    expect(notJson.status).toBe(400);
    const shape = await c.json('PUT', '/v1/calendars/bad', {
      tz: 5,
      weekdays: 'weekdays',
      extraDates: ['tomorrow'],
      newDayAt: '4am',
      colour: 'red',
    });
    expect(shape.status).toBe(400);
    expect(paths(shape.body)).toEqual(['', 'extraDates.0', 'newDayAt', 'tz', 'weekdays']);
    expect(shape.body.error.problems.find((p: any) => p.path === '').message).toMatch(/colour/);
    const badId = await c.json('PUT', '/v1/calendars/Not_An_Id', { tz: 'UTC' });
    expect(badId.status).toBe(400);
    expect(paths(badId.body)).toEqual(['path.id']);
  });

  it('422 for a well-formed but wrong calendar, listing every problem', async () => {
    const res = await c.json('PUT', '/v1/calendars/bad', {
      id: 'other',
      tz: 'Mars/Olympus',
      weekdays: [],
      holidays: { country: 'XX' },
      extraDates: [],
      excludeDates: ['2026-02-30'],
    });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('invalid');
    expect(paths(res.body)).toEqual(['excludeDates.0', 'holidays.country', 'id', 'tz', 'weekdays']);
    const region = await c.json('PUT', '/v1/calendars/bad', {
      tz: 'UTC',
      weekdays: [1, 1],
      holidays: { country: 'US', state: 'ZZ' },
      extraDates: ['2026-12-24'],
      excludeDates: ['2026-12-24'],
    });
    expect(region.status).toBe(422);
    expect(paths(region.body)).toEqual(['excludeDates.0', 'holidays.state', 'weekdays.1']);
    expect((await c.json('GET', '/v1/calendars/bad')).status).toBe(404);
  });

  it('GET of an unknown calendar is 404', async () => {
    const res = await c.json('GET', '/v1/calendars/nope');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});

describe('GET /v1/calendars/{id}/days', () => {
  beforeAll(async () => {
    expect((await c.json('PUT', '/v1/calendars/us-ny', { tz: 'America/New_York', holidays: { country: 'US', state: 'NY' } })).status).toBe(
      201,
    );
    expect((await c.json('PUT', '/v1/calendars/gb', { tz: 'Europe/London', holidays: { country: 'GB', state: 'ENG' } })).status).toBe(201);
    expect((await c.json('PUT', '/v1/calendars/dk', { tz: 'Europe/Copenhagen', holidays: { country: 'DK' } })).status).toBe(201);
  });

  it('Thanksgiving is a holiday; the day after is a business day by default', async () => {
    const res = await c.json('GET', '/v1/calendars/us-ny/days?from=2026-11-25&to=2026-11-29');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      days: [
        { date: '2026-11-25', business: true },
        { date: '2026-11-26', business: false, reason: 'Thanksgiving Day' },
        { date: '2026-11-27', business: true },
        { date: '2026-11-28', business: false, reason: 'Weekend' },
        { date: '2026-11-29', business: false, reason: 'Weekend' },
      ],
    });
  });

  it('England across the year end: Christmas, Boxing Day and its substitute, New Year', async () => {
    const res = await c.json('GET', '/v1/calendars/gb/days?from=2026-12-24&to=2027-01-04');
    const closed = res.body.days.filter((d: any) => !d.business).map((d: any) => [d.date, d.reason]);
    expect(closed).toEqual([
      ['2026-12-25', 'Christmas Day'],
      ['2026-12-26', 'Boxing Day'],
      ['2026-12-27', 'Weekend'],
      ['2026-12-28', 'Boxing Day (substitute day)'],
      ['2027-01-01', "New Year's Day"],
      ['2027-01-02', 'Weekend'],
      ['2027-01-03', 'Weekend'],
    ]);
  });

  it('Denmark across the year end', async () => {
    const res = await c.json('GET', '/v1/calendars/dk/days?from=2026-12-24&to=2027-01-01');
    expect(res.body.days.map((d: any) => d.business)).toEqual([true, false, false, false, true, true, true, true, false]);
  });

  it('defaults to the 31 days from today in the calendar’s zone', async () => {
    const res = await c.json('GET', '/v1/calendars/us-ny/days');
    expect(res.body.days).toHaveLength(31);
    expect(res.body.days[0].date).toBe('2026-11-20');
  });

  it('422 for a bad range; 404 for an unknown calendar', async () => {
    const backwards = await c.json('GET', '/v1/calendars/us-ny/days?from=2026-12-01&to=2026-11-01');
    expect(backwards.status).toBe(422);
    expect(paths(backwards.body)).toEqual(['to']);
    expect((await c.json('GET', '/v1/calendars/us-ny/days?from=2026-01-01&to=2030-01-01')).status).toBe(422);
    const notADate = await c.json('GET', '/v1/calendars/us-ny/days?from=2026-02-30&to=2026-03-01');
    expect(notADate.status).toBe(422);
    expect(paths(notADate.body)).toEqual(['from']);
    expect((await c.json('GET', '/v1/calendars/us-ny/days?from=' + 'x'.repeat(40))).status).toBe(400);
    expect((await c.json('GET', '/v1/calendars/nope/days')).status).toBe(404);
  });
});

describe('calendars filter rrule debts', () => {
  it('monthly on the 1st at 06:00 Copenhagen, calendar dk: a holiday or a weekend is skipped', async () => {
    const res = await c.json('PUT', '/v1/debts/monthly-billing', {
      schedule: { rrule: 'FREQ=MONTHLY;BYMONTHDAY=1', at: '06:00', tz: 'Europe/Copenhagen', calendar: 'dk' },
      grace: '1h',
    });
    expect(res.status).toBe(201);
    expect(res.body.nextDeadline).toBe('2026-12-01T06:00:00.000Z');
    const occ = await c.json('GET', '/v1/debts/monthly-billing/occurrences?from=2026-11-25T00:00:00Z&to=2027-06-30T00:00:00Z');
    expect(occ.body.occurrences.map((o: any) => [o.businessDate, o.scheduledAt])).toEqual([
      ['2026-12-01', '2026-12-01T05:00:00.000Z'],
      // 2027-01-01 is New Year's Day.
      ['2027-02-01', '2027-02-01T05:00:00.000Z'],
      ['2027-03-01', '2027-03-01T05:00:00.000Z'],
      // Summer time from 28 March: 06:00 is 04:00Z.
      ['2027-04-01', '2027-04-01T04:00:00.000Z'],
      // 2027-05-01 is a Saturday.
      ['2027-06-01', '2027-06-01T04:00:00.000Z'],
    ]);
  });

  it('an extra business date in the calendar brings the skipped date back', async () => {
    expect(
      (await c.json('PUT', '/v1/calendars/dk', { tz: 'Europe/Copenhagen', holidays: { country: 'DK' }, extraDates: ['2027-05-01'] }))
        .status,
    ).toBe(200);
    const occ = await c.json('GET', '/v1/debts/monthly-billing/occurrences?from=2027-04-15T00:00:00Z&to=2027-05-15T00:00:00Z');
    expect(occ.body.occurrences.map((o: any) => o.businessDate)).toEqual(['2027-05-01']);
  });

  it('a debt naming an unknown calendar is refused with 422', async () => {
    const res = await c.json('PUT', '/v1/debts/no-calendar', {
      schedule: { rrule: 'FREQ=DAILY', at: '06:00', tz: 'UTC', calendar: 'nowhere' },
    });
    expect(res.status).toBe(422);
    expect(paths(res.body)).toEqual(['schedule.calendar']);
    expect((await c.json('GET', '/v1/debts/no-calendar')).status).toBe(404);
  });
});
