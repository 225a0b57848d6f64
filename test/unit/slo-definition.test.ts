import { describe, expect, it } from 'vitest';
import { parseJobStatusBody } from '../../src/domain/slos/job-status.js';
import { normalizeSloInput, parseSlotOffset, withinCronProblem, type SloInput } from '../../src/domain/slos/slo.js';

const paths = (problems: { path: string }[]): string[] => problems.map((p) => p.path).sort();

describe('normalizeSloInput', () => {
  const valid: SloInput = {
    application: 'deposits',
    calendar: 'us-business',
    jobs: [{ job: 'overdraft-calc', expectedStart: '00:30+1d', expectedEnd: '03:00+1d' }],
    slack: '30m',
  };

  it('normalizes: job applications default to the SLO’s, slack in ms, no within', () => {
    const { definition, problems } = normalizeSloInput(valid, { id: 'overdraft', project: 'p' });
    expect(problems).toEqual([]);
    expect(definition).toEqual({
      id: 'overdraft',
      project: 'p',
      name: 'overdraft',
      application: 'deposits',
      calendar: 'us-business',
      jobs: [{ application: 'deposits', job: 'overdraft-calc', expectedStart: '00:30+1d', expectedEnd: '03:00+1d' }],
      slackMs: 1_800_000,
      within: null,
    });
  });

  it('the SLO’s application defaults to its first job’s', () => {
    const { definition } = normalizeSloInput(
      { calendar: 'c', jobs: [{ application: 'cards', job: 'x', expectedEnd: '05:00' }] },
      { id: 's', project: 'p' },
    );
    expect(definition?.application).toBe('cards');
  });

  it('lists every problem at once', () => {
    const { definition, problems } = normalizeSloInput(
      {
        id: 'other',
        calendar: 'Not An Id',
        jobs: [
          { job: 'a b', expectedStart: '06:00', expectedEnd: '05:00' },
          { job: 'x', expectedEnd: '25:00' },
          { job: 'x', expectedEnd: '+10m' },
        ],
        slack: 'soon',
      },
      { id: 'bad', project: 'p' },
    );
    expect(definition).toBeUndefined();
    expect(paths(problems)).toEqual([
      'calendar',
      'id',
      'jobs.0.application',
      'jobs.0.expectedStart',
      'jobs.0.job',
      'jobs.1.application',
      'jobs.1.expectedEnd',
      'jobs.2.application',
      'jobs.2.expectedEnd',
      'jobs.2.job',
      'slack',
    ]);
  });

  it('needs at least one job; slack at most 31 days', () => {
    const { problems } = normalizeSloInput({ application: 'a', calendar: 'c', jobs: [], slack: '40d' }, { id: 's', project: 'p' });
    expect(paths(problems)).toEqual(['jobs', 'slack']);
  });

  it('within SLOs take offsets from the slot, and a cron of times only', () => {
    const ok = normalizeSloInput(
      { application: 'a', calendar: 'c', within: { cron: '10,40 6-18 * * *' }, jobs: [{ job: 'summary', expectedEnd: '+0m' }] },
      { id: 's', project: 'p' },
    );
    expect(ok.problems).toEqual([]);
    expect(ok.definition?.within).toEqual({ cron: '10,40 6-18 * * *' });
    const bad = normalizeSloInput(
      {
        application: 'a',
        calendar: 'c',
        within: { cron: '10 6 * * 1-5' },
        jobs: [{ job: 'summary', expectedStart: '+5m', expectedEnd: '03:00' }],
      },
      { id: 's', project: 'p' },
    );
    expect(paths(bad.problems)).toEqual(['jobs.0.expectedEnd', 'within.cron']);
  });

  it('within offsets and crons', () => {
    expect(parseSlotOffset('+0m')).toBe(0);
    expect(parseSlotOffset('-10m')).toBe(-600_000);
    expect(parseSlotOffset('+1h30m')).toBe(5_400_000);
    expect(() => parseSlotOffset('10m')).toThrow(/offset/);
    expect(() => parseSlotOffset('+25h')).toThrow(/24 hours/);
    expect(withinCronProblem('* * * * *')).toMatch(/1440 slots/);
    expect(withinCronProblem('*/5 * * * *')).toBeNull();
    expect(withinCronProblem('@hourly')).toMatch(/explicit/);
    expect(withinCronProblem('61 * * * *')).not.toBeNull();
  });
});

describe('parseJobStatusBody', () => {
  const now = Date.parse('2026-11-24T12:00:00Z');
  const good = {
    application: 'deposits',
    job: 'overdraft-calc',
    status: 'start',
    time: '2026-11-24T00:30:00-05:00',
    businessDate: '2026-11-23',
    runId: 'r-1',
    host: 'batch-07',
  };

  it('reads one object or an array', () => {
    const one = parseJobStatusBody(good, now);
    expect(one.malformed).toEqual([]);
    expect(one.invalid).toEqual([]);
    expect(one.reports).toEqual([
      {
        index: 0,
        pathPrefix: '',
        application: 'deposits',
        job: 'overdraft-calc',
        status: 'start',
        at: Date.parse('2026-11-24T05:30:00Z'),
        businessDate: '2026-11-23',
        runId: 'r-1',
        host: 'batch-07',
      },
    ]);
    const many = parseJobStatusBody(
      [good, { ...good, status: 'succeed', runId: undefined, businessDate: undefined, time: undefined }],
      now,
    );
    expect(many.reports.map((r) => [r.pathPrefix, r.status, r.runId, r.businessDate, r.at])).toEqual([
      ['[0].', 'start', 'r-1', '2026-11-23', Date.parse('2026-11-24T05:30:00Z')],
      ['[1].', 'succeed', '', null, now],
    ]);
  });

  it('malformed: not an object, wrong types, missing and unknown fields, too many or none', () => {
    expect(paths(parseJobStatusBody('x', now).malformed)).toEqual(['']);
    expect(paths(parseJobStatusBody([], now).malformed)).toEqual(['']);
    expect(parseJobStatusBody(Array(1001).fill(good), now).malformed[0]!.message).toMatch(/at most 1000/);
    const bad = parseJobStatusBody([good, { job: 5, status: 'start', extra: 1 }, 7], now);
    expect(paths(bad.malformed)).toEqual(['[1].application', '[1].extra', '[1].job', '[2]']);
    expect(bad.reports).toHaveLength(1);
  });

  it('invalid: every data-quality rule, each at its item', () => {
    const bad = parseJobStatusBody(
      [
        { ...good, status: 'finished' },
        { ...good, time: '2026-11-24T00:30:00' },
        { ...good, time: '2026-11-24T12:06:00Z' },
        { ...good, businessDate: '2026-02-30' },
        { ...good, runId: 'has space' },
        { ...good, application: 'a\tb', job: '' },
        { ...good, businessDate: '2062-11-23' },
      ],
      now,
    );
    expect(bad.malformed).toEqual([]);
    expect(paths(bad.invalid)).toEqual([
      '[0].status',
      '[1].time',
      '[2].time',
      '[3].businessDate',
      '[4].runId',
      '[5].application',
      '[5].job',
      '[6].businessDate',
    ]);
    expect(bad.invalid.find((p) => p.path === '[6].businessDate')!.message).toMatch(/92 days/);
    expect(bad.invalid.find((p) => p.path === '[2].time')!.message).toMatch(/future/);
    expect(bad.reports).toEqual([]);
  });

  it('a time within the 5-minute skew is accepted', () => {
    expect(parseJobStatusBody({ ...good, time: '2026-11-24T12:04:59Z' }, now).invalid).toEqual([]);
  });
});
